/**
 * Watchdogs (watchdog.ts, images/tools/lab-watchdog.c): after `kill -9` of a
 * backend its sandboxes survive a short gap (so a new backend could adopt
 * them) but never more than orphanGraceMs, with no new backend or reaper
 * involved; while the backend lives, its watchdogs kill nothing, and stop()
 * leaves none behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureImage } from '../../src/images';
import type { Sandbox } from '../../src/sandbox/driver';
import { GvisorDriver } from '../../src/sandbox/gvisor';
import { cgroupHierarchies, pidsWithCmdline, procStartTime, sleep } from '../../src/sandbox/host';
import { MicrovmDriver } from '../../src/sandbox/microvm';
import { RuncDriver } from '../../src/sandbox/runc';
import { watchdogBinary } from '../../src/sandbox/watchdog';
import { IMAGE_DIR, baseRootfs, cgroupParentsLeft, collect, leftovers, microvmLeftovers, specFor, tempStateDir } from './helpers';
import { until } from '../hang-guard';
import { includeMicrovm } from './microvm-expected';

const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

const live = async (pid: number) => (await procStartTime(pid)) !== null;

function sleeper(): ChildProcess {
  const c = spawn('sleep', ['1000'], { stdio: 'ignore' });
  children.push(c);
  return c;
}

async function ref(pid: number): Promise<string> {
  return `${pid}:${await procStartTime(pid)}`;
}

/** Every live process of a state dir's sandboxes: anything naming the state dir, and every pid in the drivers' cgroups. */
async function sandboxProcesses(stateDir: string, cgroupParents: string[]): Promise<string[]> {
  const found = new Set<number>();
  for (const pid of await pidsWithCmdline(stateDir)) found.add(pid);
  const walk = async (dir: string) => {
    for (const p of (await fs.readFile(path.join(dir, 'cgroup.procs'), 'utf8').catch(() => '')).split('\n').filter(Boolean)) found.add(Number(p));
    for (const d of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) if (d.isDirectory()) await walk(path.join(dir, d.name));
  };
  for (const h of await cgroupHierarchies()) for (const parent of cgroupParents) await walk(path.join(h.path, parent));
  const out: string[] = [];
  for (const pid of found) {
    if (!(await live(pid))) continue; // a zombie is not running anything
    const cmd = (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replace(/\0/g, ' ').trim();
    out.push(`${pid} ${cmd.slice(0, 120)}`);
  }
  return out;
}

async function rssKiB(pid: number): Promise<number> {
  const m = /VmRSS:\s+(\d+) kB/.exec(await fs.readFile(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

describe('lab-watchdog (the program, with stand-in processes)', () => {
  const stateDir = tempStateDir();
  const run = async (owner: string, sandbox: ChildProcess, extra: string[] = []) => {
    const c = spawn(await watchdogBinary(stateDir), ['--owner', owner, '--sandbox', await ref(sandbox.pid!), '--grace-ms', '1000', '--interval-ms', '200', ...extra], {
      stdio: 'ignore',
    });
    children.push(c);
    await new Promise((r) => c.once('spawn', r));
    return c;
  };

  it('kills the sandbox once its owner has been gone for the grace, not before, and exits', async () => {
    const owner = sleeper();
    const sandbox = sleeper();
    const bystander = sleeper();
    const marked = spawn('sleep', ['999.5'], { stdio: 'ignore' });
    children.push(marked); // found by its argv, like runsc's processes
    const wd = await run(await ref(owner.pid!), sandbox, ['--arg', '999.5', '--cmdline', 'sleep']);
    await sleep(700);
    expect(await live(sandbox.pid!)).toBe(true); // owner alive: nothing happens
    const ownerGone = new Promise((r) => owner.once('exit', r));
    owner.kill('SIGKILL');
    await ownerGone;
    expect(await live(sandbox.pid!)).toBe(true); // the moment the owner is gone, well inside its 1 s grace: it survives the gap
    await until(
      'the watchdog to kill the sandbox and the marked process, and exit',
      async () => !(await live(sandbox.pid!)) && !(await live(marked.pid!)) && !(await live(wd.pid!)),
      30_000,
    );
    expect(await live(bystander.pid!)).toBe(true); // only what was named
  });

  it('takes a reused pid (same pid, other start time) for a dead owner', async () => {
    const sandbox = sleeper();
    const wd = await run(`${process.pid}:1`, sandbox); // this process is alive, but it started at another time
    await until('the watchdog to kill the sandbox of a "dead" owner and exit', async () => !(await live(sandbox.pid!)) && !(await live(wd.pid!)), 30_000);
  });

  it('exits by itself, killing nothing, when the sandbox is gone while its owner lives', async () => {
    const sandbox = sleeper();
    const other = sleeper();
    const wd = await run(await ref(process.pid), sandbox, ['--arg', '1000', '--cmdline', 'sleep']);
    sandbox.kill('SIGKILL');
    await until('the watchdog to exit once its sandbox is gone', async () => !(await live(wd.pid!)), 30_000);
    expect(await live(other.pid!)).toBe(true); // it matches the watchdog's markers, but the owner is alive
  });
});

describe('watchdogs of a live backend (real runsc and QEMU)', () => {
  it('kill nothing while the backend lives, answer for nothing after stop(), and are small', { timeout: 180_000 }, async () => {
    const stateDir = tempStateDir();
    const graceMs = 1500;
    const gvisor = new GvisorDriver({ stateDir, orphanGraceMs: graceMs });
    const microvm = includeMicrovm('watchdogs of a live backend') ? new MicrovmDriver({ stateDir, orphanGraceMs: graceMs, log: () => {} }) : null;
    const sbs: [GvisorDriver | MicrovmDriver, Sandbox][] = [[gvisor, await gvisor.start(specFor(await baseRootfs()))]];
    if (microvm) sbs.push([microvm, await microvm.start(specFor(await ensureImage(IMAGE_DIR, 'microvm', () => {})))]);
    const watchdogs = await pidsWithCmdline(path.join(stateDir, 'bin', 'lab-watchdog'));
    expect(watchdogs.length).toBe(sbs.length);
    const rss = await Promise.all(watchdogs.map(rssKiB));
    console.log(`[watchdog] resident memory per watchdog: ${rss.join(', ')} KiB`);
    for (const r of rss) expect(r).toBeLessThan(2048);

    await sleep(graceMs + 2500); // well past the grace: a watchdog that mistook a live backend for gone would have struck
    for (const [driver, sb] of sbs) {
      expect(await driver.poll(sb)).toBeNull();
      expect(await collect(await driver.exec(sb, ['/bin/echo', 'still here'], { tty: false }))).toEqual({ code: 0, out: 'still here\n' });
    }
    for (const pid of watchdogs) expect(await live(pid)).toBe(true);

    for (const [driver, sb] of sbs) await driver.stop(sb);
    expect(await pidsWithCmdline(path.join(stateDir, 'bin', 'lab-watchdog'))).toEqual([]);
    expect(await leftovers(gvisor, stateDir)).toEqual({ bundles: [], runscState: [], procs: [], cgroups: [], mounts: [] });
    if (microvm) expect(await microvmLeftovers(microvm, stateDir)).toEqual({ dirs: [], procs: [], cgroups: [] });
  });

  it('a watchdog whose sandbox died exits by itself', { timeout: 60_000 }, async () => {
    const stateDir = tempStateDir();
    const gvisor = new GvisorDriver({ stateDir, orphanGraceMs: 60_000 });
    const sb = await gvisor.start(specFor(await baseRootfs()));
    const [wd] = await pidsWithCmdline(path.join(stateDir, 'bin', 'lab-watchdog'));
    expect(wd).toBeGreaterThan(0);
    process.kill((sb as unknown as { hostPid: number }).hostPid, 'SIGKILL'); // runsc's sandbox process
    // Gone, not a zombie: the backend (its parent while it lives) reaps it.
    await until('the watchdog to exit once its sandbox died, reaped (no zombie)', async () => !existsSync(`/proc/${wd}`), 30_000);
    await gvisor.stop(sb, { now: true });
    expect(await leftovers(gvisor, stateDir)).toEqual({ bundles: [], runscState: [], procs: [], cgroups: [], mounts: [] });
  });
});

describe('after kill -9 of the backend (real runsc, runc and QEMU)', () => {
  it('its sandboxes outlive it by the grace and then nothing of them runs, with no new backend or reaper', { timeout: 300_000 }, async () => {
    const graceMs = 3000;
    const rootfs = await baseRootfs();
    const vmRootfs = await ensureImage(IMAGE_DIR, 'microvm', (l) => console.log(`[images] ${l}`));
    const stateDir = tempStateDir();
    const drivers = { gvisor: new GvisorDriver({ stateDir }), runc: new RuncDriver({ stateDir }), microvm: new MicrovmDriver({ stateDir, log: () => {} }) };
    const parents = [drivers.gvisor.cgroupParent, drivers.runc.cgroupParent, drivers.microvm.cgroupParent];

    // The backend is this node process itself (not npx → tsx → node), so its pid is the one to kill.
    const backend = spawn(process.execPath, ['--import', 'tsx', 'lab-backend/test/fixtures/start-and-hang.ts', stateDir, rootfs, vmRootfs, String(graceMs)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(backend);
    await new Promise<void>((resolve, reject) => {
      backend.stdout!.on('data', (b: Buffer) => {
        if (b.toString().includes('READY')) resolve();
      });
      backend.on('exit', (code) => reject(new Error(`the backend exited ${code} before READY`)));
    });
    const watchdogs = await pidsWithCmdline(path.join(stateDir, 'bin', 'lab-watchdog'));
    expect(watchdogs.length).toBe(4); // crash-a, crash-b, crash-runc, crash-vm
    backend.kill('SIGKILL');
    const killedAt = Date.now();
    await new Promise((r) => backend.once('exit', r));
    // The sandboxes themselves: runsc's sandbox and gofer processes (two gVisor sandboxes), runc's container init, QEMU.
    const core = (await sandboxProcesses(stateDir, parents)).filter((p) => /runsc-sandbox|runsc-gofer|qemu-system|trap "exit 0" TERM/.test(p));
    expect(core.filter((p) => p.includes('runsc-sandbox')).length).toBe(2);
    expect(core.filter((p) => p.includes('runsc-gofer')).length).toBe(2);
    expect(core.filter((p) => p.includes('qemu-system')).length).toBe(1);
    expect(core.filter((p) => p.includes('trap')).length).toBeGreaterThanOrEqual(1); // runc's init (gVisor's lives inside runsc)
    await sleep(1000);
    // A short gap (a restart) finds every sandbox still there.
    const after1s = await sandboxProcesses(stateDir, parents);
    expect(core.filter((p) => !after1s.includes(p))).toEqual([]);

    let last: string[] = [];
    await until(
      "nothing of the killed backend's sandboxes to run any more",
      async () => (last = await sandboxProcesses(stateDir, parents)).length === 0,
      graceMs + 60_000,
      () => last.join('\n'),
    );
    console.log(`[watchdog] nothing of the killed backend's sandboxes ran ${Date.now() - killedAt} ms after kill -9 (grace ${graceMs} ms)`);
    expect(last).toEqual([]);
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(graceMs);

    // What is left is files, mounts and empty cgroups, for the next backend's reaper.
    for (const d of Object.values(drivers)) await d.reap(new Set());
    expect(await leftovers(drivers.gvisor, stateDir)).toEqual({ bundles: [], runscState: [], procs: [], cgroups: [], mounts: [] });
    expect(await leftovers(drivers.runc, stateDir)).toEqual({ bundles: [], runscState: [], procs: [], cgroups: [], mounts: [] });
    expect(await microvmLeftovers(drivers.microvm, stateDir)).toEqual({ dirs: [], procs: [], cgroups: [] });
    expect((await Promise.all(parents.map(cgroupParentsLeft))).flat()).toEqual([]);
  });
});
