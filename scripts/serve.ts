/**
 * The lab in one process: the Next.js site and the lab backend on one port
 * (one origin, so the WebSocket's Origin check is simply "same host").
 * Run by scripts/start.sh after set-up; see README for the environment knobs.
 */
import http from 'node:http';
import { existsSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import next from 'next';
import { loadConfig } from '../lab-backend/src/config';
import { createLabBackend } from '../lab-backend/src/server';
import { createDrivers, rootfsResolver } from '../lab-backend/src/runtimes';
import { refuseForeignHost, setSecurityHeaders } from '../lab-backend/src/http-guard';
import { SandboxLedger, shutDown } from '../lab-backend/src/shutdown';
import { openSqliteStore } from '../lab-backend/src/store/sqlite';

/** How long SIGTERM waits for every sandbox to be gone: below the 20 s Playwright gives before its SIGKILL (the benchmarks give 30 s). */
const SHUTDOWN_BOUND_MS = 15_000;

async function main() {
  const config = loadConfig();
  // One lab per state directory: a second would adopt the first one's sandboxes and replace their watchdogs.
  // `npm run handover` finds this process by this file (scripts/handover.sh).
  const pidFile = path.join(config.stateDir, 'backend.pid');
  const other = Number(existsSync(pidFile) ? readFileSync(pidFile, 'utf8').trim() : 0);
  if (other > 0 && other !== process.pid && readFileSafe(`/proc/${other}/cmdline`).includes('scripts/serve.ts')) {
    throw new Error(`another lab (pid ${other}) already runs on ${config.stateDir}: stop it (Ctrl-C), or hand over with npm run handover, first`);
  }
  mkdirSync(config.stateDir, { recursive: true, mode: 0o700 });
  writeFileSync(pidFile, `${process.pid}\n`);
  // The ledger sees every driver start/stop, so shutdown can wait for each sandbox, not just for the sessions it knows.
  const ledger = new SandboxLedger();
  const drivers = ledger.track(createDrivers(config));
  for (const [name, d] of Object.entries(drivers)) {
    const a = await d!.available();
    console.log(a.ok ? `[lab] runtime ${name}: available` : `[lab] runtime ${name}: NOT available: ${a.reason}`);
  }
  // A corrupt, locked or too-new database stops start-up here with a StoreError naming the file.
  const store = await openSqliteStore(config.databasePath);
  console.log(`[lab] database: ${config.databasePath}`);
  const backend = createLabBackend({ config, drivers, rootfsFor: rootfsResolver(config), store });
  await backend.manager.start();

  const app = next({ dev: false, dir: process.cwd(), hostname: config.host, port: config.port });
  await app.prepare();
  const handle = app.getRequestHandler();
  const server = http.createServer((req, res) => {
    // Every response (pages, assets, API, errors) carries the security headers; Next's own come on top.
    setSecurityHeaders(res);
    // /lab-api/ checks the Host itself and answers in JSON.
    if (backend.handleRequest(req, res)) return;
    // Before Next sees it: a DNS-rebinding page, or an address the operator has not listed.
    if (refuseForeignHost(req, res, config.allowedHosts)) return;
    void handle(req, res);
  });
  server.on('upgrade', (req, socket, head) => {
    if (!backend.handleUpgrade(req, socket, head)) socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, resolve);
  });
  const shown = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  const site = config.publicUrl ?? `http://${shown.includes(':') ? `[${shown}]` : shown}:${config.port}/`;
  const adminHow = backend.identity.adminTokenGenerated ? 'one-time link, new at every start' : 'LAB_ADMIN_TOKEN';
  console.log(`\nContainer Internals Lab is running.\n\n  Open   ${site}\n  Admin  ${backend.identity.adminSignInUrl(site)}  (${adminHow}; keep it to yourself)\n`);

  const forgetPid = () => {
    try {
      if (readFileSync(pidFile, 'utf8').trim() === String(process.pid)) unlinkSync(pidFile);
    } catch {
      /* gone */
    }
  };

  let stopping = false;
  /**
   * SIGUSR2: hand over to the next backend (a deploy). Learners' sandboxes
   * keep running, their pages reconnect by themselves to whichever backend
   * starts next on this state dir and database, which adopts them.
   */
  const handOver = async () => {
    if (stopping) return;
    stopping = true;
    console.log("[lab] SIGUSR2: handing over; learners' sandboxes keep running for the next backend to adopt");
    server.close();
    await backend.handOver();
    await store.close();
    forgetPid();
    console.log(`[lab] handed over: start the lab again within ${Math.round(config.orphanGraceMs / 1000)} s (LAB_ORPHAN_GRACE_MS) and it adopts them`);
    process.exit(0);
  };
  process.on('SIGUSR2', () => void handOver());
  const stop = async (sig: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`[lab] ${sig}: shutting down`);
    server.close();
    // Resolves once every sandbox is gone, or at the bound (then it has logged which remain).
    const r = await shutDown({ close: () => backend.close(), ledger, boundMs: SHUTDOWN_BOUND_MS, log: (m) => console.log(`[lab] ${m}`) });
    await store.close();
    forgetPid();
    process.exit(r.ok ? 0 : 1);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

function readFileSafe(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

main().catch((err) => {
  console.error(`[lab] failed to start: ${err instanceof Error ? err.message : err}`);
  process.exit(1);
});
