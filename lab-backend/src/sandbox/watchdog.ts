/**
 * Per-sandbox watchdogs: nothing a backend started runs unsupervised after
 * that backend is killed (-9, OOM, a crash).
 *
 * Right after a sandbox runs, its driver starts one lab-watchdog
 * (images/tools/lab-watchdog.c, compiled on first use into
 * `<stateDir>/bin/`) detached in a session of its own. Every second it checks
 * that the backend (pid and start time, so a reused pid does not count) and
 * the sandbox's main process still live. It exits by itself once the sandbox
 * is gone; once the backend has been gone for `orphanGraceMs` it kills every
 * process of the sandbox and exits. Files and cgroups stay for the next
 * backend's reaper; what costs memory and CPU does not outlive the grace.
 *
 * The grace is there so that a backend restarted quickly can take its
 * sandboxes over. Adopting one means replacing its watchdog: the reapers
 * already kill it (its argv carries the same markers the driver looks for:
 * `--root=<root>` and the id for runsc, `<stateDir>/microvm/<id>/` for QEMU),
 * and the adopting backend starts a new one that names itself as the owner.
 *
 * The driver decides no policy: the grace comes from configuration
 * (LAB_ORPHAN_GRACE_MS) through the driver's options.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SandboxStartError } from '../errors';
import { cgroupHierarchies, pidsWithCmdline, procStartTime, run } from './host';

export const WATCHDOG_SOURCE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'images', 'tools', 'lab-watchdog.c');
/** How often a watchdog looks (a mechanism constant: it bounds how late the grace is noticed, not the grace). */
export const WATCHDOG_INTERVAL_MS = 1000;

export interface WatchdogOptions {
  stateDir: string;
  /** How long a sandbox may outlive its backend. Unset: no watchdog (the caller answers for crashes itself). */
  orphanGraceMs?: number;
}

export interface WatchedSandbox {
  /** The sandbox's main host process (runsc's sandbox process, QEMU): the sandbox exists while it lives. */
  pid: number;
  /** `<parent>/<id>`: every pid in this cgroup (in the pids, memory or v2 hierarchy) is the sandbox's. */
  cgroup: string;
  /** Host processes whose command line contains every one of these are the sandbox's (NULs read as spaces). */
  cmdline: string[];
  /** … and that have every one of these as a whole argument. */
  args: string[];
}

const binaries = new Map<string, Promise<string>>();
let sourceHash: string | undefined;

/** The compiled watchdog for this state dir, named by a hash of its source (so a changed source is rebuilt). */
export function watchdogBinary(stateDir: string): Promise<string> {
  sourceHash ??= createHash('sha256').update(readFileSync(WATCHDOG_SOURCE)).digest('hex').slice(0, 12);
  const bin = path.join(path.resolve(stateDir), 'bin', `lab-watchdog-${sourceHash}`);
  let p = binaries.get(bin);
  if (!p) {
    p = (async () => {
      if (existsSync(bin)) return bin;
      await fs.mkdir(path.dirname(bin), { recursive: true, mode: 0o700 });
      const tmp = `${bin}.tmp-${process.pid}`;
      // Static: ~0.7 MB resident instead of ~1.5 MB with a shared libc; fall back where no static libc is installed.
      let r = await run('gcc', ['-O2', '-Wall', '-static', '-o', tmp, WATCHDOG_SOURCE], { timeoutMs: 60_000 });
      if (r.code !== 0) r = await run('gcc', ['-O2', '-Wall', '-o', tmp, WATCHDOG_SOURCE], { timeoutMs: 60_000 });
      if (r.code !== 0) throw new Error(`compiling the sandbox watchdog failed (is gcc installed?): ${r.stderr.trim().slice(-400)}`);
      await fs.rename(tmp, bin);
      return bin;
    })();
    binaries.set(bin, p);
    p.catch(() => binaries.delete(bin));
  }
  return p;
}

let ownerRef: Promise<string> | null = null;
/** This backend as the watchdogs know it: `pid:starttime`. */
function owner(): Promise<string> {
  ownerRef ??= procStartTime(process.pid).then((t) => {
    if (t === null) throw new Error("cannot read this process's start time from /proc");
    return `${process.pid}:${t}`;
  });
  return ownerRef;
}

/**
 * Start the sandbox's watchdog; resolves once its process exists (so a stop()
 * right after finds and kills it). A no-op without `orphanGraceMs`. A sandbox
 * whose main process is already gone gets none. Throws SandboxStartError when
 * the watchdog cannot be built or run: a sandbox nobody would end after a
 * crash is not started.
 */
export async function startWatchdog(opts: WatchdogOptions, sb: WatchedSandbox): Promise<void> {
  if (opts.orphanGraceMs === undefined) return;
  try {
    const start = await procStartTime(sb.pid);
    if (start === null) return; // the sandbox is already gone: the caller's poll() says so
    const argv = [
      '--owner',
      await owner(),
      '--sandbox',
      `${sb.pid}:${start}`,
      '--grace-ms',
      String(Math.max(0, Math.round(opts.orphanGraceMs))),
      '--interval-ms',
      String(WATCHDOG_INTERVAL_MS),
    ];
    for (const dir of await watchCgroupDirs(sb.cgroup)) argv.push('--cgroup', dir);
    for (const c of sb.cmdline) argv.push('--cmdline', c);
    for (const a of sb.args) argv.push('--arg', a);
    const bin = await watchdogBinary(opts.stateDir);
    await new Promise<void>((resolve, reject) => {
      // detached: a session of its own, so nothing aimed at the backend's group or terminal reaches it.
      const child = spawn(bin, argv, { detached: true, stdio: 'ignore', cwd: '/' });
      child.once('error', reject);
      child.once('spawn', () => {
        child.unref();
        resolve();
      });
    });
  } catch (e) {
    throw new SandboxStartError(`could not start the sandbox's watchdog: ${(e as Error).message}`);
  }
}

/**
 * Adoption: kill the watchdogs a previous backend started for this sandbox
 * (found by their own `--cmdline` and `--arg` markers, which name it), then
 * start one owned by this process. Throws as startWatchdog does.
 */
export async function replaceWatchdog(opts: WatchdogOptions, sb: WatchedSandbox): Promise<void> {
  const has = (argv: string[], flag: string, value: string) => argv.some((a, i) => a === flag && argv[i + 1] === value);
  for (const pid of await pidsWithCmdline('lab-watchdog')) {
    const argv = (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (!path.basename(argv[0] ?? '').startsWith('lab-watchdog')) continue;
    if (!sb.cmdline.every((c) => has(argv, '--cmdline', c)) || !sb.args.every((a) => has(argv, '--arg', a))) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  await startWatchdog(opts, sb);
}

/** Where the sandbox's pids are listed: the pids and memory hierarchies (v1), or the v2 one, where they exist. */
async function watchCgroupDirs(cgroup: string): Promise<string[]> {
  const dirs: string[] = [];
  for (const h of await cgroupHierarchies()) {
    if (!(h.v2 || h.options.includes('pids') || h.options.includes('memory'))) continue;
    const dir = path.join(h.path, cgroup);
    if (existsSync(path.join(dir, 'cgroup.procs'))) dirs.push(dir);
  }
  return dirs;
}
