/**
 * Time to an interactive prompt, per runtime, cold and warm, each next to a
 * raw baseline measured in the same run (figures are ratios, not absolutes).
 *
 * gVisor, lesson BENCH_LESSON (default: one without a setup script, so the
 * lab does the same work as the baseline plus its own):
 *   raw runsc      `runsc run` of the base image (same flags as the driver)
 *                  printing a marker: the baseline. Diagnostic: the same with
 *                  the lab's shell, an interactive login bash (`bash -lic`,
 *                  the lab's environment), printing the marker once started
 *   api cold       warm pool off: POST /lab-api/sessions → WebSocket → first prompt
 *   browser cold   open the lesson page in headless chromium → prompt in xterm.js
 *   api warm       warm pool on (LAB_POOL_GVISOR): the same, claiming a warm
 *                  sandbox; before every run the bench waits until the pool has
 *                  a *ready* sandbox for the lesson again (health.warmSandboxes
 *                  back up and the backend's "warm sandbox … ready" log line),
 *                  and asserts the response says fromPool
 *   browser warm   the same through the lesson page
 * microVM, lesson BENCH_MICROVM_LESSON (no setup script either):
 *   raw QEMU       the driver's QEMU command line (same kernel, initrd, disk
 *                  behind a fresh qcow2 overlay, same accelerator as the lab
 *                  chose, same memory) until the guest agent's READY frame on
 *                  its virtio-serial socket: the baseline. Then, diagnostic,
 *                  the same boot on until a `bash -l` exec'd through the agent
 *                  with a terminal (what the lab's shell is) prints its prompt
 *   api cold       as for gVisor (LAB_POOL_MICROVM=0)
 * For cold API runs the backend's own log gives the share of booting (driver
 * start until the shell's exec is spawned); the rest is the shell starting
 * up to its prompt plus HTTP and the WebSocket.
 * The first of each kind is a warm-up and not counted (page caches, the
 * driver's one-off KVM probe). Raw and lab runs alternate so load hits both.
 * Writes bench-results/prompt.json.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from '@playwright/test';
import { defaultImageDir, ensureImage } from '../../lab-backend/src/images';
import { DOCKER_DEFAULT_CAPS, loadCourse } from '../../lab-backend/src/content';
import { run } from '../../lab-backend/src/sandbox/host';
import { AgentConnection, capMask } from '../../lab-backend/src/sandbox/microvm-agent';
import { qemuArgs } from '../../lab-backend/src/sandbox/microvm';
import { microvmArtifacts } from '../../lab-backend/src/sandbox/microvm-image';
import type { CreateSessionResponse } from '../../lab-backend/src/wire';
import {
  createSession,
  deleteSession,
  envNum,
  LAB_ROWS,
  launchChromium,
  median,
  onCleanup,
  openTerminal,
  percentile,
  printTable,
  ratio,
  round,
  runBench,
  sleep,
  startLab,
  writeResult,
  type LabServer,
  type SummaryRow,
} from './lib';
import { NAME_SHIM } from './web-terminals';

const RUNS = envNum('BENCH_RUNS', 7);
const VM_RUNS = envNum('BENCH_MICROVM_RUNS', 5);
const POOL = Math.max(1, envNum('BENCH_POOL', 1));
const LESSON = process.env.BENCH_LESSON ?? '00-what-a-container-is/01-a-process-with-walls';
const VM_LESSON = process.env.BENCH_MICROVM_LESSON ?? '07-runtimes/02-oci-bundles-and-runc';
const IMAGE_DIR = defaultImageDir();
const VM_MEMORY_MIB = Math.floor(envNum('LAB_SANDBOX_MEMORY_BYTES', 512 * 2 ** 20) / 2 ** 20);

// ---- baselines -------------------------------------------------------------------------------

/** The lab's shell as a one-shot: login + interactive (profile, bashrc, completion), then the marker. */
const LOGIN_BASH = {
  args: ['/bin/bash', '-lic', 'echo READY'],
  env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm-256color', 'HOME=/root', 'LANG=C.UTF-8'],
  cwd: '/root',
};
const PLAIN_SH = { args: ['/bin/sh', '-c', 'echo READY'], env: ['PATH=/usr/bin:/bin'], cwd: '/' };

async function rawRunsc(rootfs: string, proc: typeof PLAIN_SH = PLAIN_SH): Promise<number> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-raw-'));
  try {
    const bundle = path.join(dir, 'bundle');
    mkdirSync(bundle);
    const caps = [...DOCKER_DEFAULT_CAPS, 'CAP_SYS_ADMIN'];
    writeFileSync(
      path.join(bundle, 'config.json'),
      JSON.stringify({
        ociVersion: '1.0.2',
        process: { terminal: false, user: { uid: 0, gid: 0 }, ...proc, capabilities: { bounding: caps, effective: caps, permitted: caps } },
        root: { path: rootfs, readonly: false },
        hostname: 'lab',
        mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }],
        linux: { namespaces: ['pid', 'network', 'ipc', 'uts', 'mount'].map((type) => ({ type })) },
      }),
    );
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      const c = spawn('runsc', [`--root=${dir}/state`, '--platform=ptrace', '--network=none', '--overlay2=root:memory', 'run', `--bundle=${bundle}`, 'raw'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let seen = false;
      c.stdout.on('data', (b: Buffer) => {
        if (!seen && b.toString().includes('READY')) {
          seen = true;
          resolve();
        }
      });
      c.on('close', (code) => {
        if (!seen) reject(new Error(`runsc run exited ${code}`));
      });
    });
    const ms = performance.now() - t0;
    await sleep(300); // let `runsc run` finish tearing the sandbox down
    return ms;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Where a raw boot's time goes, from the host's clock and the guest's own
 * (read through the agent after the prompt: /proc/uptime and the kernel's
 * "Run /init" line in dmesg). Guest and host clocks are compared once, so
 * each split is approximate (to the exec's round trip, a few ms). The guest
 * clock starts only once the kernel sets up its timekeeping, so the first
 * step is QEMU's start-up, loading the kernel and initrd, and (when booting
 * the compressed vmlinuz rather than vmlinux via PVH) decompressing it. The agent's own step (mount the
 * root disk, switch to it, set up /proc, /dev, cgroup2) takes a few ms.
 */
interface BootSteps {
  overlayMs: number;
  qemuToGuestClockMs: number;
  kernelToInitMs: number;
  initToReadyMs: number;
  readyToPromptMs: number;
}

/**
 * Boot the microVM image as the driver does (microvm.ts's qemuArgs, so the same
 * machine, kernel, initrd, command line, memory, disk behind a fresh qcow2
 * overlay, agent port) and time it until the agent's READY frame. Not done
 * here: the driver's host cgroups around QEMU.
 */
async function rawQemu(art: ReturnType<typeof microvmArtifacts>, accel: 'kvm' | 'tcg'): Promise<{ readyMs: number; promptMs: number; steps: BootSteps | null }> {
  // Beside the lab's state dir (same filesystem as the driver's overlays), not in /tmp.
  const dir = mkdtempSync(path.resolve('.lab/bench-vm-'));
  const sock = path.join(dir, 'agent.sock');
  const overlay = path.join(dir, 'overlay.qcow2');
  let agent: AgentConnection | null = null;
  let qemu: ReturnType<typeof spawn> | null = null;
  const killQemu = async () => {
    if (!qemu || qemu.exitCode !== null || qemu.signalCode !== null) return;
    const gone = new Promise((r) => qemu!.once('exit', r));
    qemu.kill('SIGKILL');
    await gone;
  };
  const unregister = onCleanup(async () => {
    await killQemu();
    rmSync(dir, { recursive: true, force: true });
  });
  try {
    const t0 = performance.now();
    const ov = await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', art.disk, '-F', 'raw', overlay], { timeoutMs: 30_000 });
    if (ov.code !== 0) throw new Error(`qemu-img: ${ov.stderr}`);
    const tSpawn = performance.now();
    qemu = spawn(
      'qemu-system-x86_64',
      qemuArgs({
        name: 'bench-raw',
        dir,
        art,
        accel,
        memoryBytes: VM_MEMORY_MIB * 2 ** 20,
        hostname: 'lab',
        pidsLimit: 1024,
      }),
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    let exited: string | null = null;
    qemu.stderr!.on('data', (b: Buffer) => {
      stderr += b.toString();
    });
    qemu.on('exit', (code, sig) => {
      exited = `raw QEMU exited (${code ?? sig}): ${stderr.trim().slice(-500)}`;
    });
    const deadline = Date.now() + 120_000;
    while (!agent) {
      if (exited) throw new Error(exited);
      if (Date.now() > deadline) throw new Error('raw QEMU: no agent socket within 120 s');
      const s = await new Promise<net.Socket | null>((resolve) => {
        const c = net.createConnection(sock);
        c.once('connect', () => resolve(c));
        c.once('error', () => {
          c.destroy();
          resolve(null);
        });
      });
      if (s) agent = new AgentConnection(s);
      else await sleep(20);
    }
    const timeout = (what: string) =>
      sleep(120_000).then(() => {
        throw new Error(`raw QEMU: no ${what} within 120 s`);
      });
    await Promise.race([agent.whenReady(), timeout('READY')]);
    const readyMs = performance.now() - t0;
    // The lab's shell: `bash -l` on a terminal, with the session's environment and capabilities.
    let out = '';
    const prompt = new Promise<void>((resolve, reject) => {
      void agent!
        .exec(
          {
            argv: ['/bin/bash', '-l'],
            cwd: '/root',
            tty: true,
            cols: 80,
            rows: 24,
            caps: capMask([...DOCKER_DEFAULT_CAPS, 'CAP_SYS_ADMIN']),
            env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm-256color', 'HOME=/root', 'LANG=C.UTF-8'],
          },
          {
            onData: (c) => {
              out += c.toString('utf8');
              if (/# $/.test(out)) resolve();
            },
            onExit: () => reject(new Error(`raw QEMU: the shell exited: ${out.slice(-200)}`)),
          },
        )
        .catch(reject);
    });
    await Promise.race([prompt, timeout('shell prompt')]);
    const promptMs = performance.now() - t0;
    // The guest's view: its uptime now, and when its kernel handed over to /init (the agent).
    let probe = '';
    await Promise.race([
      new Promise<void>((resolve, reject) => {
        void agent!
          .exec(
            {
              argv: ['/bin/sh', '-c', "cat /proc/uptime; dmesg | grep -m1 'Run /init'"],
              cwd: '/',
              tty: false,
              cols: 80,
              rows: 24,
              caps: capMask([...DOCKER_DEFAULT_CAPS, 'CAP_SYS_ADMIN', 'CAP_SYSLOG']),
              env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'],
            },
            {
              onData: (c) => {
                probe += c.toString('utf8');
              },
              onExit: () => resolve(),
            },
          )
          .catch(reject);
      }),
      timeout('uptime probe'),
    ]);
    const tProbe = performance.now();
    const up = /^([\d.]+)\s/.exec(probe);
    const init = /\[\s*([\d.]+)\]\s+Run \/init/.exec(probe);
    let steps: BootSteps | null = null;
    if (up && init) {
      const kernelStart = tProbe - Number(up[1]) * 1000; // host time the guest clock started
      const initAt = kernelStart + Number(init[1]) * 1000;
      steps = {
        overlayMs: tSpawn - t0,
        qemuToGuestClockMs: kernelStart - tSpawn,
        kernelToInitMs: initAt - kernelStart,
        initToReadyMs: t0 + readyMs - initAt,
        readyToPromptMs: promptMs - readyMs,
      };
    } else console.log(`raw QEMU: could not read the guest's boot steps from: ${JSON.stringify(probe.slice(0, 300))}`);
    return { readyMs, promptMs, steps };
  } finally {
    agent?.close();
    await killQemu();
    rmSync(dir, { recursive: true, force: true });
    unregister();
  }
}

// ---- the lab ---------------------------------------------------------------------------------

/**
 * One time-to-prompt. requestMs (browser only): when the page sent POST
 * /lab-api/sessions. bootMs (cold API only): the backend's "ready on <runtime>
 * in N ms" for the session (driver start until the shell's exec is spawned).
 */
interface PromptRun {
  ms: number;
  fromPool: boolean;
  requestMs?: number;
  bootMs?: number;
  page?: PageTimings;
}

/** From the page's own Navigation/Resource Timing (ms since navigation start). */
interface PageTimings {
  responseEnd: number;
  domContentLoaded: number;
  load: number;
  createSessionSent: number | null;
}

/** POST → WebSocket → prompt. */
async function apiPrompt(lab: LabServer, lesson: string): Promise<PromptRun> {
  const t0 = performance.now();
  const s = await createSession(lab.base, lesson);
  try {
    const term = await openTerminal(lab.base, s, 180_000);
    const ms = performance.now() - t0;
    term.close();
    const line = s.fromPool ? '' : await lab.waitForLog(new RegExp(`session ${s.sessionId} .* ready on \\w+ in \\d+ ms`), { timeoutMs: 2000 }).catch(() => '');
    const boot = /ready on \w+ in (\d+) ms/.exec(line);
    return { ms, fromPool: s.fromPool, ...(boot ? { bootMs: Number(boot[1]) } : {}) };
  } finally {
    await deleteSession(lab.base, s);
  }
}

/**
 * Open the lesson page (a fresh browser context: nothing cached) → prompt in
 * xterm.js; the session is deleted afterwards. requestMs shows the share of
 * page loading.
 */
async function browserPrompt(browser: Browser, lab: LabServer, lesson: string): Promise<PromptRun> {
  const ctx = await browser.newContext();
  let created: CreateSessionResponse | null = null;
  let requestAt = NaN;
  const isCreate = (method: string, url: string) => method === 'POST' && new URL(url).pathname === '/lab-api/sessions';
  try {
    const pg = await ctx.newPage();
    await pg.addInitScript(NAME_SHIM);
    pg.on('request', (r) => {
      if (Number.isNaN(requestAt) && isCreate(r.method(), r.url())) requestAt = performance.now();
    });
    pg.on('response', (r) => {
      if (isCreate(r.request().method(), r.url())) {
        void r
          .json()
          .then((j: CreateSessionResponse) => {
            created = j;
          })
          .catch(() => {});
      }
    });
    const t0 = performance.now();
    await pg.goto(`${lab.base}/lessons/${lesson}`);
    await pg.waitForFunction((sel) => /root@lab[^#]*# ?$/.test((document.querySelector(sel) as HTMLElement | null)?.innerText.trim() ?? ''), LAB_ROWS, {
      polling: 10,
      timeout: 120_000,
    });
    const ms = performance.now() - t0;
    const page = await pg.evaluate((): PageTimings => {
      const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined;
      const post = performance.getEntriesByType('resource').find((e) => new URL(e.name).pathname === '/lab-api/sessions');
      return {
        responseEnd: nav?.responseEnd ?? NaN,
        domContentLoaded: nav?.domContentLoadedEventEnd ?? NaN,
        load: nav?.loadEventEnd ?? NaN,
        createSessionSent: post ? post.startTime : null,
      };
    });
    for (let i = 0; i < 50 && !created; i++) await sleep(20);
    if (!created) throw new Error('browser: never saw the create-session response');
    return { ms, fromPool: (created as CreateSessionResponse).fromPool, requestMs: requestAt - t0, page };
  } finally {
    const cookie = (await ctx.cookies(lab.base).catch(() => [])).map((c) => `${c.name}=${c.value}`).join('; ');
    await ctx.close();
    if (created) await deleteSession(lab.base, { ...(created as CreateSessionResponse), cookie });
  }
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/**
 * The warm server: wait until every pool lesson's first warm sandbox has
 * booted (or failed), so no pool boot runs beside a measurement.
 */
async function waitPoolFilled(lab: LabServer, expected: number): Promise<void> {
  const deadline = Date.now() + 600_000;
  const booted = /warm sandbox \S+ \(.*\) (ready on|failed to start)/;
  while (lab.countLog(booted) < expected) {
    if (Date.now() > deadline) throw new Error(`warm pool: only ${lab.countLog(booted)} of ${expected} warm sandboxes booted within 10 min`);
    await sleep(250);
  }
  const failed = lab.countLog(/warm sandbox \S+ \(.*\) failed to start/);
  if (failed) console.warn(`warning: ${failed} warm sandbox(es) failed to boot (see bench-results/logs/prompt-warm.log)`);
}

/**
 * Before a warm run: the lesson has `readyWanted` "warm sandbox … ready" log
 * lines so far (its pool refilled after every claim) and health counts the
 * full pool again.
 */
async function waitWarmReady(lab: LabServer, lesson: string, readyWanted: number, poolTotal: number): Promise<void> {
  const ready = new RegExp(`warm sandbox \\S+ \\(${escapeRe(lesson)}\\) ready on`);
  await lab.waitForLog(ready, { timeoutMs: 180_000 }); // at least one
  const deadline = Date.now() + 180_000;
  for (;;) {
    const h = await lab.health();
    if (lab.countLog(ready) >= readyWanted && h.warmSandboxes >= poolTotal) return;
    if (Date.now() > deadline)
      throw new Error(`warm pool for ${lesson} not back up: ${lab.countLog(ready)}/${readyWanted} ready lines, health.warmSandboxes ${h.warmSandboxes}/${poolTotal}`);
    await sleep(100);
  }
}

// ---- main ------------------------------------------------------------------------------------

const stat = (xs: number[]) => ({ n: xs.length, median_ms: round(median(xs)), p90_ms: round(percentile(xs, 0.9)), min_ms: round(percentile(xs, 0)) });

async function main() {
  const baseRootfs = await ensureImage(IMAGE_DIR, 'base');
  const browser = await launchChromium();
  const t: Record<
    'raw' | 'rawBash' | 'apiCold' | 'apiColdBoot' | 'pageCold' | 'apiWarm' | 'pageWarm' | 'pageRequest' | 'rawQemu' | 'rawQemuPrompt' | 'vmCold' | 'vmColdBoot',
    number[]
  > = {
    raw: [],
    rawBash: [],
    apiCold: [],
    apiColdBoot: [],
    pageCold: [],
    apiWarm: [],
    pageWarm: [],
    pageRequest: [],
    rawQemu: [],
    rawQemuPrompt: [],
    vmCold: [],
    vmColdBoot: [],
  };
  const pageTimings: PageTimings[] = [];
  const bootSteps: BootSteps[] = [];
  let accel: 'kvm' | 'tcg' = 'tcg';
  let vmSkipped: string | null = null;

  // 1. Cold: no warm pool at all.
  const cold = await startLab('prompt-cold', { LAB_RUNTIMES: VM_RUNS ? 'gvisor,microvm' : 'gvisor', LAB_POOL_GVISOR: '0', LAB_POOL_MICROVM: '0' });
  await rawRunsc(baseRootfs);
  await rawRunsc(baseRootfs, LOGIN_BASH);
  await apiPrompt(cold, LESSON);
  await browserPrompt(browser, cold, LESSON); // warm-up
  for (let i = 0; i < RUNS; i++) {
    t.raw.push(await rawRunsc(baseRootfs));
    t.rawBash.push(await rawRunsc(baseRootfs, LOGIN_BASH));
    const a = await apiPrompt(cold, LESSON);
    if (a.fromPool) throw new Error('a cold run came from the pool (LAB_POOL_GVISOR=0)');
    t.apiCold.push(a.ms);
    if (a.bootMs !== undefined) t.apiColdBoot.push(a.bootMs);
    const b = await browserPrompt(browser, cold, LESSON);
    t.pageCold.push(b.ms);
    if (b.requestMs !== undefined) t.pageRequest.push(b.requestMs);
    if (b.page) pageTimings.push(b.page);
    console.log(
      `gVisor run ${i + 1}/${RUNS}: raw ${Math.round(t.raw[i])} ms (login bash ${Math.round(t.rawBash[i])} ms), api cold ${Math.round(t.apiCold[i])} ms, browser cold ${Math.round(t.pageCold[i])} ms`,
    );
  }
  if (VM_RUNS) {
    const health = await cold.health();
    if (!health.runtimes.microvm?.available) vmSkipped = `microvm runtime not available: ${health.runtimes.microvm?.reason}`;
    else {
      const art = microvmArtifacts(await ensureImage(IMAGE_DIR, 'microvm'));
      await apiPrompt(cold, VM_LESSON); // warm-up; the driver decides KVM or TCG on its first boot
      const decision = await cold.waitForLog(/using (KVM|TCG)/, { from: 0, timeoutMs: 1000 }).catch(() => '');
      accel = /using KVM/.test(decision) ? 'kvm' : 'tcg';
      console.log(`microVM: the lab uses ${accel.toUpperCase()}${decision ? '' : ' (no decision logged; assuming TCG)'}; so does the raw baseline`);
      await rawQemu(art, accel); // warm-up
      for (let i = 0; i < VM_RUNS; i++) {
        const r = await rawQemu(art, accel);
        t.rawQemu.push(r.readyMs);
        t.rawQemuPrompt.push(r.promptMs);
        if (r.steps) bootSteps.push(r.steps);
        const a = await apiPrompt(cold, VM_LESSON);
        if (a.fromPool) throw new Error('a cold microVM run came from the pool (LAB_POOL_MICROVM=0)');
        t.vmCold.push(a.ms);
        if (a.bootMs !== undefined) t.vmColdBoot.push(a.bootMs);
        console.log(
          `microVM run ${i + 1}/${VM_RUNS}: raw QEMU ${Math.round(r.readyMs)} ms to READY, ${Math.round(r.promptMs)} ms to a bash prompt; api cold ${Math.round(a.ms)} ms`,
        );
      }
    }
  } else vmSkipped = 'BENCH_MICROVM_RUNS=0';
  await cold.stop();

  // 2. Warm: LAB_POOL_GVISOR warm sandboxes per gVisor lesson.
  const countGvisorLessons = async () => (await loadCourse(path.resolve('content'))).filter((l) => l.runtime === 'gvisor').length;
  const warm = await startLab('prompt-warm', {
    LAB_RUNTIMES: 'gvisor',
    LAB_POOL_GVISOR: String(POOL),
    LAB_POOL_MICROVM: '0',
    LAB_MAX_SANDBOXES: String((await countGvisorLessons()) * POOL + 10),
  });
  const gvisorLessons = await countGvisorLessons(); // as the server saw the course (just now)
  const poolTotal = gvisorLessons * POOL;
  await waitPoolFilled(warm, poolTotal);
  let claims = 0;
  const warmRun = async (how: 'api' | 'page') => {
    await waitWarmReady(warm, LESSON, POOL + claims, poolTotal);
    const r = how === 'api' ? await apiPrompt(warm, LESSON) : await browserPrompt(browser, warm, LESSON);
    claims++;
    if (!r.fromPool) throw new Error(`a warm ${how} run did not come from the pool`);
    return r;
  };
  await warmRun('api');
  await warmRun('page'); // warm-up
  for (let i = 0; i < RUNS; i++) {
    t.apiWarm.push((await warmRun('api')).ms);
    const b = await warmRun('page');
    t.pageWarm.push(b.ms);
    if (b.requestMs !== undefined) t.pageRequest.push(b.requestMs);
    if (b.page) pageTimings.push(b.page);
    console.log(`gVisor warm run ${i + 1}/${RUNS}: api ${Math.round(t.apiWarm[i])} ms, browser ${Math.round(t.pageWarm[i])} ms (both fromPool)`);
  }
  await warm.stop();

  const raw = median(t.raw);
  const rawVm = median(t.rawQemu);
  const rows = [
    { what: 'gVisor: raw `runsc run` (baseline)', ...stat(t.raw), vs_baseline: 1 },
    { what: "  raw `runsc run` of the lab's login bash (diagnostic)", ...stat(t.rawBash), vs_baseline: ratio(median(t.rawBash), raw) },
    { what: 'gVisor: lab API, cold (pool 0)', ...stat(t.apiCold), vs_baseline: ratio(median(t.apiCold), raw) },
    { what: "  of which the backend's boot (start → shell spawned)", ...stat(t.apiColdBoot), vs_baseline: ratio(median(t.apiColdBoot), raw) },
    { what: 'gVisor: browser open → prompt, cold', ...stat(t.pageCold), vs_baseline: ratio(median(t.pageCold), raw) },
    { what: `gVisor: lab API, warm pool (${POOL})`, ...stat(t.apiWarm), vs_baseline: ratio(median(t.apiWarm), raw) },
    { what: 'gVisor: browser open → prompt, warm', ...stat(t.pageWarm), vs_baseline: ratio(median(t.pageWarm), raw) },
    { what: '  browser, cold and warm: page load until POST /sessions', ...stat(t.pageRequest), vs_baseline: ratio(median(t.pageRequest), raw) },
    ...(vmSkipped
      ? []
      : [
          { what: `microVM: raw QEMU boot to agent READY (${accel.toUpperCase()}, baseline)`, ...stat(t.rawQemu), vs_baseline: 1 },
          { what: '  raw QEMU boot on to a `bash -l` prompt (diagnostic)', ...stat(t.rawQemuPrompt), vs_baseline: ratio(median(t.rawQemuPrompt), rawVm) },
          { what: 'microVM: lab API, cold (pool 0)', ...stat(t.vmCold), vs_baseline: ratio(median(t.vmCold), rawVm) },
          { what: "  of which the backend's boot (start → shell spawned)", ...stat(t.vmColdBoot), vs_baseline: ratio(median(t.vmColdBoot), rawVm) },
        ]),
  ];
  printTable(rows);
  const steps = bootSteps.length ? Object.fromEntries((Object.keys(bootSteps[0]) as (keyof BootSteps)[]).map((k) => [k, round(median(bootSteps.map((b) => b[k])))])) : null;
  if (steps) {
    console.log(
      `microVM raw boot, step by step (medians, ms): qcow2 overlay ${steps.overlayMs}, QEMU start until the guest clock starts ${steps.qemuToGuestClockMs}, ` +
        `kernel boot until /init (the agent) ${steps.kernelToInitMs}, agent until READY ${steps.initToReadyMs}, READY until a bash -l prompt ${steps.readyToPromptMs}`,
    );
  }
  const pm = (k: keyof PageTimings) => Math.round(median(pageTimings.map((p) => p[k]).filter((x): x is number => x !== null && Number.isFinite(x))));
  console.log(
    `lesson page (fresh browser context), medians since navigation start: HTML received ${pm('responseEnd')} ms, DOMContentLoaded ${pm('domContentLoaded')} ms, load ${pm('load')} ms, POST /lab-api/sessions sent ${pm('createSessionSent')} ms`,
  );
  if (vmSkipped) console.log(`microVM skipped: ${vmSkipped}`);
  const ms = (x: number) => `${Math.round(x)} ms`;
  const summary: SummaryRow[] = [
    {
      metric: 'prompt, gVisor cold (lab API vs raw runsc run)',
      value: ms(median(t.apiCold)),
      baseline: ms(raw),
      ratio: ratio(median(t.apiCold), raw),
      target: '≤ 1.25 × raw',
      ok: median(t.apiCold) <= 1.25 * raw,
    },
    {
      metric: 'prompt, gVisor cold (lab API vs raw runsc run of bash -lic)',
      value: ms(median(t.apiCold)),
      baseline: ms(median(t.rawBash)),
      ratio: ratio(median(t.apiCold), median(t.rawBash)),
      target: '(diagnostic)',
      ok: null,
    },
    {
      metric: `prompt, gVisor warm pool (lab API vs raw runsc run)`,
      value: ms(median(t.apiWarm)),
      baseline: ms(raw),
      ratio: ratio(median(t.apiWarm), raw),
      target: '≤ 100 ms',
      ok: median(t.apiWarm) <= 100,
    },
    { metric: 'prompt, gVisor cold, browser open → prompt', value: ms(median(t.pageCold)), baseline: ms(raw), ratio: ratio(median(t.pageCold), raw), target: '', ok: null },
    { metric: 'prompt, gVisor warm, browser open → prompt', value: ms(median(t.pageWarm)), baseline: ms(raw), ratio: ratio(median(t.pageWarm), raw), target: '', ok: null },
    vmSkipped
      ? { metric: 'prompt, microVM cold (lab API vs raw QEMU)', value: `skipped: ${vmSkipped}`, baseline: '', ratio: null, target: '≤ 1.2 × raw', ok: null }
      : {
          metric: `prompt, microVM cold (lab API vs raw QEMU, ${accel.toUpperCase()})`,
          value: ms(median(t.vmCold)),
          baseline: ms(rawVm),
          ratio: ratio(median(t.vmCold), rawVm),
          target: '≤ 1.2 × raw',
          ok: median(t.vmCold) <= 1.2 * rawVm,
        },
    ...(vmSkipped
      ? []
      : [
          {
            metric: 'prompt, microVM cold (lab API vs raw QEMU on to a bash -l prompt)',
            value: ms(median(t.vmCold)),
            baseline: ms(median(t.rawQemuPrompt)),
            ratio: ratio(median(t.vmCold), median(t.rawQemuPrompt)),
            target: '(diagnostic)',
            ok: null,
          },
        ]),
  ];
  const file = writeResult('prompt', {
    config: { runs: RUNS, microvmRuns: VM_RUNS, pool: POOL, lesson: LESSON, microvmLesson: VM_LESSON, accel, vmMemoryMiB: VM_MEMORY_MIB, gvisorLessons },
    samples_ms: Object.fromEntries(Object.entries(t).map(([k, xs]) => [k, xs.map((x) => round(x, 1))])),
    pageTimings,
    microvmBootSteps_ms: { medians: steps, samples: bootSteps.map((b) => Object.fromEntries(Object.entries(b).map(([k, v]) => [k, round(v, 1)]))) },
    rows,
    microvmSkipped: vmSkipped,
    summary,
  });
  console.log(`wrote ${file}`);
}

runBench(main);
