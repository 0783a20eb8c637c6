/**
 * The lab panel's client logic as a framework-free state machine: one per lesson
 * (the lesson page, the embed and the instructor's viewer can all use it). No React
 * in here: React reads it with useSyncExternalStore(client.subscribe,
 * client.getSnapshot, client.getServerSnapshot) (LabProvider.tsx), and the unit
 * tests drive it with fakes for every dependency (fetch, WebSocket, storage, clock,
 * progress).
 *
 * What it owns:
 *  - the session: create, or resume from the tab's stored credentials (storage.ts),
 *    retries with backoff, "Retry now", a fresh session when the held one is gone;
 *  - the terminal socket: it opens once a terminal is attached (attachTerminal) and
 *    the session is active, carries output to that terminal (acking what it has
 *    rendered every FLOW_ACK_EVERY_BYTES, and the rest once output goes quiet),
 *    keystrokes and resizes from it (none while the socket's role is viewer),
 *    pings, and every ServerMessage; a drop reconnects with backoff;
 *  - the expiring / extended / ended states and Extend; checks and the passed list
 *    (the server's progress, plus a pass shown at once until the refetch confirms it).
 *
 * Contract: getSnapshot() returns the same frozen object until something in it
 * changed; listeners are told only then.
 */
import {
  FLOW_ACK_EVERY_BYTES,
  MAX_FRAME_BYTES,
  type CheckResult,
  type ClientMessage,
  type CreateSessionRequest,
  type CreateSessionResponse,
  type ErrorCode,
  type ExtendRequest,
  type RuntimeName,
  type SandboxStatus,
  type ServerMessage,
} from '@/lab-backend/src/wire';
import { createSession, deleteSession, dismissSavedWork as dismissSavedWorkCall, extendSession, restoreWork as restoreWorkCall, runCheck, wsUrl, type ApiOutcome } from './api';
import { progress, type ProgressStore } from './progress';
import { clearSession, readSession, writeSession, type StoredSession } from './storage';

export interface LabExercise {
  id: string;
  title: string;
  hint: string;
}

export interface LabLesson {
  id: string;
  title: string;
  runtime: RuntimeName;
  exercises: LabExercise[];
}

// ---------------------------------------------------------------------------
// Error reactions: one table, every wire ErrorCode.

/**
 * What the client does about an error code, wherever it came from:
 *  - retry: something transient; try again after `retryAfterMs`, else after the backoff.
 *  - wait: the lab is busy with others (full, rate limit); wait the time it names, then ask again.
 *  - fresh_session: the session as held is gone or not ours (ended, expired, credentials
 *    or cookie no longer match): ask for a session again with what we hold; the server
 *    reattaches it if it can, else starts a new one and says why (resumeRefused).
 *  - fail: show the message; nothing to do automatically.
 *
 * Per operation: starting a session acts on all four. A check or an extend shows
 * the message (a check never as passed; the learner may press Check again) and, on
 * fresh_session, also asks for a session again. A socket that closes after an
 * `error` message reconnects (retry, wait), asks again at once (fresh_session) or fails.
 */
export type Reaction = 'retry' | 'wait' | 'fresh_session' | 'fail';

export const ERROR_REACTIONS: Record<ErrorCode, Reaction> = {
  bad_request: 'fail',
  unknown_lesson: 'fail',
  unknown_exercise: 'fail',
  unknown_session: 'fresh_session',
  unauthorized: 'fresh_session',
  forbidden_origin: 'fail',
  forbidden_host: 'fail',
  rate_limited: 'wait',
  lab_full: 'wait',
  extend_limit: 'fail',
  runtime_disabled: 'fail',
  sandbox_start_failed: 'fail',
  session_expired: 'fresh_session',
  busy: 'retry',
  payload_too_large: 'fail',
  forbidden: 'fresh_session',
  admin_required: 'fail',
  device_code_unknown: 'fail',
  device_code_used: 'fail',
  device_code_expired: 'fail',
  store_unavailable: 'retry',
  no_saved_work: 'fail',
  restore_failed: 'fail',
  internal: 'fail',
};

/** An unknown code (a newer server) is shown, never acted on. */
export function reactionTo(code: string): Reaction {
  return Object.prototype.hasOwnProperty.call(ERROR_REACTIONS, code) ? ERROR_REACTIONS[code as ErrorCode] : 'fail';
}

// ---------------------------------------------------------------------------
// The snapshot.

/** Forward-only state of one terminal instance (a new instance starts at `connecting`). */
export type TerminalState = 'connecting' | 'ready' | 'closed';
const TERMINAL_RANK: Record<TerminalState, number> = { connecting: 0, ready: 1, closed: 2 };

/** Why the client is waiting to try again: no answer, a lost socket, or the error code the lab gave. */
export type WaitReason = 'unreachable' | 'reconnect' | ErrorCode;

export type Connection =
  { kind: 'creating' } | { kind: 'waiting'; reason: WaitReason; message: string; retryAt: number } | { kind: 'failed'; message: string; code?: ErrorCode } | { kind: 'active' };

export type SavedWorkState =
  | { state: 'offered'; savedAt: number; sizeBytes: number }
  | { state: 'restoring'; savedAt: number; sizeBytes: number }
  | { state: 'restored'; savedAt: number; sizeBytes: number }
  | { state: 'failed'; savedAt: number; sizeBytes: number; message: string };

export type CheckState = { state: 'running' } | { state: 'done'; result: CheckResult } | { state: 'error'; message: string; code?: ErrorCode };

export type EndedInfo = Extract<ServerMessage, { type: 'ended' }>;
export type ExpiringInfo = Extract<ServerMessage, { type: 'expiring' }>;
export type TerminalRole = Extract<ServerMessage, { type: 'role' }>['role'];

export interface LabSnapshot {
  readonly connection: Connection;
  readonly session: CreateSessionResponse | null;
  readonly sandboxStatus: SandboxStatus | null;
  readonly statusMessage: string | null;
  readonly terminalState: TerminalState;
  /** Changes whenever a fresh terminal instance is needed (use as its React key). */
  readonly terminalGeneration: number;
  readonly expiring: ExpiringInfo | null;
  /** Why the last extend was refused, if it was. */
  readonly extendNote: string | null;
  readonly ended: EndedInfo | null;
  /** Set once a resume was refused and a new sandbox started instead; null once dismissed. */
  readonly resumeNotice: string | null;
  readonly checks: Readonly<Record<string, CheckState>>;
  /** Exercise ids of this lesson the server recorded as passed, plus checks that just passed here until the refetch. */
  readonly passed: readonly string[];
  /**
   * The learner's files saved when their last session of this lesson ended:
   * `offered` (restore or start fresh), `restoring`, `restored`, or `failed`
   * (with why; the sandbox is fine). null when there is nothing to offer or
   * the learner chose to start fresh.
   */
  readonly savedWork: SavedWorkState | null;
  /** Read-only viewers following this terminal (0 when none, or not told). */
  readonly viewers: number;
  /** What this client's socket is: the owner's, or a viewer's (keystrokes and resizes are not sent). */
  readonly role: TerminalRole;
  readonly canRun: boolean;
  readonly canCheck: boolean;
}

// ---------------------------------------------------------------------------
// Dependencies.

/** What the client needs of a WebSocket (the browser's fits). */
export interface LabSocket {
  readonly readyState: number;
  binaryType: string;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
}
export type LabSocketConstructor = new (url: string) => LabSocket;
const SOCKET_CONNECTING = 0;
const SOCKET_OPEN = 1;

export interface LabClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export interface SessionStorageLike {
  read(lessonId: string): StoredSession | undefined;
  write(lessonId: string, s: StoredSession): void;
  clear(lessonId: string): void;
}

export interface LabClientDeps {
  lessonId: string;
  fetch: typeof fetch;
  WebSocket: LabSocketConstructor;
  /** The terminal socket's URL for a session and token. */
  wsUrl(sessionId: string, token: string): string;
  storage: SessionStorageLike;
  clock: LabClock;
  progress: Pick<ProgressStore, 'subscribe' | 'refresh' | 'passedIn'>;
}

// ---------------------------------------------------------------------------
// The terminal byte stream.

/** A terminal the client writes output to (xterm.js in TerminalView, a fake in tests). */
export interface TerminalSink {
  /** Show `chunk`; call `rendered` once it is on screen (flow control acks rendered bytes). */
  write(chunk: Uint8Array, rendered: () => void): void;
  /** Its size now (fit to its box first, if it can), sent when the socket opens. */
  size(): { cols: number; rows: number };
  focus?(): void;
}

/** What an attached terminal sends through; everything is ignored once detached. */
export interface TerminalPort {
  /** Keystrokes / pasted text (UTF-8 encoded) or raw bytes. */
  input(data: string | Uint8Array): void;
  resize(cols: number, rows: number): void;
  /** The terminal goes away: its socket is closed (the session lives on for a reload). */
  detach(): void;
}

export interface LabClient {
  subscribe(listener: () => void): () => void;
  getSnapshot(): LabSnapshot;
  /** What the server render and hydration see: the snapshot before start(). */
  getServerSnapshot(): LabSnapshot;
  /** Create or resume the session (once; later calls do nothing). */
  start(): void;
  check(exerciseId: string): Promise<void>;
  /** Answer an expiring warning (default: the current one's reason). */
  extend(reason?: ExtendRequest['reason']): Promise<void>;
  /** End the sandbox: the panel shows it ended, and restart() gives a new one. */
  stop(): void;
  /** Drop the current sandbox (if any) and start a new one. */
  restart(): void;
  /** Try again now instead of waiting for the backoff timer. */
  retryNow(): void;
  dismissResumeNotice(): void;
  /** Put the offered saved files back into the sandbox (once it is ready). */
  restoreWork(): Promise<void>;
  /** Start fresh: the offer goes away (the saved files stay on the server until the next save replaces them). */
  dismissSavedWork(): void;
  /** Type `cmd` and Enter into the terminal (only while it is ready and ours). */
  runCommand(cmd: string): void;
  attachTerminal(sink: TerminalSink): TerminalPort;
  /** Close the socket, stop every timer; the client does nothing more. */
  dispose(): void;
}

export const MAX_BACKOFF_MS = 30_000;
/** The longest wait between tries while a page that had its sandbox cannot reach the lab (see scheduleRetry). */
export const RECONNECT_MAX_BACKOFF_MS = 2_000;
export const PING_EVERY_MS = 30_000;
const UNREACHABLE = 'Lab backend unreachable';
const STOPPED: EndedInfo = { type: 'ended', reason: 'closed', message: 'You stopped this sandbox.' };

/** Every ServerMessage type the client handles; a new one fails typecheck until it is added. */
const SERVER_MESSAGE_TYPES: Record<ServerMessage['type'], true> = {
  status: true,
  token: true,
  expiring: true,
  extended: true,
  ended: true,
  error: true,
  viewers: true,
  role: true,
  pong: true,
};

type State = Omit<LabSnapshot, 'passed' | 'canRun' | 'canCheck'>;

/** One socket and its flow-control counters. */
interface Conn {
  ws: LabSocket | null;
  connectTimer: unknown;
  ping: unknown;
  closedByUs: boolean;
  pendingWrites: number;
  renderedUnacked: number;
}

export function createLabClient(deps: LabClientDeps): LabClient {
  const { lessonId, clock } = deps;
  const encoder = new TextEncoder();

  const initial: State = {
    connection: { kind: 'creating' },
    session: null,
    sandboxStatus: null,
    statusMessage: null,
    terminalState: 'connecting',
    terminalGeneration: 0,
    expiring: null,
    extendNote: null,
    ended: null,
    resumeNotice: null,
    checks: {},
    viewers: 0,
    role: 'owner',
    savedWork: null,
  };
  let state = initial;
  /** Checks that passed here and that the progress refetch has not confirmed yet. */
  let optimistic: ReadonlySet<string> = new Set();
  let passed: readonly string[] = Object.freeze([...deps.progress.passedIn(lessonId)]);
  const build = (s: State): LabSnapshot => {
    const active = s.connection.kind === 'active' && !s.ended;
    return Object.freeze({
      ...s,
      passed,
      canRun: active && s.terminalState === 'ready' && s.role !== 'viewer',
      canCheck: active && s.sandboxStatus === 'ready',
    });
  };
  let snapshot = build(state);
  const serverSnapshot = Object.freeze({ ...build(initial), passed: Object.freeze([]) as readonly string[] });
  const listeners = new Set<() => void>();
  let unsubscribeProgress: (() => void) | null = null;

  let started = false;
  let disposed = false;
  /** Bumped by every attempt; an answer for an older one is ignored. */
  let attemptId = 0;
  let failures = 0;
  let retryTimer: unknown = null;
  /** Why the socket is about to close, told by the server (an error message, or a failed sandbox). */
  let socketError: { message: string; code?: ErrorCode } | null = null;
  let sink: TerminalSink | null = null;
  let conn: Conn | null = null;

  function notify() {
    for (const l of [...listeners]) l();
  }

  function set(patch: Partial<State>) {
    let changed = false;
    for (const k of Object.keys(patch) as (keyof State)[]) {
      if (!Object.is(state[k], patch[k])) {
        changed = true;
        break;
      }
    }
    if (!changed) return;
    state = { ...state, ...patch };
    snapshot = build(state);
    notify();
    maybeConnect();
  }

  function recomputePassed() {
    const merged = [...new Set([...deps.progress.passedIn(lessonId), ...optimistic])];
    if (merged.length === passed.length && merged.every((id, i) => passed[i] === id)) return;
    passed = Object.freeze(merged);
    snapshot = build(state);
    notify();
  }

  function advanceTerminal(next: TerminalState) {
    if (TERMINAL_RANK[next] > TERMINAL_RANK[state.terminalState]) set({ terminalState: next });
  }

  function clearRetry() {
    if (retryTimer !== null) clock.clearTimeout(retryTimer);
    retryTimer = null;
  }

  // --- session attempts ------------------------------------------------------

  /** Start the next attempt at creating/resuming a session. */
  function startAttempt() {
    if (disposed) return;
    clearRetry();
    closeSocket();
    socketError = null;
    const id = ++attemptId;
    // The old terminal instance is finished; a new one starts at `connecting`.
    const fresh = state.terminalState !== 'connecting';
    set({
      connection: { kind: 'creating' },
      ended: null,
      expiring: null,
      sandboxStatus: null,
      statusMessage: null,
      viewers: 0,
      role: 'owner',
      ...(fresh ? { terminalState: 'connecting' as const, terminalGeneration: state.terminalGeneration + 1 } : {}),
    });
    // The backend reattaches it if it still lives (the resume credential outlasts the
    // access token), or starts a new one and says why in `resumeRefused`.
    const resume = deps.storage.read(lessonId);
    const req: CreateSessionRequest = { lessonId, ...(resume ? { resume } : {}) };
    void createSession(req, deps.fetch).then((outcome) => {
      if (disposed || id !== attemptId) return;
      onCreated(outcome, !!resume);
    });
  }

  function onCreated(outcome: ApiOutcome<CreateSessionResponse>, resumed: boolean) {
    if (outcome.ok) {
      const s = outcome.value;
      deps.storage.write(lessonId, { sessionId: s.sessionId, token: s.token, resumeToken: s.resumeToken });
      // Saved work is offered with a new sandbox (a reattached one already holds the learner's files).
      const offer = s.resumed ? {} : { savedWork: s.savedWork ? { state: 'offered' as const, ...s.savedWork } : null };
      set({ session: s, connection: { kind: 'active' }, ...offer, ...(s.resumeRefused ? { resumeNotice: s.resumeRefused.message } : {}) });
      return;
    }
    if (outcome.kind === 'unreachable') {
      scheduleRetry('unreachable', UNREACHABLE);
      return;
    }
    const { code, message, retryAfterMs } = outcome;
    switch (reactionTo(code)) {
      case 'retry':
      case 'wait':
        scheduleRetry(code, message, retryAfterMs);
        return;
      case 'fresh_session':
        // Asking with what we held was refused outright: once more without it, else give up.
        if (resumed) {
          deps.storage.clear(lessonId);
          startAttempt();
        } else fail(message, code);
        return;
      case 'fail':
        fail(message, code);
    }
  }

  function scheduleRetry(reason: WaitReason, message: string, delayMs?: number) {
    // A page that had its sandbox and lost the lab (a restart: the sandbox lives on) asks every few seconds,
    // so it is back soon after the lab is; anything else backs off up to MAX_BACKOFF_MS.
    const lostLab = state.session !== null && (reason === 'reconnect' || reason === 'unreachable');
    const backoff = Math.min(lostLab ? RECONNECT_MAX_BACKOFF_MS : MAX_BACKOFF_MS, 1000 * 2 ** failures);
    failures += 1;
    const delay = Math.max(0, delayMs ?? backoff);
    set({ connection: { kind: 'waiting', reason, message, retryAt: clock.now() + delay } });
    clearRetry();
    retryTimer = clock.setTimeout(() => {
      retryTimer = null;
      startAttempt();
    }, delay);
  }

  function fail(message: string, code?: ErrorCode) {
    set({ connection: { kind: 'failed', message, ...(code ? { code } : {}) } });
    advanceTerminal('closed');
  }

  /** `s` as held is gone or not ours: ask again with what we hold (fresh_session), unless that already happened. */
  function renewIfStill(s: CreateSessionResponse) {
    if (disposed || state.connection.kind !== 'active' || state.session?.sessionId !== s.sessionId) return;
    advanceTerminal('closed');
    startAttempt();
  }

  // --- the socket ------------------------------------------------------------

  function maybeConnect() {
    const s = state.session;
    if (disposed || conn || !sink || !s || state.connection.kind !== 'active' || state.ended || state.terminalState === 'closed') return;
    const c: Conn = { ws: null, connectTimer: null, ping: null, closedByUs: false, pendingWrites: 0, renderedUnacked: 0 };
    conn = c;
    // Deferred a tick so an attach / detach / attach (React strict mode) opens one socket, not two.
    c.connectTimer = clock.setTimeout(() => {
      c.connectTimer = null;
      open(c, s.sessionId, s.token);
    }, 0);
  }

  function open(c: Conn, sessionId: string, token: string) {
    const ws = new deps.WebSocket(deps.wsUrl(sessionId, token));
    c.ws = ws;
    ws.binaryType = 'arraybuffer';
    ws.onopen = () => {
      if (conn !== c || !sink) return;
      const { cols, rows } = sink.size();
      sendResize(cols, rows);
    };
    ws.onmessage = (ev) => {
      if (conn !== c) return;
      if (ev.data instanceof ArrayBuffer) {
        onOutput(c, new Uint8Array(ev.data));
        return;
      }
      if (typeof ev.data !== 'string') return;
      let msg: ServerMessage;
      try {
        msg = JSON.parse(ev.data) as ServerMessage;
      } catch {
        return;
      }
      if (!msg || typeof msg !== 'object' || !Object.prototype.hasOwnProperty.call(SERVER_MESSAGE_TYPES, msg.type)) return;
      onServerMessage(msg);
    };
    ws.onclose = (ev) => {
      if (c.ping !== null) clock.clearInterval(c.ping);
      c.ping = null;
      if (conn === c) conn = null;
      if (c.closedByUs || disposed) return;
      onSocketClosed(ev.reason);
    };
    c.ping = clock.setInterval(() => sendJson({ type: 'ping' }, c), PING_EVERY_MS);
  }

  function closeSocket(reason = 'client left') {
    const c = conn;
    if (!c) return;
    conn = null;
    c.closedByUs = true;
    if (c.connectTimer !== null) clock.clearTimeout(c.connectTimer);
    if (c.ping !== null) clock.clearInterval(c.ping);
    c.ping = null;
    const ws = c.ws;
    if (ws && (ws.readyState === SOCKET_OPEN || ws.readyState === SOCKET_CONNECTING)) ws.close(1000, reason);
  }

  const isOpen = (c: Conn | null): c is Conn & { ws: LabSocket } => !!c && !!c.ws && c.ws.readyState === SOCKET_OPEN;

  function sendJson(msg: ClientMessage, c: Conn | null = conn) {
    if (isOpen(c)) c.ws.send(JSON.stringify(msg));
  }

  function sendBytes(bytes: Uint8Array) {
    const c = conn;
    if (!isOpen(c)) return;
    for (let i = 0; i < bytes.length; i += MAX_FRAME_BYTES) c.ws.send(bytes.subarray(i, i + MAX_FRAME_BYTES));
  }

  function sendResize(cols: number, rows: number) {
    if (state.role === 'viewer') return;
    sendJson({ type: 'resize', cols, rows });
  }

  function onOutput(c: Conn, chunk: Uint8Array) {
    const n = chunk.byteLength;
    const flushAck = () => {
      if (c.renderedUnacked > 0 && isOpen(c)) {
        sendJson({ type: 'ack', bytes: c.renderedUnacked }, c);
        c.renderedUnacked = 0;
      }
    };
    const rendered = () => {
      c.pendingWrites -= 1;
      c.renderedUnacked += n;
      // Ack in FLOW_ACK_EVERY_BYTES steps, and whatever is left once output goes quiet.
      if (c.renderedUnacked >= FLOW_ACK_EVERY_BYTES || c.pendingWrites === 0) flushAck();
    };
    c.pendingWrites += 1;
    if (sink) sink.write(chunk, rendered);
    else rendered(); // nobody to show it to: do not hold the sandbox back for it
  }

  function onServerMessage(msg: ServerMessage) {
    switch (msg.type) {
      case 'status':
        if (msg.status === 'ready') failures = 0;
        else if (msg.status === 'error') socketError = { message: msg.message ?? 'The sandbox failed.' };
        set({ sandboxStatus: msg.status, statusMessage: msg.message ?? null });
        if (msg.status === 'ready') advanceTerminal('ready');
        break;
      case 'token': {
        const s = state.session;
        if (!s) break;
        set({ session: { ...s, token: msg.token, tokenExpiresAt: msg.tokenExpiresAt, resumeToken: msg.resumeToken, resumeTokenExpiresAt: msg.resumeTokenExpiresAt } });
        deps.storage.write(lessonId, { sessionId: s.sessionId, token: msg.token, resumeToken: msg.resumeToken });
        break;
      }
      case 'expiring':
        set({ expiring: msg });
        break;
      case 'extended':
        set({ expiring: null, extendNote: null });
        break;
      case 'ended':
        deps.storage.clear(lessonId);
        set({ ended: msg, expiring: null, sandboxStatus: 'ended', viewers: 0 });
        advanceTerminal('closed');
        break;
      case 'error':
        socketError = { message: msg.message, code: msg.code };
        set({ statusMessage: msg.message });
        break;
      case 'viewers':
        set({ viewers: Number.isFinite(msg.count) && msg.count > 0 ? Math.floor(msg.count) : 0 });
        break;
      case 'role':
        set({ role: msg.role === 'viewer' ? 'viewer' : 'owner' });
        break;
      case 'pong':
        break;
    }
  }

  function onSocketClosed(reason: string) {
    advanceTerminal('closed');
    if (state.ended) return;
    const err = socketError;
    if (err) {
      const reaction = err.code ? reactionTo(err.code) : 'fail';
      if (reaction === 'fresh_session') {
        startAttempt();
        return;
      }
      if (reaction === 'fail') {
        fail(err.message, err.code);
        return;
      }
      scheduleRetry('reconnect', err.message);
      return;
    }
    scheduleRetry('reconnect', reason ? `Connection to the sandbox lost (${reason})` : 'Connection to the sandbox lost');
  }

  // --- actions ---------------------------------------------------------------

  function userInput() {
    if (state.expiring?.reason === 'idle') set({ expiring: null });
  }

  async function check(exerciseId: string) {
    const s = state.session;
    if (!s || disposed) return;
    const setCheck = (c: CheckState) => set({ checks: { ...state.checks, [exerciseId]: c } });
    setCheck({ state: 'running' });
    const outcome = await runCheck(s.sessionId, s.token, exerciseId, deps.fetch);
    // Gone while it ran (a restart cleared the checks): the answer is for a sandbox no longer shown.
    if (disposed || state.checks[exerciseId]?.state !== 'running') return;
    if (outcome.ok) {
      setCheck({ state: 'done', result: outcome.value });
      // The server recorded the result before answering; show a pass at once, then what the server says.
      if (outcome.value.passed) {
        optimistic = new Set(optimistic).add(exerciseId);
        recomputePassed();
      }
      void deps.progress.refresh().then((snap) => {
        if (snap.status !== 'ready' || !optimistic.has(exerciseId)) return;
        const rest = new Set(optimistic);
        rest.delete(exerciseId);
        optimistic = rest;
        recomputePassed();
      });
      return;
    }
    if (outcome.kind === 'unreachable') {
      setCheck({ state: 'error', message: 'Lab backend unreachable — try again in a moment.' });
      return;
    }
    // Whatever the reaction, a check that did not run is shown as such, never as passed.
    setCheck({ state: 'error', message: outcome.message, code: outcome.code });
    if (reactionTo(outcome.code) === 'fresh_session') renewIfStill(s);
  }

  async function extend(reason?: ExtendRequest['reason']) {
    const s = state.session;
    const why = reason ?? state.expiring?.reason;
    if (!s || !why || disposed) return;
    const r = await extendSession(s.sessionId, s.token, why, deps.fetch);
    if (disposed) return;
    if (r.ok) {
      set({ expiring: null, extendNote: null });
      return;
    }
    set({ extendNote: r.kind === 'error' ? r.message : 'The lab did not answer; try again.' });
    if (r.kind === 'error' && reactionTo(r.code) === 'fresh_session') renewIfStill(s);
  }

  async function restore() {
    const s = state.session;
    const offer = state.savedWork;
    if (!s || disposed || !offer || (offer.state !== 'offered' && offer.state !== 'failed')) return;
    const info = { savedAt: offer.savedAt, sizeBytes: offer.sizeBytes };
    set({ savedWork: { state: 'restoring', ...info } });
    const r = await restoreWorkCall(s.sessionId, s.token, deps.fetch);
    if (disposed || state.session?.sessionId !== s.sessionId) return;
    if (r.ok) {
      set({ savedWork: { state: 'restored', ...info } });
      return;
    }
    set({ savedWork: { state: 'failed', ...info, message: r.kind === 'error' ? r.message : 'The lab did not answer; try again.' } });
    if (r.kind === 'error' && reactionTo(r.code) === 'fresh_session') renewIfStill(s);
  }

  /** End the held session on the server and forget it. */
  function dropSession() {
    const s = state.session;
    if (s && !state.ended) deleteSession(s.sessionId, s.token, deps.fetch);
    deps.storage.clear(lessonId);
    closeSocket('stopped');
  }

  function attachTerminal(next: TerminalSink): TerminalPort {
    if (sink && sink !== next) closeSocket(); // the socket belonged to the other terminal
    sink = next;
    maybeConnect();
    const mine = () => sink === next && !disposed;
    return {
      input(data) {
        if (!mine()) return;
        userInput();
        if (state.role === 'viewer') return;
        sendBytes(typeof data === 'string' ? encoder.encode(data) : data);
      },
      resize(cols, rows) {
        if (mine()) sendResize(cols, rows);
      },
      detach() {
        if (sink !== next) return;
        sink = null;
        closeSocket();
      },
    };
  }

  return {
    subscribe(listener) {
      listeners.add(listener);
      if (!unsubscribeProgress && !disposed) {
        unsubscribeProgress = deps.progress.subscribe(recomputePassed);
        recomputePassed();
      }
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0 && unsubscribeProgress) {
          unsubscribeProgress();
          unsubscribeProgress = null;
        }
      };
    },
    getSnapshot: () => snapshot,
    getServerSnapshot: () => serverSnapshot,
    start() {
      if (started || disposed) return;
      started = true;
      startAttempt();
    },
    check,
    extend,
    stop() {
      if (disposed || !state.session || state.ended) return;
      clearRetry();
      dropSession();
      set({ ended: STOPPED, expiring: null, sandboxStatus: 'ended', viewers: 0 });
      advanceTerminal('closed');
    },
    restart() {
      if (disposed) return;
      dropSession();
      set({ session: null, checks: {}, resumeNotice: null });
      failures = 0;
      // Make sure the terminal instance is replaced even if it never got ready.
      advanceTerminal('closed');
      started = true;
      startAttempt();
    },
    retryNow() {
      if (!disposed) startAttempt();
    },
    dismissResumeNotice() {
      set({ resumeNotice: null });
    },
    restoreWork: restore,
    dismissSavedWork() {
      const s = state.session;
      const w = state.savedWork;
      // Starting fresh is the learner's answer: the server may then save this sandbox's files over the offered ones.
      if (s && w && (w.state === 'offered' || w.state === 'failed')) void dismissSavedWorkCall(s.sessionId, s.token, deps.fetch);
      set({ savedWork: null });
    },
    runCommand(cmd) {
      if (state.terminalState !== 'ready' || state.role === 'viewer' || !isOpen(conn)) return;
      sendBytes(encoder.encode(`${cmd}\r`));
      sink?.focus?.();
    },
    attachTerminal,
    dispose() {
      if (disposed) return;
      clearRetry();
      closeSocket();
      disposed = true;
      sink = null;
      unsubscribeProgress?.();
      unsubscribeProgress = null;
    },
  };
}

/**
 * The browser's dependencies. Nothing is touched until the client uses it, so this
 * can run in the server render too (where the client is never started).
 */
export function browserLabDeps(lessonId: string): LabClientDeps {
  return {
    lessonId,
    fetch: (input, init) => fetch(input, init),
    // Looked up when a socket is opened, not here: there is no WebSocket in the server render.
    WebSocket: function BrowserSocket(url: string) {
      return new WebSocket(url);
    } as unknown as LabSocketConstructor,
    wsUrl,
    storage: { read: readSession, write: writeSession, clear: clearSession },
    clock: {
      now: () => Date.now(),
      setTimeout: (fn, ms) => setTimeout(fn, ms),
      clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
      setInterval: (fn, ms) => setInterval(fn, ms),
      clearInterval: (h) => clearInterval(h as ReturnType<typeof setInterval>),
    },
    progress,
  };
}
