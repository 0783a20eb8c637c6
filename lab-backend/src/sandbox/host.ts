/** Small helpers for running host commands the drivers need (never with sandbox-supplied input). */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a host command to completion, capturing at most `maxBytes` of each stream. */
export function run(cmd: string, args: string[], opts: { timeoutMs?: number; maxBytes?: number; cwd?: string } = {}): Promise<RunResult> {
  const maxBytes = opts.maxBytes ?? 1 << 20;
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outN = 0;
    let errN = 0;
    child.stdout.on('data', (b: Buffer) => {
      if (outN < maxBytes) {
        out.push(b);
        outN += b.length;
      }
    });
    child.stderr.on('data', (b: Buffer) => {
      if (errN < maxBytes) {
        err.push(b);
        errN += b.length;
      }
    });
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : null;
    const done = (code: number | null, extra = '') => {
      if (timer) clearTimeout(timer);
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') + extra });
    };
    child.on('error', (e) => done(127, String(e.message)));
    child.on('close', (code) => done(code));
  });
}

/** Is `cmd` on PATH (or an existing absolute path)? */
export async function which(cmd: string): Promise<string | null> {
  const dirs = cmd.includes('/') ? [''] : (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':');
  for (const d of dirs) {
    const p = d ? path.join(d, cmd) : cmd;
    try {
      await fs.access(p, 1);
      return p;
    } catch {
      /* next */
    }
  }
  return null;
}

/** Host PIDs whose command line contains `needle` (read from /proc; never throws). */
export async function pidsWithCmdline(needle: string): Promise<number[]> {
  const pids: number[] = [];
  for (const ent of await fs.readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(ent) || Number(ent) === process.pid) continue;
    const cmdline = await fs.readFile(`/proc/${ent}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.replace(/\0/g, ' ').includes(needle)) pids.push(Number(ent));
  }
  return pids;
}

/** Every live descendant of `pid` (children, their children, …), from /proc's parent links. */
export async function descendantsOf(pid: number): Promise<number[]> {
  const parent = new Map<number, number>();
  for (const ent of await fs.readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(ent)) continue;
    const stat = await fs.readFile(`/proc/${ent}/stat`, 'utf8').catch(() => '');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid > 0) parent.set(Number(ent), ppid);
  }
  const out: number[] = [];
  const under = (p: number): boolean => {
    for (let q = parent.get(p); q !== undefined; q = parent.get(q)) if (q === pid) return true;
    return false;
  };
  for (const p of parent.keys()) if (under(p)) out.push(p);
  return out;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A process's start time (clock ticks after boot, field 22 of /proc/<pid>/stat); null when it is gone or a zombie. */
export async function procStartTime(pid: number): Promise<string | null> {
  const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // The command name (field 2) may hold spaces and parentheses: fields are counted after its last ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (rest.length < 20 || rest[0] === 'Z' || rest[0] === 'X') return null;
  return rest[19];
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A mounted cgroup hierarchy. */
export interface CgroupHierarchy {
  /** Its mount point's last component: memory, systemd, unified, cpu,cpuacct … */
  name: string;
  /** Its mount point. */
  path: string;
  /** cgroup2 (v2)? */
  v2: boolean;
  /** Its super options: the v1 controllers it carries (`memory`, `cpu`, `cpuacct`), `name=systemd`, … */
  options: string[];
}

/**
 * Every cgroup hierarchy mounted on this host, each once: v1 controllers, named
 * v1 hierarchies (`name=systemd`) and the v2 one (`unified`, or /sys/fs/cgroup
 * itself on a v2-only host). runsc creates a sandbox's cgroup in every one of
 * them, so removal and reaping walk them all. Read from /proc/self/mountinfo,
 * which names real mount points only: the compatibility symlinks beside a
 * comounted hierarchy (cpu -> cpu,cpuacct) are never visited twice, and a
 * hierarchy mounted at two places (same device and root) counts once.
 */
export async function cgroupHierarchies(): Promise<CgroupHierarchy[]> {
  const seen = new Set<string>();
  const out: CgroupHierarchy[] = [];
  const info = await fs.readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  for (const line of info.split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-');
    if (sep < 0 || (f[sep + 1] !== 'cgroup' && f[sep + 1] !== 'cgroup2')) continue;
    const key = `${f[2]} ${f[3]}`; // device and root within it: one hierarchy
    if (seen.has(key)) continue;
    seen.add(key);
    const mountPoint = f[4].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
    out.push({ name: path.basename(mountPoint), path: mountPoint, v2: f[sep + 1] === 'cgroup2', options: (f[sep + 3] ?? '').split(',') });
  }
  return out;
}

/**
 * Remove `<hierarchy>/<parent>/<child>` cgroup dirs (children first) in every
 * mounted hierarchy, killing what still runs in them; returns the child names seen.
 */
export async function removeCgroups(parent: string, keep: ReadonlySet<string> = new Set()): Promise<string[]> {
  const seen = new Set<string>();
  for (const h of await cgroupHierarchies()) {
    const dir = path.join(h.path, parent);
    for (const child of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
      if (!child.isDirectory() || keep.has(child.name)) continue;
      seen.add(child.name);
      await removeCgroupTree(path.join(dir, child.name));
    }
    // Nothing of ours is left to keep: drop the (now empty) parent too, so test runs leave no trace.
    if (keep.size === 0) await fs.rmdir(dir).catch(() => {});
  }
  return [...seen];
}

async function removeCgroupTree(dir: string): Promise<void> {
  for (const child of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (child.isDirectory()) await removeCgroupTree(path.join(dir, child.name));
  }
  // A cgroup can only be removed once its tasks are gone; kill stragglers first.
  const procs = (await fs.readFile(path.join(dir, 'cgroup.procs'), 'utf8').catch(() => '')).split('\n').filter(Boolean);
  for (const p of procs) {
    try {
      process.kill(Number(p), 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  for (let i = 0; i < 20; i++) {
    try {
      await fs.rmdir(dir);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
      await sleep(50);
    }
  }
}
