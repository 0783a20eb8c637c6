/**
 * What a hostile web page can send the lab over HTTP (issue 8, holes 6, 7 and
 * the 413): a DNS-rebinding Host on the API, the socket and a page; origins that
 * differ by port or scheme; security headers on every route, errors included;
 * oversized bodies. Real gVisor sandboxes behind a bare server wired like
 * scripts/serve.ts (a stand-in page handler instead of Next).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadConfig, type LabConfig } from '../../src/config';
import { refuseForeignHost, securityHeaders, setSecurityHeaders } from '../../src/http-guard';
import { createLabBackend, type LabBackend } from '../../src/server';
import { GvisorDriver } from '../../src/sandbox/gvisor';
import type { CreateSessionResponse } from '../../src/wire';
import { baseRootfs, leftovers, tempStateDir } from './helpers';
import { memoryStore } from '../learners';

const LESSON = '01-fixture/01-basic';

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

describe('HTTP hardening (real runsc)', () => {
  const stateDir = tempStateDir();
  const driver = new GvisorDriver({ stateDir });
  let backend: LabBackend;
  let server: http.Server;
  let port: number;
  let self: string; // the lab's own origin, as its pages would send it
  let config: LabConfig;
  let session: CreateSessionResponse;

  beforeAll(async () => {
    const rootfs = await baseRootfs();
    config = {
      ...loadConfig({
        ...process.env,
        LAB_STATE_DIR: stateDir,
        LAB_CONTENT_DIR: path.resolve('lab-backend/test/fixtures/content'),
        LAB_ALLOWED_HOSTS: '',
        LAB_ALLOWED_ORIGINS: '',
        LAB_PUBLIC_URL: '',
      }),
      maxSandboxes: 3,
      maxSandboxesPerClient: 10,
      maxSandboxesPerAddress: 100,
      sessionsPerClientPerMinute: 30,
      poolSizes: { gvisor: 0, microvm: 0, runc: 0 },
    };
    backend = createLabBackend({ config, drivers: { gvisor: driver }, rootfsFor: () => rootfs, log: () => {}, store: memoryStore() });
    await backend.manager.start();
    // The same order as scripts/serve.ts: headers, the API, the Host check for pages, then the page.
    server = http.createServer((req, res) => {
      setSecurityHeaders(res);
      if (backend.handleRequest(req, res)) return;
      if (refuseForeignHost(req, res, config.allowedHosts)) return;
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>lesson</title>');
    });
    server.on('upgrade', (req, sock, head) => {
      if (!backend.handleUpgrade(req, sock, head)) sock.destroy();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
    self = `http://127.0.0.1:${port}`;
    const res = await raw('POST', '/lab-api/sessions', { origin: self }, JSON.stringify({ lessonId: LESSON }));
    expect(res.status).toBe(201);
    session = JSON.parse(res.body);
  });

  afterAll(async () => {
    await backend?.close();
    server?.close();
    expect(await leftovers(driver, stateDir)).toMatchObject({ bundles: [], procs: [], cgroups: [] });
  });

  /** The learner cookie the first response set: every request and upgrade sends it, as the learner's browser would. */
  let cookie = '';

  /** One request on its own connection, with exactly these headers (Host and the learner cookie included). */
  function raw(method: string, p: string, headers: Record<string, string> = {}, body?: string | Buffer | Buffer[]): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const chunked = Array.isArray(body);
      const req = http.request(
        {
          host: '127.0.0.1',
          port,
          method,
          path: p,
          agent: false,
          headers: {
            host: `127.0.0.1:${port}`,
            ...(cookie ? { cookie } : {}),
            ...(body && !chunked ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } : {}),
            ...headers,
          },
        },
        (res) => {
          cookie ||= (res.headers['set-cookie'] ?? [])[0]?.split(';')[0] ?? '';
          let text = '';
          res.on('data', (c) => {
            text += c;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      if (chunked) {
        // A body without Content-Length, sent in pieces (Transfer-Encoding: chunked).
        req.setHeader('content-type', 'application/json');
        const parts = [...body];
        const next = () => {
          const c = parts.shift();
          if (!c) {
            req.end();
            return;
          }
          req.write(c, () => setImmediate(next));
        };
        req.on('error', () => {});
        next();
      } else req.end(body);
    });
  }

  /** The status of a WebSocket upgrade (101 when it opened), with the refusal's headers. */
  function upgrade(headers: Record<string, string>, s = session): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
    return new Promise((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/lab-api/ws?session=${s.sessionId}&token=${encodeURIComponent(s.token)}`, { headers: { cookie, ...headers } });
      ws.on('unexpected-response', (_q, res) => {
        let body = '';
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      ws.on('open', () => {
        ws.close();
        resolve({ status: 101, headers: {}, body: '' });
      });
      ws.on('error', () => {});
    });
  }

  const rebinding = () => ({ host: `evil.example:${port}`, origin: `http://evil.example:${port}` });

  it('refuses a DNS-rebinding Host on POST /lab-api/sessions (no sandbox is made), naming LAB_ALLOWED_HOSTS', async () => {
    const before = backend.manager.list().length;
    const res = await raw('POST', '/lab-api/sessions', rebinding(), JSON.stringify({ lessonId: LESSON }));
    expect(res.status).toBe(421);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(res.body).error).toMatchObject({ code: 'forbidden_host', message: expect.stringContaining('LAB_ALLOWED_HOSTS') });
    expect(backend.manager.list().length).toBe(before);
    // Every API route, not only the state-changing ones.
    expect((await raw('GET', '/lab-api/health', { host: `evil.example:${port}` })).status).toBe(421);
    const check = await raw('POST', `/lab-api/sessions/${session.sessionId}/checks/make-file`, { ...rebinding(), authorization: `Bearer ${session.token}` }, '{}');
    expect(check.status).toBe(421);
  });

  it('refuses a DNS-rebinding Host on the WebSocket, even with a valid token', async () => {
    const r = await upgrade(rebinding());
    expect(r.status).toBe(421);
    expect(r.body).toContain('LAB_ALLOWED_HOSTS');
    expect(r.headers['x-content-type-options']).toBe('nosniff');
  });

  it('refuses a DNS-rebinding Host on a page, before the page handler runs', async () => {
    const r = await raw('GET', '/lessons/01-namespaces/01-pid-and-uts', { host: `evil.example:${port}` });
    expect(r.status).toBe(421);
    expect(r.headers['content-type']).toMatch(/^text\/plain/);
    expect(r.body).toContain('LAB_ALLOWED_HOSTS');
    expect(r.body).not.toContain('lesson</title>');
    expect(r.headers['content-security-policy']).toBe(securityHeaders()['content-security-policy']);
    const ok = await raw('GET', '/lessons/01-namespaces/01-pid-and-uts');
    expect(ok.status).toBe(200);
    expect(ok.headers['x-frame-options']).toBe('SAMEORIGIN');
  });

  it('a same-origin request on an allowed host still works: API, check and socket', async () => {
    const check = await raw('POST', `/lab-api/sessions/${session.sessionId}/checks/make-file`, { origin: self, authorization: `Bearer ${session.token}` }, '{}');
    expect(check.status).toBe(200);
    expect(JSON.parse(check.body)).toMatchObject({ exerciseId: 'make-file', passed: false });
    expect((await upgrade({ origin: self })).status).toBe(101);
    // localhost is allowed by default; its own origin is http://localhost:<port>.
    const viaLocalhost = await raw(
      'POST',
      `/lab-api/sessions/${session.sessionId}/extend`,
      { host: `localhost:${port}`, origin: `http://localhost:${port}`, authorization: `Bearer ${session.token}` },
      JSON.stringify({ reason: 'idle' }),
    );
    expect(viaLocalhost.status).toBe(200);
    expect((await upgrade({ host: `localhost:${port}`, origin: `http://localhost:${port}` })).status).toBe(101);
  });

  it('refuses an origin that differs by port or scheme, or belongs to another allowed host', async () => {
    const ext = (origin: string) =>
      raw('POST', `/lab-api/sessions/${session.sessionId}/extend`, { origin, authorization: `Bearer ${session.token}` }, JSON.stringify({ reason: 'idle' }));
    for (const origin of [`http://127.0.0.1:${port + 1}`, `https://127.0.0.1:${port}`, 'http://127.0.0.1', `http://localhost:${port}`]) {
      const res = await ext(origin);
      expect(res.status, origin).toBe(403);
      expect(JSON.parse(res.body).error.code).toBe('forbidden_origin');
      expect((await upgrade({ origin })).status, `ws ${origin}`).toBe(403);
    }
  });

  it('puts the security headers on every API route: successes, errors, 404s and refusals', async () => {
    const auth = { origin: self, authorization: `Bearer ${session.token}` };
    const forged = { origin: self, authorization: 'Bearer forged' };
    const extra = JSON.parse((await raw('POST', '/lab-api/sessions', { origin: self }, JSON.stringify({ lessonId: LESSON }))).body) as CreateSessionResponse;
    const routes: [string, string, Record<string, string>, string | undefined, number][] = [
      ['GET', '/lab-api/health', {}, undefined, 200],
      ['POST', '/lab-api/sessions', {}, JSON.stringify({ lessonId: LESSON }), 403],
      ['POST', '/lab-api/sessions', { origin: self }, '{not json', 400],
      ['POST', '/lab-api/sessions', { origin: self }, JSON.stringify({ lessonId: '01-fixture/99-nope' }), 404],
      ['POST', '/lab-api/sessions', rebinding(), JSON.stringify({ lessonId: LESSON }), 421],
      ['POST', '/lab-api/sessions', { origin: self }, JSON.stringify({ lessonId: LESSON, pad: 'x'.repeat(17 * 1024) }), 413],
      ['POST', '/lab-api/sessions', { origin: self }, JSON.stringify({ lessonId: LESSON, resume: { sessionId: session.sessionId, token: session.token } }), 200],
      ['POST', `/lab-api/sessions/${session.sessionId}/checks/make-file`, auth, '{}', 200],
      ['POST', `/lab-api/sessions/${session.sessionId}/checks/no-such-exercise`, auth, '{}', 404],
      ['POST', `/lab-api/sessions/${session.sessionId}/checks/make-file`, forged, '{}', 401],
      ['POST', `/lab-api/sessions/${session.sessionId}/extend`, auth, JSON.stringify({ reason: 'forever' }), 400],
      ['POST', `/lab-api/sessions/${session.sessionId}/extend`, auth, JSON.stringify({ reason: 'idle' }), 200],
      ['POST', `/lab-api/sessions/${session.sessionId}/extend`, forged, JSON.stringify({ reason: 'idle' }), 401],
      ['DELETE', `/lab-api/sessions/${session.sessionId}`, forged, undefined, 401],
      ['DELETE', `/lab-api/sessions/${extra.sessionId}`, { origin: self, authorization: `Bearer ${extra.token}` }, undefined, 204],
      ['DELETE', `/lab-api/sessions/${extra.sessionId}`, { origin: self, authorization: `Bearer ${extra.token}` }, undefined, 404],
      ['GET', '/lab-api/no-such-endpoint', { origin: self }, undefined, 404],
      ['GET', '/lab-api/no-such-endpoint', {}, undefined, 403],
      ['PUT', '/lab-api/sessions', { origin: self }, '{}', 404],
      ['GET', '/lab-api/ws', {}, undefined, 403],
    ];
    for (const [method, p, headers, body, status] of routes) {
      const res = await raw(method, p, headers, body);
      const what = `${method} ${p} (${status})`;
      expect(res.status, what).toBe(status);
      for (const [k, v] of Object.entries(securityHeaders())) expect(res.headers[k], `${what}: ${k}`).toBe(v);
      if (status !== 204) expect(res.headers['content-type'], what).toMatch(/^application\/json/);
    }
    // And on the socket's refusals.
    for (const [headers, status] of [
      [{ origin: 'http://evil.example' }, 403],
      [{ origin: self }, 401],
    ] as const) {
      const r = await upgrade(headers, status === 401 ? { ...session, token: `${session.token}x` } : session);
      expect(r.status).toBe(status);
      expect(r.headers['x-content-type-options']).toBe('nosniff');
      expect(r.headers['content-security-policy']).toBe(securityHeaders()['content-security-policy']);
    }
  });

  it('answers a 17 KiB body with 413 and the JSON error (not a reset), with or without Content-Length', async () => {
    const body = JSON.stringify({ lessonId: LESSON, pad: 'x'.repeat(17 * 1024) });
    const declared = await raw('POST', '/lab-api/sessions', { origin: self }, body);
    expect(declared.status).toBe(413);
    expect(declared.headers.connection).toBe('close');
    expect(JSON.parse(declared.body).error).toMatchObject({ code: 'payload_too_large', message: expect.stringContaining('16 KiB') });
    // Chunked, so the size is only known as it arrives; some of it comes after the answer.
    const pieces = Array.from({ length: 17 }, (_, i) => Buffer.from(i === 0 ? `{"lessonId":"${LESSON}","pad":"` : 'x'.repeat(1024)));
    const chunked = await raw('POST', '/lab-api/sessions', { origin: self, 'transfer-encoding': 'chunked' }, [...pieces, Buffer.from('"}')]);
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.body).error.code).toBe('payload_too_large');
    // A bigger one still gets its answer: the rest is read and dropped (up to a bound), not reset.
    const big = await raw(
      'POST',
      `/lab-api/sessions/${session.sessionId}/extend`,
      { origin: self, authorization: `Bearer ${session.token}`, 'transfer-encoding': 'chunked' },
      Array.from({ length: 512 }, () => Buffer.alloc(1024, 'x')),
    );
    expect(big.status).toBe(413);
    // Nothing was created, and the lab still answers.
    expect((await raw('GET', '/lab-api/health')).status).toBe(200);
  });
});
