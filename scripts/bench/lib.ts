/**
 * What every benchmark shares: env knobs, statistics, a lab server started
 * from scripts/serve.ts on its own port and state dir (SIGTERMed at the end,
 * which ends all its sandboxes), API helpers, headless chromium, clean-up
 * that runs even on failure or Ctrl-C, and the JSON result every script
 * writes to bench-results/<name>.json (with the machine's load average, so a
 * reader knows how busy it was).
 *
 * Benchmarks are not tests: they measure and report, they never fail on a
 * target. Figures are ratios against a baseline measured in the same run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { chromium, type Browser } from '@playwright/test';
import type { CreateSessionResponse, HealthResponse, ServerMessage } from '../../lab-backend/src/wire';
import { CHROMIUM_LAUNCH } from '../chromium';

export const RESULTS_DIR = path.resolve('bench-results');
/** Every lab server of the benchmarks uses this state dir; they run one after another (each reaps it at start). */
export const STATE_DIR = path.resolve(process.env.BENCH_STATE_DIR ?? '.lab/bench-state');
export const PORT = envNum('BENCH_PORT', 3219);

export function envNum(name: string, dflt: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got "${raw}"`);
  return n;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// ---- statistics ------------------------------------------------------------------------------

const sorted = (xs: readonly number[]) => [...xs].sort((a, b) => a - b);
/** Nearest-rank percentile (q in 0..1); NaN for no samples. */
export function percentile(xs: readonly number[], q: number): number {
  if (!xs.length) return NaN;
  const s = sorted(xs);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}
export function median(xs: readonly number[]): number {
  if (!xs.length) return NaN;
  const s = sorted(xs);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
export const round = (x: number, digits = 0) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : null);
export const ratio = (a: number, b: number) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? Number((a / b).toFixed(2)) : null);

// ---- clean-up that always runs ---------------------------------------------------------------

const cleanups: (() => Promise<void> | void)[] = [];

/**
 * Register a clean-up step; they run last-in first-out at the end, on failure
 * and on SIGINT/SIGTERM. Returns a function that unregisters it (for steps
 * that became unnecessary, e.g. a process that was already stopped).
 */
export function onCleanup(fn: () => Promise<void> | void): () => void {
  cleanups.push(fn);
  return () => {
    const i = cleanups.lastIndexOf(fn);
    if (i >= 0) cleanups.splice(i, 1);
  };
}

async function runCleanups(): Promise<void> {
  while (cleanups.length) {
    const fn = cleanups.pop()!;
    try {
      await fn();
    } catch (e) {
      console.error(`bench: clean-up step failed: ${(e as Error).message}`);
    }
  }
}

/** Run a benchmark's main(): clean-up always, exit status 1 on failure, 130 on a signal. */
export function runBench(main: () => Promise<void>): void {
  let signalled = false;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      if (signalled) return;
      signalled = true;
      console.error(`bench: ${sig}: cleaning up…`);
      void runCleanups().finally(() => process.exit(130));
    });
  }
  main().then(
    async () => {
      await runCleanups();
      process.exit(0);
    },
    async (e: unknown) => {
      console.error(e);
      await runCleanups();
      process.exit(1);
    },
  );
}

// ---- results ---------------------------------------------------------------------------------

/** One line of the final summary table (bench-results/*.json → scripts/bench/summary.ts). */
export interface SummaryRow {
  metric: string;
  /** The lab's figure, with its unit. */
  value: string;
  /** The same-run baseline it is compared with, with its unit ('' when absolute). */
  baseline: string;
  /** value / baseline (null when there is none or it could not be measured). */
  ratio: number | null;
  target: string;
  /** Whether the target is met (null: no target or not measured). */
  ok: boolean | null;
}

interface MachineSample {
  at: string;
  loadavg: number[];
  memAvailableMiB: number;
}

export function machineSample(): MachineSample {
  return { at: new Date().toISOString(), loadavg: os.loadavg().map((x) => Number(x.toFixed(2))), memAvailableMiB: Math.round(memAvailableBytes() / 2 ** 20) };
}

export function memAvailableBytes(): number {
  const m = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

const startedSample = machineSample();

/** Write bench-results/<name>.json: the caller's data plus the machine, the load before/after, and the summary rows. */
export function writeResult(name: string, data: { summary: SummaryRow[]; config: Record<string, unknown>; [k: string]: unknown }): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `${name}.json`);
  const body = {
    bench: name,
    runId: process.env.BENCH_RUN_ID ?? null,
    machine: { cpus: os.cpus().length, memTotalMiB: Math.round(os.totalmem() / 2 ** 20), kernel: os.release() },
    start: startedSample,
    end: machineSample(),
    ...data,
  };
  writeFileSync(file, `${JSON.stringify(body, null, 1)}\n`);
  return file;
}

/** Print rows as an aligned text table (console.table adds an index column and quotes). */
export function printTable(rows: Record<string, unknown>[]): void {
  if (!rows.length) return;
  const cols = Object.keys(rows[0]);
  const cell = (v: unknown) => (v === null || v === undefined ? '—' : typeof v === 'boolean' ? (v ? 'yes' : 'NO') : String(v));
  const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => v.padEnd(width[i]))
      .join('  ')
      .trimEnd();
  console.log(line(cols));
  console.log(line(width.map((w) => '-'.repeat(w))));
  for (const r of rows) console.log(line(cols.map((c) => cell(r[c]))));
}

// ---- the lab server --------------------------------------------------------------------------

export interface LabServer {
  readonly base: string;
  readonly port: number;
  /** Every line the server printed so far (stdout and stderr). */
  readonly log: string[];
  health(): Promise<HealthResponse>;
  /** Resolves with the first log line from index `from` on matching `re`. */
  waitForLog(re: RegExp, opts?: { from?: number; timeoutMs?: number }): Promise<string>;
  countLog(re: RegExp): number;
  /** SIGTERM (the server ends every sandbox), SIGKILL after a grace period. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Start scripts/serve.ts (it needs `next build`, which bench.sh runs) with the
 * benchmarks' defaults plus `env`. Its output goes to bench-results/logs/<name>.log.
 */
export async function startLab(name: string, env: Record<string, string>): Promise<LabServer> {
  const base = `http://127.0.0.1:${PORT}`;
  try {
    await fetch(`${base}/lab-api/health`);
    throw new Error(`port ${PORT} is already in use (set BENCH_PORT)`);
  } catch (e) {
    if ((e as Error).message.includes('already in use')) throw e;
  }
  mkdirSync(path.join(RESULTS_DIR, 'logs'), { recursive: true });
  const logFile = createWriteStream(path.join(RESULTS_DIR, 'logs', `${name}.log`));
  // node --import tsx, not the tsx CLI, whose parent SIGKILLs serve.ts if a SIGTERM is not answered within ~60 ms.
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'scripts/serve.ts'], {
    env: {
      ...process.env,
      PORT: String(PORT),
      HOST: '127.0.0.1',
      LAB_STATE_DIR: STATE_DIR,
      LAB_DATABASE: `${STATE_DIR}.db`,
      LAB_SESSIONS_PER_MINUTE: '10000',
      LAB_MAX_SANDBOXES_PER_CLIENT: '1000',
      LAB_NEW_LEARNERS_PER_HOUR: '100000',
      LAB_MAX_SANDBOXES_PER_ADDRESS: '100000',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const log: string[] = [];
  const waiters = new Set<() => void>();
  let exited: string | null = null;
  const onText = (b: Buffer) => {
    logFile.write(b);
    for (const l of b.toString('utf8').split('\n')) if (l.trim()) log.push(l);
    for (const w of waiters) w();
  };
  child.stdout!.on('data', onText);
  child.stderr!.on('data', onText);
  const done = new Promise<void>((resolve) =>
    child.on('exit', (code, sig) => {
      exited = `exited (${code ?? sig})`;
      for (const w of waiters) w();
      logFile.end();
      resolve();
    }),
  );

  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      if (exited) return;
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        return;
      }
      const killed = await Promise.race([done.then(() => false), sleep(30_000).then(() => true)]);
      if (killed) {
        console.error(`bench: lab server ${name} did not stop within 30 s; SIGKILL`);
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* gone */
        }
        await done;
      }
    })();
    return stopping;
  };
  onCleanup(stop);

  const server: LabServer = {
    base,
    port: PORT,
    log,
    async health() {
      const r = await fetch(`${base}/lab-api/health`);
      if (!r.ok) throw new Error(`health: ${r.status}`);
      return (await r.json()) as HealthResponse;
    },
    waitForLog(re, opts = {}) {
      const from = opts.from ?? 0;
      const timeoutMs = opts.timeoutMs ?? 120_000;
      return new Promise((resolve, reject) => {
        const check = () => {
          for (let i = from; i < log.length; i++)
            if (re.test(log[i])) {
              finish();
              resolve(log[i]);
              return;
            }
          if (exited) {
            finish();
            reject(new Error(`lab server ${exited} while waiting for ${re}`));
          }
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`lab server: no log line ${re} within ${timeoutMs} ms`));
        }, timeoutMs);
        const finish = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    countLog(re) {
      return log.filter((l) => re.test(l)).length;
    },
    stop,
  };

  const deadline = Date.now() + 180_000;
  for (;;) {
    if (exited) throw new Error(`lab server ${name} ${exited}:\n${log.slice(-20).join('\n')}`);
    try {
      if ((await fetch(`${base}/lab-api/health`)).ok) return server;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`lab server ${name} did not come up within 180 s:\n${log.slice(-20).join('\n')}`);
    await sleep(200);
  }
}

// ---- the lab API -----------------------------------------------------------------------------

/** A session made through the API, with the learner cookie of the "browser" that made it (its calls must carry it). */
export type ApiSession = CreateSessionResponse & { cookie: string };

/** A new session, as a new learner (a browser with no cookie yet): each counts toward its own per-learner cap. */
export async function createSession(base: string, lessonId: string): Promise<ApiSession> {
  const res = await fetch(`${base}/lab-api/sessions`, {
    method: 'POST',
    headers: { origin: base, 'content-type': 'application/json' },
    body: JSON.stringify({ lessonId }),
  });
  if (res.status !== 201) throw new Error(`create session for ${lessonId}: ${res.status} ${await res.text()}`);
  const cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  return { ...((await res.json()) as CreateSessionResponse), cookie };
}

/** The headers of a call on `s`: same origin, its token and its owner's cookie. */
export function sessionHeaders(base: string, s: ApiSession): Record<string, string> {
  return { origin: base, authorization: `Bearer ${s.token}`, cookie: s.cookie };
}

/** DELETE a session; resolves once the backend has stopped its sandbox. */
export async function deleteSession(base: string, s: ApiSession): Promise<void> {
  await fetch(`${base}/lab-api/sessions/${s.sessionId}`, { method: 'DELETE', headers: sessionHeaders(base, s) }).catch(() => {
    /* the server's shutdown ends it anyway */
  });
}

/** A ws message as text. */
export function rawText(d: WebSocket.RawData): string {
  if (Buffer.isBuffer(d)) return d.toString('utf8');
  if (Array.isArray(d)) return Buffer.concat(d).toString('utf8');
  return Buffer.from(d).toString('utf8');
}

export interface ApiTerminal {
  ws: WebSocket;
  /** Output received so far. */
  output(): string;
  close(): void;
}

/** Open the session's terminal socket and resolve once the shell prompt (`# ` at the end) has arrived. */
export function openTerminal(base: string, s: ApiSession, timeoutMs = 120_000): Promise<ApiTerminal> {
  const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/lab-api/ws?session=${s.sessionId}&token=${encodeURIComponent(s.token)}`, {
    headers: { origin: base, cookie: s.cookie },
  });
  let out = '';
  const term: ApiTerminal = { ws, output: () => out, close: () => ws.close() };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`no prompt within ${timeoutMs} ms; got ${JSON.stringify(out.slice(-200))}`));
    }, timeoutMs);
    ws.on('message', (d, binary) => {
      const text = rawText(d);
      if (binary) {
        out += text;
        // Ack what we "rendered", as the browser does, so output never stalls on flow control.
        ws.send(JSON.stringify({ type: 'ack', bytes: Buffer.byteLength(text) }));
        if (/# $/.test(out)) {
          clearTimeout(timer);
          resolve(term);
        }
        return;
      }
      const msg = JSON.parse(text) as ServerMessage;
      if (msg.type === 'error' || msg.type === 'ended' || (msg.type === 'status' && msg.status === 'error')) {
        clearTimeout(timer);
        ws.terminate();
        reject(new Error(`session ${s.sessionId}: ${JSON.stringify(msg)}`));
      }
    });
    ws.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

// ---- the browser -----------------------------------------------------------------------------

/** Debian's chromium, headless, as playwright.config.ts runs it. */
export async function launchChromium(): Promise<Browser> {
  const browser = await chromium.launch(CHROMIUM_LAUNCH);
  onCleanup(() => browser.close());
  return browser;
}

/** The lesson page's terminal rows (xterm.js's DOM renderer: one div per row). */
export const LAB_ROWS = '[data-testid=terminal] .xterm-rows';
