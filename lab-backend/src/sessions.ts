/**
 * SessionManager: owns every sandbox's lifetime. It decides all policy the
 * drivers must not: global and per-learner caps, creation rate, the queue,
 * idle timeout and max lifetime (with a warning first), the start time limit,
 * the reconnect grace after the owner's last socket closes, and reaping what
 * a previous run left behind. It records each learner's session in the store
 * (a session the store refuses is not started).
 *
 * The parts live in lab-backend/src/session/: a Session (state, clock,
 * events), its terminal (the shell and its peers) and checks, each given a
 * small SessionContext instead of the manager; the warm pool (pool.ts).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Lesson } from './content';
import type { Driver, ExecOptions, Sandbox } from './sandbox/driver';
import { LabError, LabFullError, RateLimitedError, RuntimeDisabledError, SandboxStartError, SetupScriptError, StoreUnavailableError, toLabError } from './errors';
import type { EndReason } from './session/events';
import { learnerFromKey, learnerRecordOf, principalKey, type Principal } from './identity/principal';
import { RateLimiter } from './ratelimit';
import { SessionRecorder } from './session/recorder';
import { WarmPool, exitMessage } from './session/pool';
import type { SessionPolicy } from './session/policy';
import { Session, type SessionContext } from './session/session';
import type { Store } from './store/store';
import { restoreWork, takeWork } from './session/work';
import type { CheckResult, RuntimeName } from './wire';

export { POLICY_KEYS, policyFrom, type SessionPolicy } from './session/policy';
export { Session, type SessionContext, type SessionState } from './session/session';
export {
  SessionTerminal,
  INPUT_HIGH_WATER_BYTES,
  INPUT_LOW_WATER_BYTES,
  MAX_VIEWERS,
  SOCKET_HIGH_WATER_BYTES,
  SOCKET_LOW_WATER_BYTES,
  VIEWER_MAX_QUEUED_BYTES,
  type PeerRole,
  type TerminalPeer,
} from './session/terminal';
export { MAX_QUEUED_CHECKS, SessionChecks, silentCheckMessage, type ScriptResult, type ScriptShell } from './session/checks';
export type { EndReason } from './session/events';

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
  /** A lesson by id (for sessions adopted after a restart); absent: nothing is adopted. */
  lessonFor?: (id: string) => Promise<Lesson | null>;
  /**
   * Where each terminal keeps the tail of its screen on disk, so a backend
   * restarted after a crash replays it (`<dir>/<session id>.log`); absent:
   * kept in memory only.
   */
  terminalDir?: string;
}

/** Ended sessions stay this long, so a late socket or call learns why. */
const TOMBSTONE_MS = 60_000;

export class SessionManager {
  readonly policy: SessionPolicy;
  readonly now: () => number;
  /** Learners' sessions (queued, starting, live, and ended ones kept briefly as tombstones). */
  private readonly sessions = new Map<string, Session>();
  /** Learners waiting for a free slot, first come first served. */
  private readonly queue: Session[] = [];
  private readonly pool: WarmPool;
  private readonly rate: RateLimiter;
  private readonly log: (msg: string) => void;
  private readonly store: Store;
  private readonly recorder: SessionRecorder;
  /** What every session gets instead of the manager. */
  private readonly ctx: SessionContext;
  private ticker: NodeJS.Timeout | null = null;
  private stopping = false;

  constructor(private readonly deps: SessionManagerDeps) {
    this.policy = deps.policy;
    this.now = deps.now ?? Date.now;
    this.log = deps.log ?? ((m) => console.log(`[lab] ${m}`));
    this.store = deps.store;
    this.recorder = new SessionRecorder(deps.store, this.now, this.log);
    this.rate = new RateLimiter(Math.max(1, deps.policy.sessionsPerClientPerMinute), 60_000, this.now);
    this.ctx = {
      policy: this.policy,
      now: () => this.now(),
      log: (m) => this.log(m),
      exec: (s: Session, sb: Sandbox, argv: string[], opts: ExecOptions, signal?: AbortSignal) => this.driverFor(s.runtime).exec(sb, argv, opts, signal),
      queuePosition: (s) => this.queuePosition(s),
      recordCheck: (s, r) => this.recordCheck(s, r),
      describe: (s, sb) => this.driverFor(s.runtime).describe(sb),
      terminalLogPath: (s) => (deps.terminalDir && !s.pooled ? path.join(deps.terminalDir, `${s.id}.log`) : null),
    };
    // The pool reads `stopping` as a live getter, and a getter's `this` is the options object.
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- no arrow function can be a getter
    const manager = this;
    this.pool = new WarmPool({
      policy: this.policy,
      drivers: deps.drivers,
      now: () => this.now(),
      log: (m) => this.log(m),
      lessons: deps.poolLessons,
      get stopping() {
        return manager.stopping;
      },
      roomForWarm: () => !this.stopping && this.queue.length === 0 && this.inUse + this.pool.size < this.policy.maxSandboxes,
      newWarm: (lesson) => {
        const s = new Session(lesson, null, this.ctx, this.now());
        s.pooled = true;
        return s;
      },
      boot: (s, driver) => this.boot(s, driver, this.deps.rootfsFor(s.lesson.image)),
      end: (s, reason, message) => this.end(s, reason, message),
    });
  }

  driverFor(runtime: RuntimeName): Driver {
    const d = this.deps.drivers[runtime];
    if (!d) throw new RuntimeDisabledError(runtime, 'the operator has not enabled it (LAB_RUNTIMES).');
    return d;
  }

  get(id: string): Session | undefined {
    return this.sessions.get(id);
  }
  /** Learners' sandboxes that exist or are being made or removed (starting, ready, ending); queued sessions have none yet. */
  get inUse(): number {
    let n = 0;
    for (const s of this.sessions.values()) if (s.state !== 'queued' && s.state !== 'ended' && !s.abandoned) n++;
    return n;
  }
  get queued(): number {
    return this.queue.length;
  }
  /** Warm sandboxes (booting or ready) nobody has claimed. */
  get warm(): number {
    return this.pool.size;
  }
  list(): Session[] {
    return [...this.sessions.values()];
  }
  /** 1-based place in the queue; 0 when not queued. */
  queuePosition(s: Session): number {
    return this.queue.indexOf(s) + 1;
  }

  /**
   * Admit a new session for `owner`. Its sandbox comes from the warm pool
   * when one is ready for the lesson (the start is just an attach), else
   * boots in the background; when the lab is full the session waits in the
   * queue (status "queued", with its position) until a slot frees. Throws at
   * once (nothing started) when the runtime is off, the owner is at their cap
   * or creates sessions too fast, the queue itself is full, or the store
   * cannot record the owner or the session (StoreUnavailableError; nothing is
   * left running). Caps and the rate count per principalKey(owner); all
   * sessions of one client `address` (an addressKey) together are held to
   * policy.maxSandboxesPerAddress.
   */
  async create(lesson: Lesson, owner: Principal, address?: string): Promise<Session> {
    if (this.stopping) throw new LabError('busy', 'The lab is restarting. Your page tries again by itself in a moment.', 503, 2_000);
    const driver = this.driverFor(lesson.runtime);
    const avail = await driver.available();
    if (!avail.ok) throw new SandboxStartError(`Cannot start a ${driver.name} sandbox: ${avail.reason}`);
    const rootfs = this.deps.rootfsFor(lesson.image);
    // Before the caps are counted: no await may sit between counting and admitting.
    await this.store.ensureLearner({ ...learnerRecordOf(owner), createdAt: this.now() }).catch((err) => {
      throw this.storeFailed('cannot record the learner', err);
    });
    const key = principalKey(owner);
    const live = this.list().filter((s) => !s.ended);
    const mine = live.filter((s) => s.ownerKey === key).length;
    // Every learner of one address together: new cookies cannot take the whole lab from one machine.
    const fromThere = address === undefined ? 0 : live.filter((s) => s.address === address).length;
    if (fromThere >= this.policy.maxSandboxesPerAddress) {
      throw new LabError(
        'lab_full',
        `${fromThere} sandboxes are already open from your network address (the limit per address is ${this.policy.maxSandboxesPerAddress}). Close another lab tab and try again; a class sharing one address needs its operator to raise LAB_MAX_SANDBOXES_PER_ADDRESS.`,
        429,
        10_000,
      );
    }
    if (mine >= this.policy.maxSandboxesPerClient) {
      throw new LabError(
        'lab_full',
        `You already have ${mine} sandboxes open (the limit per learner is ${this.policy.maxSandboxesPerClient}). Close another lab tab and try again.`,
        429,
        10_000,
      );
    }
    const full = this.inUse >= this.policy.maxSandboxes;
    if (full && this.queue.length >= this.policy.maxQueue) throw new LabFullError(this.inUse);
    const wait = this.rate.take(key);
    if (wait > 0) throw new RateLimitedError(wait);

    const warm = full ? undefined : this.pool.claim(lesson);
    if (warm) {
      warm.owner = owner;
      warm.address = address ?? null;
      warm.lesson = lesson;
      warm.pooled = false;
      warm.fromPool = true;
      warm.startClock(this.now());
      this.sessions.set(warm.id, warm);
      this.log(`session ${warm.id} (${lesson.id}) claimed a warm ${lesson.runtime} sandbox`);
      this.pool.refill();
      return this.recorded(warm);
    }
    const session = new Session(lesson, owner, this.ctx, this.now(), full ? 'queued' : 'starting');
    session.address = address ?? null;
    this.sessions.set(session.id, session);
    if (full) {
      this.queue.push(session);
      this.log(`session ${session.id} (${lesson.id}) queued at position ${this.queue.length}: the lab is full`);
      this.announceQueue();
      return this.recorded(session);
    }
    this.pool.makeRoom(this.inUse);
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
    const state = session.state === 'queued' ? 'queued' : session.state === 'ready' ? 'ready' : 'starting';
    // Subscribed before the first await: no status change can slip between the record and the recorder.
    session.events.on(this.recorder.follow(session));
    try {
      await this.recorder.first(session, async () => {
        await this.store.createSession({ id: session.id, learnerId, lessonId: session.lesson.id, runtime: session.runtime, createdAt: session.createdAt, state });
        await this.store.updateSession(session.id, {
          sandboxId: session.sandboxId,
          driverState: session.driverState,
          startedAt: state === 'queued' ? null : session.startedAt,
          expiresAt: session.expiresAt,
        });
      });
    } catch (err) {
      const e = this.storeFailed('cannot record the session', err);
      await this.end(session, 'closed', e.message);
      throw e;
    }
    return session;
  }

  /** Records a check's result (before anyone is told it); returns when. StoreUnavailableError if the store refuses. */
  private async recordCheck(session: Session, r: CheckResult): Promise<number> {
    const at = this.now();
    await this.store
      .recordCheckResult({
        sessionId: session.id,
        exerciseId: r.exerciseId,
        passed: r.passed,
        message: r.message,
        durationMs: r.durationMs,
        exitCode: r.exitCode ?? null,
        at,
      })
      .catch((err) => {
        throw this.storeFailed(`cannot record a check of ${r.exerciseId} in session ${session.id}`, err);
      });
    return at;
  }

  /** The store's message goes to the log; the learner gets StoreUnavailableError's. */
  private storeFailed(doing: string, err: unknown): StoreUnavailableError {
    this.log(`store: ${doing}: ${(err as Error)?.message ?? err}`);
    return new StoreUnavailableError();
  }

  private announceQueue() {
    this.queue.forEach((s, i) => {
      const msg = `The lab is full (${this.inUse} of ${this.policy.maxSandboxes} sandboxes in use). You are number ${i + 1} in the queue; your sandbox starts as soon as one is free.`;
      s.advance('queued', msg, i + 1);
    });
  }

  /** Start queued sessions while there are free slots (called whenever a sandbox ends). */
  private admitQueued() {
    let admitted = false;
    while (this.queue.length && this.inUse < this.policy.maxSandboxes && !this.stopping) {
      const s = this.queue.shift()!;
      if (s.ended) continue;
      s.startClock(this.now());
      s.advance('starting', 'A slot is free: starting your sandbox…');
      this.pool.makeRoom(this.inUse);
      s.booted = this.boot(s, this.driverFor(s.runtime), this.deps.rootfsFor(s.lesson.image));
      this.log(`session ${s.id} (${s.lesson.id}) left the queue`);
      admitted = true;
    }
    if (admitted || this.queue.length) this.announceQueue();
  }

  /**
   * Boot, then the setup script and the shell, within policy.startTimeoutMs.
   * Past it the session ends with reason start_timeout and its slot is free
   * at once, even when the driver does not give up (a sandbox that arrives
   * after that is stopped as it arrives).
   */
  private async boot(session: Session, driver: Driver, rootfsPath: string) {
    const started = this.now();
    const limitMs = this.policy.startTimeoutMs;
    let gaveUp!: () => void;
    session.startGaveUp = new Promise((r) => {
      gaveUp = r;
    });
    const timer = setTimeout(() => {
      gaveUp();
      const text = `The sandbox did not start within ${Math.round(limitMs / 1000)} s, so it was stopped. Reload the page to try again.`;
      this.log(`${session.pooled ? 'warm sandbox' : 'session'} ${session.id} (${session.lesson.id}) not ready on ${driver.name} within ${limitMs} ms`);
      if (session.pooled) this.pool.failed(session.lesson.id);
      void this.end(session, 'start_timeout', text);
    }, limitMs);
    try {
      const sandbox = await driver.start(
        {
          id: `s${session.id}`,
          rootfsPath,
          hostname: 'lab',
          capabilities: session.lesson.capabilities,
          limits: this.policy.limits,
          env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm-256color', 'HOME=/root', 'LANG=C.UTF-8'],
        },
        session.bootAbort.signal,
      );
      session.sandbox = sandbox;
      if (session.ended) {
        // An abandoned start (the time limit passed): nobody waits for this sandbox, so it goes now.
        if (session.abandoned) await driver.stop(sandbox, { now: true }).catch((e) => this.log(`stop ${session.id}: ${e}`));
        return; // otherwise end() is waiting for us and will stop it
      }
      // The shell starts while the setup script runs; its first prompt waits in
      // the replay buffer, so the learner sees it the moment the status is ready.
      const shell = session.terminal.prewarm();
      if (session.lesson.setupScript) {
        const r = await session.checks.runScript(session.lesson.setupScript, this.policy.checkTimeoutMs * 2, 'sandbox', session.bootAbort.signal);
        if (r.timedOut || r.code !== 0) throw new SetupScriptError(`The lesson's setup script failed (${r.timedOut ? 'timed out' : `exit ${r.code}`}): ${r.output.slice(0, 500)}`);
      }
      await shell;
      this.log(`${session.pooled ? 'warm sandbox' : 'session'} ${session.id} (${session.lesson.id}) ready on ${driver.name} in ${this.now() - started} ms`);
      session.advance('ready');
    } catch (err) {
      if (session.ended) return;
      const e = toLabError(err);
      if (session.pooled) this.pool.failed(session.lesson.id);
      // The runtime's own words (stderr, the console) go to the log only; the learner gets ours.
      this.log(`${session.pooled ? 'warm sandbox' : 'session'} ${session.id} (${session.lesson.id}) failed to start on ${driver.name}: ${e.message}`);
      void this.end(session, 'sandbox_exited', err instanceof SetupScriptError ? e.message : learnerStartMessage(session), true);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * End a session: tell its sockets why, kill its processes, destroy its sandbox, admit the next in the queue.
   * Idempotent: a second call returns the first one's promise, so it too resolves only once the sandbox is gone
   * (for a start the driver does not give up: at the start time limit; its sandbox is stopped if it ever arrives).
   */
  end(session: Session, reason: EndReason, message?: string, failedStart = false): Promise<void> {
    session.ending ??= this.doEnd(session, reason, message, failedStart);
    return session.ending;
  }

  private async doEnd(session: Session, reason: EndReason, message: string | undefined, failedStart: boolean): Promise<void> {
    const wasReady = session.state === 'ready';
    session.beginEnd({ reason, message: message ?? END_MESSAGES[reason], failedStart: failedStart || reason === 'start_timeout' });
    // Before the sandbox goes: the learner's files, if they worked in it. The learner is told what became of them.
    const note = wasReady && session.owner && !session.pooled && session.worked && SAVES_ON[reason] ? await this.saveWork(session) : undefined;
    session.announceEnd(note);
    const qi = this.queue.indexOf(session);
    if (qi >= 0) {
      this.queue.splice(qi, 1);
      this.announceQueue();
    }
    if (session.pooled) this.pool.remove(session);
    session.bootAbort.abort();
    // A driver that honours the abort ends its boot soon; one that does not is waited for only until the start time limit.
    const gaveUp = await Promise.race([session.booted.then(() => false), session.startGaveUp.then(() => true)]);
    if (gaveUp && !session.sandbox) {
      // The start is abandoned: the slot is free now, and boot() stops the sandbox if it ever arrives.
      session.abandoned = true;
    } else {
      await session.booted;
      await session.terminal.close();
      if (session.sandbox) {
        await this.driverFor(session.runtime)
          .stop(session.sandbox, { now: reason === 'shutdown' })
          .catch((e) => this.log(`stop ${session.id}: ${e}`));
      }
    }
    session.finishEnd(this.now());
    this.log(`${session.pooled ? 'warm sandbox' : 'session'} ${session.id} ended: ${reason}`);
    this.admitQueued();
    if (session.pooled || this.queue.length === 0) this.pool.refill();
  }

  /**
   * Saves the session's files (work.ts) as the owner's latest for this
   * lesson; returns the sentence that tells the learner how it went. Never
   * throws: the session ends either way.
   */
  private async saveWork(session: Session): Promise<string> {
    const paths = session.lesson.keep.join(', ');
    if (session.savedWorkOffered) {
      // The learner neither restored their earlier files nor chose to start fresh: those stay the ones kept.
      this.log(`session ${session.id}: work not saved: the earlier saved work was offered and not answered`);
      return `Your earlier saved files are kept (this sandbox's files were not saved, since you had not chosen between restoring them and starting fresh).`;
    }
    const took = await takeWork(session, this.policy.savedWorkBytes);
    if (!took.ok) {
      this.log(`session ${session.id}: work not saved (${took.reason}): ${took.detail}`);
      if (took.reason === 'nothing') return '';
      if (took.reason === 'too_large') return `Your files (${paths}) were not saved: together they are over the ${sizeText(this.policy.savedWorkBytes)} limit for saved work.`;
      return `Your files (${paths}) could not be saved.`;
    }
    try {
      await this.store.putSavedWork({ learnerId: session.ownerKey, lessonId: session.lesson.id, createdAt: this.now(), archive: took.archive });
    } catch (err) {
      this.log(`store: cannot save the work of session ${session.id}: ${(err as Error)?.message ?? err}`);
      return `Your files (${paths}) could not be saved: the lab could not store them.`;
    }
    this.log(`session ${session.id}: saved ${took.archive.length} bytes of work (${paths})`);
    return `Your files (${paths}) were saved: open this lesson again to restore them.`;
  }

  /**
   * Puts the owner's saved work for the session's lesson back into its
   * sandbox (after its setup: the session is ready). NoSavedWork when there
   * is none; RestoreFailedError (the sandbox stays usable) when the sandbox
   * could not take it.
   */
  async restore(session: Session): Promise<{ savedAt: number; sizeBytes: number }> {
    await session.ready;
    if (session.ended) throw new LabError('session_expired', 'This sandbox has already ended.', 410);
    const work = await this.store.getLatestSavedWork(session.ownerKey, session.lesson.id).catch((err) => {
      throw this.storeFailed(`cannot read the saved work of ${session.ownerKey}`, err);
    });
    if (!work) throw new LabError('no_saved_work', 'There is no saved work for this lesson.', 404);
    session.touch();
    const why = await restoreWork(session, work.archive);
    if (why) {
      this.log(`session ${session.id}: restore failed: ${why}`);
      throw new LabError(
        'restore_failed',
        'Your saved files could not be put back into this sandbox. The sandbox works as before; your saved files are kept, so you can try again.',
        500,
      );
    }
    session.savedWorkOffered = false;
    this.log(`session ${session.id}: restored ${work.sizeBytes} bytes of work from ${new Date(work.createdAt).toISOString()}`);
    return { savedAt: work.createdAt, sizeBytes: work.sizeBytes };
  }

  /**
   * Resolves once every session of `ownerKey` on `lessonId` that is ending has
   * ended (its work saved or not): a new session of theirs reads the saved
   * work only after that, so it is offered the files just saved.
   */
  async endsSettled(ownerKey: string, lessonId: string): Promise<void> {
    await Promise.all(
      this.list()
        .filter((s) => s.ownerKey === ownerKey && s.lesson.id === lessonId && s.ending)
        .map((s) => s.ending),
    );
  }

  /** Keep policy.poolSizes[runtime] warm sandboxes per pool lesson (see pool.ts). */
  refillPools(): void {
    this.pool.refill();
  }

  /** Resolves once the warm pool has nothing left to boot (tests and benchmarks wait on it). */
  poolSettled(): Promise<void> {
    return this.pool.settled();
  }

  /** Enforce lifetimes once; called every second by start(), directly by tests. */
  async tick(): Promise<void> {
    const t = this.now();
    const p = this.policy;
    await this.pool.tick();
    // Ends run side by side (each saves the learner's work first, up to SAVE_TIMEOUT_MS); the tick waits for all of them.
    const ends: Promise<void>[] = [];
    const endNow = (s: Session, reason: EndReason, message?: string) => ends.push(this.end(s, reason, message));
    for (const s of this.list()) {
      if (s.ended) {
        // Ended sessions stay briefly as tombstones so a late socket learns why.
        if (s.endedAt !== null && t >= s.endedAt + TOMBSTONE_MS) this.sessions.delete(s.id);
        continue;
      }
      if (s.state === 'queued') {
        // A queued learner who left (no socket for the grace period) gives up their place.
        if (s.detachedAt !== null && t >= s.detachedAt + p.reconnectGraceMs) endNow(s, 'closed');
        continue;
      }
      if (t >= s.expiresAt) {
        endNow(s, 'lifetime');
        continue;
      }
      const idleEnd = s.lastActivityAt + p.idleTimeoutMs;
      if (t >= idleEnd) {
        endNow(s, 'idle');
        continue;
      }
      if (s.detachedAt !== null && s.state !== 'starting' && t >= s.detachedAt + p.reconnectGraceMs) {
        endNow(s, 'closed');
        continue;
      }
      if (s.state === 'ready' && s.sandbox) {
        const gone = await this.driverFor(s.runtime).poll(s.sandbox);
        if (gone) {
          endNow(s, 'sandbox_exited', exitMessage(gone.reason));
          continue;
        }
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
    await Promise.all(ends);
  }

  /**
   * Adopt what a previous backend left running for its learners (the store's
   * live sessions), reap everything else it left behind, fill the warm pool,
   * then enforce lifetimes every `intervalMs`.
   */
  async start(intervalMs = 1000): Promise<void> {
    await this.adoptLive();
    const owned = [...this.sessions.values(), ...this.pool.all()];
    for (const [name, driver] of Object.entries(this.deps.drivers)) {
      const removed = await driver!.reap(new Set(owned.map((s) => s.sandbox?.id).filter((x): x is string => !!x)));
      if (removed.length) this.log(`reaped ${removed.length} ${name} sandbox(es) left by a previous run: ${removed.join(', ')}`);
    }
    this.pool.refill();
    let running = false;
    this.ticker = setInterval(() => {
      if (running) return;
      running = true;
      void this.tick()
        .catch((e) => this.log(`tick: ${e}`))
        .finally(() => {
          running = false;
        });
    }, intervalMs);
    this.ticker.unref();
  }

  /**
   * A previous backend's sessions, from the store: each still-valid ready
   * one whose sandbox its driver adopts becomes a live session again (same
   * id, owner, lesson, times and sandbox; its screen replayed from the
   * terminal log, its shell reattached). The others are ended in the store,
   * with why; their sandboxes are reaped by start().
   */
  private async adoptLive(): Promise<void> {
    const live = await this.store.listLiveSessions().catch((err) => {
      this.log(`store: cannot list live sessions to adopt: ${(err as Error)?.message ?? err}`);
      return [];
    });
    const now = this.now();
    let adopted = 0;
    for (const rec of live) {
      const endAs = async (reason: EndReason, why: string) => {
        this.log(`session ${rec.id} (${rec.lessonId}) not adopted: ${why}`);
        await this.store.endSession(rec.id, reason, now).catch((err) => this.log(`store: session ${rec.id}: ${(err as Error)?.message ?? err}`));
        if (this.deps.terminalDir) await fs.rm(path.join(this.deps.terminalDir, `${rec.id}.log`), { force: true }).catch(() => {});
      };
      // Its lifetime passed while no backend ran: adopted all the same (below), then ended, so its work is saved.
      const expired = rec.expiresAt !== null && rec.expiresAt <= now;
      if (rec.state !== 'ready' || rec.driverState === null) {
        await endAs('shutdown', `it was ${rec.state} when its backend stopped`);
        continue;
      }
      const owner = learnerFromKey(rec.learnerId);
      const lesson = owner && this.deps.lessonFor ? await this.deps.lessonFor(rec.lessonId).catch(() => null) : null;
      const driver = this.deps.drivers[rec.runtime];
      if (!owner || !lesson || !driver || lesson.runtime !== rec.runtime) {
        await endAs(
          'shutdown',
          !owner ? `its owner ${rec.learnerId} is not one this backend adopts` : !lesson ? 'its lesson is gone' : `runtime ${rec.runtime} is not enabled here`,
        );
        continue;
      }
      let sandbox: Sandbox;
      try {
        sandbox = await driver.adopt(rec.driverState);
      } catch (err) {
        await endAs('sandbox_exited', (err as Error).message);
        continue;
      }
      const session = new Session(lesson, owner, this.ctx, rec.startedAt ?? now, 'starting', rec.id);
      session.sandbox = sandbox;
      session.expiresAt = rec.expiresAt ?? now + this.policy.maxLifetimeMs;
      session.extendsUsed = rec.extendsUsed;
      session.lastActivityAt = now;
      session.detachedAt = now; // the reconnect grace starts now: the learner's page comes back within it
      session.worked = true; // nobody knows what happened in it: save it when it ends
      this.sessions.set(session.id, session);
      session.events.on(this.recorder.follow(session));
      await session.terminal.adoptScreen();
      session.advance('ready');
      // Reattach to the held shell now, so its redraw is in the replay when the learner's page reconnects.
      void session.terminal.prewarm().catch((err) => this.log(`session ${session.id}: could not reattach its shell: ${toLabError(err).message}`));
      adopted++;
      this.log(`session ${session.id} (${lesson.id}) adopted its ${rec.runtime} sandbox ${sandbox.id}`);
      if (expired) void this.end(session, 'lifetime');
    }
    if (live.length) this.log(`adopted ${adopted} of ${live.length} session(s) a previous backend left`);
  }

  /**
   * Hand over to the next backend (a deploy): stop enforcing and filling,
   * end only the warm pool (the next backend makes its own), keep every
   * learner's sandbox running and its record live, and write each screen
   * log. The next backend's start() adopts them; their watchdogs keep them
   * for LAB_ORPHAN_GRACE_MS in the meantime.
   */
  async handOver(): Promise<void> {
    this.stopping = true;
    if (this.ticker) clearInterval(this.ticker);
    await this.pool.settled();
    await Promise.all(this.pool.all().map((s) => this.end(s, 'shutdown')));
    // A runtime whose driver cannot adopt (Driver.adopts false; every driver here can) ends here, after saving its learner's work.
    await Promise.all(
      this.list()
        .filter((s) => !s.ended && !this.driverFor(s.runtime).adopts)
        .map((s) => this.end(s, 'shutdown')),
    );
    await Promise.all(
      this.list()
        .filter((s) => !s.ended)
        .map((s) => s.terminal.flushScreen()),
    );
    await this.recorder.flush();
  }

  /** End every session and warm sandbox (SIGTERM path). */
  async shutdown(): Promise<void> {
    this.stopping = true;
    if (this.ticker) clearInterval(this.ticker);
    await Promise.all([...this.list(), ...this.pool.all()].map((s) => this.end(s, 'shutdown')));
    await this.pool.settled();
    await Promise.all(this.pool.all().map((s) => this.end(s, 'shutdown')));
    // Every end is in the store before the caller closes it.
    await this.recorder.flush();
  }
}

/** What a learner is told when their sandbox did not start for a reason of the host's (the details are in the log). */
function learnerStartMessage(session: Session): string {
  return `Your sandbox could not start. The lab's log has the details (session ${session.id}). Reload the page to try again; if it keeps failing, tell the lab's operator.`;
}

/** 33554432 → "32 MiB", 262144 → "256 KiB". */
function sizeText(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${Math.round(bytes / 1024 / 1024)} MiB` : `${Math.round(bytes / 1024)} KiB`;
}

/** Which ends save the learner's files first (a sandbox that died or never started has none to give). */
const SAVES_ON: Record<EndReason, boolean> = {
  idle: true,
  lifetime: true,
  closed: true,
  shutdown: true,
  replaced: true,
  sandbox_exited: false,
  start_timeout: false,
};

const END_MESSAGES: Record<EndReason, string> = {
  idle: 'The sandbox was stopped because nothing happened in it for a while.',
  lifetime: 'The sandbox reached its maximum lifetime and was stopped.',
  closed: 'The lab tab was closed, so the sandbox was stopped.',
  sandbox_exited: 'The sandbox stopped unexpectedly.',
  shutdown: 'The lab is shutting down.',
  replaced: 'This lab was opened in another tab.',
  start_timeout: 'The sandbox did not start in time, so it was stopped.',
};
