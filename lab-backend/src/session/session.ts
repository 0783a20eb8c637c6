/**
 * One session: one owner × one lesson × one sandbox. It holds the session's
 * state and clock and nothing of the lab around it: what it needs from
 * outside comes in a small SessionContext (run a process in the sandbox, the
 * time, the policy, the log, record a check), so the terminal and the checks
 * never reach back into the SessionManager.
 *
 * State is one ranked value that only moves forward:
 *   queued → starting → ready → ending → ended
 * (a session may skip states, e.g. a failed start goes starting → ending).
 * `end` says why, once, from the moment the end began; `status` is what the
 * learner's panel shows (wire.ts), derived from both.
 */
import { randomBytes } from 'node:crypto';
import type { Lesson } from '../content';
import { ExtendLimitError, LabError } from '../errors';
import { SessionEvents, type EndReason, type SessionEvent } from './events';
import { principalKey, type Principal } from '../identity/principal';
import type { ExecOptions, Sandbox, SandboxProcess } from '../sandbox/driver';
import type { CheckResult, RuntimeName, SandboxStatus } from '../wire';
import type { SessionPolicy } from './policy';
import { SessionChecks } from './checks';
import { SessionTerminal } from './terminal';

export type SessionState = 'queued' | 'starting' | 'ready' | 'ending' | 'ended';
const RANK: Record<SessionState, number> = { queued: 0, starting: 1, ready: 2, ending: 3, ended: 4 };

/** What a session needs from the lab around it (the SessionManager provides it). */
export interface SessionContext {
  readonly policy: SessionPolicy;
  now(): number;
  log(msg: string): void;
  /** Starts a process in `sandbox` with the session's driver. */
  exec(session: Session, sandbox: Sandbox, argv: string[], opts: ExecOptions, signal?: AbortSignal): Promise<SandboxProcess>;
  /** 1-based place in the lab's queue; 0 when not queued. */
  queuePosition(session: Session): number;
  /** Records a check's result before anyone is told it; returns when (StoreUnavailableError if it cannot). */
  recordCheck(session: Session, result: CheckResult): Promise<number>;
  /** What a restarted backend needs to adopt the session's sandbox (its driver's describe()). */
  describe(session: Session, sandbox: Sandbox): unknown;
  /** Where the terminal keeps its screen tail across a backend restart (null: nowhere). */
  terminalLogPath(session: Session): string | null;
}

export interface SessionEnd {
  reason: EndReason;
  message: string;
  /** The start failed: the panel says "error", not "ended". */
  failedStart: boolean;
}

export class Session {
  readonly id: string;
  /** What happens to this session, in order (events.ts): the terminal and the store's recorder follow it. */
  readonly events: SessionEvents;
  private _state: SessionState = 'starting';
  /** Why it ends; set once, when the end begins. */
  end: SessionEnd | null = null;
  /** The latest status text (queue place, start progress, why it ended). */
  statusMessage?: string;
  sandbox: Sandbox | null = null;
  /** When the learner got it: the learner's clock (a warm sandbox's starts when it is claimed). */
  createdAt: number;
  /** The session ends at this time unless extended. */
  expiresAt: number;
  lastActivityAt: number;
  /** A warm-pool sandbox nobody has claimed yet: no owner, no lifetime, not counted as in use. */
  pooled = false;
  fromPool = false;
  extendsUsed = 0;
  /** When the owner's last socket went away (null while one is attached). */
  detachedAt: number | null;
  endedAt: number | null = null;
  /**
   * The learner's earlier saved work was offered with this session and they
   * have neither restored it nor chosen to start fresh: until they do, this
   * session's end does not replace it.
   */
  savedWorkOffered = false;
  /** The client address it was created from (an addressKey), for the per-address cap; null when unknown. */
  address: string | null = null;
  /** Its start passed the time limit and was given up without waiting for the driver (its sandbox, if it comes, is stopped on arrival). */
  abandoned = false;
  /** Settles once the end has destroyed the sandbox (set by the first end). */
  ending: Promise<void> | null = null;
  warned: { idle?: number; lifetime?: number } = {};
  /** Resolves when the session is ready or its end began. */
  readonly ready: Promise<void>;
  private resolveReady!: () => void;
  /** Settles once its end has been told (after the learner's work was saved or not: the message says which). */
  readonly endAnnounced: Promise<void>;
  private resolveEndAnnounced!: () => void;
  /** Settles when the boot attempt is over (either way). */
  booted: Promise<void> = Promise.resolve();
  /** Resolves when the start time limit passes while booting (never, when no boot is running). */
  startGaveUp: Promise<void> = new Promise(() => {});
  readonly bootAbort = new AbortController();
  readonly terminal: SessionTerminal;
  readonly checks: SessionChecks;

  /**
   * @param owner who the session belongs to; null only for a warm-pool
   *   sandbox, which gets its owner when a learner claims it.
   */
  constructor(
    public lesson: Lesson,
    public owner: Principal | null,
    readonly ctx: SessionContext,
    now: number,
    initial: 'queued' | 'starting' = 'starting',
    id?: string,
  ) {
    this.id = id ?? randomBytes(12).toString('hex');
    this._state = initial;
    this.events = new SessionEvents((err, e) => ctx.log(`session ${this.id}: a listener of ${e.type} failed: ${(err as Error)?.stack ?? err}`));
    this.createdAt = now;
    this.lastActivityAt = now;
    this.detachedAt = now;
    this.expiresAt = now + ctx.policy.maxLifetimeMs;
    this.endAnnounced = new Promise((r) => {
      this.resolveEndAnnounced = r;
    });
    this.ready = new Promise((r) => {
      this.resolveReady = r;
    });
    this.terminal = new SessionTerminal(this);
    this.checks = new SessionChecks(this);
  }

  get state(): SessionState {
    return this._state;
  }
  get runtime(): RuntimeName {
    return this.lesson.runtime;
  }
  /** principalKey() of the owner: what caps and rate limits count under ('' for an unclaimed warm sandbox). */
  get ownerKey(): string {
    return this.owner ? principalKey(this.owner) : '';
  }
  get sandboxId(): string | null {
    return this.sandbox?.id ?? null;
  }
  /** The driver's description of the sandbox, for adoption after a restart (null before there is one). */
  get driverState(): unknown {
    return this.sandbox ? this.ctx.describe(this, this.sandbox) : null;
  }
  /** When the learner's clock started (the store's startedAt). */
  get startedAt(): number {
    return this.createdAt;
  }
  /** Its end has begun (it takes no new work); `state` tells ending from ended. */
  get ended(): boolean {
    return this.end !== null;
  }
  get endReason(): EndReason | null {
    return this.end?.reason ?? null;
  }
  get extendsLeft(): number {
    return Math.max(0, this.ctx.policy.maxExtends - this.extendsUsed);
  }
  /** What the learner's panel shows. */
  get status(): SandboxStatus {
    if (this.end) return this.end.failedStart ? 'error' : 'ended';
    return this._state === 'queued' ? 'queued' : this._state === 'ready' ? 'ready' : 'starting';
  }

  emit(event: SessionEvent) {
    this.events.emit(event);
  }

  /** Starts a process in the session's sandbox (SessionStartError-free: the caller words its own failure). */
  exec(argv: string[], opts: ExecOptions, signal?: AbortSignal): Promise<SandboxProcess> {
    if (!this.sandbox) return Promise.reject(new LabError('session_expired', 'The sandbox is no longer running.', 410));
    return this.ctx.exec(this, this.sandbox, argv, opts, signal);
  }

  /**
   * Moves the state forward (a move back or sideways does nothing) and tells
   * everyone the new status. `queuePosition` is for a queued session.
   */
  advance(state: Exclude<SessionState, 'ending' | 'ended'>, message?: string, queuePosition?: number) {
    if (this.end || RANK[state] < RANK[this._state]) return;
    if (state === this._state && state !== 'queued' && message === this.statusMessage) return;
    this._state = state;
    this.statusMessage = message;
    this.emit({ type: 'status', status: this.status, ...(message ? { message } : {}), ...(queuePosition ? { queuePosition } : {}) });
    if (state === 'ready') this.resolveReady();
  }

  /**
   * The end begins (first call only; false after): ending, with why; the
   * session takes no more work (keystrokes, checks). Nobody is told yet:
   * announceEnd() does that once the learner's work is saved or not.
   */
  beginEnd(end: SessionEnd): boolean {
    if (this.end) return false;
    this.end = end;
    this._state = 'ending';
    this.statusMessage = end.message;
    this.resolveReady();
    return true;
  }

  /** Tells everyone the session ended and why, with `note` (what became of their work) after the reason. */
  announceEnd(note?: string) {
    if (!this.end) return;
    if (note) this.end.message = `${this.end.message} ${note}`;
    this.statusMessage = this.end.message;
    const status = { type: 'status' as const, status: this.status, message: this.end.message };
    // A failed start is told as an error first (the panel shows why), then the end; an end as the end, then its status.
    if (this.end.failedStart) this.emit(status);
    this.emit({ type: 'ended', reason: this.end.reason, message: this.end.message });
    if (!this.end.failedStart) this.emit(status);
    this.resolveEndAnnounced();
  }

  /** The sandbox is gone. */
  finishEnd(at: number) {
    this.resolveEndAnnounced();
    this._state = 'ended';
    this.endedAt = at;
  }

  /** The learner's clock starts now: lifetime, idle time and the reconnect grace. */
  startClock(now: number) {
    this.createdAt = now;
    this.lastActivityAt = now;
    this.expiresAt = now + this.ctx.policy.maxLifetimeMs;
    if (this.detachedAt !== null) this.detachedAt = now;
  }

  /** The learner typed, ran a check or restored files: what the sandbox holds may be their work (saved when it ends). */
  worked = false;

  touch() {
    this.worked = true;
    this.lastActivityAt = this.ctx.now();
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
      if (this.extendsLeft <= 0) throw new ExtendLimitError(this.ctx.policy.maxExtends);
      this.extendsUsed++;
      this.expiresAt += this.ctx.policy.extendByMs;
      this.warned.lifetime = undefined;
    }
    this.lastActivityAt = this.ctx.now();
    this.warned.idle = undefined;
    const r = { expiresAt: this.expiresAt, extendsLeft: this.extendsLeft };
    this.emit({ type: 'extended', ...r });
    return r;
  }
}
