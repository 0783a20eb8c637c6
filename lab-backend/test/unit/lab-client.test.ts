/**
 * The lab panel's client state machine (components/lab/client.ts), driven with
 * behaviour-named fakes: a backend that answers like the lab (or as a test
 * scripts it), sockets the test opens, talks on and drops, a clock that only moves
 * when told, the tab's sessionStorage and the progress store.
 */
import { describe, expect, it } from 'vitest';
import {
  ERROR_REACTIONS,
  MAX_BACKOFF_MS,
  RECONNECT_MAX_BACKOFF_MS,
  PING_EVERY_MS,
  createLabClient,
  type LabClient,
  type LabClock,
  type LabSocket,
  type SessionStorageLike,
  type TerminalSink,
} from '../../../components/lab/client';
import type { ProgressSnapshot } from '../../../components/lab/progress';
import type { StoredSession } from '../../../components/lab/storage';
import { FLOW_ACK_EVERY_BYTES, MAX_FRAME_BYTES, type CheckResult, type CreateSessionResponse, type ErrorCode, type ServerMessage } from '../../src/wire';

const LESSON = '01-namespaces/01-pid-and-uts';

/** Time stands still until the test moves it; due timers then run in order. */
class ManualClock implements LabClock {
  private t = 1_700_000_000_000;
  private seq = 0;
  private timers = new Map<number, { at: number; fn: () => void; every?: number }>();
  now() {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number) {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(h: unknown) {
    this.timers.delete(h as number);
  }
  setInterval(fn: () => void, ms: number) {
    const id = ++this.seq;
    this.timers.set(id, { at: this.t + ms, fn, every: ms });
    return id;
  }
  clearInterval(h: unknown) {
    this.timers.delete(h as number);
  }
  get pending() {
    return this.timers.size;
  }
  advance(ms: number) {
    const until = this.t + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, x]) => x.at <= until).sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0];
      if (!due) break;
      const [id, timer] = due;
      this.t = Math.max(this.t, timer.at);
      if (timer.every) timer.at += timer.every;
      else this.timers.delete(id);
      timer.fn();
    }
    this.t = until;
  }
}

/** A terminal socket the test plays the server's side of. */
class FakeSocket implements LabSocket {
  static opened: FakeSocket[] = [];
  readyState = 0;
  binaryType = 'blob';
  readonly sent: (string | Uint8Array)[] = [];
  closedByClient: { code?: number; reason?: string } | null = null;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.opened.push(this);
  }
  send(data: string | Uint8Array) {
    if (this.readyState !== 1) throw new Error('send on a socket that is not open');
    this.sent.push(typeof data === 'string' ? data : data.slice());
  }
  close(code?: number, reason?: string) {
    this.closedByClient = { code, reason };
    this.readyState = 3;
    this.onclose?.({ code: code ?? 1005, reason: reason ?? '' });
  }
  /** The server accepts the upgrade. */
  accept() {
    this.readyState = 1;
    this.onopen?.({});
  }
  say(msg: ServerMessage) {
    this.onmessage?.({ data: JSON.stringify(msg) });
  }
  output(bytes: number) {
    this.onmessage?.({ data: new Uint8Array(bytes).fill(0x41).buffer });
  }
  /** The network drops the socket (or the server closes it). */
  drop(code = 1006, reason = '') {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }
  get messages() {
    return this.sent.filter((x): x is string => typeof x === 'string').map((x) => JSON.parse(x) as { type: string; [k: string]: unknown });
  }
  get frames() {
    return this.sent.filter((x): x is Uint8Array => typeof x !== 'string');
  }
  get typed() {
    return this.frames.map((f) => new TextDecoder().decode(f)).join('');
  }
  get session() {
    return new URL(this.url).searchParams.get('session');
  }
  get token() {
    return new URL(this.url).searchParams.get('token');
  }
}

interface Request {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: unknown;
}
type Answer = { status: number; body?: unknown } | 'network_error';

let sessionSeq = 0;
function sessionReply(over: Partial<CreateSessionResponse> = {}): CreateSessionResponse {
  const id = over.sessionId ?? `s${++sessionSeq}`;
  return {
    sessionId: id,
    token: `${id}.tok1`,
    tokenExpiresAt: 1,
    resumeToken: `resume.${id}.1`,
    resumeTokenExpiresAt: 2,
    runtime: 'gvisor',
    resumed: false,
    expiresAt: 3,
    idleTimeoutMs: 600_000,
    extendsLeft: 1,
    fromPool: false,
    ...over,
  };
}
const labError = (status: number, code: ErrorCode, message: string, retryAfterMs?: number): Answer => ({
  status,
  body: { error: { code, message, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) } },
});

/**
 * A backend that answers like the lab: POST /sessions makes a session (or resumes
 * the one named), checks fail, extends succeed, unless the test queued other answers.
 */
class ScriptedLab {
  readonly requests: Request[] = [];
  readonly live = new Set<string>();
  private scripts = new Map<string, Answer[]>();
  /** The next answers to `METHOD kind` (kind: sessions, checks, extend, delete). */
  next(route: 'POST sessions' | 'POST checks' | 'POST extend' | 'POST restore', ...answers: Answer[]) {
    this.scripts.set(route, [...(this.scripts.get(route) ?? []), ...answers]);
  }
  readonly fetch = (async (url: string | URL | Request, init?: RequestInit) => {
    const path = String(url);
    const method = init?.method ?? 'GET';
    const body = typeof init?.body === 'string' ? JSON.parse(init.body) : undefined;
    this.requests.push({ method, path, headers: { ...(init?.headers as Record<string, string>) }, body });
    const kind = method === 'DELETE' ? 'DELETE' : `${method} ${path.match(/\/(sessions|checks|extend|restore)(\/[^/]+)?$/)?.[1]}`;
    const scripted = this.scripts.get(kind)?.shift();
    const answer = scripted ?? this.default(kind, path, body);
    if (answer === 'network_error') throw new TypeError('fetch failed');
    return new Response(answer.body === undefined ? null : JSON.stringify(answer.body), { status: answer.status, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
  private default(kind: string, path: string, body: { resume?: StoredSession }): Answer {
    if (kind === 'POST sessions') {
      const r = body.resume;
      if (r && this.live.has(r.sessionId)) return { status: 200, body: sessionReply({ sessionId: r.sessionId, token: `${r.sessionId}.tok9`, resumed: true }) };
      const s = sessionReply(r ? { resumeRefused: { code: 'unknown_session', message: 'Your earlier sandbox has ended.' } } : {});
      this.live.add(s.sessionId);
      return { status: 201, body: s };
    }
    if (kind === 'POST checks') {
      const exerciseId = decodeURIComponent(path.split('/').pop()!);
      return { status: 200, body: { exerciseId, passed: false, message: 'not yet', durationMs: 5 } satisfies CheckResult };
    }
    if (kind === 'POST extend') return { status: 200, body: { expiresAt: 9, extendsLeft: 0 } };
    if (kind === 'DELETE') {
      this.live.delete(decodeURIComponent(path.split('/').pop()!));
      return { status: 204 };
    }
    return { status: 404, body: { error: { code: 'bad_request', message: 'no such route' } } };
  }
  get creates() {
    return this.requests.filter((r) => r.method === 'POST' && r.path.endsWith('/sessions'));
  }
}

/** The tab's sessionStorage. */
class TabStorage implements SessionStorageLike {
  readonly map = new Map<string, StoredSession>();
  read(id: string) {
    return this.map.get(id);
  }
  write(id: string, s: StoredSession) {
    this.map.set(id, { ...s });
  }
  clear(id: string) {
    this.map.delete(id);
  }
}

/** The server's recorded progress: what the last refresh answered. */
class RecordedProgress {
  private recorded = new Set<string>();
  private shown: ReadonlySet<string> = new Set();
  private listeners = new Set<() => void>();
  refreshes = 0;
  /** The server records a pass (visible at the next refresh). */
  records(id: string) {
    this.recorded.add(id);
  }
  subscribe = (l: () => void) => {
    this.listeners.add(l);
    return () => {
      this.listeners.delete(l);
    };
  };
  passedIn = (lessonId: string): ReadonlySet<string> => (lessonId === LESSON ? this.shown : new Set());
  refresh = async (): Promise<ProgressSnapshot> => {
    this.refreshes++;
    if ([...this.recorded].some((x) => !this.shown.has(x))) {
      this.shown = new Set(this.recorded);
      for (const l of this.listeners) l();
    }
    return { status: 'ready', exercises: [], error: null };
  };
}

/** A terminal that renders output when told to (or at once). */
class ScreenTerminal implements TerminalSink {
  readonly written: number[] = [];
  private unrendered: (() => void)[] = [];
  focused = 0;
  constructor(
    private autoRender = true,
    readonly cols = 100,
    readonly rows = 30,
  ) {}
  write(chunk: Uint8Array, rendered: () => void) {
    this.written.push(chunk.byteLength);
    if (this.autoRender) rendered();
    else this.unrendered.push(rendered);
  }
  size() {
    return { cols: this.cols, rows: this.rows };
  }
  focus() {
    this.focused++;
  }
  renderNext() {
    this.unrendered.shift()?.();
  }
}

const settle = async () => {
  for (let i = 0; i < 10; i++) await new Promise((r) => setTimeout(r, 0));
};

function lab(opts: { storage?: TabStorage; backend?: ScriptedLab; progress?: RecordedProgress } = {}) {
  FakeSocket.opened = [];
  const clock = new ManualClock();
  const backend = opts.backend ?? new ScriptedLab();
  const storage = opts.storage ?? new TabStorage();
  const progress = opts.progress ?? new RecordedProgress();
  const client = createLabClient({
    lessonId: LESSON,
    fetch: backend.fetch,
    WebSocket: FakeSocket,
    clock,
    storage,
    progress,
    wsUrl: (sessionId, token) => `ws://lab.test/lab-api/ws?${new URLSearchParams({ session: sessionId, token })}`,
  });
  let notified = 0;
  client.subscribe(() => notified++);
  return { client, clock, backend, storage, progress, notified: () => notified, socket: () => FakeSocket.opened[FakeSocket.opened.length - 1] };
}

/** Start, attach a terminal, let the socket open and the sandbox say ready. */
async function ready(l: ReturnType<typeof lab>, term: ScreenTerminal = new ScreenTerminal()) {
  l.client.start();
  await settle();
  const port = l.client.attachTerminal(term);
  l.clock.advance(0);
  const ws = l.socket();
  ws.accept();
  ws.say({ type: 'status', status: 'ready' });
  return { ws, port, term };
}

const snap = (c: LabClient) => c.getSnapshot();

describe('the lab client (components/lab/client.ts)', () => {
  it('start creates a session, stores its credentials and opens the socket once a terminal is attached', async () => {
    const l = lab();
    expect(snap(l.client).connection).toEqual({ kind: 'creating' });
    l.client.start();
    l.client.start(); // once only
    await settle();
    expect(l.backend.creates.map((r) => r.body)).toEqual([{ lessonId: LESSON }]);
    const s = snap(l.client).session!;
    expect(snap(l.client).connection).toEqual({ kind: 'active' });
    expect(l.storage.read(LESSON)).toEqual({ sessionId: s.sessionId, token: s.token, resumeToken: s.resumeToken });
    expect(FakeSocket.opened).toHaveLength(0); // no terminal yet

    const port = l.client.attachTerminal(new ScreenTerminal(true, 120, 40));
    port.detach();
    l.client.attachTerminal(new ScreenTerminal(true, 120, 40)); // strict mode: attach, detach, attach
    l.clock.advance(0);
    expect(FakeSocket.opened).toHaveLength(1);
    const ws = l.socket();
    expect([ws.session, ws.token]).toEqual([s.sessionId, s.token]);
    expect(ws.binaryType).toBe('arraybuffer');
    ws.accept();
    expect(ws.messages).toEqual([{ type: 'resize', cols: 120, rows: 40 }]);
    expect(snap(l.client).terminalState).toBe('connecting');
    expect(snap(l.client).canRun).toBe(false);
    ws.say({ type: 'status', status: 'ready' });
    expect(snap(l.client)).toMatchObject({ terminalState: 'ready', sandboxStatus: 'ready', canRun: true, canCheck: true });
    l.clock.advance(PING_EVERY_MS);
    expect(ws.messages.at(-1)).toEqual({ type: 'ping' });
  });

  it('a reload resumes the session the tab stored, and says so', async () => {
    const backend = new ScriptedLab();
    backend.live.add('kept');
    const storage = new TabStorage();
    storage.write(LESSON, { sessionId: 'kept', token: 'kept.old', resumeToken: 'resume.kept.1' });
    const l = lab({ backend, storage });
    l.client.start();
    await settle();
    expect(backend.creates[0].body).toEqual({ lessonId: LESSON, resume: { sessionId: 'kept', token: 'kept.old', resumeToken: 'resume.kept.1' } });
    expect(snap(l.client).session).toMatchObject({ sessionId: 'kept', resumed: true });
    expect(snap(l.client).resumeNotice).toBeNull();
    expect(storage.read(LESSON)?.token).toBe('kept.tok9');
  });

  it("a refused resume starts fresh and shows the server's message until dismissed", async () => {
    const storage = new TabStorage();
    storage.write(LESSON, { sessionId: 'gone', token: 'gone.t', resumeToken: 'resume.gone.1' });
    const l = lab({ storage });
    l.client.start();
    await settle();
    expect(snap(l.client).resumeNotice).toBe('Your earlier sandbox has ended.');
    expect(snap(l.client).session!.sessionId).not.toBe('gone');
    expect(storage.read(LESSON)!.sessionId).toBe(snap(l.client).session!.sessionId);
    l.client.dismissResumeNotice();
    expect(snap(l.client).resumeNotice).toBeNull();
  });

  it('a dropped socket reconnects with doubling backoff and reattaches to the same session', async () => {
    const l = lab();
    const { ws } = await ready(l);
    const id = snap(l.client).session!.sessionId;
    const gen = snap(l.client).terminalGeneration;
    ws.drop(4000, 'network blip');
    expect(snap(l.client).terminalState).toBe('closed');
    expect(snap(l.client).connection).toEqual({ kind: 'waiting', reason: 'reconnect', message: 'Connection to the sandbox lost (network blip)', retryAt: l.clock.now() + 1000 });
    l.clock.advance(999);
    await settle();
    expect(l.backend.creates).toHaveLength(1);
    l.clock.advance(1);
    await settle();
    expect(l.backend.creates).toHaveLength(2);
    expect((l.backend.creates[1].body as { resume: StoredSession }).resume.sessionId).toBe(id);
    expect(snap(l.client)).toMatchObject({ connection: { kind: 'active' }, terminalState: 'connecting', terminalGeneration: gen + 1 });
    expect(snap(l.client).session).toMatchObject({ sessionId: id, resumed: true });
    l.clock.advance(0);
    expect(FakeSocket.opened).toHaveLength(2);

    // Dropped again before it got ready: twice as long.
    l.socket().drop();
    expect(snap(l.client).connection).toMatchObject({ reason: 'reconnect', message: 'Connection to the sandbox lost', retryAt: l.clock.now() + 2000 });
    // … and no longer than RECONNECT_MAX_BACKOFF_MS: the lab may be restarting, the sandbox lives on.
    l.client.retryNow();
    await settle();
    l.clock.advance(0);
    l.socket().drop();
    expect(snap(l.client).connection).toMatchObject({ reason: 'reconnect', retryAt: l.clock.now() + RECONNECT_MAX_BACKOFF_MS });
    // Retry now does not wait.
    l.client.retryNow();
    await settle();
    expect(l.backend.creates).toHaveLength(4);
  });

  it('the backend unreachable: retries back off up to MAX_BACKOFF_MS', async () => {
    const backend = new ScriptedLab();
    backend.next('POST sessions', ...Array.from({ length: 8 }, () => 'network_error' as const));
    const l = lab({ backend });
    l.client.start();
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      await settle();
      const c = snap(l.client).connection;
      if (c.kind !== 'waiting') throw new Error(`not waiting: ${c.kind}`);
      expect(c).toMatchObject({ reason: 'unreachable', message: 'Lab backend unreachable' });
      delays.push(c.retryAt - l.clock.now());
      l.clock.advance(c.retryAt - l.clock.now());
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16000, MAX_BACKOFF_MS, MAX_BACKOFF_MS]);
  });

  it('a token message updates the session and the stored credentials; checks use the new token', async () => {
    const l = lab();
    const { ws } = await ready(l);
    const id = snap(l.client).session!.sessionId;
    ws.say({ type: 'token', token: `${id}.tok2`, tokenExpiresAt: 100, resumeToken: `resume.${id}.2`, resumeTokenExpiresAt: 200 });
    expect(snap(l.client).session).toMatchObject({ token: `${id}.tok2`, tokenExpiresAt: 100, resumeToken: `resume.${id}.2` });
    expect(l.storage.read(LESSON)).toEqual({ sessionId: id, token: `${id}.tok2`, resumeToken: `resume.${id}.2` });
    expect(FakeSocket.opened).toHaveLength(1); // the same socket goes on
    await l.client.check('sleep-as-init');
    const req = l.backend.requests.find((r) => r.path.includes('/checks/'))!;
    expect(req.headers.Authorization).toBe(`Bearer ${id}.tok2`);
  });

  it('expiring → extend: the warning shows, Extend asks with its reason and clears it; a refusal is shown; typing ends an idle warning', async () => {
    const l = lab();
    const { ws, port } = await ready(l);
    const warning = { type: 'expiring', reason: 'lifetime', endsAt: l.clock.now() + 60_000, extendsLeft: 1 } as const;
    ws.say(warning);
    expect(snap(l.client).expiring).toEqual(warning);
    port.input('x'); // typing does not end a lifetime warning
    expect(snap(l.client).expiring).toEqual(warning);
    await l.client.extend();
    const req = l.backend.requests.find((r) => r.path.endsWith('/extend'))!;
    expect(req.body).toEqual({ reason: 'lifetime' });
    expect(snap(l.client).expiring).toBeNull();

    ws.say(warning);
    l.backend.next('POST extend', labError(409, 'extend_limit', 'Already extended 1 time, the most allowed.'));
    await l.client.extend();
    expect(snap(l.client).extendNote).toBe('Already extended 1 time, the most allowed.');
    expect(snap(l.client).expiring).toEqual(warning);
    ws.say({ type: 'extended', expiresAt: 9, extendsLeft: 0 });
    expect(snap(l.client)).toMatchObject({ expiring: null, extendNote: null });

    ws.say({ type: 'expiring', reason: 'idle', endsAt: l.clock.now() + 60_000, extendsLeft: 0 });
    port.input('t');
    expect(snap(l.client).expiring).toBeNull();
  });

  it('ended shows the reason, closes the terminal, forgets the session and does not reconnect; restart starts a new one', async () => {
    const l = lab();
    const { ws } = await ready(l);
    const old = snap(l.client).session!.sessionId;
    ws.say({ type: 'ended', reason: 'idle', message: 'Stopped after 10 minutes idle.' });
    ws.drop(1000, 'ended');
    expect(snap(l.client)).toMatchObject({
      ended: { reason: 'idle', message: 'Stopped after 10 minutes idle.' },
      terminalState: 'closed',
      sandboxStatus: 'ended',
      canRun: false,
      canCheck: false,
      connection: { kind: 'active' },
    });
    expect(l.storage.read(LESSON)).toBeUndefined();
    l.clock.advance(60_000);
    await settle();
    expect(l.backend.creates).toHaveLength(1);

    l.client.restart();
    await settle();
    expect(l.backend.requests.filter((r) => r.method === 'DELETE')).toHaveLength(0); // it had ended already
    expect(l.backend.creates[1].body).toEqual({ lessonId: LESSON });
    expect(snap(l.client)).toMatchObject({ ended: null, terminalState: 'connecting', connection: { kind: 'active' } });
    expect(snap(l.client).session!.sessionId).not.toBe(old);
  });

  it('stop ends the sandbox on the server and shows it stopped', async () => {
    const l = lab();
    const { ws } = await ready(l);
    const s = snap(l.client).session!;
    l.client.stop();
    await settle();
    const del = l.backend.requests.find((r) => r.method === 'DELETE')!;
    expect(del.path).toBe(`/lab-api/sessions/${s.sessionId}`);
    expect(del.headers.Authorization).toBe(`Bearer ${s.token}`);
    expect(ws.closedByClient).toEqual({ code: 1000, reason: 'stopped' });
    expect(snap(l.client)).toMatchObject({ ended: { reason: 'closed', message: 'You stopped this sandbox.' }, terminalState: 'closed' });
    expect(l.storage.read(LESSON)).toBeUndefined();
    l.clock.advance(60_000);
    await settle();
    expect(l.backend.creates).toHaveLength(1);
  });

  describe('error reactions', () => {
    it('every ErrorCode maps to one of the four reactions', () => {
      for (const r of Object.values(ERROR_REACTIONS)) expect(['retry', 'wait', 'fresh_session', 'fail']).toContain(r);
      expect(ERROR_REACTIONS).toMatchObject({
        lab_full: 'wait',
        rate_limited: 'wait',
        busy: 'retry',
        store_unavailable: 'retry',
        unknown_session: 'fresh_session',
        session_expired: 'fresh_session',
        forbidden: 'fresh_session',
        runtime_disabled: 'fail',
        admin_required: 'fail',
        device_code_used: 'fail',
      });
    });

    it('wait: a full lab or a rate limit waits the time it names, showing its message', async () => {
      const backend = new ScriptedLab();
      backend.next(
        'POST sessions',
        labError(503, 'lab_full', 'The lab is full: 20 sandboxes in use, try again in a moment.', 600_000),
        labError(429, 'rate_limited', 'Too many new sandboxes; try again in 5 s.', 5_000),
      );
      const l = lab({ backend });
      l.client.start();
      await settle();
      expect(snap(l.client).connection).toEqual({
        kind: 'waiting',
        reason: 'lab_full',
        message: 'The lab is full: 20 sandboxes in use, try again in a moment.',
        retryAt: l.clock.now() + 600_000,
      });
      expect(snap(l.client).terminalState).toBe('connecting');
      l.client.retryNow();
      await settle();
      expect(snap(l.client).connection).toMatchObject({ reason: 'rate_limited', retryAt: l.clock.now() + 5_000 });
      l.clock.advance(5_000);
      await settle();
      expect(snap(l.client).connection).toEqual({ kind: 'active' });
    });

    it('retry: a store outage while starting is tried again after its retryAfterMs', async () => {
      const backend = new ScriptedLab();
      backend.next('POST sessions', labError(503, 'store_unavailable', 'The lab could not record this right now.', 5_000));
      const l = lab({ backend });
      l.client.start();
      await settle();
      expect(snap(l.client).connection).toMatchObject({
        kind: 'waiting',
        reason: 'store_unavailable',
        message: 'The lab could not record this right now.',
        retryAt: l.clock.now() + 5_000,
      });
      l.clock.advance(5_000);
      await settle();
      expect(snap(l.client).connection).toEqual({ kind: 'active' });
    });

    it('fail: a lesson that cannot run here shows the message, closes the terminal and waits for "Try again"', async () => {
      const backend = new ScriptedLab();
      backend.next('POST sessions', labError(503, 'runtime_disabled', 'This lesson needs the "microvm" runtime.'));
      const l = lab({ backend });
      l.client.start();
      await settle();
      expect(snap(l.client).connection).toEqual({ kind: 'failed', message: 'This lesson needs the "microvm" runtime.', code: 'runtime_disabled' });
      expect(snap(l.client).terminalState).toBe('closed');
      l.clock.advance(MAX_BACKOFF_MS * 2);
      await settle();
      expect(backend.creates).toHaveLength(1);
      l.client.retryNow();
      await settle();
      expect(backend.creates).toHaveLength(2);
      expect(snap(l.client).terminalGeneration).toBe(1); // a new terminal instance
    });

    it('a check the store could not record is shown as its message, never as passed, and may be run again', async () => {
      const progress = new RecordedProgress();
      const l = lab({ progress });
      await ready(l);
      l.backend.next('POST checks', labError(503, 'store_unavailable', 'The lab could not record this right now, so it did not count.', 5_000));
      const running = l.client.check('sleep-as-init');
      expect(snap(l.client).checks['sleep-as-init']).toEqual({ state: 'running' });
      await running;
      expect(snap(l.client).checks['sleep-as-init']).toEqual({
        state: 'error',
        message: 'The lab could not record this right now, so it did not count.',
        code: 'store_unavailable',
      });
      expect(snap(l.client).passed).toEqual([]);
      expect(snap(l.client).canCheck).toBe(true);
      expect(snap(l.client).connection).toEqual({ kind: 'active' });
      // Busy is shown the same way.
      l.backend.next('POST checks', labError(429, 'busy', '3 checks are already running.', 2_000));
      await l.client.check('sleep-as-init');
      expect(snap(l.client).checks['sleep-as-init']).toMatchObject({ state: 'error', code: 'busy' });
      expect(l.backend.creates).toHaveLength(1);
    });

    it("a check that passes shows at once, and stays once the server's progress confirms it", async () => {
      const progress = new RecordedProgress();
      const l = lab({ progress });
      await ready(l);
      l.backend.next('POST checks', { status: 200, body: { exerciseId: 'sleep-as-init', passed: true, message: 'PID 1', durationMs: 3 } });
      progress.records('sleep-as-init');
      await l.client.check('sleep-as-init');
      await settle();
      expect(snap(l.client).checks['sleep-as-init']).toMatchObject({ state: 'done', result: { passed: true } });
      expect(snap(l.client).passed).toEqual(['sleep-as-init']);
      expect(progress.refreshes).toBe(1);
    });

    it.each(['unknown_session', 'session_expired', 'forbidden'] as const)('fresh_session: a check answered %s shows why and asks for a session again', async (code) => {
      const l = lab();
      await ready(l);
      const held = l.storage.read(LESSON)!;
      l.backend.live.delete(held.sessionId);
      l.backend.next('POST checks', labError(code === 'forbidden' ? 403 : 404, code, `the session is gone (${code})`));
      await l.client.check('sleep-as-init');
      expect(snap(l.client).checks['sleep-as-init']).toMatchObject({ state: 'error', message: `the session is gone (${code})` });
      await settle();
      expect(l.backend.creates).toHaveLength(2);
      expect(l.backend.creates[1].body).toEqual({ lessonId: LESSON, resume: held });
      expect(snap(l.client).resumeNotice).toBe('Your earlier sandbox has ended.');
      expect(snap(l.client).session!.sessionId).not.toBe(held.sessionId);
      expect(snap(l.client).terminalGeneration).toBe(1);
    });

    it('socket errors: a failed sandbox fails, a fresh_session code asks again at once, a retry code reconnects', async () => {
      const l = lab();
      let { ws } = await ready(l);
      ws.say({ type: 'error', code: 'session_expired', message: 'The sandbox is no longer running.' });
      expect(snap(l.client).statusMessage).toBe('The sandbox is no longer running.');
      ws.drop();
      await settle();
      expect(l.backend.creates).toHaveLength(2); // no backoff
      expect(snap(l.client).connection).toEqual({ kind: 'active' });

      l.clock.advance(0);
      ws = l.socket();
      ws.accept();
      ws.say({ type: 'error', code: 'store_unavailable', message: 'The lab could not record this right now.' });
      ws.drop();
      expect(snap(l.client).connection).toMatchObject({ kind: 'waiting', reason: 'reconnect', message: 'The lab could not record this right now.' });
      l.clock.advance(MAX_BACKOFF_MS);
      await settle();
      l.clock.advance(0);
      ws = l.socket();
      ws.accept();
      ws.say({ type: 'status', status: 'error', message: 'The sandbox failed to start: no runsc.' });
      ws.drop();
      expect(snap(l.client).connection).toEqual({ kind: 'failed', message: 'The sandbox failed to start: no runsc.' });
    });
  });

  it('terminal bytes: output is written and acked every FLOW_ACK_EVERY_BYTES or when output goes quiet; input is split into frames', async () => {
    const l = lab();
    const term = new ScreenTerminal(false);
    const { ws, port } = await ready(l, term);
    const half = FLOW_ACK_EVERY_BYTES / 2;
    ws.output(half);
    ws.output(half);
    ws.output(half);
    expect(term.written).toEqual([half, half, half]);
    const acks = () => ws.messages.filter((m) => m.type === 'ack').map((m) => m.bytes);
    term.renderNext();
    expect(acks()).toEqual([]); // 16 KiB rendered, more still being written
    term.renderNext();
    expect(acks()).toEqual([FLOW_ACK_EVERY_BYTES]);
    term.renderNext();
    expect(acks()).toEqual([FLOW_ACK_EVERY_BYTES, half]); // quiet: the rest

    port.input('ls\r');
    port.input(new Uint8Array([0x1b, 0xff]));
    const paste = 'y'.repeat(MAX_FRAME_BYTES + 10);
    port.input(paste);
    expect(ws.frames.map((f) => f.byteLength)).toEqual([3, 2, MAX_FRAME_BYTES, 10]);
    port.resize(90, 20);
    expect(ws.messages.at(-1)).toEqual({ type: 'resize', cols: 90, rows: 20 });

    l.client.runCommand('echo hi');
    expect(ws.typed.endsWith('echo hi\r')).toBe(true);
    expect(term.focused).toBe(1);

    // Detached: nothing more is sent, the socket closes, and that is not a drop.
    port.detach();
    expect(ws.closedByClient).toEqual({ code: 1000, reason: 'client left' });
    port.input('late');
    expect(ws.typed.includes('late')).toBe(false);
    expect(snap(l.client).connection).toEqual({ kind: 'active' });
  });

  it("a viewer's socket sends no keystrokes, resizes or commands (acks still flow), and the snapshot says viewer", async () => {
    const l = lab();
    const { ws, port } = await ready(l);
    const before = ws.sent.length;
    ws.say({ type: 'role', role: 'viewer' });
    expect(snap(l.client).role).toBe('viewer');
    expect(snap(l.client).canRun).toBe(false);
    port.input('rm -rf /\r');
    port.resize(10, 5);
    l.client.runCommand('echo nope');
    expect(ws.sent.length).toBe(before);
    ws.output(100);
    expect(ws.messages.at(-1)).toEqual({ type: 'ack', bytes: 100 });
  });

  it('the viewers count is in the snapshot while it is above zero', async () => {
    const l = lab();
    const { ws } = await ready(l);
    expect(snap(l.client).viewers).toBe(0);
    ws.say({ type: 'viewers', count: 2 });
    expect(snap(l.client).viewers).toBe(2);
    ws.say({ type: 'viewers', count: 0 });
    expect(snap(l.client).viewers).toBe(0);
    ws.say({ type: 'viewers', count: 1 });
    ws.drop();
    l.clock.advance(1000);
    await settle();
    expect(snap(l.client).viewers).toBe(0); // a new attempt knows of nobody yet
  });

  it('the snapshot keeps its identity (and nobody is told) while nothing changes', async () => {
    const l = lab();
    const { ws } = await ready(l);
    const s = snap(l.client);
    const n = l.notified();
    expect(snap(l.client)).toBe(s);
    expect(Object.isFrozen(s)).toBe(true);
    ws.say({ type: 'pong' });
    ws.say({ type: 'status', status: 'ready' });
    ws.say({ type: 'viewers', count: 0 });
    ws.say({ type: 'role', role: 'owner' });
    ws.output(10);
    l.clock.advance(PING_EVERY_MS);
    l.client.dismissResumeNotice();
    expect(snap(l.client)).toBe(s);
    expect(l.notified()).toBe(n);
    ws.say({ type: 'viewers', count: 1 });
    expect(snap(l.client)).not.toBe(s);
    expect(l.notified()).toBe(n + 1);
    expect(l.client.getServerSnapshot()).toBe(l.client.getServerSnapshot());
  });

  it('dispose closes the socket and stops every timer: no reconnect, no answer applied', async () => {
    const l = lab();
    const { ws } = await ready(l);
    l.client.dispose();
    expect(ws.closedByClient).toEqual({ code: 1000, reason: 'client left' });
    expect(l.clock.pending).toBe(0);
    l.clock.advance(MAX_BACKOFF_MS);
    await settle();
    expect(l.backend.creates).toHaveLength(1);
    expect(FakeSocket.opened).toHaveLength(1);
  });

  it('saved work is offered with a new sandbox, restored on request, and a failed restore can be tried again or left', async () => {
    const backend = new ScriptedLab();
    const saved = { savedAt: 1_700_000_000_000, sizeBytes: 1234 };
    backend.next('POST sessions', { status: 201, body: sessionReply({ savedWork: saved }) });
    const l = lab({ backend });
    await ready(l);
    expect(snap(l.client).savedWork).toEqual({ state: 'offered', ...saved });
    backend.next('POST restore', labError(500, 'restore_failed', 'Your saved files could not be put back into this sandbox.'));
    await l.client.restoreWork();
    expect(snap(l.client).savedWork).toEqual({ state: 'failed', ...saved, message: 'Your saved files could not be put back into this sandbox.' });
    expect(snap(l.client).connection).toEqual({ kind: 'active' }); // the sandbox goes on
    backend.next('POST restore', { status: 200, body: saved });
    await l.client.restoreWork();
    expect(snap(l.client).savedWork).toEqual({ state: 'restored', ...saved });
    const restores = backend.requests.filter((r) => r.path.endsWith('/restore'));
    expect(restores).toHaveLength(2);
    expect(restores[0].headers.Authorization).toBe(`Bearer ${snap(l.client).session!.token}`);
    l.client.dismissSavedWork();
    expect(snap(l.client).savedWork).toBeNull();
  });

  it('a reattached sandbox offers no restore (it holds the files already), and starting fresh restores nothing', async () => {
    const backend = new ScriptedLab();
    backend.next('POST sessions', { status: 200, body: sessionReply({ resumed: true, savedWork: { savedAt: 1, sizeBytes: 1 } }) });
    const l = lab({ backend });
    await ready(l);
    expect(snap(l.client).savedWork).toBeNull();

    const other = new ScriptedLab();
    other.next('POST sessions', { status: 201, body: sessionReply({ savedWork: { savedAt: 1, sizeBytes: 1 } }) });
    const fresh = lab({ backend: other });
    await ready(fresh);
    fresh.client.dismissSavedWork();
    await fresh.client.restoreWork();
    expect(other.requests.some((r) => r.path.endsWith('/restore'))).toBe(false);
    // Starting fresh is told to the server (the offered files may then be saved over).
    expect(other.requests.filter((r) => r.path.endsWith('/saved-work/dismiss'))).toHaveLength(1);
  });
});
