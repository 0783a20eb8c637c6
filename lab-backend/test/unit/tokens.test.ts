/**
 * Session credentials: the short-lived access token and the resume credential
 * (tokens.ts), and how the HTTP/WebSocket surface (server.ts) honours them, on
 * a fake driver: a reload after the access token expired gets its own sandbox
 * back through the resume credential; an expired access token alone is refused
 * everywhere; a credential for one session never opens another; a resume
 * credential opens nothing but a resume; bad input is a JSON 400.
 */
import type http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadConfig, type LabConfig } from '../../src/config';
import type { LabBackend } from '../../src/server';
import { TokenSigner } from '../../src/tokens';
import type { CreateSessionResponse, ErrorBody, ServerMessage } from '../../src/wire';
import { FakeClock, InstantDriver } from './fakes';
import { startLabServer } from '../serve-backend';
import { CookieJar } from '../cookie-jar';

const SECRET = 'unit-test-secret';

describe('TokenSigner', () => {
  const clock = new FakeClock();
  const signer = new TokenSigner(SECRET, 5_000, clock.now);

  it('an access token names its session until it expires, then nothing', () => {
    const { token, expiresAt } = signer.issue('abc');
    expect(expiresAt).toBe(clock.t + 5_000);
    expect(signer.verify(token)).toBe('abc');
    clock.advance(5_000);
    expect(signer.verify(token)).toBe('abc'); // valid through its expiry instant
    clock.advance(1);
    expect(signer.verify(token)).toBeNull();
  });

  it('a resume credential names its session until its own expiry, then nothing', () => {
    const until = clock.t + 60_000;
    const { resumeToken, expiresAt } = signer.issueResume('abc', until);
    expect(expiresAt).toBe(until);
    clock.advance(30_000); // long after any access token of the same moment expired
    expect(signer.verifyResume(resumeToken)).toBe('abc');
    clock.advance(30_001);
    expect(signer.verifyResume(resumeToken)).toBeNull();
  });

  it('neither kind stands in for the other', () => {
    const { token } = signer.issue('abc');
    const { resumeToken } = signer.issueResume('abc', clock.t + 60_000);
    expect(signer.verify(resumeToken)).toBeNull();
    expect(signer.verifyResume(token)).toBeNull();
    // Rewritten into the other's shape, the MAC no longer covers the text.
    expect(signer.verifyResume(`resume.${token}`)).toBeNull();
    expect(signer.verify(resumeToken.slice('resume.'.length))).toBeNull();
  });

  it("a credential is bound to its session id and expiry, and to this lab's secret", () => {
    const { token } = signer.issue('abc');
    const { resumeToken } = signer.issueResume('abc', clock.t + 60_000);
    const [, exp, mac] = token.split('.');
    expect(signer.verify(`abd.${exp}.${mac}`)).toBeNull();
    expect(signer.verify(`abc.${Number(exp) + 1}.${mac}`)).toBeNull();
    const [p, , rexp, rmac] = resumeToken.split('.');
    expect(signer.verifyResume(`${p}.abd.${rexp}.${rmac}`)).toBeNull();
    expect(signer.verifyResume(`${p}.abc.${Number(rexp) + 1}.${rmac}`)).toBeNull();
    const other = new TokenSigner('another-lab', 5_000, clock.now);
    expect(other.verify(token)).toBeNull();
    expect(other.verifyResume(resumeToken)).toBeNull();
  });

  it('malformed, oversized and missing credentials are refused', () => {
    for (const bad of [undefined, null, '', 'a.b', 'a.b.c.d', 'resume.a.b', `abc.1.${'x'.repeat(600)}`, 'abc.notanumber.x']) {
      expect(signer.verify(bad)).toBeNull();
      expect(signer.verifyResume(bad)).toBeNull();
    }
    expect(signer.verify(5 as unknown as string)).toBeNull();
  });
});

describe('resume and tokens through the HTTP and WebSocket surface (fake driver)', () => {
  const LESSON = '01-fixture/01-basic';
  let config: LabConfig;
  let backend: LabBackend;
  let server: http.Server;
  let base: string;
  let origin: string;
  /** The learner's browser: every request carries its cookie. */
  const jar = new CookieJar();
  /** Issues tokens that expired a minute ago, with the lab's own secret. */
  let past: TokenSigner;

  beforeAll(async () => {
    config = {
      ...loadConfig({ LAB_SECRET: SECRET, LAB_STATE_DIR: '/nonexistent-unit-state', LAB_CONTENT_DIR: path.resolve('lab-backend/test/fixtures/content') }),
      maxSandboxesPerClient: 20,
      maxSandboxesPerAddress: 100,
      sessionsPerClientPerMinute: 100,
      poolSizes: { gvisor: 0, microvm: 0, runc: 0 },
      tokenTtlMs: 60_000,
      tokenRefreshMs: 50,
    };
    past = new TokenSigner(SECRET, 1_000, () => Date.now() - 60_000);
    ({ backend, server, base } = await startLabServer({ config, drivers: { gvisor: new InstantDriver() }, rootfsFor: () => '/rootfs', log: () => {} }));
    origin = base;
  });

  afterAll(async () => {
    await backend?.close();
    server?.close();
  });

  const post = (p: string, body: unknown, headers: Record<string, string> = { origin }) =>
    jar.fetch(`${base}${p}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const create = async (resume?: unknown) => {
    const res = await post('/lab-api/sessions', { lessonId: LESSON, ...(resume !== undefined ? { resume } : {}) });
    return { status: res.status, body: (await res.json()) as CreateSessionResponse & ErrorBody };
  };
  const expiredTokenOf = (sessionId: string) => past.issue(sessionId).token;
  const wsStatus = (sessionId: string, token: string) =>
    new Promise<number>((resolve) => {
      const ws = new WebSocket(`${base.replace('http', 'ws')}/lab-api/ws?session=${sessionId}&token=${encodeURIComponent(token)}`, jar.wsOptions({ origin }));
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => {
        ws.close();
        resolve(101);
      });
      ws.on('error', () => undefined);
    });

  it('a new session gets an access token and a resume credential that lasts as long as the session can', async () => {
    const { status, body: s } = await create();
    expect(status).toBe(201);
    expect(s.resumeRefused).toBeUndefined();
    expect(s.tokenExpiresAt).toBeLessThanOrEqual(Date.now() + config.tokenTtlMs);
    expect(s.resumeTokenExpiresAt).toBe(s.expiresAt + s.extendsLeft * config.extendByMs);
    expect(s.resumeToken).toMatch(/^resume\./);
  });

  it('after the access token expired, the resume credential reattaches the same session with fresh credentials', async () => {
    const { body: s } = await create();
    const { status, body: again } = await create({ sessionId: s.sessionId, token: expiredTokenOf(s.sessionId), resumeToken: s.resumeToken });
    expect(status).toBe(200);
    expect(again).toMatchObject({ sessionId: s.sessionId, resumed: true });
    expect(again.resumeRefused).toBeUndefined();
    // The fresh access token works where the resume credential does not.
    expect(await wsStatus(s.sessionId, again.token)).toBe(101);
    expect((await post(`/lab-api/sessions/${s.sessionId}/extend`, { reason: 'idle' }, { origin, authorization: `Bearer ${again.token}` })).status).toBe(200);
  });

  it('an expired access token alone is refused everywhere: resume starts a new session and says why', async () => {
    const { body: s } = await create();
    const expired = expiredTokenOf(s.sessionId);
    const { status, body: fresh } = await create({ sessionId: s.sessionId, token: expired });
    expect(status).toBe(201);
    expect(fresh.sessionId).not.toBe(s.sessionId);
    expect(fresh.resumed).toBe(false);
    expect(fresh.resumeRefused).toMatchObject({ code: 'unauthorized' });
    expect(fresh.resumeRefused!.message).toMatch(/new sandbox/);
    const bearer = { origin, authorization: `Bearer ${expired}` };
    expect((await post(`/lab-api/sessions/${s.sessionId}/checks/make-file`, {}, bearer)).status).toBe(401);
    expect((await post(`/lab-api/sessions/${s.sessionId}/extend`, { reason: 'idle' }, bearer)).status).toBe(401);
    expect((await jar.fetch(`${base}/lab-api/sessions/${s.sessionId}`, { method: 'DELETE', headers: bearer })).status).toBe(401);
    expect(await wsStatus(s.sessionId, expired)).toBe(401);
  });

  it('a resume credential opens nothing but a resume: not the socket, a check, extend or delete', async () => {
    const { body: s } = await create();
    const bearer = { origin, authorization: `Bearer ${s.resumeToken}` };
    const check = await post(`/lab-api/sessions/${s.sessionId}/checks/make-file`, {}, bearer);
    expect(check.status).toBe(401);
    expect(((await check.json()) as ErrorBody).error.code).toBe('unauthorized');
    expect((await post(`/lab-api/sessions/${s.sessionId}/extend`, { reason: 'lifetime' }, bearer)).status).toBe(401);
    expect((await jar.fetch(`${base}/lab-api/sessions/${s.sessionId}`, { method: 'DELETE', headers: bearer })).status).toBe(401);
    expect(await wsStatus(s.sessionId, s.resumeToken)).toBe(401);
    expect(backend.manager.get(s.sessionId)?.ended).toBe(false);
  });

  it('a credential for session A never reattaches session B', async () => {
    const { body: a } = await create();
    const { body: b } = await create();
    for (const resume of [
      { sessionId: b.sessionId, token: expiredTokenOf(b.sessionId), resumeToken: a.resumeToken },
      { sessionId: b.sessionId, token: a.token },
      { sessionId: b.sessionId, token: a.token, resumeToken: a.resumeToken },
    ]) {
      const { status, body } = await create(resume);
      expect(status).toBe(201);
      expect([a.sessionId, b.sessionId]).not.toContain(body.sessionId);
      expect(body.resumeRefused?.code).toBe('unauthorized');
    }
  });

  it('a valid credential for a session that has ended starts a new one, saying the old one ended', async () => {
    const { body: s } = await create();
    expect((await jar.fetch(`${base}/lab-api/sessions/${s.sessionId}`, { method: 'DELETE', headers: { origin, authorization: `Bearer ${s.token}` } })).status).toBe(204);
    const { status, body } = await create({ sessionId: s.sessionId, token: s.token, resumeToken: s.resumeToken });
    expect(status).toBe(201);
    expect(body.sessionId).not.toBe(s.sessionId);
    expect(body.resumeRefused).toMatchObject({ code: 'unknown_session' });
    expect(body.resumeRefused!.message).toMatch(/has ended/);
  });

  it('a malformed resume is a JSON 400 that says what it must look like, and starts nothing', async () => {
    const before = backend.manager.inUse;
    for (const resume of [
      'x',
      5,
      [],
      {},
      { sessionId: 'a' },
      { sessionId: 'a', token: 7 },
      { sessionId: 'a', token: 't', resumeToken: {} },
      { sessionId: 'a'.repeat(101), token: 't' },
    ]) {
      const { status, body } = await create(resume);
      expect(status).toBe(400);
      expect(body.error.code).toBe('bad_request');
      expect(body.error.message).toMatch(/resume must be/);
    }
    expect(backend.manager.inUse).toBe(before);
  });

  it('resume is refused from a foreign origin, whatever the credentials', async () => {
    const { body: s } = await create();
    const res = await post(
      '/lab-api/sessions',
      { lessonId: LESSON, resume: { sessionId: s.sessionId, token: s.token, resumeToken: s.resumeToken } },
      { origin: 'http://evil.example' },
    );
    expect(res.status).toBe(403);
    expect(((await res.json()) as ErrorBody).error.code).toBe('forbidden_origin');
  });

  it('an open socket is sent fresh credentials every tokenRefreshMs, each valid for its session', async () => {
    const { body: s } = await create();
    const ws = new WebSocket(`${base.replace('http', 'ws')}/lab-api/ws?session=${s.sessionId}&token=${encodeURIComponent(s.token)}`, jar.wsOptions({ origin }));
    const tokens: Extract<ServerMessage, { type: 'token' }>[] = [];
    await new Promise<void>((resolve, reject) => {
      ws.on('message', (data, isBinary) => {
        if (isBinary) return;
        const m = JSON.parse(data.toString()) as ServerMessage;
        if (m.type === 'token') tokens.push(m);
        if (tokens.length === 2) resolve();
      });
      ws.on('error', reject);
    });
    ws.close();
    const signer = new TokenSigner(SECRET, config.tokenTtlMs);
    for (const t of tokens) {
      expect(signer.verify(t.token)).toBe(s.sessionId);
      expect(signer.verifyResume(t.resumeToken)).toBe(s.sessionId);
    }
    expect(tokens[1].tokenExpiresAt).toBeGreaterThan(s.tokenExpiresAt - 1);
  });
});
