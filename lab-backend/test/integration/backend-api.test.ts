/**
 * The backend's HTTP + WebSocket surface against real gVisor sandboxes:
 * auth, origin, limits, the terminal, checks, reattach, teardown.
 */
import type http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadConfig, type LabConfig } from '../../src/config';
import { TokenSigner } from '../../src/tokens';
import { FLOW_HIGH_WATER_BYTES } from '../../src/wire';
import type { LabBackend } from '../../src/server';
import { GvisorDriver } from '../../src/sandbox/gvisor';
import type { CheckResult, CreateSessionResponse, ServerMessage } from '../../src/wire';
import { MAX_FRAME_BYTES } from '../../src/wire';
import { baseRootfs, leftovers, tempStateDir } from './helpers';
import { hangGuard, until } from '../hang-guard';
import { startLabServer } from '../serve-backend';
import { CookieJar } from '../cookie-jar';

/** The learner's browser: its cookie goes with every request and socket, as a browser's would. */
const jar = new CookieJar();

const LESSON = '01-fixture/01-basic';

describe('lab backend API (real runsc)', () => {
  const stateDir = tempStateDir();
  const driver = new GvisorDriver({ stateDir });
  let backend: LabBackend;
  let server: http.Server;
  let base: string;
  let origin: string;

  let config: LabConfig;

  beforeAll(async () => {
    const rootfs = await baseRootfs();
    config = {
      ...loadConfig({ ...process.env, LAB_STATE_DIR: stateDir, LAB_CONTENT_DIR: path.resolve('lab-backend/test/fixtures/content') }),
      maxSandboxes: 3,
      maxSandboxesPerClient: 10,
      maxSandboxesPerAddress: 100,
      sessionsPerClientPerMinute: 14,
      checkOutputBytes: 2048,
      maxQueue: 1,
      maxExtends: 1,
      poolSizes: { gvisor: 1, microvm: 0, runc: 0 },
    };
    ({ backend, server, base } = await startLabServer({ config, drivers: { gvisor: driver }, rootfsFor: () => rootfs, log: () => {} }));
    origin = base;
  });

  afterAll(async () => {
    await backend?.close();
    server?.close();
    expect(await leftovers(driver, stateDir)).toMatchObject({ bundles: [], procs: [], cgroups: [] });
  });

  const post = (p: string, body: unknown, headers: Record<string, string> = { origin }) =>
    jar.fetch(`${base}${p}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

  async function newSession(): Promise<CreateSessionResponse> {
    const res = await post('/lab-api/sessions', { lessonId: LESSON });
    expect(res.status).toBe(201);
    return res.json();
  }

  function connect(s: { sessionId: string; token: string }, headers: Record<string, string> = { origin }) {
    return new WebSocket(`${base.replace('http', 'ws')}/lab-api/ws?session=${s.sessionId}&token=${encodeURIComponent(s.token)}&cols=100&rows=30`, jar.wsOptions(headers));
  }

  /** A socket with helpers to wait for terminal output and control messages. */
  async function terminal(s: CreateSessionResponse) {
    const ws = connect(s);
    let out = '';
    const msgs: ServerMessage[] = [];
    ws.on('message', (d, bin) => {
      if (bin) out += d.toString();
      else msgs.push(JSON.parse(d.toString()));
    });
    await new Promise((r, j) => {
      ws.once('open', r);
      ws.once('error', j);
    });
    const seen = () => `output so far:\n${out.slice(-4000)}\nmessages: ${JSON.stringify(msgs.slice(-20))}`;
    const wait = (pred: () => boolean, what = 'the expected terminal output', ms = 60_000) => until(what, pred, ms, seen);
    const type = (text: string) => ws.send(Buffer.from(text), { binary: true });
    let asked = 0;
    /** Run `echo <marker>=$(cmd)` and wait for its answer: a line only the command's result can produce. */
    const ask = async (cmd: string) => {
      const q = `q${++asked}`;
      const from = out.length;
      type(`echo ${q}=$(${cmd})\r`);
      // After a line break, or after bash's "bracketed paste off" (ESC [?2004l, then CR) that starts the command's own output.
      const answer = new RegExp(`(?:\\n|\\x1b\\[\\?2004l)\\r?${q}=([^\\r\\n]*)\\r\\n`);
      await wait(() => answer.test(out.slice(from)), `the answer to ${cmd}`);
      return answer.exec(out.slice(from))![1];
    };
    await wait(() => msgs.some((m) => m.type === 'status' && m.status === 'ready') && /# $/.test(out), 'a ready status and a prompt');
    return {
      ws,
      msgs,
      until: wait,
      ask,
      get out() {
        return out;
      },
      type,
    };
  }

  it('refuses requests without the lab origin, unknown lessons and bad JSON', async () => {
    expect((await post('/lab-api/sessions', { lessonId: LESSON }, {})).status).toBe(403);
    expect((await post('/lab-api/sessions', { lessonId: LESSON }, { origin: 'http://evil.example' })).status).toBe(403);
    const unknown = await post('/lab-api/sessions', { lessonId: '01-fixture/99-nope' });
    expect(unknown.status).toBe(404);
    expect((await unknown.json()).error.code).toBe('unknown_lesson');
    const bad = await post('/lab-api/sessions', '{not json');
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.message).toMatch(/JSON/);
  });

  it('gives a root shell in gVisor over the socket, resizes it, and keeps it across a reconnect', async () => {
    const s = await newSession();
    const t = await terminal(s);
    t.type('dmesg | head -1; tput cols; cat /root/setup-marker\r');
    await t.until(() => /Starting gVisor/.test(t.out) && /\r\n100\r\n/.test(t.out) && /setup-ran/.test(t.out));
    t.ws.send(JSON.stringify({ type: 'resize', cols: 120, rows: 40 }));
    // The new size reaches the shell asynchronously: ask until it answers with it (every answer is awaited, the whole hang-guarded).
    await hangGuard(
      'the shell to see the new size',
      (async () => {
        while ((await t.ask('tput cols')) !== '120');
      })(),
      60_000,
    );
    expect(await t.ask('echo keep > /tmp/kept; echo kept')).toBe('kept');
    t.ws.close();
    // A reload: resume with the same token gets the same sandbox.
    const res = await post('/lab-api/sessions', { lessonId: LESSON, resume: { sessionId: s.sessionId, token: s.token } });
    const again = (await res.json()) as CreateSessionResponse;
    expect(again).toMatchObject({ sessionId: s.sessionId, resumed: true });
    const t2 = await terminal(again);
    t2.type('cat /tmp/kept\r');
    await t2.until(() => /\rkeep\r\n/.test(t2.out));
    t2.ws.close();
    await jar.fetch(`${base}/lab-api/sessions/${s.sessionId}`, { method: 'DELETE', headers: { origin, authorization: `Bearer ${again.token}` } });
  });

  it('checks fail, then pass after the solution, without typing into the terminal', async () => {
    const s = await newSession();
    const t = await terminal(s);
    const check = async (id: string) =>
      (await (await post(`/lab-api/sessions/${s.sessionId}/checks/${id}`, {}, { origin, authorization: `Bearer ${s.token}` })).json()) as CheckResult;
    const before = await check('make-file');
    expect(before).toMatchObject({ passed: false, message: '/tmp/done does not exist yet.' });
    expect(await t.ask('touch /tmp/done && echo touched')).toBe('touched');
    expect(await check('make-file')).toMatchObject({ passed: true, message: '/tmp/done exists.' });
    expect(t.out).not.toContain('/tmp/done exists');
    // Its exercise gives it 1 s (the lab's default is 15 s): the message names the deadline that stopped it.
    const hang = await hangGuard('the hanging check to be stopped', check('hangs'), 60_000);
    expect(hang).toMatchObject({ passed: false, timedOut: true, message: expect.stringMatching(/^The check did not finish within 1 s and was stopped\./) });
    const flood = await check('floods');
    expect(flood).toMatchObject({ passed: false, truncated: true });
    expect(flood.message.length).toBeLessThan(2200);
    expect(flood.message).not.toContain('\x1b');
    const unauth = await post(`/lab-api/sessions/${s.sessionId}/checks/make-file`, {}, { origin, authorization: 'Bearer forged' });
    expect(unauth.status).toBe(401);
    t.ws.close();
  });

  it("refuses sockets with a foreign origin, a forged or another session's token, and oversized frames", async () => {
    const s = await newSession();
    const status = (ws: WebSocket) =>
      new Promise<number>((r) => {
        ws.on('unexpected-response', (_q, res) => r(res.statusCode ?? 0));
        ws.on('open', () => r(101));
        ws.on('error', () => {});
      });
    expect(await status(connect(s, { origin: 'http://evil.example' }))).toBe(403);
    expect(await status(connect(s, {}))).toBe(403);
    expect(await status(connect({ sessionId: s.sessionId, token: `${s.token}x` }))).toBe(401);
    const other = await newSession();
    expect(await status(connect({ sessionId: s.sessionId, token: other.token }))).toBe(401);
    const t = await terminal(s);
    const closed = new Promise<number>((r) => t.ws.on('close', (code) => r(code)));
    t.ws.send(Buffer.alloc(MAX_FRAME_BYTES + 1, 'a'), { binary: true });
    expect(await closed).toBe(1009);
    for (const x of [s, other]) await jar.fetch(`${base}/lab-api/sessions/${x.sessionId}`, { method: 'DELETE', headers: { origin, authorization: `Bearer ${x.token}` } });
  });

  it('refuses missing, expired and replayed tokens; a replayed token never reaches a shell', async () => {
    const s = await newSession();
    const status = (ws: WebSocket) =>
      new Promise<number>((r) => {
        ws.on('unexpected-response', (_q, res) => r(res.statusCode ?? 0));
        ws.on('open', () => r(101));
        ws.on('error', () => {});
      });
    const noToken = new WebSocket(`${base.replace('http', 'ws')}/lab-api/ws?session=${s.sessionId}`, jar.wsOptions({ origin }));
    expect(await status(noToken)).toBe(401);
    const expired = new TokenSigner(config.secret, 1_000, () => Date.now() - 60_000).issue(s.sessionId).token;
    expect(await status(connect({ sessionId: s.sessionId, token: expired }))).toBe(401);
    expect((await post(`/lab-api/sessions/${s.sessionId}/checks/make-file`, {}, { origin, authorization: `Bearer ${expired}` })).status).toBe(401);
    await del(s);
    // The token is still unexpired, but its session is over: no shell, just why it ended.
    const replay = connect(s);
    let output = '';
    const msgs: ServerMessage[] = [];
    replay.on('message', (d, bin) => {
      if (bin) output += d.toString();
      else msgs.push(JSON.parse(d.toString()));
    });
    const code = await new Promise<number>((r) => {
      replay.on('close', (c) => r(c));
      replay.on('unexpected-response', (_q, res) => r(res.statusCode ?? 0));
      replay.on('error', () => {});
    });
    expect([1000, 404]).toContain(code);
    expect(output).toBe('');
    expect(msgs.some((m) => m.type === 'status' && m.status === 'ready')).toBe(false);
  });

  it('survives a connection flood: every socket but the newest is closed, the newest has a working shell, health still answers', async () => {
    const s = await newSession();
    const sockets = Array.from({ length: 60 }, () => connect(s));
    const junk = Array.from({ length: 60 }, () => connect({ sessionId: s.sessionId, token: 'forged.1.x' }));
    for (const ws of [...sockets, ...junk]) ws.on('error', () => {});
    // Answered while the flood is being handled (how fast is not asserted here).
    expect((await hangGuard('a health answer during the connection flood', jar.fetch(`${base}/lab-api/health`), 30_000)).status).toBe(200);
    await Promise.all(
      sockets.map(
        (ws) =>
          new Promise((r) => {
            if (ws.readyState === ws.OPEN) r(null);
            ws.once('open', r);
            ws.once('close', r);
          }),
      ),
    );
    const last = await terminal(s); // one more: it replaces all of them
    for (const ws of sockets) {
      if (ws.readyState !== ws.CLOSED) await new Promise((r) => ws.once('close', r));
    }
    expect(await last.ask('echo alive')).toBe('alive');
    last.ws.close();
    for (const ws of junk) ws.terminate();
    await del(s);
  });

  it('flow control: `yes` stops at the high-water mark while the client does not ack, and Ctrl-C stops it', async () => {
    const s = await newSession();
    const t = await terminal(s);
    const session = backend.manager.list().find((x) => x.id === s.sessionId)!;
    const startLen = t.out.length;
    t.type('yes\r');
    // No acks meanwhile: the backend pauses the shell once the high-water mark goes unacknowledged.
    await until(
      'the backend to pause the unacknowledged shell',
      () => session.terminal.flow.paused,
      60_000,
      () => JSON.stringify(session.terminal.flow),
    );
    // An observation window for "nothing more comes" (not a speed limit: a slower machine only sends less).
    await new Promise((r) => setTimeout(r, 2000));
    expect(session.terminal.flow.paused).toBe(true); // nothing was acked, so nothing may resume it
    const unacked = Buffer.byteLength(t.out.slice(startLen));
    expect(Buffer.byteLength(t.out)).toBeGreaterThanOrEqual(FLOW_HIGH_WATER_BYTES); // what made it pause (all sent since attach) reached the client
    expect(unacked).toBeLessThan(FLOW_HIGH_WATER_BYTES + 256 * 1024);
    // Ack what arrived, send Ctrl-C, keep acking: the prompt comes back.
    const ack = setInterval(() => t.ws.send(JSON.stringify({ type: 'ack', bytes: 1 << 20 })), 50);
    try {
      const beforeCtrlC = t.out.length;
      t.type('\x03');
      // The prompt after the flood (the held terminal's PTY on the host does not echo ^C itself; the flood's end shows it).
      await t.until(() => /y\r?\n[\s\S]*# $/.test(t.out.slice(beforeCtrlC).slice(-4096)) && /# $/.test(t.out), 'the prompt after Ctrl-C');
      // The shell runs the next command only once `yes` is gone; after its answer, nothing of the flood follows.
      const mark = t.out.length;
      expect(await t.ask('echo after-$((40+2))')).toBe('after-42');
      await t.until(() => /# $/.test(t.out), 'the prompt after the answer');
      expect(t.out.slice(mark)).not.toMatch(/^y\r?$/m); // the flood really stopped
    } finally {
      clearInterval(ack);
    }
    t.ws.close();
    await del(s);
  });

  const del = (x: { sessionId: string; token: string }) =>
    jar.fetch(`${base}/lab-api/sessions/${x.sessionId}`, { method: 'DELETE', headers: { origin, authorization: `Bearer ${x.token}` } });

  it('serves a start from the warm pool (setup done, prompt waiting) and refills the pool', async () => {
    await backend.manager.poolSettled();
    const health = await (await jar.fetch(`${base}/lab-api/health`)).json();
    expect(health.warmSandboxes).toBe(1);
    const s = await newSession();
    expect(s.fromPool).toBe(true);
    const t = await terminal(s); // ready and showing a prompt
    t.type('hostname\r');
    await t.until(() => /\blab\r?\n/.test(t.out));
    t.ws.close();
    await del(s);
    await backend.manager.poolSettled();
    expect(backend.manager.warm).toBe(1);
  });

  it("the admin follows a learner's real shell read-only: replay, then live output; its keystrokes never reach the shell", async () => {
    const s = await newSession();
    const t = await terminal(s);
    expect(await t.ask('echo before-$((20+1))')).toBe('before-21');
    const admin = new CookieJar();
    await admin.fetch(backend.identity.adminSignInUrl(base), { redirect: 'manual' });
    const viewer = new WebSocket(`${base.replace('http', 'ws')}/lab-api/ws?session=${s.sessionId}&role=viewer`, admin.wsOptions({ origin }));
    let seen = '';
    const vmsgs: ServerMessage[] = [];
    viewer.on('message', (d, bin) => {
      if (bin) seen += d.toString();
      else vmsgs.push(JSON.parse(d.toString()));
    });
    await new Promise((r, j) => {
      viewer.once('open', r);
      viewer.once('error', j);
    });
    await until(
      "the viewer's replay",
      () => seen.includes('before-21'),
      30_000,
      () => seen.slice(-500),
    );
    await t.until(() => t.msgs.some((m) => m.type === 'viewers' && m.count === 1), 'the owner told "1 watching"');
    viewer.send(Buffer.from('touch /root/viewer-was-here\r'), { binary: true });
    viewer.send(JSON.stringify({ type: 'resize', cols: 20, rows: 5 }));
    expect(await t.ask('echo live-$((30+3))')).toBe('live-33');
    await until(
      'live output at the viewer',
      () => seen.includes('live-33'),
      30_000,
      () => seen.slice(-500),
    );
    expect(await t.ask('test -e /root/viewer-was-here && echo yes || echo no')).toBe('no');
    expect(await t.ask('tput cols')).toBe('100');
    expect(vmsgs).toContainEqual({ type: 'role', role: 'viewer' });
    expect(vmsgs.some((m) => m.type === 'token')).toBe(false);
    viewer.close();
    t.ws.close();
    await jar.fetch(`${base}/lab-api/sessions/${s.sessionId}`, { method: 'DELETE', headers: { origin, authorization: `Bearer ${s.token}` } });
  });

  it('extends a session a bounded number of times, and says why not after that', async () => {
    const s = await newSession();
    const ext = (reason: unknown) => post(`/lab-api/sessions/${s.sessionId}/extend`, { reason }, { origin, authorization: `Bearer ${s.token}` });
    const r1 = await ext('lifetime');
    expect(r1.status).toBe(200);
    expect(await r1.json()).toEqual({ expiresAt: s.expiresAt + backend.manager.policy.extendByMs, extendsLeft: 0 });
    const r2 = await ext('lifetime');
    expect(r2.status).toBe(409);
    expect((await r2.json()).error).toMatchObject({ code: 'extend_limit', message: expect.stringContaining('1 time') });
    expect((await ext('forever')).status).toBe(400);
    expect((await post(`/lab-api/sessions/${s.sessionId}/extend`, { reason: 'idle' }, { origin, authorization: 'Bearer forged' })).status).toBe(401);
    await del(s);
  });

  it('queues a learner when the lab is full (telling their place), starts them when a slot frees, and refuses once the queue is full', async () => {
    // Earlier tests' sessions may still sit in their reconnect grace: start from an empty lab.
    await Promise.all(backend.manager.list().map((x) => backend.manager.end(x, 'closed')));
    const made: CreateSessionResponse[] = [];
    for (let i = 0; i < 3; i++) made.push(await newSession());
    const queued = await newSession();
    const ws = connect(queued);
    const msgs: ServerMessage[] = [];
    ws.on('message', (d, bin) => {
      if (!bin) msgs.push(JSON.parse(d.toString()));
    });
    await new Promise((r) => ws.once('open', r));
    await until(
      'a queued status',
      () => msgs.some((m) => m.type === 'status' && m.status === 'queued'),
      60_000,
      () => JSON.stringify(msgs),
    );
    expect(msgs.find((m) => m.type === 'status')).toMatchObject({ status: 'queued', queuePosition: 1, message: expect.stringContaining('number 1 in the queue') });
    const full = await post('/lab-api/sessions', { lessonId: LESSON });
    expect(full.status).toBe(503);
    expect((await full.json()).error.message).toMatch(/3 sandboxes in use, try again/);
    const health = await (await jar.fetch(`${base}/lab-api/health`)).json();
    expect(health).toMatchObject({ sandboxesInUse: 3, queued: 1 });
    await del(made.pop()!);
    await until(
      "the queued learner's sandbox to be ready once a slot freed",
      () => msgs.some((m) => m.type === 'status' && m.status === 'ready'),
      90_000,
      () => JSON.stringify(msgs),
    );
    ws.close();
    for (const x of [...made, queued]) await del(x);
  });

  it('rate-limits one client', async () => {
    // Sessions created so far in this file (13) already used most of this client's budget of 14 a minute.
    let limited: Response | null = null;
    for (let i = 0; i < 15 && !limited; i++) {
      const res = await post('/lab-api/sessions', { lessonId: LESSON });
      if (res.status === 429) limited = res;
      else {
        const x = await res.json();
        await jar.fetch(`${base}/lab-api/sessions/${x.sessionId}`, { method: 'DELETE', headers: { origin, authorization: `Bearer ${x.token}` } });
      }
    }
    expect(limited).not.toBeNull();
    expect((await limited!.json()).error).toMatchObject({ code: 'rate_limited', retryAfterMs: expect.any(Number) });
  });
});
