/**
 * The lab in one process: the Next.js site and the lab backend on one port
 * (one origin, so the WebSocket's Origin check is simply "same host").
 * Run by scripts/start.sh after set-up; see README for the environment knobs.
 */
import http from 'node:http';
import next from 'next';
import { loadConfig } from '../lab-backend/src/config';
import { createLabBackend } from '../lab-backend/src/server';
import { createDrivers, rootfsResolver } from '../lab-backend/src/runtimes';

const SHUTDOWN_BUDGET_MS = 20_000;

async function main() {
  const config = loadConfig();
  const drivers = createDrivers(config);
  for (const [name, d] of Object.entries(drivers)) {
    const a = await d!.available();
    console.log(a.ok ? `[lab] runtime ${name}: available` : `[lab] runtime ${name}: NOT available: ${a.reason}`);
  }
  const backend = createLabBackend({ config, drivers, rootfsFor: rootfsResolver(config) });
  await backend.manager.start();

  const app = next({ dev: false, dir: process.cwd(), hostname: config.host, port: config.port });
  await app.prepare();
  const handle = app.getRequestHandler();
  const server = http.createServer((req, res) => {
    if (!backend.handleRequest(req, res)) void handle(req, res);
  });
  server.on('upgrade', (req, socket, head) => {
    if (!backend.handleUpgrade(req, socket, head)) socket.destroy();
  });
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(config.port, config.host, resolve); });
  const shown = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
  console.log(`\nContainer Internals Lab is running.\n\n  Open  http://${shown}:${config.port}/\n`);

  let stopping = false;
  const stop = async (sig: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`[lab] ${sig}: ending every sandbox…`);
    const force = setTimeout(() => { console.error('[lab] shutdown took too long; exiting'); process.exit(1); }, SHUTDOWN_BUDGET_MS);
    server.close();
    await backend.close();
    clearTimeout(force);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((err) => {
  console.error(`[lab] failed to start: ${err instanceof Error ? err.message : err}`);
  process.exit(1);
});
