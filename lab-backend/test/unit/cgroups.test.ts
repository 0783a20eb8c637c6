/**
 * cgroups.ts against fake cgroup roots (plain directories laid out like v1 and
 * v2 hierarchies): which layout is found, which files a sandbox's limits are
 * written to, how readings are parsed, and that a root refusing a write is an
 * error rather than a sandbox without limits.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CgroupError, cgroupLayout, createSandboxCgroup, joinSandboxCgroup, readSandboxCgroup } from '../../src/sandbox/cgroups';

const LIMITS = { memoryBytes: 512 * 2 ** 20, cpuQuotaUs: 50_000, cpuPeriodUs: 100_000, pidsMax: 256 };
const files = (dir: string, entries: Record<string, string>) => {
  mkdirSync(dir, { recursive: true });
  for (const [f, v] of Object.entries(entries)) writeFileSync(path.join(dir, f), v);
};

/** A v1 host: one directory per controller (plus the unified mount of a hybrid host, without controllers). */
function fakeV1() {
  const root = mkdtempSync(path.join(os.tmpdir(), 'lab-cg1-'));
  for (const c of ['memory', 'cpu', 'pids']) files(path.join(root, c), { 'cgroup.procs': '' });
  files(path.join(root, 'unified'), { 'cgroup.controllers': '' });
  return root;
}

function fakeV2(controllers = 'cpuset cpu io memory pids') {
  const root = mkdtempSync(path.join(os.tmpdir(), 'lab-cg2-'));
  files(root, { 'cgroup.controllers': `${controllers}\n`, 'cgroup.subtree_control': '', 'cgroup.procs': '' });
  return root;
}

describe('host cgroups (fake roots)', () => {
  it('v1 (and hybrid): a hierarchy per controller, each limit in its own file', async () => {
    const root = fakeV1();
    const layout = await cgroupLayout(root);
    expect(layout.version).toBe(1);
    await createSandboxCgroup(layout, 'lab-p', 'sb1', LIMITS);
    expect(readFileSync(path.join(root, 'memory/lab-p/sb1/memory.limit_in_bytes'), 'utf8')).toBe(String(LIMITS.memoryBytes));
    expect(readFileSync(path.join(root, 'cpu/lab-p/sb1/cpu.cfs_quota_us'), 'utf8')).toBe('50000');
    expect(readFileSync(path.join(root, 'cpu/lab-p/sb1/cpu.cfs_period_us'), 'utf8')).toBe('100000');
    expect(readFileSync(path.join(root, 'pids/lab-p/sb1/pids.max'), 'utf8')).toBe('256');
    await joinSandboxCgroup(layout, 'lab-p', 'sb1', 4242);
    for (const c of ['memory', 'cpu', 'pids']) expect(readFileSync(path.join(root, c, 'lab-p/sb1/cgroup.procs'), 'utf8')).toBe('4242');

    // What the kernel would report after an attack.
    files(path.join(root, 'memory/lab-p/sb1'), {
      'memory.failcnt': '17\n',
      'memory.max_usage_in_bytes': '536870912\n',
      'memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\noom_kill 2\n',
    });
    files(path.join(root, 'pids/lab-p/sb1'), { 'pids.current': '12\n', 'pids.events': 'max 40\n' });
    files(path.join(root, 'cpu/lab-p/sb1'), { 'cpu.stat': 'nr_periods 30\nnr_throttled 9\nthrottled_time 1234\n' });
    expect(await readSandboxCgroup(layout, 'lab-p', 'sb1')).toEqual({
      memoryLimitBytes: LIMITS.memoryBytes,
      memoryPeakBytes: 536870912,
      memoryLimitHits: 17,
      oomKills: 2,
      pidsMax: 256,
      pidsCurrent: 12,
      pidsLimitHits: 40,
      cpuQuotaUs: 50_000,
      cpuPeriodUs: 100_000,
      nrThrottled: 9,
    });
  });

  it('v2: controllers enabled on the way down, limits in memory.max, cpu.max and pids.max', async () => {
    const root = fakeV2();
    const layout = await cgroupLayout(root);
    expect(layout.version).toBe(2);
    await createSandboxCgroup(layout, 'lab-p', 'sb1', LIMITS);
    expect(readFileSync(path.join(root, 'cgroup.subtree_control'), 'utf8')).toBe('+memory +cpu +pids');
    expect(readFileSync(path.join(root, 'lab-p/cgroup.subtree_control'), 'utf8')).toBe('+memory +cpu +pids');
    expect(readFileSync(path.join(root, 'lab-p/sb1/memory.max'), 'utf8')).toBe(String(LIMITS.memoryBytes));
    expect(readFileSync(path.join(root, 'lab-p/sb1/cpu.max'), 'utf8')).toBe('50000 100000');
    expect(readFileSync(path.join(root, 'lab-p/sb1/pids.max'), 'utf8')).toBe('256');
    await joinSandboxCgroup(layout, 'lab-p', 'sb1', 4242);
    expect(readFileSync(path.join(root, 'lab-p/sb1/cgroup.procs'), 'utf8')).toBe('4242');

    files(path.join(root, 'lab-p/sb1'), {
      'memory.events': 'low 0\nhigh 0\nmax 5\noom 1\noom_kill 1\n',
      'memory.peak': '1000\n',
      'pids.current': '3\n',
      'pids.events': 'max 7\n',
      'cpu.stat': 'usage_usec 10\nnr_periods 4\nnr_throttled 2\n',
    });
    expect(await readSandboxCgroup(layout, 'lab-p', 'sb1')).toEqual({
      memoryLimitBytes: LIMITS.memoryBytes,
      memoryPeakBytes: 1000,
      memoryLimitHits: 5,
      oomKills: 1,
      pidsMax: 256,
      pidsCurrent: 3,
      pidsLimitHits: 7,
      cpuQuotaUs: 50_000,
      cpuPeriodUs: 100_000,
      nrThrottled: 2,
    });
  });

  it('reads "max" as unlimited', async () => {
    const root = fakeV2();
    files(path.join(root, 'p/x'), { 'memory.max': 'max\n', 'cpu.max': 'max 100000\n', 'pids.max': 'max\n' });
    const r = await readSandboxCgroup({ version: 2, root }, 'p', 'x');
    expect([r.memoryLimitBytes, r.cpuQuotaUs, r.pidsMax]).toEqual([Infinity, Infinity, Infinity]);
  });

  it('a root without the controllers, or one that refuses a write, is an error naming the file', async () => {
    await expect(cgroupLayout(mkdtempSync(path.join(os.tmpdir(), 'lab-cg0-')))).rejects.toThrow(/no cgroup hierarchy with the memory, cpu and pids controllers/);
    await expect(cgroupLayout(fakeV2('cpu io'))).rejects.toThrow(/lacks the memory, pids controller/);

    const root = fakeV1();
    // A limit file that cannot be written (here a directory in its place; on a real host: EINVAL, EBUSY, EROFS).
    mkdirSync(path.join(root, 'pids/lab-p/sb1/pids.max'), { recursive: true });
    const err = await createSandboxCgroup(await cgroupLayout(root), 'lab-p', 'sb1', LIMITS).catch((e) => e);
    expect(err).toBeInstanceOf(CgroupError);
    expect(String(err.message)).toMatch(/cannot set pids\.max to 256 in .*pids\/lab-p\/sb1/);
  });
});
