/**
 * The Store: everything the lab keeps beyond one backend process — learners,
 * sessions (enough to re-adopt their sandboxes), every check result, saved
 * work, device-transfer codes. One interface; SQLite (sqlite.ts) is the
 * embedded default, PostgreSQL follows for several backends. Every
 * implementation passes the one suite in test/unit/store-suite.ts.
 *
 * Contract for every method:
 *  - Methods are async so a networked implementation fits; each one is a
 *    single atomic step: it happened whole or not at all, also across a crash
 *    (`kill -9`) of the process calling it.
 *  - Times are ms since the epoch, given by the caller (the store never reads
 *    the clock, so tests and the SessionManager's `now` agree).
 *  - Ids are chosen by the caller (random, unguessable where they are secrets).
 *  - A missing record is `null` / `false`, never an error. An error is a
 *    StoreError: the database cannot be used (corrupt, locked, closed), or the
 *    call breaks a rule stated on its method (a duplicate id, a session moving
 *    backwards). Its message is for the operator's log: it names files and is
 *    never shown to a learner as is.
 *  - After close(), every method rejects with a StoreError ('closed').
 */
import type { RuntimeName, ServerMessage } from '../wire';

/** Who a learner is; identity (a later module) maps each kind to a Principal. */
export type LearnerKind = 'anonymous' | 'participant' | 'embedded' | 'admin';

export interface LearnerRecord {
  id: string;
  kind: LearnerKind;
  createdAt: number;
  /** Latest time given to touchLearner() (createdAt until then); never moves back. */
  lastSeenAt: number;
  /**
   * For a learner known elsewhere (an LTI/embedding integration, a workshop):
   * `issuer` names that party, `subject` its id for the person. Unique
   * together, so one outside identity is one learner.
   */
  external: { issuer: string; subject: string } | null;
}

export interface NewLearner {
  id: string;
  kind: LearnerKind;
  createdAt: number;
  external?: { issuer: string; subject: string };
}

/**
 * A session's one ranked state; it only moves forward:
 * queued (waiting for a slot) → starting → ready → ended. A session may skip
 * states (a failed start goes starting → ended), never go back.
 */
export type SessionState = 'queued' | 'starting' | 'ready' | 'ended';
export const SESSION_STATE_RANK: Record<SessionState, number> = { queued: 0, starting: 1, ready: 2, ended: 3 };

/**
 * Why a session ended: the wire's list, defined once in wire.ts. Stored as
 * text, so a reason added there (a start timeout) needs no migration.
 */
export type EndReason = Extract<ServerMessage, { type: 'ended' }>['reason'];

export interface SessionRecord {
  id: string;
  /** The learner who owns the session (its Principal). */
  learnerId: string;
  lessonId: string;
  runtime: RuntimeName;
  /** The sandbox serving it, once one is assigned (claimed from the pool or started). */
  sandboxId: string | null;
  /**
   * What the session's driver needs to re-adopt the sandbox after a backend
   * restart (its describe(); JupyterHub's get_state). Opaque to the store:
   * any JSON value, returned as given; null when there is none.
   */
  driverState: unknown;
  state: SessionState;
  createdAt: number;
  /** When its sandbox was ready for the learner (the learner's clock started). */
  startedAt: number | null;
  /** When it ends unless extended; what a restarted backend uses to tell a still-valid session from an expired one. */
  expiresAt: number | null;
  /** Lifetime extensions used so far (0 from a database before migration 002). */
  extendsUsed: number;
  endedAt: number | null;
  endReason: EndReason | null;
}

export interface NewSession {
  id: string;
  learnerId: string;
  lessonId: string;
  runtime: RuntimeName;
  createdAt: number;
  /** Default 'starting'; 'ended' is refused (use endSession). */
  state?: Exclude<SessionState, 'ended'>;
}

/** The fields updateSession() may change; an absent field is left as it is. */
export interface SessionUpdate {
  state?: Exclude<SessionState, 'ended'>;
  sandboxId?: string | null;
  driverState?: unknown;
  startedAt?: number | null;
  expiresAt?: number | null;
  extendsUsed?: number;
}

/** One check result as the backend got it from the sandbox. */
export interface NewCheckResult {
  sessionId: string;
  exerciseId: string;
  passed: boolean;
  message: string;
  durationMs: number;
  /** null when the check was killed, timed out, or never started. */
  exitCode: number | null;
  at: number;
}

/** A recorded result: who and which lesson come from the session, never from the caller. */
export interface CheckRecord extends NewCheckResult {
  learnerId: string;
  lessonId: string;
}

/** Where a learner stands on one exercise, computed from their recorded results. */
export interface ExerciseProgress {
  lessonId: string;
  exerciseId: string;
  /** Some recorded result passed (a later failure does not take it back). */
  passed: boolean;
  /** The earliest passing result's time, or null. */
  firstPassedAt: number | null;
  /** Results recorded, passed or not. */
  attempts: number;
  lastAttemptAt: number;
}

export interface SavedWorkInfo {
  learnerId: string;
  lessonId: string;
  createdAt: number;
  sizeBytes: number;
}

export interface SavedWork extends SavedWorkInfo {
  /** The archive as the sandbox produced it (opaque to the store; its size is capped by the caller). */
  archive: Buffer;
}

export interface NewDeviceCode {
  /**
   * A hash of the code (e.g. SHA-256 hex); the code itself never reaches the
   * store, so a copy of the database signs nobody in.
   */
  codeHash: string;
  learnerId: string;
  createdAt: number;
  expiresAt: number;
}

/** What consuming a device code did: signed in as learnerId, or why not. */
export type ConsumeResult = { ok: true; learnerId: string } | { ok: false; reason: 'unknown' | 'used' | 'expired' };

export interface InstructorRecord {
  id: string;
  name: string;
  /** The password's scrypt hash (with its salt and parameters), or null until one is set. */
  passwordHash: string | null;
  createdAt: number;
}

export interface NewInstructorInvite {
  /** A hash of the invite link's token; the token itself never reaches the store. */
  tokenHash: string;
  /** The name the admin gave the instructor. */
  name: string;
  createdAt: number;
  expiresAt: number;
}

export type AcceptInviteResult = { ok: true; instructor: InstructorRecord } | { ok: false; reason: 'unknown' | 'used' | 'expired' };

export type WorkshopPace = 'open' | 'instructor';

export interface NewWorkshop {
  id: string;
  instructorId: string;
  title: string;
  /** Canonical form (workshops/codes.ts); unique among all workshops. */
  joinCode: string;
  /** In the instructor's order; at least one. */
  lessonIds: string[];
  startsAt: number;
  endsAt: number;
  seats: number;
  pace: WorkshopPace;
  createdAt: number;
}

export interface WorkshopRecord extends NewWorkshop {
  /** Pace "instructor": how many lessons are open (at least 1). */
  unlocked: number;
  /** When it was ended (at its end time, or by the instructor); null while it runs. */
  endedAt: number | null;
}

export interface WorkshopUpdate {
  unlocked?: number;
  endedAt?: number;
}

export interface NewSeat {
  workshopId: string;
  /** The seat's own learner (kind 'participant'), made by the caller first. */
  learnerId: string;
  displayName: string;
  /** What names are compared by (workshops/names.ts displayNameKey). */
  nameKey: string;
  joinedAt: number;
}

export interface SeatRecord extends NewSeat {
  removedAt: number | null;
}

export type TakeSeatResult = { ok: true; seat: SeatRecord; rejoined: boolean } | { ok: false; reason: 'name_taken' | 'full' | 'removed' };

export interface WorkshopLogEntry {
  workshopId: string;
  at: number;
  /** An instructor id, or 'admin'. */
  actor: string;
  /** What was done: 'shadow', 'take_keyboard', 'extend', 'broadcast', … */
  action: string;
  learnerId?: string | null;
  detail?: string;
}

export interface Store {
  // Learners.
  /** StoreError ('conflict') if the id, or the external identity, is taken. */
  createLearner(learner: NewLearner): Promise<LearnerRecord>;
  /**
   * The learner with this id, made first if there is none (the server calls it
   * for each principal it meets: a cookie's learner whose record is missing is
   * made again). An existing record is returned as it is, whatever `learner`
   * says. StoreError ('conflict') only when the external identity belongs to
   * another learner.
   */
  ensureLearner(learner: NewLearner): Promise<LearnerRecord>;
  getLearner(id: string): Promise<LearnerRecord | null>;
  findLearnerByExternal(issuer: string, subject: string): Promise<LearnerRecord | null>;
  /** lastSeenAt = max(lastSeenAt, at); false for an unknown learner. */
  touchLearner(id: string, at: number): Promise<boolean>;

  // Sessions.
  /** StoreError ('conflict') for a taken id, ('not_found') for an unknown learner. */
  createSession(session: NewSession): Promise<SessionRecord>;
  getSession(id: string): Promise<SessionRecord | null>;
  /**
   * Changes the given fields and returns the session as it now is; null for
   * an unknown session. StoreError ('conflict') if the session has ended or
   * the state would move backwards (forward-only); nothing is changed then.
   */
  updateSession(id: string, update: SessionUpdate): Promise<SessionRecord | null>;
  /**
   * Ends a session: state 'ended', endedAt and endReason set. The first end
   * wins: ending it again changes nothing and returns `ended: false` with the
   * session as the first end left it. null for an unknown session.
   */
  endSession(id: string, reason: EndReason, at: number): Promise<{ ended: boolean; session: SessionRecord } | null>;
  /** Every session not ended, oldest first: what a restarted backend adopts (the rest of its sandboxes it reaps). */
  listLiveSessions(): Promise<SessionRecord[]>;

  // Check results and progress.
  /**
   * Records one result and updates the learner's progress in one transaction:
   * after a crash both are there or neither is. The learner and lesson are
   * the session's. StoreError ('not_found') for an unknown session; an ended
   * session still takes results (a check can finish as its session ends).
   */
  recordCheckResult(result: NewCheckResult): Promise<CheckRecord>;
  /** A learner's results, oldest first, optionally of one lesson. */
  listCheckResults(learnerId: string, lessonId?: string): Promise<CheckRecord[]>;
  /** A learner's progress per exercise they have any result for, optionally of one lesson; ordered by lesson, then exercise. */
  getProgress(learnerId: string, lessonId?: string): Promise<ExerciseProgress[]>;

  // Saved work: one archive per learner × lesson, the latest.
  /**
   * Stores the archive, replacing any earlier one for the same learner and
   * lesson (only the latest is ever offered, so a learner holds at most one
   * per lesson). StoreError ('not_found') for an unknown learner.
   */
  putSavedWork(work: { learnerId: string; lessonId: string; createdAt: number; archive: Buffer }): Promise<SavedWorkInfo>;
  /** What there is to restore, without reading the archive ("Restore your work from <time>"). */
  getLatestSavedWorkInfo(learnerId: string, lessonId: string): Promise<SavedWorkInfo | null>;
  getLatestSavedWork(learnerId: string, lessonId: string): Promise<SavedWork | null>;
  /** false when there was none. */
  deleteSavedWork(learnerId: string, lessonId: string): Promise<boolean>;

  // Device-transfer codes.
  /** StoreError ('conflict') for a hash already stored, ('not_found') for an unknown learner. */
  createDeviceCode(code: NewDeviceCode): Promise<void>;
  /**
   * Signs in with a code at most once: the first call before expiresAt (now
   * < expiresAt) marks it used and returns its learner; any later call says
   * 'used', one at or after expiresAt 'expired', and a hash never stored
   * 'unknown'. Two concurrent calls: exactly one gets ok.
   */
  consumeDeviceCode(codeHash: string, now: number): Promise<ConsumeResult>;

  // Instructors and workshops.
  /** StoreError ('conflict') for a hash already stored. */
  createInstructorInvite(invite: NewInstructorInvite): Promise<void>;
  /**
   * Uses an invite at most once, before it expires (now < expiresAt): makes
   * the instructor `id` with the invite's name and marks the invite used, in
   * one step. Later calls say 'used'; two concurrent calls: one gets ok.
   */
  acceptInstructorInvite(tokenHash: string, instructor: { id: string; createdAt: number }, now: number): Promise<AcceptInviteResult>;
  getInstructor(id: string): Promise<InstructorRecord | null>;
  /** false for an unknown instructor. */
  setInstructorPassword(id: string, passwordHash: string): Promise<boolean>;
  /** StoreError ('conflict') for a taken id or join code, ('not_found') for an unknown instructor. */
  createWorkshop(workshop: NewWorkshop): Promise<WorkshopRecord>;
  getWorkshop(id: string): Promise<WorkshopRecord | null>;
  /** By its canonical join code. */
  findWorkshopByCode(joinCode: string): Promise<WorkshopRecord | null>;
  /** One instructor's workshops, or every workshop (no argument: the admin), newest start first. */
  listWorkshops(instructorId?: string): Promise<WorkshopRecord[]>;
  /** null for an unknown workshop; endedAt, once set, stays (the first end wins). */
  updateWorkshop(id: string, update: WorkshopUpdate): Promise<WorkshopRecord | null>;
  /**
   * A learner takes a seat, in one step: the learner's own seat back if they
   * hold one ('removed' if the instructor removed it), else a new one unless
   * the name's key is taken ('name_taken') or every seat is ('full').
   * StoreError ('not_found') for an unknown workshop or learner.
   */
  takeSeat(seat: NewSeat): Promise<TakeSeatResult>;
  /** The workshop's seats, removed ones included, in joining order. */
  listSeats(workshopId: string): Promise<SeatRecord[]>;
  /** The seat a learner holds in a workshop (removed or not), or null. */
  getSeat(workshopId: string, learnerId: string): Promise<SeatRecord | null>;
  /** Marks a seat removed (the first removal's time stays); false for no such seat. */
  removeSeat(workshopId: string, learnerId: string, at: number): Promise<boolean>;
  /** StoreError ('not_found') for an unknown workshop. */
  appendWorkshopLog(entry: WorkshopLogEntry): Promise<void>;
  /** Oldest first. */
  listWorkshopLog(workshopId: string): Promise<Required<WorkshopLogEntry>[]>;

  /** Releases the database; a second close() does nothing. */
  close(): Promise<void>;
}

export type StoreErrorCode = 'corrupt' | 'locked' | 'open_failed' | 'too_new' | 'migration_failed' | 'conflict' | 'not_found' | 'closed' | 'failed';

/**
 * A store failure. The message is for the operator (it names the database
 * file where there is one); what a learner sees is decided by the caller.
 */
export class StoreError extends Error {
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    readonly file?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StoreError';
  }
}
