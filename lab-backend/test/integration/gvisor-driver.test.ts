import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GvisorDriver } from '../../src/sandbox/gvisor';
import type { Sandbox } from '../../src/sandbox/driver';
import { baseRootfs, collect, leftovers, specFor, tempStateDir } from './helpers';

describe('gvisor driver (real runsc)', () => {
  const stateDir = tempStateDir();
  const driver = new GvisorDriver({ stateDir });
  let rootfs: string;
  let sb: Sandbox;

  beforeAll(async () => {
    rootfs = await baseRootfs();
    sb = await driver.start(specFor(rootfs));
  });
  afterAll(async () => { if (sb) await driver.stop(sb, { now: true }); });

  it('runs commands under gVisor, not the host kernel', async () => {
    const r = await collect(await driver.exec(sb, ['/bin/sh', '-c', 'uname -r; dmesg | head -1'], { tty: false }));
    expect(r.code).toBe(0);
    expect(r.out).toContain('Starting gVisor');
    expect(r.out.split('\n')[0]).not.toBe((await import('node:os')).release());
  });

  it('reports exit codes and keeps stderr apart from stdout', async () => {
    const p = await driver.exec(sb, ['/bin/sh', '-c', 'echo out; echo err >&2; exit 7'], { tty: false });
    const seen: Record<string, string> = { stdout: '', stderr: '' };
    p.onData((c, s) => { seen[s] += c.toString(); });
    expect((await p.exited).code).toBe(7);
    expect(seen).toEqual({ stdout: 'out\n', stderr: 'err\n' });
  });

  it('gives a PTY exec the size it asked for, and the new size after a resize', async () => {
    const p = await driver.exec(sb, ['/bin/bash', '--norc', '-i'], { tty: true, cols: 100, rows: 30 });
    let out = '';
    p.onData((c) => { out += c.toString(); });
    const waitFor = async (re: RegExp) => { for (let i = 0; i < 100 && !re.test(out); i++) await new Promise((r) => setTimeout(r, 100)); return re.test(out); };
    p.write('echo cols=$(tput cols)\r');
    expect(await waitFor(/cols=100/)).toBe(true);
    p.resize(132, 40);
    await new Promise((r) => setTimeout(r, 300));
    p.write('echo cols=$(tput cols) rows=$(tput lines)\r');
    expect(await waitFor(/cols=132 rows=40/)).toBe(true);
    p.write('exit 3\r');
    expect((await p.exited).code).toBe(3);
  });

  it('kills a process that would run forever', async () => {
    const p = await driver.exec(sb, ['/bin/sleep', '1000'], { tty: false });
    const t0 = Date.now();
    await p.kill('SIGKILL');
    await p.exited;
    expect(Date.now() - t0).toBeLessThan(5000);
    const ps = await collect(await driver.exec(sb, ['/bin/sh', '-c', 'pgrep -x sleep | wc -l'], { tty: false }));
    // Only the init loop's own sleep remains.
    expect(Number(ps.out.trim())).toBeLessThanOrEqual(1);
  });

  it('gives every sandbox its own writable root that does not touch the image', async () => {
    const other = await driver.start(specFor(rootfs));
    try {
      await collect(await driver.exec(sb, ['/bin/sh', '-c', 'echo mine > /etc/marker'], { tty: false }));
      const r = await collect(await driver.exec(other, ['/bin/sh', '-c', 'cat /etc/marker 2>&1 || echo absent'], { tty: false }));
      expect(r.out).toContain('absent');
      const { existsSync } = await import('node:fs');
      expect(existsSync(`${rootfs}/etc/marker`)).toBe(false);
    } finally {
      await driver.stop(other, { now: true });
    }
  });

  it('holds the capability set it was given', async () => {
    const narrow = await driver.start(specFor(rootfs, { capabilities: ['CAP_KILL'] }));
    try {
      const r = await collect(await driver.exec(narrow, ['/bin/sh', '-c', 'grep CapEff /proc/self/status'], { tty: false }));
      expect(r.out.trim()).toBe('CapEff:\t0000000000000020');
    } finally {
      await driver.stop(narrow, { now: true });
    }
  });

  it('poll() notices a dead sandbox and stop() leaves nothing on the host', async () => {
    const victim = await driver.start(specFor(rootfs));
    expect(await driver.poll(victim)).toBeNull();
    expect((await leftovers(driver, stateDir)).bundles).toContain(victim.id);
    await driver.stop(victim);
    expect(await driver.poll(victim)).not.toBeNull();
    const left = await leftovers(driver, stateDir);
    expect(left.bundles).not.toContain(victim.id);
    expect(left.cgroups.filter((c) => c.endsWith(victim.id))).toEqual([]);
  });

  it('names the cause when runsc cannot start', async () => {
    const broken = new GvisorDriver({ stateDir: tempStateDir(), runscPath: '/nonexistent/runsc' });
    await expect(broken.start(specFor(rootfs))).rejects.toThrow(/runsc was not found/);
    const failing = new GvisorDriver({ stateDir: tempStateDir() });
    await expect(failing.start(specFor('/nonexistent-rootfs'))).rejects.toThrow(/runsc/);
    expect((await leftovers(failing, (failing as unknown as { opts: { stateDir: string } }).opts.stateDir))).toMatchObject({ bundles: [], procs: [], cgroups: [] });
  });
});
