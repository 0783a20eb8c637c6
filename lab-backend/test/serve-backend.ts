/** Serve a LabBackend on 127.0.0.1 at a free port, as scripts/serve.ts does: its routes (else 404) and its sockets (else dropped). */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLabBackend, type LabBackend } from '../src/server';
import { memoryStore } from './learners';

export async function serveBackend(backend: LabBackend): Promise<{ server: http.Server; port: number; base: string }> {
  const server = http.createServer((req, res) => {
    if (!backend.handleRequest(req, res)) res.writeHead(404).end();
  });
  server.on('upgrade', (req, sock, head) => {
    if (!backend.handleUpgrade(req, sock, head)) sock.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { server, port, base: `http://127.0.0.1:${port}` };
}

type BackendOptions = Parameters<typeof createLabBackend>[0];

/** createLabBackend(opts), its manager started, served as serveBackend does; without `opts.store`, on a real SQLite store in memory. */
export async function startLabServer(
  opts: Omit<BackendOptions, 'store'> & { store?: BackendOptions['store'] },
): Promise<{ backend: LabBackend; server: http.Server; port: number; base: string }> {
  const backend = createLabBackend({ ...opts, store: opts.store ?? memoryStore() });
  await backend.manager.start();
  return { backend, ...(await serveBackend(backend)) };
}
