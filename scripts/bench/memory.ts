/**
 * Host memory per idle sandbox. Starts BENCH_MEMORY_SANDBOXES (10) gVisor
 * sessions through the API (warm pool off), each with its terminal socket
 * open and its shell at the prompt, like a learner reading the lesson; waits
 * BENCH_MEMORY_SETTLE_MS; then measures every host process of those sandboxes
 * and their cgroups three ways:
 *   PSS      sum of Pss (/proc/PID/smaps_rollup) over every process in the
 *            sandboxes' memory cgroups (runsc's sentry, gofer, ptrace stubs)
 *            plus the host-side `runsc exec` of each terminal (outside the
 *            cgroup, found by the sandbox id on its command line). Shared pages
 *            (the runsc binary) are split between sharers, so the sum is fair.
 *   cgroup   memory.usage_in_bytes of each sandbox's memory cgroup (includes
 *            page cache charged to it), and rss + shmem from memory.stat.
 *   MemAvailable  the host's drop in MemAvailable from before the sessions to
 *            after: noisy on a busy machine, shown as a cross-check only.
 * The figure compared with the target is the larger of PSS and cgroup usage
 * per sandbox; "fit on a 24 GiB host" is 24 GiB divided by it (nothing kept
 * back for the backend or the OS). Then the same for one idle microVM (QEMU)
 * if BENCH_MEMORY_MICROVM=1. Writes bench-results/memory.json.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { GvisorDriver } from '../../lab-backend/src/sandbox/gvisor';
import { MicrovmDriver } from '../../lab-backend/src/sandbox/microvm';
import { pidsWithCmdline } from '../../lab-backend/src/sandbox/host';
import type { ApiSession } from './lib';
import {
  createSession,
  deleteSession,
  envNum,
  machineSample,
  memAvailableBytes,
  onCleanup,
  openTerminal,
  printTable,
  round,
  runBench,
  sleep,
  startLab,
  STATE_DIR,
  writeResult,
  type ApiTerminal,
  type SummaryRow,
} from './lib';

const N = Math.max(1, envNum('BENCH_MEMORY_SANDBOXES', 10));
const SETTLE_MS = envNum('BENCH_MEMORY_SETTLE_MS', 15_000);
const LESSON = process.env.BENCH_MEMORY_LESSON ?? '00-what-a-container-is/01-a-process-with-walls';
const VM = envNum('BENCH_MEMORY_MICROVM', 1) > 0;
const VM_LESSON = process.env.BENCH_MICROVM_LESSON ?? '07-runtimes/02-oci-bundles-and-runc';
const HOST_GIB = envNum('BENCH_HOST_GIB', 24);
const MiB = 2 ** 20;

/** role: runsc's subcommand (boot = the sentry, gofer, exec = a terminal's host side), "stub" for ptrace stubs, else the command name. */
interface ProcMem {
  pid: number;
  role: string;
  pssBytes: number;
  rssBytes: number;
}
interface CgroupMem {
  usageBytes: number;
  rssBytes: number;
  shmemBytes: number;
  cacheBytes: number;
}
interface SandboxMem {
  id: string;
  procs: ProcMem[];
  pssBytes: number;
  rssBytes: number;
  cgroup: CgroupMem | null;
}

async function procMem(pid: number): Promise<ProcMem | null> {
  try {
    const rollup = await fs.readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(rollup)?.[1] ?? 0) * 1024;
    const argv = (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
    const comm = (await fs.readFile(`/proc/${pid}/comm`, 'utf8')).trim();
    const sub = argv.find((a) => ['boot', 'gofer', 'exec', 'run'].includes(a));
    const role = sub ? `runsc ${sub}` : argv.length === 0 ? 'stub' : path.basename(argv[0]) || comm;
    return { pid, role, pssBytes: kb('Pss'), rssBytes: kb('Rss') };
  } catch {
    return null;
  } // gone, or a kernel thread
}

async function cgroupMem(dir: string): Promise<CgroupMem | null> {
  try {
    const usageBytes = Number(await fs.readFile(path.join(dir, 'memory.usage_in_bytes'), 'utf8'));
    const stat = await fs.readFile(path.join(dir, 'memory.stat'), 'utf8');
    const get = (key: string) => Number(new RegExp(`^${key} (\\d+)$`, 'm').exec(stat)?.[1] ?? 0);
    return { usageBytes, rssBytes: get('total_rss'), shmemBytes: get('total_shmem'), cacheBytes: get('total_cache') };
  } catch {
    return null;
  }
}

async function cgroupPids(dir: string): Promise<number[]> {
  const procs = await fs.readFile(path.join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
  return procs.split('\n').filter(Boolean).map(Number);
}

/**
 * Everything the host spends on one sandbox: the processes in its memory
 * cgroup, plus those whose command line contains `needle` and which `owns` accepts.
 */
async function sandboxMem(id: string, cgroupDir: string, needle: string, owns: (argv: string[]) => boolean): Promise<SandboxMem> {
  const pids = new Set(await cgroupPids(cgroupDir));
  for (const pid of await pidsWithCmdline(needle)) {
    const argv = (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (owns(argv)) pids.add(pid);
  }
  const procs = (await Promise.all([...pids].map(procMem))).filter((p): p is ProcMem => p !== null);
  return {
    id,
    procs,
    cgroup: await cgroupMem(cgroupDir),
    pssBytes: procs.reduce((a, p) => a + p.pssBytes, 0),
    rssBytes: procs.reduce((a, p) => a + p.rssBytes, 0),
  };
}

/** MemAvailable averaged over a few samples (it moves with everything else on the host). */
async function memAvailable(): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < 5; i++) {
    xs.push(memAvailableBytes());
    await sleep(200);
  }
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

const mib = (b: number) => round(b / MiB, 1);

/** Per sandbox, by process role: how many and their PSS (means over the sandboxes). */
function byRole(sbs: SandboxMem[]): Record<string, { processes: number; pssMiB: number | null }> {
  const out: Record<string, { processes: number; pss: number }> = {};
  for (const p of sbs.flatMap((s) => s.procs)) {
    out[p.role] ??= { processes: 0, pss: 0 };
    out[p.role].processes++;
    out[p.role].pss += p.pssBytes;
  }
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, { processes: round(v.processes / sbs.length, 1) ?? 0, pssMiB: mib(v.pss / sbs.length) }]));
}

async function main() {
  const lab = await startLab('memory', {
    LAB_RUNTIMES: VM ? 'gvisor,microvm' : 'gvisor',
    LAB_POOL_GVISOR: '0',
    LAB_POOL_MICROVM: '0',
    LAB_MAX_SANDBOXES: String(N + 5),
    LAB_RECONNECT_GRACE_MS: '600000',
  });
  const gvisorParent = new GvisorDriver({ stateDir: STATE_DIR }).cgroupParent;
  const runscRoot = path.join(STATE_DIR, 'gvisor', 'runsc');
  await sleep(2000);
  const availBefore = await memAvailable();

  const sessions: ApiSession[] = [];
  const terms: ApiTerminal[] = [];
  onCleanup(async () => {
    for (const t of terms) t.close();
    for (const s of sessions) await deleteSession(lab.base, s);
  });
  for (let i = 0; i < N; i++) {
    const s = await createSession(lab.base, LESSON);
    sessions.push(s);
    terms.push(await openTerminal(lab.base, s));
    console.log(`gVisor sandbox ${i + 1}/${N} at its prompt`);
  }
  console.log(`idle for ${SETTLE_MS / 1000} s…`);
  await sleep(SETTLE_MS);
  const mid = machineSample();
  const sbs: SandboxMem[] = [];
  for (const s of sessions) {
    const id = `s${s.sessionId}`;
    // Outside the cgroup: the host-side `runsc exec` behind each terminal (its last argument is the sandbox id).
    sbs.push(await sandboxMem(id, path.join('/sys/fs/cgroup/memory', gvisorParent, id), `--root=${runscRoot}`, (argv) => argv.includes(id)));
  }
  const availAfter = await memAvailable();
  for (const t of terms.splice(0)) t.close();
  for (const s of sessions.splice(0)) await deleteSession(lab.base, s);

  const sum = (f: (s: SandboxMem) => number) => sbs.reduce((a, s) => a + f(s), 0) / sbs.length;
  const g = {
    pss: sum((s) => s.pssBytes),
    rss: sum((s) => s.rssBytes),
    cgUsage: sum((s) => s.cgroup?.usageBytes ?? NaN),
    cgRssShmem: sum((s) => (s.cgroup ? s.cgroup.rssBytes + s.cgroup.shmemBytes : NaN)),
    availDrop: (availBefore - availAfter) / N,
  };
  const gPer = Math.max(g.pss, Number.isFinite(g.cgUsage) ? g.cgUsage : 0);

  // One idle microVM.
  let vm: (SandboxMem & { perBytes: number }) | null = null;
  if (VM) {
    const h = await lab.health();
    if (!h.runtimes.microvm?.available) console.log(`microVM skipped: ${h.runtimes.microvm?.reason}`);
    else {
      const s = await createSession(lab.base, VM_LESSON);
      sessions.push(s);
      terms.push(await openTerminal(lab.base, s, 180_000));
      console.log(`microVM at its prompt; idle for ${SETTLE_MS / 1000} s…`);
      await sleep(SETTLE_MS);
      const id = `s${s.sessionId}`;
      const vmParent = new MicrovmDriver({ stateDir: STATE_DIR }).cgroupParent;
      const m = await sandboxMem(id, path.join('/sys/fs/cgroup/memory', vmParent, id), `${path.join(STATE_DIR, 'microvm', id)}/`, () => true);
      vm = { ...m, perBytes: Math.max(m.pssBytes, m.cgroup?.usageBytes ?? 0) };
    }
  }

  const rows = [
    {
      what: `gVisor, per idle sandbox (mean of ${N})`,
      pss_MiB: mib(g.pss),
      rss_MiB: mib(g.rss),
      cgroup_usage_MiB: mib(g.cgUsage),
      cgroup_rss_shmem_MiB: mib(g.cgRssShmem),
      memavailable_drop_MiB: mib(g.availDrop),
      fit_on_host: Math.floor((HOST_GIB * 1024 * MiB) / gPer),
    },
    ...(vm
      ? [
          {
            what: 'microVM, one idle sandbox (QEMU)',
            pss_MiB: mib(vm.pssBytes),
            rss_MiB: mib(vm.rssBytes),
            cgroup_usage_MiB: mib(vm.cgroup?.usageBytes ?? NaN),
            cgroup_rss_shmem_MiB: mib(vm.cgroup ? vm.cgroup.rssBytes + vm.cgroup.shmemBytes : NaN),
            memavailable_drop_MiB: null,
            fit_on_host: Math.floor((HOST_GIB * 1024 * MiB) / vm.perBytes),
          },
        ]
      : []),
  ];
  printTable(rows);
  const perRole = byRole(sbs);
  console.log(
    `gVisor PSS per sandbox by process: ${Object.entries(perRole)
      .map(([k, v]) => `${k} ×${v.processes} ${v.pssMiB} MiB`)
      .join(', ')}`,
  );

  const fits = Math.floor((HOST_GIB * 1024 * MiB) / gPer);
  const summary: SummaryRow[] = [
    { metric: 'host memory per idle gVisor sandbox (max of PSS, cgroup)', value: `${mib(gPer)} MiB`, baseline: '', ratio: null, target: '≤ 40 MiB', ok: gPer <= 40 * MiB },
    { metric: `idle gVisor sandboxes fitting in ${HOST_GIB} GiB`, value: String(fits), baseline: '', ratio: null, target: '≥ 200', ok: fits >= 200 },
    ...(vm ? [{ metric: 'host memory per idle microVM (max of PSS, cgroup)', value: `${mib(vm.perBytes)} MiB`, baseline: '', ratio: null, target: '(none)', ok: null }] : []),
  ];
  const file = writeResult('memory', {
    config: { sandboxes: N, settleMs: SETTLE_MS, lesson: LESSON, microvm: VM, microvmLesson: VM_LESSON, hostGiB: HOST_GIB },
    mid,
    memAvailableMiB: { before: mib(availBefore), after: mib(availAfter) },
    gvisor: {
      perSandboxMiB: { pss: mib(g.pss), rss: mib(g.rss), cgroupUsage: mib(g.cgUsage), cgroupRssShmem: mib(g.cgRssShmem), memAvailableDrop: mib(g.availDrop) },
      pssByProcess: perRole,
      sandboxes: sbs.map((s) => ({
        id: s.id,
        pssMiB: mib(s.pssBytes),
        rssMiB: mib(s.rssBytes),
        cgroup: s.cgroup && { usageMiB: mib(s.cgroup.usageBytes), rssMiB: mib(s.cgroup.rssBytes), shmemMiB: mib(s.cgroup.shmemBytes), cacheMiB: mib(s.cgroup.cacheBytes) },
        procs: s.procs.map((p) => ({ role: p.role, pssMiB: mib(p.pssBytes) })),
      })),
    },
    microvm: vm && {
      pssMiB: mib(vm.pssBytes),
      rssMiB: mib(vm.rssBytes),
      cgroup: vm.cgroup && { usageMiB: mib(vm.cgroup.usageBytes), rssMiB: mib(vm.cgroup.rssBytes), shmemMiB: mib(vm.cgroup.shmemBytes), cacheMiB: mib(vm.cgroup.cacheBytes) },
      procs: vm.procs.map((p) => ({ role: p.role, pssMiB: mib(p.pssBytes) })),
    },
    rows,
    summary,
  });
  console.log(`wrote ${file}`);
}

runBench(main);
