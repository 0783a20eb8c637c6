/**
 * npm run bench: time to an interactive prompt, measured three ways in the
 * same run on the same image, so figures are ratios, not absolutes:
 *   raw       `runsc run` of the base image printing a marker (the baseline)
 *   api       POST /lab-api/sessions → WebSocket → first shell prompt byte
 *   browser   open the lesson page in headless chromium → prompt in xterm
 * Prints a table and writes bench-results/prompt.json.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { chromium } from '@playwright/test';
import { ensureImage } from '../../lab-backend/src/images';
import { DOCKER_DEFAULT_CAPS } from '../../lab-backend/src/content';

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const PORT = Number(process.env.BENCH_PORT ?? 3219);
const BASE = `http://127.0.0.1:${PORT}`;
const LESSON = process.env.BENCH_LESSON ?? '01-namespaces/01-pid-and-uts';

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const p = (xs: number[], q: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(q * s.length))]; };

async function rawRunsc(rootfs: string): Promise<number> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'bench-raw-'));
  const bundle = path.join(dir, 'bundle');
  mkdirSync(bundle);
  const caps = [...DOCKER_DEFAULT_CAPS, 'CAP_SYS_ADMIN'];
  writeFileSync(path.join(bundle, 'config.json'), JSON.stringify({
    ociVersion: '1.0.2',
    process: { terminal: false, user: { uid: 0, gid: 0 }, args: ['/bin/sh', '-c', 'echo READY'], env: ['PATH=/usr/bin:/bin'], cwd: '/', capabilities: { bounding: caps, effective: caps, permitted: caps } },
    root: { path: rootfs, readonly: false }, hostname: 'lab',
    mounts: [{ destination: '/proc', type: 'proc', source: 'proc' }],
    linux: { namespaces: ['pid', 'network', 'ipc', 'uts', 'mount'].map((type) => ({ type })) },
  }));
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    const c = spawn('runsc', [`--root=${dir}/state`, '--platform=ptrace', '--network=none', '--overlay2=root:memory', 'run', `--bundle=${bundle}`, 'raw'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let seen = false;
    c.stdout.on('data', (b: Buffer) => { if (!seen && b.toString().includes('READY')) { seen = true; resolve(); } });
    c.on('close', (code) => { if (!seen) reject(new Error(`runsc run exited ${code}`)); });
  });
  const ms = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 300));
  spawn('rm', ['-rf', dir]);
  return ms;
}

async function apiPrompt(): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${BASE}/lab-api/sessions`, { method: 'POST', headers: { origin: BASE, 'content-type': 'application/json' }, body: JSON.stringify({ lessonId: LESSON }) });
  if (res.status !== 201) throw new Error(`create session: ${res.status} ${await res.text()}`);
  const s = (await res.json()) as { sessionId: string; token: string };
  const ws = new WebSocket(`ws://127.0.0.1:${PORT}/lab-api/ws?session=${s.sessionId}&token=${encodeURIComponent(s.token)}`, { headers: { origin: BASE } });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    ws.on('message', (d, bin) => { if (bin) { out += d.toString(); if (/# $/.test(out)) resolve(); } });
    ws.on('error', reject);
  });
  const ms = performance.now() - t0;
  ws.close();
  await fetch(`${BASE}/lab-api/sessions/${s.sessionId}`, { method: 'DELETE', headers: { origin: BASE, authorization: `Bearer ${s.token}` } });
  return ms;
}

async function startServer(): Promise<ChildProcess> {
  const child = spawn('npx', ['tsx', 'scripts/serve.ts'], {
    env: { ...process.env, PORT: String(PORT), HOST: '127.0.0.1', LAB_STATE_DIR: '.lab/bench-state', LAB_SESSIONS_PER_MINUTE: '1000', LAB_MAX_SANDBOXES_PER_CLIENT: '50' },
    stdio: ['ignore', 'ignore', 'inherit'], detached: true,
  });
  for (let i = 0; i < 600; i++) {
    try { if ((await fetch(`${BASE}/lab-api/health`)).ok) return child; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('lab server did not come up');
}

async function main() {
  const rootfs = await ensureImage(path.resolve('.lab/images'), 'base');
  const server = await startServer();
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const raw: number[] = []; const api: number[] = []; const page: number[] = [];
  try {
    await rawRunsc(rootfs); await apiPrompt(); // warm caches once, not counted
    for (let i = 0; i < RUNS; i++) {
      raw.push(await rawRunsc(rootfs));
      api.push(await apiPrompt());
      const ctx = await browser.newContext();
      const pg = await ctx.newPage();
      const t0 = performance.now();
      await pg.goto(`${BASE}/lessons/${LESSON}`);
      await pg.waitForFunction(() => /root@lab[^#]*# ?$/.test((document.querySelector('[data-testid=terminal] .xterm-rows') as HTMLElement | null)?.innerText.trim() ?? ''), null, { polling: 10, timeout: 60_000 });
      page.push(performance.now() - t0);
      await ctx.close();
    }
  } finally {
    await browser.close();
    process.kill(-server.pid!, 'SIGTERM');
  }
  const base = median(raw);
  const rows = [
    { what: 'raw `runsc run` (baseline)', median_ms: base, p90_ms: p(raw, 0.9), ratio: 1 },
    { what: 'lab API: create → prompt', median_ms: median(api), p90_ms: p(api, 0.9), ratio: median(api) / base },
    { what: 'browser: open lesson → prompt', median_ms: median(page), p90_ms: p(page, 0.9), ratio: median(page) / base },
  ].map((r) => ({ ...r, median_ms: Math.round(r.median_ms), p90_ms: Math.round(r.p90_ms), ratio: Number(r.ratio.toFixed(2)) }));
  console.table(rows);
  mkdirSync('bench-results', { recursive: true });
  writeFileSync('bench-results/prompt.json', JSON.stringify({ runs: RUNS, at: new Date().toISOString(), raw, api, page, rows }, null, 1));
}

main().catch((e) => { console.error(e); process.exit(1); });
