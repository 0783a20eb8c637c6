/**
 * Driver conformance: the behaviours every runtime must show the same way,
 * registered inside each driver's own describe() (gvisor, microvm, …) so one
 * suite runs against every driver. Runtime-specific facts stay in each file.
 */
import { expect, it } from 'vitest';
import type { Driver, Sandbox } from '../../src/sandbox/driver';
import { collect } from './helpers';

export function driverConformance(ctx: () => { driver: Driver; sb: Sandbox }) {
  it('reports exit codes and keeps stderr apart from stdout', async () => {
    const { driver, sb } = ctx();
    const p = await driver.exec(sb, ['/bin/sh', '-c', 'echo out; echo err >&2; exit 7'], { tty: false });
    const seen: Record<string, string> = { stdout: '', stderr: '' };
    p.onData((c, s) => { seen[s] += c.toString(); });
    expect((await p.exited).code).toBe(7);
    expect(seen).toEqual({ stdout: 'out\n', stderr: 'err\n' });
    expect((await collect(await driver.exec(sb, ['/nonexistent'], { tty: false }))).code).not.toBe(0);
  });

  it('gives a PTY exec the size it asked for, and the new size after a resize', async () => {
    const { driver, sb } = ctx();
    const p = await driver.exec(sb, ['/bin/bash', '--norc', '-i'], { tty: true, cols: 100, rows: 30 });
    let out = '';
    p.onData((c) => { out += c.toString(); });
    const waitFor = async (re: RegExp) => { for (let i = 0; i < 150 && !re.test(out); i++) await new Promise((r) => setTimeout(r, 100)); return re.test(out); };
    p.write('echo cols=$(tput cols)\r');
    expect(await waitFor(/cols=100/)).toBe(true);
    p.resize(132, 40);
    await new Promise((r) => setTimeout(r, 300));
    p.write('echo cols=$(tput cols) rows=$(tput lines)\r');
    expect(await waitFor(/cols=132 rows=40/)).toBe(true);
    p.write('exit 3\r');
    expect((await p.exited).code).toBe(3);
  });

  it('runs several execs at once', async () => {
    const { driver, sb } = ctx();
    const ps = await Promise.all([1, 2, 3].map((n) => driver.exec(sb, ['/bin/sh', '-c', `sleep 0.${n}; echo ${n}; exit ${n}`], { tty: false })));
    const rs = await Promise.all(ps.map((p) => collect(p)));
    expect(rs.map((r) => [r.code, r.out])).toEqual([[1, '1\n'], [2, '2\n'], [3, '3\n']]);
  });

  it('kills a process that would run forever, inside the sandbox too', async () => {
    const { driver, sb } = ctx();
    const p = await driver.exec(sb, ['/bin/sleep', '1001'], { tty: false });
    const t0 = Date.now();
    await p.kill('SIGKILL');
    const exit = await p.exited;
    expect(exit.code === null || exit.code !== 0).toBe(true);
    expect(Date.now() - t0).toBeLessThan(5000);
    const ps = await collect(await driver.exec(sb, ['/bin/sh', '-c', 'pgrep -fx "/bin/sleep 1001" | wc -l'], { tty: false }));
    expect(Number(ps.out.trim())).toBe(0);
  });

  it('pause() holds a flooding process back inside the sandbox; resume() lets it go on', async () => {
    const { driver, sb } = ctx();
    const p = await driver.exec(sb, ['/bin/bash', '-c', 'i=0; while :; do echo flood-line-$i; echo $i > /tmp/flood-count; i=$((i+1)); done'], { tty: true });
    let received = 0;
    p.onData((c) => { received += c.length; });
    // The loop rewrites the file constantly; a read can catch it truncated, so retry until it holds a number.
    const count = async () => {
      for (let i = 0; ; i++) {
        const out = (await collect(await driver.exec(sb, ['/bin/cat', '/tmp/flood-count'], { tty: false }))).out.trim();
        if (/^\d+$/.test(out) || i >= 20) return Number(out);
      }
    };
    for (let i = 0; i < 300 && received < 20_000; i++) await new Promise((r) => setTimeout(r, 100));
    expect(received).toBeGreaterThanOrEqual(20_000);
    p.pause();
    // The buffers between us and the process (PTY, pipes, the runtime's own copies) fill up first, and
    // on a loaded machine that takes a while: wait until the counter holds still, for at most 20 s.
    // Without back-pressure it never does and the assertion below fails.
    const t0 = Date.now();
    let c1 = -1;
    let c2 = await count();
    do {
      c1 = c2;
      await new Promise((r) => setTimeout(r, 1500));
      c2 = await count();
    } while (c2 - c1 >= 50 && Date.now() - t0 < 20_000);
    expect(c2 - c1).toBeLessThan(50); // blocked on its output, not merely unread by us
    p.resume();
    await new Promise((r) => setTimeout(r, 1500));
    expect(await count()).toBeGreaterThan(c2 + 50);
    await p.kill('SIGKILL');
    await p.exited;
  });
}
