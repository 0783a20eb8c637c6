/**
 * SessionManager: owns every sandbox's lifetime. One session = one learner ×
 * one lesson = one sandbox (for now). It decides all policy the drivers must
 * not: global and per-client caps, creation rate, idle timeout and max
 * lifetime (with a warning first), the reconnect grace after the last socket
 * closes, check timeouts, and reaping what a previous run left behind.
 *
 * Capabilities hang off the session: `session.terminal` (the learner's shell,
 * an exec with a PTY that outlives sockets so a reload finds it) and
 * `session.checks` (each check an exec without a PTY, never typed into the
 * terminal).
 */
import { randomBytes } from 'node:crypto';
import type { LabConfig } from './config';
import type { Lesson } from './content';
import { ExecRefusedError, type Driver, type Sandbox, type SandboxLimits, type SandboxProcess } from './sandbox/driver';
import {
  ChecksBusyError, ExtendLimitError, LabError, LabFullError, RateLimitedError, RuntimeDisabledError, SandboxStartError, UnknownExerciseError, toLabError,
} from './errors';
import { RateLimiter } from './ratelimit';
import { CHECK_ENV, checkArgv, sandboxShellArgv } from './sandbox/toolbox';
import type { CheckResult, RuntimeName, SandboxStatus, ServerMessage } from './wire';
import { FLOW_HIGH_WATER_BYTES, FLOW_LOW_WATER_BYTES } from './wire';
import { SessionEvents, type EndReason, type SessionEvent } from './events';
import { learnerRecordOf, principalKey, type Principal } from './identity/principal';
import { SessionRecorder } from './session-recorder';
import { StoreUnavailableError } from './errors';
import type { Store } from './store/store';

/** The part of the lab's configuration the SessionManager enforces (see config.ts for meanings). */
export type SessionPolicy = Pick<LabConfig, typeof POLICY_KEYS[number]> & { limits: SandboxLimits; poolSizes?: Partial<Record<RuntimeName, number>> };

export const POLICY_KEYS = [
  'maxSandboxes', 'maxSandboxesPerClient', 'sessionsPerClientPerMinute', 'idleTimeoutMs', 'maxLifetimeMs',
  'warnBeforeEndMs', 'reconnectGraceMs', 'checkTimeoutMs', 'checkOutputBytes', 'maxQueue', 'extendByMs', 'maxExtends',
] as const;

export function policyFrom(config: LabConfig): SessionPolicy {
  const picked = Object.fromEntries(POLICY_KEYS.map((k) => [k, config[k]])) as Pick<LabConfig, typeof POLICY_KEYS[number]>;
  return { ...picked, limits: config.sandbox, poolSizes: config.poolSizes };
}

export interface SessionManagerDeps {
  drivers: Partial<Record<RuntimeName, Driver>>;
  policy: SessionPolicy;
  /** Where learners, sessions and every check result are recorded (store/store.ts). */
  store: Store;
  /** Root filesystem of a lesson image; throws when it is not built. */
  rootfsFor(image: string): string;
  now?: () => number;
  log?: (msg: string) => void;
  /** Lessons to keep warm sandboxes for (policy.poolSizes says how many per runtime). */
  poolLessons?: () => Promise<Lesson[]>;
}

/** The socket side of a terminal, as the session sees it (a WebSocket in production). */
export interface TerminalPeer {
  /** Queue output on the socket; the peer calls terminal.outputFlushed() as queued bytes leave. */
  sendOutput(chunk: Buffer): void;
  /** Output bytes queued on the socket that the network has not taken yet. */
  readonly queuedOutputBytes: number;
  send(msg: ServerMessage): void;
  close(code: number, reason: string): void;
  /** Stop reading keystrokes from the socket (the shell is not taking them); resumeInput() to go on. */
  pauseInput(): void;
  resumeInput(): void;
}

export type { EndReason } from './events';

const TOMBSTONE_MS = 60_000;
/** A lesson whose warm sandbox failed to boot is not retried sooner than this. */
const POOL_RETRY_MS = 60_000;
const TERMINAL_REPLAY_BYTES = 64 * 1024;
/** Output queued on a socket the client does not read: pause the shell above, resume below (whatever it acks). */
export const SOCKET_HIGH_WATER_BYTES = 256 * 1024;
export const SOCKET_LOW_WATER_BYTES = 64 * 1024;
/** Keystrokes the shell has not taken yet: stop reading the socket above, read again below. */
export const INPUT_HIGH_WATER_BYTES = 256 * 1024;
export const INPUT_LOW_WATER_BYTES = 64 * 1024;
/** Checks one session may have running or waiting; beyond it a check is refused as busy. */
export const MAX_QUEUED_CHECKS = 4;
/** How long a sandbox may take to boot (a microVM under TCG on a loaded host takes up to ~30 s). */
const BOOT_TIMEOUT_MS = 180_000;
/** How long the sandbox may take to start the learner's shell. */
const SHELL_START_MS = 60_000;
const SHELL = ['/bin/bash', '-l'];

export class Session {
  readonly id = randomBytes(12).toString('hex');
  /** What happens to this session, in order (events.ts): the terminal and the store's recorder follow it. */
  readonly events: SessionEvents;
  status: SandboxStatus = 'starting';
  statusMessage?: string;
  sandbox: Sandbox | null = null;
  /** When the learner got it (a warm sandbox's clock starts when it is claimed). */
  createdAt: number;
  /** The session ends at this time unless extended; set when its sandbox starts booting for the learner. */
  expiresAt: number;
  lastActivityAt: number;
  /** A warm-pool sandbox nobody has claimed yet: no lifetime, no socket, not counted as in use. */
  pooled = false;
  fromPool = false;
  extendsUsed = 0;
  /** When the last socket went away (null while one is attached). */
  detachedAt: number | null;
  endReason: EndReason | null = null;
  endedAt: number | null = null;
  /** Settles once end() has destroyed the sandbox (set by the first end()). */
  ending: Promise<void> | null = null;
  warned: { idle?: number; lifetime?: number } = {};
  readonly ready: Promise<void>;
  private resolveReady!: () => void;
  /** Settles when the boot attempt is over (either way); end() waits for it. */
  booted: Promise<void> = Promise.resolve();
  readonly bootAbort = new AbortController();
  readonly terminal: SessionTerminal;
  readonly checks: SessionChecks;

  /**
   * @param owner who the session belongs to; null only for a warm-pool
   *   sandbox, which gets its owner when a learner claims it.
   */
  constructor(public lesson: Lesson, public owner: Principal | null, readonly manager: SessionManager, now: number) {
    this.events = new SessionEvents((err, e) => manager.logLine(`session ${this.id}: a listener of ${e.type} failed: ${(err as Error)?.stack ?? err}`));
    this.createdAt = now;
    this.lastActivityAt = now;
    this.detachedAt = now;
    this.expiresAt = now + manager.policy.maxLifetimeMs;
    this.ready = new Promise((r) => { this.resolveReady = r; });
    this.terminal = new SessionTerminal(this);
    this.checks = new SessionChecks(this);
  }

  get runtime(): RuntimeName { return this.lesson.runtime; }
  /** principalKey() of the owner: what caps and rate limits count under ('' for an unclaimed warm sandbox). */
  get ownerKey(): string { return this.owner ? principalKey(this.owner) : ''; }
  get sandboxId(): string | null { return this.sandbox?.id ?? null; }
  /** When the learner's clock started (the store's startedAt). */
  get startedAt(): number { return this.createdAt; }

  emit(event: SessionEvent) { this.events.emit(event); }
  get ended(): boolean { return this.status === 'ended' || this.status === 'error'; }
  get extendsLeft(): number { return Math.max(0, this.manager.policy.maxExtends - this.extendsUsed); }

  setStatus(status: SandboxStatus, message?: string, queuePosition?: number) {
    if (this.ended) return; // forward-only
    this.status = status;
    this.statusMessage = message;
    this.emit({ type: 'status', status, ...(message ? { message } : {}), ...(queuePosition ? { queuePosition } : {}) });
    if (status === 'ready' || this.ended) this.resolveReady();
  }

  /** The learner's clock starts now: lifetime, idle time and the reconnect grace. */
  startClock(now: number) {
    this.createdAt = now;
    this.lastActivityAt = now;
    this.expiresAt = now + this.manager.policy.maxLifetimeMs;
    if (this.detachedAt !== null) this.detachedAt = now;
  }

  touch() {
    this.lastActivityAt = this.manager.now();
    if (this.warned.idle !== undefined) {
      this.warned.idle = undefined;
      this.emit({ type: 'extended', expiresAt: this.expiresAt, extendsLeft: this.extendsLeft });
    }
  }

  /**
   * The learner answered a warning. For idle it is activity; for the lifetime it
   * adds policy.extendByMs, at most policy.maxExtends times (ExtendLimitError after).
   */
  extend(reason: 'idle' | 'lifetime'): { expiresAt: number; extendsLeft: number } {
    if (this.ended) throw new LabError('session_expired', 'This sandbox has already ended.', 410);
    if (reason === 'lifetime') {
      if (this.extendsLeft <= 0) throw new ExtendLimitError(this.manager.policy.maxExtends);
      this.extendsUsed++;
      this.expiresAt += this.manager.policy.extendByMs;
      this.warned.lifetime = undefined;
    }
    this.lastActivityAt = this.manager.now();
    this.warned.idle = undefined;
    const r = { expiresAt: this.expiresAt, extendsLeft: this.extendsLeft };
    this.emit({ type: 'extended', ...r });
    return r;
  }
}

/** The learner's shell: one PTY exec, kept across socket reconnects, with end-to-end flow control. */
export class SessionTerminal {
  private proc: SandboxProcess | null = null;
  private peer: TerminalPeer | null = null;
  private replay: Buffer[] = [];
  private replayBytes = 0;
  /** Output sent to the current peer, and how much of it the peer acknowledged (never more than was sent). */
  private sent = 0;
  private acked = 0;
  private paused = false;
  private inputPaused = false;
  private cols = 80;
  private rows = 24;
  private spawning: Promise<void> | null = null;

  constructor(private readonly session: Session) {
    session.events.on((e) => {
      if (e.type === 'status' || e.type === 'expiring' || e.type === 'extended') this.peer?.send(e);
      else if (e.type === 'ended') this.endPeer({ type: 'ended', reason: e.reason, message: e.message });
    });
  }

  get attached(): boolean { return this.peer !== null; }

  /** A socket arrived: it replaces any previous one (a reload), gets the screen so far, then live output. */
  async attach(peer: TerminalPeer, size?: { cols: number; rows: number }): Promise<void> {
    const s = this.session;
    if (s.ended) {
      peer.send({ type: 'status', status: s.status, ...(s.statusMessage ? { message: s.statusMessage } : {}) });
      peer.send({ type: 'ended', reason: s.endReason ?? 'closed', message: s.statusMessage ?? 'This sandbox has ended.' });
      peer.close(1000, 'session ended');
      return;
    }
    if (this.peer) this.peer.close(4000, 'replaced by a newer connection');
    this.peer = peer;
    s.detachedAt = null;
    this.sent = 0;
    this.acked = 0;
    this.inputPaused = false;
    if (size) { this.cols = size.cols; this.rows = size.rows; }
    peer.send({ type: 'status', status: s.status, ...(s.statusMessage ? { message: s.statusMessage } : {}), ...(s.status === 'queued' ? { queuePosition: s.manager.queuePosition(s) } : {}) });
    await s.ready;
    if (this.peer !== peer || s.ended) return;
    await this.ensureShell();
    if (this.peer !== peer) return;
    for (const chunk of this.replay) peer.sendOutput(chunk);
    this.sent += this.replayBytes;
    this.proc?.resize(this.cols, this.rows);
    this.checkFlow();
  }

  detach(peer: TerminalPeer) {
    if (this.peer !== peer) return;
    this.peer = null;
    this.session.detachedAt = this.session.manager.now();
    this.resumeOutput();
  }

  /** Keystrokes: when the shell stops taking them, the socket stops being read until it catches up. */
  input(data: Buffer) {
    this.session.touch();
    const proc = this.proc;
    if (!proc) return;
    proc.write(data);
    if (!this.inputPaused && proc.pendingInputBytes > INPUT_HIGH_WATER_BYTES) {
      this.inputPaused = true;
      this.peer?.pauseInput();
    }
  }

  private inputDrained(proc: SandboxProcess) {
    if (this.inputPaused && this.proc === proc && proc.pendingInputBytes <= INPUT_LOW_WATER_BYTES) {
      this.inputPaused = false;
      this.peer?.resumeInput();
    }
  }

  resize(cols: number, rows: number) {
    this.cols = Math.min(Math.max(cols | 0, 2), 500);
    this.rows = Math.min(Math.max(rows | 0, 2), 200);
    this.proc?.resize(this.cols, this.rows);
  }

  /** The client rendered `bytes` more of the output; an ack never counts for more than was sent. */
  ack(bytes: number) {
    if (!Number.isFinite(bytes) || bytes <= 0) return;
    this.acked = Math.min(this.sent, this.acked + Math.floor(bytes));
    this.checkFlow();
  }

  /** The socket's queue shrank (the network took some output). */
  outputFlushed() { this.checkFlow(); }

  /** Output in flight: what the client has not acknowledged, and what still sits on the socket. */
  get flow(): { unacked: number; queued: number; paused: boolean; inputPaused: boolean; pendingInput: number } {
    return {
      unacked: this.sent - this.acked, queued: this.peer?.queuedOutputBytes ?? 0, paused: this.paused,
      inputPaused: this.inputPaused, pendingInput: this.proc?.pendingInputBytes ?? 0,
    };
  }

  /** Pause the shell's output while either the client's acks or the socket's queue are behind; resume when both caught up. */
  private checkFlow() {
    const unacked = this.sent - this.acked;
    const queued = this.peer?.queuedOutputBytes ?? 0;
    if (!this.paused && (unacked >= FLOW_HIGH_WATER_BYTES || queued >= SOCKET_HIGH_WATER_BYTES)) {
      this.paused = true;
      this.proc?.pause();
    } else if (this.paused && unacked <= FLOW_LOW_WATER_BYTES && queued <= SOCKET_LOW_WATER_BYTES) {
      this.resumeOutput();
    }
  }

  private resumeOutput() { if (this.paused) { this.paused = false; this.proc?.resume(); } }

  /** Start the shell before anyone is attached (at boot). */
  prewarm(): Promise<void> { return this.ensureShell(); }

  private ensureShell(): Promise<void> {
    if (this.proc) return Promise.resolve();
    this.spawning ??= this.spawnShell().finally(() => { this.spawning = null; });
    return this.spawning;
  }

  private async spawnShell(): Promise<void> {
    const s = this.session;
    if (!s.sandbox || s.ended) return;
    const deadline = AbortSignal.any([s.bootAbort.signal, AbortSignal.timeout(SHELL_START_MS)]);
    const proc = await s.manager.driverFor(s.runtime).exec(s.sandbox, SHELL, { tty: true, cols: this.cols, rows: this.rows, cwd: '/root' }, deadline)
      .catch((err) => { throw new SandboxStartError(deadline.aborted && !s.ended ? `The sandbox did not start a shell within ${SHELL_START_MS / 1000} s.` : `Could not start a shell: ${(err as Error).message}`); });
    if (s.ended) { void proc.kill('SIGKILL'); return; }
    this.proc = proc;
    this.paused = false;
    this.inputPaused = false;
    this.peer?.resumeInput();
    proc.onData((chunk) => this.output(chunk));
    proc.onInputDrain(() => this.inputDrained(proc));
    void proc.exited.then(() => {
      if (this.proc !== proc) return;
      this.proc = null;
      if (s.ended) return;
      this.output(Buffer.from('\r\n[the shell exited; starting a new one]\r\n'));
      if (this.peer) {
        this.ensureShell().catch((err) => {
          // The sandbox is gone (or its agent): the manager's next tick ends the session and says why.
          s.manager.logLine(`session ${s.id}: could not restart the shell: ${toLabError(err).message}`);
        });
      }
    });
  }

  private output(chunk: Buffer) {
    this.replay.push(chunk);
    this.replayBytes += chunk.length;
    while (this.replayBytes > TERMINAL_REPLAY_BYTES && this.replay.length > 1) this.replayBytes -= this.replay.shift()!.length;
    if (!this.peer) return; // nobody watching: the replay buffer keeps the tail, output keeps flowing
    this.peer.sendOutput(chunk);
    this.sent += chunk.length;
    this.checkFlow();
  }

  async close() {
    const proc = this.proc;
    this.proc = null;
    await proc?.kill('SIGKILL');
  }

  endPeer(msg: ServerMessage) {
    const peer = this.peer;
    this.peer = null;
    peer?.send(msg);
    peer?.close(1000, 'session ended');
  }
}

/** Exercise checks: each an exec without a PTY, bounded in time and output, one at a time per session. */
export class SessionChecks {
  private queue: Promise<unknown> = Promise.resolve();
  /** Checks running or waiting in this session. */
  private waiting = 0;
  constructor(private readonly session: Session) {}

  /** Run one exercise's check; at most MAX_QUEUED_CHECKS at a time per session (ChecksBusyError beyond). */
  run(exerciseId: string): Promise<CheckResult> {
    const ex = this.session.lesson.exercises.find((e) => e.id === exerciseId);
    if (!ex) return Promise.reject(new UnknownExerciseError(exerciseId));
    if (this.waiting >= MAX_QUEUED_CHECKS) return Promise.reject(new ChecksBusyError(this.waiting));
    this.session.touch();
    this.waiting++;
    const next = this.queue.then(() => this.runOne(exerciseId, ex.checkScript, ex.timeoutMs)).finally(() => { this.waiting--; });
    this.queue = next.catch(() => {});
    return next;
  }

  /**
   * Run a lesson script (check, setup, or a solution in tests and tools)
   * inside the sandbox as its own process, with `shell`'s bash. Callers other
   * than boot wait for `session.ready` first.
   */
  async runScript(script: string, timeoutMs: number, shell: ScriptShell = 'sandbox'): Promise<ScriptResult> {
    const s = this.session;
    const m = s.manager;
    if (!s.sandbox || s.endReason) throw new LabError('session_expired', 'The sandbox is no longer running.', 410);
    const started = m.now();
    // The deadline starts before the sandbox is asked to start the process: a sandbox
    // that never answers (a blocked or replaced agent) cannot hold a check open.
    const deadline = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; deadline.abort(); }, timeoutMs);
    let proc: SandboxProcess;
    try {
      // A check: the toolbox's own shell and tools, not the sandbox's (which the learner, as root, can replace): toolbox.ts.
      const how = shell === 'toolbox' ? { argv: checkArgv(script), env: CHECK_ENV } : { argv: sandboxShellArgv(script), env: [] };
      proc = await m.driverFor(s.runtime).exec(s.sandbox, how.argv, { tty: false, cwd: '/root', env: how.env }, deadline.signal);
    } catch (err) {
      clearTimeout(timer);
      if (timedOut) return { code: null, output: '', timedOut: true, truncated: false, durationMs: m.now() - started };
      // Refused on purpose (a covered toolbox): the script fails with the sandbox's reason, and the sandbox lives on.
      if (err instanceof ExecRefusedError) return { code: null, output: err.message, timedOut: false, truncated: false, durationMs: m.now() - started };
      throw new LabError('session_expired', `The sandbox could not run the script: ${(err as Error).message}`, 410);
    }
    const limit = m.policy.checkOutputBytes;
    const chunks: Buffer[] = [];
    let size = 0;
    let truncated = false;
    proc.onData((chunk) => {
      if (size >= limit) { truncated = true; return; }
      const take = chunk.subarray(0, limit - size);
      if (take.length < chunk.length) truncated = true;
      chunks.push(take); size += take.length;
    });
    deadline.signal.addEventListener('abort', () => void proc.kill('SIGKILL'), { once: true });
    if (deadline.signal.aborted) void proc.kill('SIGKILL');
    const exit = await proc.exited;
    clearTimeout(timer);
    // Output is untrusted bytes: decode as text, drop control characters except newline and tab.
    const output = Buffer.concat(chunks).toString('utf8').replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '').trim();
    return { code: exit.code, output, timedOut, truncated, durationMs: m.now() - started };
  }

  private async runOne(exerciseId: string, script: string, timeoutMs?: number): Promise<CheckResult> {
    await this.session.ready;
    const limitMs = timeoutMs ?? this.session.manager.policy.checkTimeoutMs;
    const r = await this.runScript(script, limitMs, 'toolbox');
    const passed = !r.timedOut && r.code === 0;
    let message = r.output || silentCheckMessage(passed, r.code);
    if (r.timedOut) message = `The check did not finish within ${Math.round(limitMs / 1000)} s and was stopped.${r.output ? `\n${r.output}` : ''}`;
    if (r.truncated) message += '\n[output truncated]';
    const result: CheckResult = {
      exerciseId, passed, message, durationMs: r.durationMs, exitCode: r.code,
      ...(r.timedOut ? { timedOut: true } : {}), ...(r.truncated ? { truncated: true } : {}),
    };
    // Recorded before the learner hears of it: a result the store does not hold never reaches the browser.
    const at = await this.session.manager.recordCheck(this.session, result);
    this.session.emit({ type: 'check', result, at });
    return result;
  }
}

/** The message of a check that printed nothing. */
export function silentCheckMessage(passed: boolean, code: number | null): string {
  return passed ? 'Passed.' : `The check failed (exit status ${code ?? 'killed'}).`;
}

/** Which bash runs a lesson script: the read-only toolbox's (checks) or the sandbox's own, as a learner's commands run (setup, solutions). */
export type ScriptShell = 'toolbox' | 'sandbox';

export interface ScriptResult { code: number | null; output: string; timedOut: boolean; truncated: boolean; durationMs: number }

export class SessionManager {
  readonly policy: SessionPolicy;
  readonly now: () => number;
  /** Learners' sessions (queued, starting, live, and ended ones kept briefly as tombstones). */
  private readonly sessions = new Map<string, Session>();
  /** Learners waiting for a free slot, first come first served. */
  private readonly queue: Session[] = [];
  /** Warm sandboxes nobody has claimed, by lesson id. */
  private readonly pool = new Map<string, Session[]>();
  private readonly rate: RateLimiter;
  private readonly log: (msg: string) => void;
  private ticker: NodeJS.Timeout | null = null;
  private filling: Promise<void> | null = null;
  private refillWanted = false;
  private lastRefillAt = 0;
  /** Lessons whose warm sandbox failed to boot, and when: not retried for POOL_RETRY_MS. */
  private readonly poolFailedAt = new Map<string, number>();
  private stopping = false;
  private readonly store: Store;
  private readonly recorder: SessionRecorder;

  constructor(private readonly deps: SessionManagerDeps) {
    this.policy = deps.policy;
    this.now = deps.now ?? Date.now;
    this.log = deps.log ?? ((m) => console.log(`[lab] ${m}`));
    this.store = deps.store;
    this.recorder = new SessionRecorder(deps.store, this.now, this.log);
    this.rate = new RateLimiter(Math.max(1, deps.policy.sessionsPerClientPerMinute), 60_000, this.now);
  }

  logLine(msg: string) { this.log(msg); }

  driverFor(runtime: RuntimeName): Driver {
    const d = this.deps.drivers[runtime];
    if (!d) throw new RuntimeDisabledError(runtime, 'the operator has not enabled it (LAB_RUNTIMES).');
    return d;
  }

  get(id: string): Session | undefined { return this.sessions.get(id); }
  /** Learners' sandboxes that exist (starting or ready); queued sessions have none yet. */
  get inUse(): number { let n = 0; for (const s of this.sessions.values()) if (!s.ended && s.status !== 'queued') n++; return n; }
  get queued(): number { return this.queue.length; }
  /** Warm sandboxes (booting or ready) nobody has claimed. */
  get warm(): number { let n = 0; for (const l of this.pool.values()) n += l.length; return n; }
  list(): Session[] { return [...this.sessions.values()]; }
  /** 1-based place in the queue; 0 when not queued. */
  queuePosition(s: Session): number { return this.queue.indexOf(s) + 1; }

  /**
   * Admit a new session. Its sandbox comes from the warm pool when one is
   * ready for the lesson (the start is just an attach), else boots in the
   * background; when the lab is full the session waits in the queue (status
   * "queued", with its position) until a slot frees. Throws at once (nothing
   * started) when the runtime is off, the owner is at their cap or creates
   * sessions too fast, the queue itself is full, or the store cannot record
   * the owner or the session (StoreUnavailableError; nothing is left running).
   * Caps and the rate count per principalKey(owner).
   */
  async create(lesson: Lesson, owner: Principal): Promise<Session> {
    const driver = this.driverFor(lesson.runtime);
    const avail = await driver.available();
    if (!avail.ok) throw new SandboxStartError(`Cannot start a ${driver.name} sandbox: ${avail.reason}`);
    const rootfs = this.deps.rootfsFor(lesson.image);
    // Before the caps are counted: no await may sit between counting and admitting.
    await this.store.ensureLearner({ ...learnerRecordOf(owner), createdAt: this.now() })
      .catch((err) => { throw this.storeFailed('cannot record the learner', err); });
    const clientId = principalKey(owner);
    const live = this.list().filter((s) => !s.ended);
    const mine = live.filter((s) => s.ownerKey === clientId).length;
    if (mine >= this.policy.maxSandboxesPerClient) {
      throw new LabError('lab_full', `You already have ${mine} sandboxes open (the limit per learner is ${this.policy.maxSandboxesPerClient}). Close another lab tab and try again.`, 429, 10_000);
    }
    const full = this.inUse >= this.policy.maxSandboxes;
    if (full && this.queue.length >= this.policy.maxQueue) throw new LabFullError(this.inUse);
    const wait = this.rate.take(clientId);
    if (wait > 0) throw new RateLimitedError(wait);

    const warm = full ? undefined : this.claimWarm(lesson);
    if (warm) {
      warm.owner = owner;
      warm.lesson = lesson;
      warm.pooled = false;
      warm.fromPool = true;
      warm.startClock(this.now());
      this.sessions.set(warm.id, warm);
      this.log(`session ${warm.id} (${lesson.id}) claimed a warm ${lesson.runtime} sandbox`);
      this.refillPools();
      return this.recorded(warm);
    }
    const session = new Session(lesson, owner, this, this.now());
    this.sessions.set(session.id, session);
    if (full) {
      session.status = 'queued';
      this.queue.push(session);
      this.log(`session ${session.id} (${lesson.id}) queued at position ${this.queue.length}: the lab is full`);
      this.announceQueue();
      return this.recorded(session);
    }
    this.makeRoomInPool();
    session.booted = this.boot(session, driver, rootfs);
    return this.recorded(session);
  }

  /**
   * The session once the store holds it (with its state at this moment); from
   * then on the recorder follows its events. If the store refuses, the session
   * is ended (its sandbox stopped) and StoreUnavailableError thrown.
   */
  private async recorded(session: Session): Promise<Session> {
    const learnerId = principalKey(session.owner!);
    const state = session.status === 'queued' ? 'queued' : session.status === 'ready' ? 'ready' : 'starting';
    // Subscribed before the first await: no status change can slip between the record and the recorder.
    session.events.on(this.recorder.follow(session));
    try {
      await this.recorder.first(session, async () => {
        await this.store.createSession({ id: session.id, learnerId, lessonId: session.lesson.id, runtime: session.runtime, createdAt: session.createdAt, state });
        await this.store.updateSession(session.id, { sandboxId: session.sandboxId, startedAt: state === 'queued' ? null : session.startedAt, expiresAt: session.expiresAt });
      });
    } catch (err) {
      const e = this.storeFailed('cannot record the session', err);
      await this.end(session, 'closed', e.message);
      throw e;
    }
    return session;
  }

  /** Records a check's result (before anyone is told it); returns when. StoreUnavailableError if the store refuses. */
  async recordCheck(session: Session, r: CheckResult): Promise<number> {
    const at = this.now();
    await this.store.recordCheckResult({
      sessionId: session.id, exerciseId: r.exerciseId, passed: r.passed, message: r.message, durationMs: r.durationMs, exitCode: r.exitCode ?? null, at,
    }).catch((err) => { throw this.storeFailed(`cannot record a check of ${r.exerciseId} in session ${session.id}`, err); });
    return at;
  }

  /** The store's message goes to the log; the learner gets StoreUnavailableError's. */
  private storeFailed(doing: string, err: unknown): StoreUnavailableError {
    this.log(`store: ${doing}: ${(err as Error)?.message ?? err}`);
    return new StoreUnavailableError();
  }

  /** A warm sandbox for exactly this lesson (same image, runtime, capabilities and setup), if one is ready. */
  private claimWarm(lesson: Lesson): Session | undefined {
    const list = this.pool.get(lesson.id);
    if (!list) return undefined;
    const same = (s: Session) => s.lesson.image === lesson.image && s.lesson.runtime === lesson.runtime
      && s.lesson.setupScript === lesson.setupScript && s.lesson.capabilities.join() === lesson.capabilities.join();
    for (const stale of list.filter((s) => !same(s))) void this.end(stale, 'closed', 'The lesson changed since this warm sandbox started.');
    const i = list.findIndex((s) => s.status === 'ready' && same(s));
    return i < 0 ? undefined : list.splice(i, 1)[0];
  }

  /** Learners' sandboxes and warm ones together stay within maxSandboxes: drop a warm one if needed. */
  private makeRoomInPool() {
    if (this.inUse + this.warm < this.policy.maxSandboxes) return;
    let victim: Session | undefined;
    for (const list of this.pool.values()) for (const s of list) if (!victim || s.status !== 'ready') victim = s;
    if (victim) void this.end(victim, 'closed', 'Warm sandbox released to make room.');
  }

  private removeFromPool(s: Session) {
    const list = this.pool.get(s.lesson.id);
    const i = list?.indexOf(s) ?? -1;
    if (list && i >= 0) list.splice(i, 1);
  }

  private announceQueue() {
    this.queue.forEach((s, i) => {
      const msg = `The lab is full (${this.inUse} of ${this.policy.maxSandboxes} sandboxes in use). You are number ${i + 1} in the queue; your sandbox starts as soon as one is free.`;
      s.setStatus('queued', msg, i + 1);
    });
  }

  /** Start queued sessions while there are free slots (called whenever a sandbox ends). */
  private admitQueued() {
    let admitted = false;
    while (this.queue.length && this.inUse < this.policy.maxSandboxes && !this.stopping) {
      const s = this.queue.shift()!;
      if (s.ended) continue;
      s.startClock(this.now());
      s.setStatus('starting', 'A slot is free: starting your sandbox…');
      this.makeRoomInPool();
      s.booted = this.boot(s, this.driverFor(s.runtime), this.deps.rootfsFor(s.lesson.image));
      this.log(`session ${s.id} (${s.lesson.id}) left the queue`);
      admitted = true;
    }
    if (admitted || this.queue.length) this.announceQueue();
  }

  private async boot(session: Session, driver: Driver, rootfsPath: string) {
    const started = this.now();
    const deadline = AbortSignal.any([session.bootAbort.signal, AbortSignal.timeout(BOOT_TIMEOUT_MS)]);
    try {
      const sandbox = await driver.start({
        id: `s${session.id}`,
        rootfsPath,
        hostname: 'lab',
        capabilities: session.lesson.capabilities,
        limits: this.policy.limits,
        env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm-256color', 'HOME=/root', 'LANG=C.UTF-8'],
      }, deadline).catch((err) => {
        if (deadline.aborted && !session.bootAbort.signal.aborted) throw new SandboxStartError(`The sandbox did not start within ${BOOT_TIMEOUT_MS / 1000} s.`);
        throw err;
      });
      session.sandbox = sandbox;
      if (session.endReason) return; // end() is waiting for us and will stop it
      // The shell starts while the setup script runs; its first prompt waits in
      // the replay buffer, so the learner sees it the moment the status is ready.
      const shell = session.terminal.prewarm();
      if (session.lesson.setupScript) {
        const r = await session.checks.runScript(session.lesson.setupScript, this.policy.checkTimeoutMs * 2);
        if (r.timedOut || r.code !== 0) throw new SandboxStartError(`The lesson's setup script failed (${r.timedOut ? 'timed out' : `exit ${r.code}`}): ${r.output.slice(0, 500)}`);
      }
      await shell;
      this.log(`${session.pooled ? 'warm sandbox' : 'session'} ${session.id} (${session.lesson.id}) ready on ${driver.name} in ${this.now() - started} ms`);
      session.setStatus('ready');
    } catch (err) {
      if (session.endReason) return;
      const e = toLabError(err);
      if (session.pooled) this.poolFailedAt.set(session.lesson.id, this.now());
      this.log(`${session.pooled ? 'warm sandbox' : 'session'} ${session.id} (${session.lesson.id}) failed to start on ${driver.name}: ${e.message}`);
      session.setStatus('error', e.message);
      void this.end(session, 'sandbox_exited', e.message);
    }
  }

  /**
   * End a session: tell its socket why, kill its processes, destroy its sandbox, admit the next in the queue.
   * Idempotent: a second call returns the first one's promise, so it too resolves only once the sandbox is gone.
   */
  end(session: Session, reason: EndReason, message?: string): Promise<void> {
    session.ending ??= this.doEnd(session, reason, message);
    return session.ending;
  }

  private async doEnd(session: Session, reason: EndReason, message?: string): Promise<void> {
    session.endReason = reason;
    const qi = this.queue.indexOf(session);
    if (qi >= 0) { this.queue.splice(qi, 1); this.announceQueue(); }
    if (session.pooled) this.removeFromPool(session);
    const text = message ?? END_MESSAGES[reason];
    session.emit({ type: 'ended', reason, message: text });
    session.setStatus('ended', text);
    session.bootAbort.abort();
    await session.booted;
    await session.terminal.close();
    if (session.sandbox) {
      await this.driverFor(session.runtime).stop(session.sandbox, { now: reason === 'shutdown' }).catch((e) => this.log(`stop ${session.id}: ${e}`));
    }
    session.endedAt = this.now();
    this.log(`${session.pooled ? 'warm sandbox' : 'session'} ${session.id} ended: ${reason}`);
    this.admitQueued();
    if (session.pooled || this.queue.length === 0) this.refillPools();
  }

  /**
   * Keep policy.poolSizes[runtime] warm sandboxes per pool lesson, booting
   * one at a time (a boot is CPU-heavy) and only into slots no learner needs.
   */
  refillPools(): void {
    if (!this.deps.poolLessons || this.stopping) return;
    if (this.filling) { this.refillWanted = true; return; }
    this.lastRefillAt = this.now();
    this.filling = (async () => {
      do {
        this.refillWanted = false;
        const lessons = await this.deps.poolLessons!().catch((e) => { this.log(`warm pool: cannot list lessons: ${e}`); return [] as Lesson[]; });
        for (const lesson of lessons) {
          const want = this.policy.poolSizes?.[lesson.runtime] ?? 0;
          const driver = this.deps.drivers[lesson.runtime];
          if (!want || !driver || this.stopping) continue;
          const failedAt = this.poolFailedAt.get(lesson.id);
          if (failedAt !== undefined && this.now() - failedAt < POOL_RETRY_MS) continue;
          const list = this.pool.get(lesson.id) ?? [];
          this.pool.set(lesson.id, list);
          while (list.length < want && !this.stopping && this.queue.length === 0
            && this.inUse + this.warm < this.policy.maxSandboxes && (await driver.available()).ok) {
            const s = new Session(lesson, null, this, this.now());
            s.pooled = true;
            list.push(s);
            s.booted = this.boot(s, driver, this.deps.rootfsFor(lesson.image));
            await s.booted;
            if (s.ended) break; // failed: poolFailedAt holds it back for a while
          }
        }
      } while (this.refillWanted && !this.stopping);
    })().catch((e) => this.log(`warm pool: ${e}`)).finally(() => { this.filling = null; });
  }

  /** Resolves once the warm pool has nothing left to boot (tests and benchmarks wait on it). */
  async poolSettled(): Promise<void> {
    while (this.filling) await this.filling;
  }

  /** Enforce lifetimes once; called every second by start(), directly by tests. */
  async tick(): Promise<void> {
    const t = this.now();
    const p = this.policy;
    if (t - this.lastRefillAt >= POOL_RETRY_MS) this.refillPools();
    for (const list of this.pool.values()) {
      for (const s of [...list]) {
        if (s.status === 'ready' && s.sandbox) {
          const gone = await this.driverFor(s.runtime).poll(s.sandbox);
          if (gone) await this.end(s, 'sandbox_exited', exitMessage(gone.reason));
        }
      }
    }
    for (const s of this.list()) {
      if (s.endReason) {
        // Ended sessions stay briefly as tombstones so a late socket learns why.
        if (s.endedAt !== null && t >= s.endedAt + TOMBSTONE_MS) this.sessions.delete(s.id);
        continue;
      }
      if (s.status === 'queued') {
        // A queued learner who left (no socket for the grace period) gives up their place.
        if (s.detachedAt !== null && t >= s.detachedAt + p.reconnectGraceMs) await this.end(s, 'closed');
        continue;
      }
      if (t >= s.expiresAt) { await this.end(s, 'lifetime'); continue; }
      const idleEnd = s.lastActivityAt + p.idleTimeoutMs;
      if (t >= idleEnd) { await this.end(s, 'idle'); continue; }
      if (s.detachedAt !== null && s.status !== 'starting' && t >= s.detachedAt + p.reconnectGraceMs) { await this.end(s, 'closed'); continue; }
      if (s.status === 'ready' && s.sandbox) {
        const gone = await this.driverFor(s.runtime).poll(s.sandbox);
        if (gone) { await this.end(s, 'sandbox_exited', exitMessage(gone.reason)); continue; }
      }
      if (t >= idleEnd - p.warnBeforeEndMs && s.warned.idle === undefined) {
        s.warned.idle = idleEnd;
        s.emit({ type: 'expiring', reason: 'idle', endsAt: idleEnd, extendsLeft: s.extendsLeft });
      }
      if (t >= s.expiresAt - p.warnBeforeEndMs && s.warned.lifetime === undefined) {
        s.warned.lifetime = s.expiresAt;
        s.emit({ type: 'expiring', reason: 'lifetime', endsAt: s.expiresAt, extendsLeft: s.extendsLeft });
      }
    }
  }

  /** Reap everything a previous run left behind, fill the warm pool, then enforce lifetimes every `intervalMs`. */
  async start(intervalMs = 1000): Promise<void> {
    const owned = [...this.sessions.values(), ...[...this.pool.values()].flat()];
    for (const [name, driver] of Object.entries(this.deps.drivers)) {
      const removed = await driver!.reap(new Set(owned.map((s) => s.sandbox?.id).filter((x): x is string => !!x)));
      if (removed.length) this.log(`reaped ${removed.length} ${name} sandbox(es) left by a previous run: ${removed.join(', ')}`);
    }
    this.refillPools();
    let running = false;
    this.ticker = setInterval(() => {
      if (running) return;
      running = true;
      void this.tick().catch((e) => this.log(`tick: ${e}`)).finally(() => { running = false; });
    }, intervalMs);
    this.ticker.unref();
  }

  /** End every session and warm sandbox (SIGTERM path). */
  async shutdown(): Promise<void> {
    this.stopping = true;
    if (this.ticker) clearInterval(this.ticker);
    const all = [...this.list(), ...[...this.pool.values()].flat()];
    await Promise.all(all.map((s) => this.end(s, 'shutdown')));
    await this.poolSettled();
    await Promise.all([...this.pool.values()].flat().map((s) => this.end(s, 'shutdown')));
    // Every end is in the store before the caller closes it.
    await this.recorder.flush();
  }
}

/** What the learner is told when their sandbox ended by itself: the driver's reason, as a sentence. */
function exitMessage(reason: string): string {
  return `The sandbox stopped unexpectedly: ${reason.replace(/\.$/, '')}.`;
}

const END_MESSAGES: Record<EndReason, string> = {
  idle: 'The sandbox was stopped because nothing happened in it for a while.',
  lifetime: 'The sandbox reached its maximum lifetime and was stopped.',
  closed: 'The lab tab was closed, so the sandbox was stopped.',
  sandbox_exited: 'The sandbox stopped unexpectedly.',
  shutdown: 'The lab is shutting down.',
  replaced: 'This lab was opened in another tab.',
};
