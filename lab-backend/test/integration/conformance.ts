/**
 * Driver conformance: the behaviours every runtime must show the same way,
 * registered inside each driver's own describe() (gvisor, microvm, …) so one
 * suite runs against every driver. Runtime-specific facts stay in each file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Driver, Sandbox } from '../../src/sandbox/driver';
import type { OciCliDriver } from '../../src/sandbox/oci';
import { baseRootfs, collect, leftovers, specFor, tempStateDir, watchdogsOf } from './helpers';
import { hangGuard, until } from '../hang-guard';

export function driverConformance(ctx: () => { driver: Driver; sb: Sandbox }) {
  it('reports exit codes and keeps stderr apart from stdout', async () => {
    const { driver, sb } = ctx();
    const p = await driver.exec(sb, ['/bin/sh', '-c', 'echo out; echo err >&2; exit 7'], { tty: false });
    const seen: Record<string, string> = { stdout: '', stderr: '' };
    p.onData((c, s) => {
      seen[s] += c.toString();
    });
    expect((await p.exited).code).toBe(7);
    expect(seen).toEqual({ stdout: 'out\n', stderr: 'err\n' });
    expect((await collect(await driver.exec(sb, ['/nonexistent'], { tty: false }))).code).not.toBe(0);
  });

  it('gives a PTY exec the size it asked for, and the new size after a resize', async () => {
    const { driver, sb } = ctx();
    const p = await driver.exec(sb, ['/bin/bash', '--norc', '-i'], { tty: true, cols: 100, rows: 30 });
    let out = '';
    p.onData((c) => {
      out += c.toString();
    });
    let asked = 0;
    /** The size the shell sees: the answer line of `echo qN=...`, which the typed command's echo cannot contain. */
    const size = async () => {
      const q = `q${++asked}`;
      const from = out.length;
      p.write(`echo ${q}=$(tput cols)x$(tput lines)\r`);
      // After a line break, or after bash's "bracketed paste off" (ESC [?2004l, then CR) that starts the command's own output.
      const answer = new RegExp(`(?:\\n|\\x1b\\[\\?2004l)\\r?${q}=(\\d+x\\d+)\\r\\n`);
      await until(
        `the shell's answer ${q}`,
        () => answer.test(out.slice(from)),
        60_000,
        () => JSON.stringify(out.slice(-500)),
      );
      return answer.exec(out.slice(from))![1];
    };
    expect(await size()).toBe('100x30');
    p.resize(132, 40);
    // The new size reaches the shell asynchronously in some runtimes: ask until it answers with it.
    await hangGuard(
      'the shell to see the new size 132x40',
      (async () => {
        while ((await size()) !== '132x40');
      })(),
      60_000,
    );
    p.write('exit 3\r');
    expect((await hangGuard('the shell to exit', p.exited, 60_000)).code).toBe(3);
  });

  it('runs several execs at once', async () => {
    const { driver, sb } = ctx();
    const ps = await Promise.all([1, 2, 3].map((n) => driver.exec(sb, ['/bin/sh', '-c', `sleep 0.${n}; echo ${n}; exit ${n}`], { tty: false })));
    const rs = await Promise.all(ps.map((p) => collect(p)));
    expect(rs.map((r) => [r.code, r.out])).toEqual([
      [1, '1\n'],
      [2, '2\n'],
      [3, '3\n'],
    ]);
  });

  it('kills a process that would run forever, inside the sandbox too', async () => {
    const { driver, sb } = ctx();
    const p = await driver.exec(sb, ['/bin/sleep', '1001'], { tty: false });
    await p.kill('SIGKILL');
    const exit = await hangGuard('the killed process to exit', p.exited, 60_000);
    expect(exit.code === null || exit.code !== 0).toBe(true);
    const ps = await collect(await driver.exec(sb, ['/bin/sh', '-c', 'pgrep -fx "/bin/sleep 1001" | wc -l'], { tty: false }));
    expect(Number(ps.out.trim())).toBe(0);
  });

  it('pause() holds a flooding process back inside the sandbox; resume() lets it go on', async () => {
    const { driver, sb } = ctx();
    const p = await driver.exec(sb, ['/bin/bash', '-c', 'i=0; while :; do echo flood-line-$i; echo $i > /tmp/flood-count; i=$((i+1)); done'], { tty: true });
    let received = 0;
    p.onData((c) => {
      received += c.length;
    });
    // The loop rewrites the file constantly; a read can catch it truncated, so retry until it holds a number.
    const count = async () => {
      for (let i = 0; ; i++) {
        const out = (await collect(await driver.exec(sb, ['/bin/cat', '/tmp/flood-count'], { tty: false }))).out.trim();
        if (/^\d+$/.test(out) || i >= 20) return Number(out);
      }
    };
    await until(
      '20 kB of flood output',
      () => received >= 20_000,
      60_000,
      () => `${received} bytes`,
    );
    p.pause();
    // The buffers between us and the process (PTY, pipes, the runtime's own copies) fill up first, and
    // on a loaded machine that takes a while: wait until the counter holds still across a 1.5 s sampling
    // interval (an observation window, not a speed limit). Without back-pressure it never does, and the
    // hang guard fails the test.
    let c1 = -1;
    let c2 = await count();
    await until(
      'the paused process to hold still (blocked on its output, not merely unread by us)',
      async () => {
        c1 = c2;
        await new Promise((r) => setTimeout(r, 1500));
        c2 = await count();
        return c2 - c1 < 50;
      },
      90_000,
      () => `counter went ${c1} -> ${c2}`,
    );
    p.resume();
    const held = c2;
    await until(
      'the resumed process to go on',
      async () => (c2 = await count()) > held + 50,
      60_000,
      () => `counter at ${c2}, held at ${held}`,
    );
    await p.kill('SIGKILL');
    await p.exited;
  });
}

/**
 * Adoption: a backend that restarts (here: a new driver instance on the same
 * state directory, `next()`) re-attaches to a running sandbox from its
 * describe(): the files, a process left running and a terminal held by dtach
 * inside the sandbox are all still there, the old watchdog is replaced by the
 * new owner's, and what is not as described is refused.
 */
export interface AdoptionContext {
  driver: Driver;
  sb: Sandbox;
  next: () => Driver;
  watchdogsOf: (id: string) => Promise<number>;
  /** What a dying backend does to its connections, where the driver holds any (the microVM's sockets); both backends share this process. */
  letGo?: (driver: Driver, sb: Sandbox) => void;
  /** The described field that names the sandbox's main host process. */
  pidField: string;
}

export function adoptionConformance(ctx: () => AdoptionContext) {
  /** The backend that holds the sandbox now (the one that last adopted it). */
  let current: { driver: Driver; sb: Sandbox } | null = null;
  it('a restarted backend adopts a running sandbox: files, a process left running, and the same held shell', async () => {
    const { driver, sb, next, watchdogsOf, letGo } = ctx();
    const setup = await collect(
      await driver.exec(sb, ['/bin/sh', '-c', 'echo kept > /root/adopt-file; setsid sleep 1003 >/dev/null 2>&1 </dev/null & echo started'], { tty: false }),
    );
    expect(setup.out.trim()).toBe('started');
    // A held terminal (ExecOptions.hold), whose exec then goes away as if its backend died: its client is killed, not what it holds.
    const shell = ['/bin/bash', '--norc', '-i'];
    const held = { tty: true, cols: 80, rows: 24, hold: 'adopt-test' } as const;
    const first = await driver.exec(sb, shell, held);
    let out1 = '';
    first.onData((c) => {
      out1 += c.toString();
    });
    first.write('H=held-before; echo "pid=$$"\r');
    await until(
      'the held shell answers',
      () => /pid=\d+\r?\n/.test(out1),
      60_000,
      () => JSON.stringify(out1.slice(-300)),
    );
    const shellPid = /pid=(\d+)/.exec(out1)![1];
    expect(first.detach, 'a held terminal can be detached').toBeDefined();
    first.detach!(); // what a backend that dies does: its attachment goes, the held shell stays
    await hangGuard('the first terminal exec to end', first.exited, 60_000);

    const state = JSON.parse(JSON.stringify(driver.describe(sb))) as unknown; // as the store keeps it
    const before = await watchdogsOf(sb.id);
    letGo?.(driver, sb);
    const driver2 = next();
    const sb2 = await driver2.adopt(state);
    current = { driver: driver2, sb: sb2 };
    expect(sb2.id).toBe(sb.id);
    expect(await driver2.poll(sb2)).toBeNull();
    expect(before).toBe(1); // the drivers here run with a watchdog, as the lab does
    expect(await watchdogsOf(sb.id)).toBe(before); // replaced, not added

    const r = await collect(await driver2.exec(sb2, ['/bin/sh', '-c', 'cat /root/adopt-file; pgrep -fx "sleep 1003" | wc -l'], { tty: false }));
    expect(r.out.split('\n').slice(0, 2)).toEqual(['kept', '1']);
    const again = await driver2.exec(sb2, shell, held);
    let out2 = '';
    again.onData((c) => {
      out2 += c.toString();
    });
    again.write('echo "again=$H/$$"\r');
    await until(
      'the same shell answers',
      () => /again=held-before\/\d+/.test(out2),
      60_000,
      () => JSON.stringify(out2.slice(-300)),
    );
    expect(/again=held-before\/(\d+)/.exec(out2)![1]).toBe(shellPid);
    // Killing a held terminal ends the shell it holds.
    await again.kill('SIGKILL');
    await again.exited;
    const alive = async () => (await collect(await driver2.exec(sb2, ['/bin/sh', '-c', `kill -0 ${shellPid} 2>/dev/null && echo alive || echo gone`], { tty: false }))).out.trim();
    await until('the held shell to end with its terminal', async () => (await alive()) === 'gone', 30_000);
    await collect(await driver2.exec(sb2, ['/bin/sh', '-c', 'pkill -f "sleep 1003"; true'], { tty: false }));
  });

  it('adopt refuses a sandbox that is not there or not as described, and changes nothing', async () => {
    const { next, letGo, pidField } = ctx();
    const { driver, sb } = current ?? ctx();
    const state = driver.describe(sb) as Record<string, unknown>;
    letGo?.(driver, sb);
    const driver2 = next();
    const bad: unknown[] = [null, 'x', {}, { ...state, id: 'no-such-sandbox', spec: { ...(state.spec as object), id: 'no-such-sandbox' } }, { ...state, [pidField]: 999_999_999 }];
    // A driver that proves the guest with a key: a wrong one is refused (only the real agent can answer with the real one).
    if (typeof state.key === 'string') bad.push({ ...state, key: '0'.repeat(64) });
    for (const b of bad) {
      await expect(driver2.adopt(b), JSON.stringify(b)?.slice(0, 120)).rejects.toMatchObject({ name: 'AdoptError' });
    }
    if (!letGo) {
      expect(await driver.poll(sb)).toBeNull();
      return;
    }
    // The refusals left the sandbox as it was: the true description still adopts it, and it still runs.
    const sb3 = await driver2.adopt(JSON.parse(JSON.stringify(state)));
    current = { driver: driver2, sb: sb3 };
    expect(await driver2.poll(sb3)).toBeNull();
    expect((await collect(await driver2.exec(sb3, ['/bin/cat', '/root/adopt-file'], { tty: false }))).out).toBe('kept\n');
  }, 60_000);
}

/**
 * adoptionConformance on a sandbox of its own, for a driver made by `make`
 * with a watchdog, as the lab runs it (adoption must replace it, not add
 * one); each `make()` is a backend (re)started on the same state dir.
 */
export function describeAdoption(name: string, make: (opts: { stateDir: string; orphanGraceMs: number }) => OciCliDriver): void;
export function describeAdoption<D extends Driver>(name: string, make: (opts: { stateDir: string; orphanGraceMs: number }) => D, how: AdoptionHow<D>): void;
export function describeAdoption(name: string, make: (opts: { stateDir: string; orphanGraceMs: number }) => Driver, how?: AdoptionHow<Driver>) {
  const h: AdoptionHow<Driver> = how ?? {
    rootfs: baseRootfs,
    leftovers: async (d, stateDir) => {
      const l = await leftovers(d as OciCliDriver, stateDir);
      return { dirs: l.bundles, procs: l.procs, cgroups: l.cgroups };
    },
    watchdogsOf: (_stateDir, id) => watchdogsOf(id),
    pidField: 'hostPid',
  };
  describe(`${name} driver: adoption by a restarted backend`, () => {
    const stateDir = tempStateDir();
    const next = () => make({ stateDir, orphanGraceMs: 300_000 });
    const driver = next();
    let sb: Sandbox;
    beforeAll(async () => {
      sb = await driver.start(specFor(await h.rootfs()));
    }, 300_000);
    afterAll(async () => {
      if (sb) await next().stop(sb, { now: true });
      expect(await h.leftovers(driver, stateDir)).toMatchObject({ dirs: [], procs: [], cgroups: [] });
      await until('its watchdog exits', async () => (await h.watchdogsOf(stateDir, sb.id)) === 0, 10_000);
    });
    adoptionConformance(() => ({ driver, sb, next, watchdogsOf: (id) => h.watchdogsOf(stateDir, id), letGo: h.letGo, pidField: h.pidField }));
  });
}

/** How describeAdoption works a driver other than the OCI ones. */
export interface AdoptionHow<D extends Driver> {
  rootfs: () => Promise<string>;
  leftovers: (driver: D, stateDir: string) => Promise<{ dirs: string[]; procs: unknown[]; cgroups: string[] }>;
  watchdogsOf: (stateDir: string, id: string) => Promise<number>;
  letGo?: (driver: D, sb: Sandbox) => void;
  pidField: string;
}
