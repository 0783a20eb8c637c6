/**
 * Host cgroups for a sandbox's host processes: the microVM driver puts QEMU in
 * them (runsc and runc make their own from the OCI spec, at the same paths),
 * and tests read them back to see the limits and what an attack moved.
 *
 * Two layouts, found under a cgroup root (/sys/fs/cgroup unless a test passes
 * a fake one):
 *   v1  one hierarchy per controller: <root>/{memory,cpu,pids}/<parent>/<id>
 *   v2  one unified hierarchy:        <root>/<parent>/<id>, with memory, cpu
 *       and pids enabled in the subtree_control of <root> and <root>/<parent>
 * A hybrid host (v1 controllers beside an empty v2 mount at <root>/unified)
 * uses v1. A limit that cannot be written is an error (CgroupError): a
 * sandbox never runs with limits silently missing.
 */
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';

export const DEFAULT_CGROUP_ROOT = '/sys/fs/cgroup';
const CONTROLLERS = ['memory', 'cpu', 'pids'] as const;

export class CgroupError extends Error {}

export type CgroupLayout = { version: 1; root: string } | { version: 2; root: string };

export interface HostLimits {
  memoryBytes: number;
  cpuQuotaUs: number;
  cpuPeriodUs: number;
  pidsMax: number;
}

/** What a sandbox's host cgroup says: its limits, and the counters an attack moves. */
export interface CgroupReading {
  memoryLimitBytes: number;
  /** Highest memory use seen (v1 max_usage_in_bytes, v2 memory.peak where the kernel has it). */
  memoryPeakBytes: number | null;
  /** Times use reached the limit (v1 failcnt, v2 memory.events max). */
  memoryLimitHits: number;
  oomKills: number;
  pidsMax: number;
  pidsCurrent: number;
  /** Forks refused at the limit (pids.events max). */
  pidsLimitHits: number;
  /** CPU quota per period in µs; Infinity when unlimited. */
  cpuQuotaUs: number;
  cpuPeriodUs: number;
  nrThrottled: number;
}

/** Which layout `root` has, or why none is usable. */
export async function cgroupLayout(root = DEFAULT_CGROUP_ROOT): Promise<CgroupLayout> {
  if (CONTROLLERS.every((c) => existsSync(path.join(root, c, 'cgroup.procs')))) return { version: 1, root };
  const controllers = await fs.readFile(path.join(root, 'cgroup.controllers'), 'utf8').catch(() => null);
  if (controllers !== null) {
    const have = controllers.trim().split(/\s+/);
    const missing = CONTROLLERS.filter((c) => !have.includes(c));
    if (missing.length === 0) return { version: 2, root };
    throw new CgroupError(`the cgroup v2 hierarchy at ${root} lacks the ${missing.join(', ')} controller(s)`);
  }
  throw new CgroupError(`no cgroup hierarchy with the memory, cpu and pids controllers under ${root}`);
}

/** The cgroup directories of sandbox `id` under `parent`, by controller. */
export function cgroupDirs(layout: CgroupLayout, parent: string, id: string): Record<(typeof CONTROLLERS)[number], string> {
  const at = (c: string) => (layout.version === 1 ? path.join(layout.root, c, parent, id) : path.join(layout.root, parent, id));
  return { memory: at('memory'), cpu: at('cpu'), pids: at('pids') };
}

async function write(dir: string, file: string, value: string): Promise<void> {
  try {
    await fs.writeFile(path.join(dir, file), value);
  } catch (e) {
    throw new CgroupError(`cannot set ${file} to ${value.trim()} in ${dir}: ${(e as Error).message}`);
  }
}

/** Create sandbox `id`'s cgroup(s) under `parent` with `limits`; throws CgroupError if any cannot be set. */
export async function createSandboxCgroup(layout: CgroupLayout, parent: string, id: string, limits: HostLimits): Promise<void> {
  const dirs = cgroupDirs(layout, parent, id);
  const mkdir = async (dir: string) => {
    try {
      await fs.mkdir(dir, { recursive: true });
    } catch (e) {
      throw new CgroupError(`cannot create the cgroup ${dir}: ${(e as Error).message}`);
    }
  };
  if (layout.version === 1) {
    for (const dir of new Set(Object.values(dirs))) await mkdir(dir);
    await write(dirs.memory, 'memory.limit_in_bytes', String(limits.memoryBytes));
    await write(dirs.cpu, 'cpu.cfs_period_us', String(limits.cpuPeriodUs));
    await write(dirs.cpu, 'cpu.cfs_quota_us', String(limits.cpuQuotaUs));
    await write(dirs.pids, 'pids.max', String(limits.pidsMax));
    return;
  }
  // v2: controllers must be enabled on the way down before a child can use them.
  const enable = CONTROLLERS.map((c) => `+${c}`).join(' ');
  await write(layout.root, 'cgroup.subtree_control', enable);
  await mkdir(path.join(layout.root, parent));
  await write(path.join(layout.root, parent), 'cgroup.subtree_control', enable);
  await mkdir(dirs.memory);
  await write(dirs.memory, 'memory.max', String(limits.memoryBytes));
  await write(dirs.cpu, 'cpu.max', `${limits.cpuQuotaUs} ${limits.cpuPeriodUs}`);
  await write(dirs.pids, 'pids.max', String(limits.pidsMax));
}

/** Move host process `pid` into sandbox `id`'s cgroup(s); throws CgroupError if it cannot. */
export async function joinSandboxCgroup(layout: CgroupLayout, parent: string, id: string, pid: number): Promise<void> {
  for (const dir of new Set(Object.values(cgroupDirs(layout, parent, id)))) await write(dir, 'cgroup.procs', String(pid));
}

const num = (s: string | null): number => {
  if (s === null) return NaN;
  const t = s.trim();
  return t === 'max' || t === '-1' ? Infinity : Number(t);
};
/** `key value` lines (cpu.stat, memory.events, pids.events, memory.oom_control). */
const field = (text: string | null, key: string): number => {
  const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(text ?? '');
  return m ? Number(m[1]) : 0;
};

/** Read sandbox `id`'s cgroup(s) under `parent` (throws if they do not exist). */
export async function readSandboxCgroup(layout: CgroupLayout, parent: string, id: string): Promise<CgroupReading> {
  const dirs = cgroupDirs(layout, parent, id);
  const read = (dir: string, file: string) => fs.readFile(path.join(dir, file), 'utf8').catch(() => null);
  for (const dir of new Set(Object.values(dirs))) {
    if (!existsSync(dir)) throw new CgroupError(`the cgroup ${dir} does not exist`);
  }
  const pids = {
    pidsMax: num(await read(dirs.pids, 'pids.max')),
    pidsCurrent: num(await read(dirs.pids, 'pids.current')),
    pidsLimitHits: field(await read(dirs.pids, 'pids.events'), 'max'),
  };
  const nrThrottled = field(await read(dirs.cpu, 'cpu.stat'), 'nr_throttled');
  if (layout.version === 1) {
    const peak = await read(dirs.memory, 'memory.max_usage_in_bytes');
    return {
      memoryLimitBytes: num(await read(dirs.memory, 'memory.limit_in_bytes')),
      memoryPeakBytes: peak === null ? null : num(peak),
      memoryLimitHits: num(await read(dirs.memory, 'memory.failcnt')),
      oomKills: field(await read(dirs.memory, 'memory.oom_control'), 'oom_kill'),
      ...pids,
      cpuQuotaUs: num(await read(dirs.cpu, 'cpu.cfs_quota_us')),
      cpuPeriodUs: num(await read(dirs.cpu, 'cpu.cfs_period_us')),
      nrThrottled,
    };
  }
  const events = await read(dirs.memory, 'memory.events');
  const peak = await read(dirs.memory, 'memory.peak');
  const [quota, period] = ((await read(dirs.cpu, 'cpu.max')) ?? '').trim().split(/\s+/);
  return {
    memoryLimitBytes: num(await read(dirs.memory, 'memory.max')),
    memoryPeakBytes: peak === null ? null : num(peak),
    memoryLimitHits: field(events, 'max'),
    oomKills: field(events, 'oom_kill'),
    ...pids,
    cpuQuotaUs: num(quota ?? null),
    cpuPeriodUs: num(period ?? null),
    nrThrottled,
  };
}
