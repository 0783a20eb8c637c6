/**
 * The Store on one SQLite file (better-sqlite3), the embedded default.
 *
 * Open: the file and its directory are made when missing (the file mode
 * 0600: it holds learners' work; SQLite gives its -wal and -shm files the
 * same mode). Then, in order: foreign keys on, busy timeout, WAL,
 * synchronous=FULL, `PRAGMA quick_check`, migrations. A file that is not a
 * database or fails the check is a StoreError 'corrupt', one another
 * connection keeps locked past the busy timeout 'locked', one written by a
 * newer lab 'too_new'; each names the file, and the file is never changed or
 * replaced (the operator decides what to do with it).
 *
 * Durability: WAL with synchronous=FULL: a call that resolved is on disk and
 * survives a crash or power loss; one in flight when the process dies is
 * there whole or not at all. quick_check reads the whole file at open, which
 * costs about a second per GiB; it is the price of refusing to start on a
 * damaged database instead of failing in the middle of a learner's session.
 *
 * Calls are synchronous underneath (better-sqlite3): each method runs to its
 * end before another starts, so a transaction never interleaves with another
 * call of this process. Another process on the same file waits its turn
 * (busy timeout), then the call fails 'locked'.
 *
 * Saved work is a BLOB in the database, not a file beside it: it is written
 * in the same transaction as its metadata (a crash leaves no file without a
 * row or row without a file), the database stays the one file to back up, and
 * the PostgreSQL store keeps it the same way (bytea). The caller caps its size
 * (default 32 MiB), and one per learner × lesson is kept.
 */
import Database from 'better-sqlite3';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  SESSION_STATE_RANK,
  StoreError,
  type CheckRecord,
  type ConsumeResult,
  type EndReason,
  type ExerciseProgress,
  type LearnerRecord,
  type NewCheckResult,
  type NewDeviceCode,
  type NewLearner,
  type NewSession,
  type SavedWork,
  type SavedWorkInfo,
  type SessionRecord,
  type SessionUpdate,
  type Store,
  type AcceptInviteResult,
  type InstructorRecord,
  type NewInstructorInvite,
  type NewSeat,
  type NewWorkshop,
  type SeatRecord,
  type TakeSeatResult,
  type WorkshopLogEntry,
  type WorkshopRecord,
  type WorkshopUpdate,
} from './store';

export const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');

export interface Migration {
  /** 1, 2, 3 … from the file name's number; the database's user_version is the last one applied. */
  version: number;
  name: string;
  sql: string;
}

/**
 * The migrations in `dir`: files `NNN-name.sql`, numbered 1..n without gaps,
 * in order. A migration runs in one transaction with foreign keys on (SQLite
 * ignores `PRAGMA foreign_keys` inside a transaction, so a migration that
 * rebuilds a table must keep references valid itself).
 */
export function loadMigrations(dir = MIGRATIONS_DIR): Migration[] {
  const migrations = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((f) => {
      const m = /^(\d{3})-([a-z0-9-]+)\.sql$/.exec(f);
      if (!m) throw new StoreError('migration_failed', `${path.join(dir, f)}: a migration is named NNN-name.sql (three digits, then lower-case words)`);
      return { version: Number(m[1]), name: f, sql: readFileSync(path.join(dir, f), 'utf8') };
    });
  migrations.forEach((m, i) => {
    if (m.version !== i + 1)
      throw new StoreError('migration_failed', `${dir}: migration ${m.name} should be number ${i + 1} (migrations are numbered 1..n with no gaps or repeats)`);
  });
  return migrations;
}

export interface SqliteStoreOptions {
  /** How long a call waits for another connection's lock before failing 'locked'. */
  busyTimeoutMs?: number;
  /** The migrations to bring the file up to; default every one in MIGRATIONS_DIR (tests pass a prefix). */
  migrations?: Migration[];
}

const DEFAULT_BUSY_TIMEOUT_MS = 5_000;

/** Opens (making it if missing) and migrates the database at `file`; a StoreError naming the file if it cannot be used. */
export async function openSqliteStore(file: string, options: SqliteStoreOptions = {}): Promise<SqliteStore> {
  return new SqliteStore(file === MEMORY ? MEMORY : path.resolve(file), options);
}

/** The file name of a database that lives in this process's memory only (unit tests): gone at close(), nothing on disk. */
export const MEMORY = ':memory:';

function sqliteCode(e: unknown): string {
  return e instanceof Database.SqliteError ? e.code : '';
}

export class SqliteStore implements Store {
  readonly file: string;
  private readonly db: Database.Database;
  private readonly busyTimeoutMs: number;
  private closed = false;

  constructor(file: string, options: SqliteStoreOptions = {}) {
    this.file = file;
    this.busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
    let db: Database.Database;
    const inMemory = file === MEMORY;
    try {
      if (!inMemory) mkdirSync(path.dirname(file), { recursive: true });
      const existed = inMemory || existsSync(file);
      db = new Database(file, { timeout: this.busyTimeoutMs });
      if (!existed) chmodSync(file, 0o600);
    } catch (e) {
      throw this.storeError(e, 'open', 'open_failed');
    }
    this.db = db;
    try {
      db.pragma('foreign_keys = ON');
      const check = String(db.pragma('quick_check', { simple: true }));
      if (check !== 'ok') throw new StoreError('corrupt', this.corruptMessage(`PRAGMA quick_check says: ${check.split('\n').slice(0, 3).join('; ')}…`), file);
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal' && !inMemory)
        throw new StoreError('open_failed', `${file}: SQLite could not switch it to WAL mode (journal_mode is ${String(mode)}); is it on a network file system?`, file);
      db.pragma('synchronous = FULL');
      this.migrate(options.migrations ?? loadMigrations());
    } catch (e) {
      db.close();
      throw this.storeError(e, 'open', 'open_failed');
    }
  }

  /** Applies each migration above user_version, each in its own IMMEDIATE transaction (so two backends opening at once apply it once). */
  private migrate(migrations: Migration[]) {
    const latest = migrations.length;
    for (;;) {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const version = this.db.pragma('user_version', { simple: true }) as number;
        if (version > latest) {
          throw new StoreError(
            'too_new',
            `${this.file} has schema version ${version}, made by a newer version of the lab (this one knows up to ${latest}); run that version, or restore a backup made for this one`,
            this.file,
          );
        }
        if (version === latest) {
          this.db.exec('COMMIT');
          return;
        }
        const m = migrations[version];
        try {
          this.db.exec(m.sql);
        } catch (e) {
          throw new StoreError(
            'migration_failed',
            `${this.file}: migration ${m.name} failed, nothing of it was applied (the schema stays at version ${version}): ${(e as Error).message}`,
            this.file,
            { cause: e },
          );
        }
        this.db.pragma(`user_version = ${m.version}`);
        this.db.exec('COMMIT');
      } catch (e) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        throw e;
      }
    }
  }

  private corruptMessage(detail: string): string {
    return `${this.file} is not a usable SQLite database (${detail}). The lab has not changed it: restore it from a backup, or move it away to start with an empty database (every learner's progress and saved work is in it)`;
  }

  /** Any error as a StoreError naming the file; `fallback` is the code for one that is not locking, corruption or a constraint. */
  private storeError(e: unknown, doing: string, fallback: 'open_failed' | 'failed' = 'failed'): StoreError {
    if (e instanceof StoreError) return e;
    const code = sqliteCode(e);
    const msg = e instanceof Error ? e.message : String(e);
    if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
      return new StoreError(
        'locked',
        `${this.file} is locked by another connection (${doing}: waited ${this.busyTimeoutMs} ms): is another lab backend using this database?`,
        this.file,
        { cause: e },
      );
    }
    if (code === 'SQLITE_NOTADB' || code.startsWith('SQLITE_CORRUPT')) {
      return new StoreError('corrupt', this.corruptMessage(msg), this.file, { cause: e });
    }
    if (code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE') {
      return new StoreError('conflict', `${doing}: already exists (${msg}) in ${this.file}`, this.file, { cause: e });
    }
    if (code === 'SQLITE_CONSTRAINT_FOREIGNKEY') {
      return new StoreError('not_found', `${doing}: a record it refers to does not exist in ${this.file}`, this.file, { cause: e });
    }
    return new StoreError(fallback, `${this.file}: ${doing} failed: ${msg}`, this.file, { cause: e });
  }

  /** Runs one call: refused after close(), every error a StoreError. */
  private async run<T>(doing: string, fn: () => T): Promise<T> {
    if (this.closed) throw new StoreError('closed', `${this.file}: ${doing} after the store was closed`, this.file);
    try {
      return fn();
    } catch (e) {
      throw this.storeError(e, doing);
    }
  }

  // Learners.

  createLearner(l: NewLearner): Promise<LearnerRecord> {
    return this.run(`create learner ${l.id}`, () => {
      this.db
        .prepare('INSERT INTO learners (id, kind, created_at, last_seen_at, external_issuer, external_subject) VALUES (?, ?, ?, ?, ?, ?)')
        .run(l.id, l.kind, l.createdAt, l.createdAt, l.external?.issuer ?? null, l.external?.subject ?? null);
      return { id: l.id, kind: l.kind, createdAt: l.createdAt, lastSeenAt: l.createdAt, external: l.external ? { ...l.external } : null };
    });
  }

  ensureLearner(l: NewLearner): Promise<LearnerRecord> {
    return this.run(`ensure learner ${l.id}`, () => {
      this.db
        .prepare('INSERT INTO learners (id, kind, created_at, last_seen_at, external_issuer, external_subject) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING')
        .run(l.id, l.kind, l.createdAt, l.createdAt, l.external?.issuer ?? null, l.external?.subject ?? null);
      return learnerFrom(this.db.prepare('SELECT * FROM learners WHERE id = ?').get(l.id))!;
    });
  }

  getLearner(id: string): Promise<LearnerRecord | null> {
    return this.run(`get learner ${id}`, () => learnerFrom(this.db.prepare('SELECT * FROM learners WHERE id = ?').get(id)));
  }

  findLearnerByExternal(issuer: string, subject: string): Promise<LearnerRecord | null> {
    return this.run(`find learner ${issuer}/${subject}`, () =>
      learnerFrom(this.db.prepare('SELECT * FROM learners WHERE external_issuer = ? AND external_subject = ?').get(issuer, subject)),
    );
  }

  touchLearner(id: string, at: number): Promise<boolean> {
    return this.run(`touch learner ${id}`, () => this.db.prepare('UPDATE learners SET last_seen_at = max(last_seen_at, ?) WHERE id = ?').run(at, id).changes === 1);
  }

  // Sessions.

  createSession(s: NewSession): Promise<SessionRecord> {
    return this.run(`create session ${s.id} for learner ${s.learnerId}`, () => {
      const state = s.state ?? 'starting';
      if ((state as string) === 'ended') throw new StoreError('conflict', `create session ${s.id}: a session cannot be created ended`, this.file);
      this.db
        .prepare('INSERT INTO sessions (id, learner_id, lesson_id, runtime, state, created_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(s.id, s.learnerId, s.lessonId, s.runtime, state, s.createdAt);
      return this.sessionById(s.id)!;
    });
  }

  getSession(id: string): Promise<SessionRecord | null> {
    return this.run(`get session ${id}`, () => this.sessionById(id));
  }

  updateSession(id: string, u: SessionUpdate): Promise<SessionRecord | null> {
    return this.run(`update session ${id}`, () =>
      this.db
        .transaction(() => {
          const s = this.sessionById(id);
          if (!s) return null;
          if (s.state === 'ended') throw new StoreError('conflict', `update session ${id}: it has ended (${s.endReason})`, this.file);
          if ((u.state as string) === 'ended') throw new StoreError('conflict', `update session ${id}: end a session with endSession()`, this.file);
          if (u.state && SESSION_STATE_RANK[u.state] < SESSION_STATE_RANK[s.state]) {
            throw new StoreError('conflict', `update session ${id}: its state only moves forward, not from ${s.state} to ${u.state}`, this.file);
          }
          const next = { ...s, ...definedOnly(u) };
          this.db
            .prepare('UPDATE sessions SET state = ?, sandbox_id = ?, driver_state = ?, started_at = ?, expires_at = ?, extends_used = ? WHERE id = ?')
            .run(next.state, next.sandboxId, jsonOrNull(next.driverState), next.startedAt, next.expiresAt, next.extendsUsed, id);
          return this.sessionById(id);
        })
        .immediate(),
    );
  }

  endSession(id: string, reason: EndReason, at: number): Promise<{ ended: boolean; session: SessionRecord } | null> {
    return this.run(`end session ${id}`, () =>
      this.db
        .transaction(() => {
          const ended = this.db.prepare("UPDATE sessions SET state = 'ended', ended_at = ?, end_reason = ? WHERE id = ? AND state <> 'ended'").run(at, reason, id).changes === 1;
          const session = this.sessionById(id);
          return session ? { ended, session } : null;
        })
        .immediate(),
    );
  }

  listLiveSessions(): Promise<SessionRecord[]> {
    return this.run('list live sessions', () =>
      this.db
        .prepare("SELECT * FROM sessions WHERE state <> 'ended' ORDER BY created_at, id")
        .all()
        .map((r) => sessionFrom(r)!),
    );
  }

  private sessionById(id: string): SessionRecord | null {
    return sessionFrom(this.db.prepare('SELECT * FROM sessions WHERE id = ?').get(id));
  }

  // Check results and progress.

  recordCheckResult(r: NewCheckResult): Promise<CheckRecord> {
    return this.run(`record check result of session ${r.sessionId}, exercise ${r.exerciseId}`, () =>
      this.db
        .transaction(() => {
          const s = this.db.prepare('SELECT learner_id, lesson_id FROM sessions WHERE id = ?').get(r.sessionId) as { learner_id: string; lesson_id: string } | undefined;
          if (!s) throw new StoreError('not_found', `record check result: there is no session ${r.sessionId} in ${this.file}`, this.file);
          this.db
            .prepare(
              `INSERT INTO check_results (session_id, learner_id, lesson_id, exercise_id, passed, message, duration_ms, exit_code, at)
                       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            )
            .run(r.sessionId, s.learner_id, s.lesson_id, r.exerciseId, r.passed ? 1 : 0, r.message, r.durationMs, r.exitCode, r.at);
          this.db
            .prepare(
              `INSERT INTO progress (learner_id, lesson_id, exercise_id, attempts, first_passed_at, last_attempt_at)
                       VALUES (?, ?, ?, 1, ?, ?)
                       ON CONFLICT (learner_id, lesson_id, exercise_id) DO UPDATE SET
                         attempts = attempts + 1,
                         first_passed_at = CASE WHEN excluded.first_passed_at IS NULL THEN first_passed_at
                                                WHEN first_passed_at IS NULL THEN excluded.first_passed_at
                                                ELSE min(first_passed_at, excluded.first_passed_at) END,
                         last_attempt_at = max(last_attempt_at, excluded.last_attempt_at)`,
            )
            .run(s.learner_id, s.lesson_id, r.exerciseId, r.passed ? r.at : null, r.at);
          return { ...r, learnerId: s.learner_id, lessonId: s.lesson_id };
        })
        .immediate(),
    );
  }

  listCheckResults(learnerId: string, lessonId?: string): Promise<CheckRecord[]> {
    return this.run(`list check results of learner ${learnerId}`, () =>
      this.db
        .prepare('SELECT * FROM check_results WHERE learner_id = ? AND (? IS NULL OR lesson_id = ?) ORDER BY at, id')
        .all(learnerId, lessonId ?? null, lessonId ?? null)
        .map((row) => {
          const c = row as CheckRow;
          return {
            sessionId: c.session_id,
            learnerId: c.learner_id,
            lessonId: c.lesson_id,
            exerciseId: c.exercise_id,
            passed: c.passed === 1,
            message: c.message,
            durationMs: c.duration_ms,
            exitCode: c.exit_code,
            at: c.at,
          };
        }),
    );
  }

  getProgress(learnerId: string, lessonId?: string): Promise<ExerciseProgress[]> {
    return this.run(`get progress of learner ${learnerId}`, () =>
      this.db
        .prepare('SELECT * FROM progress WHERE learner_id = ? AND (? IS NULL OR lesson_id = ?) ORDER BY lesson_id, exercise_id')
        .all(learnerId, lessonId ?? null, lessonId ?? null)
        .map((row) => {
          const p = row as ProgressRow;
          return {
            lessonId: p.lesson_id,
            exerciseId: p.exercise_id,
            passed: p.first_passed_at !== null,
            firstPassedAt: p.first_passed_at,
            attempts: p.attempts,
            lastAttemptAt: p.last_attempt_at,
          };
        }),
    );
  }

  // Saved work.

  putSavedWork(w: { learnerId: string; lessonId: string; createdAt: number; archive: Buffer }): Promise<SavedWorkInfo> {
    return this.run(`save work of learner ${w.learnerId} for lesson ${w.lessonId}`, () => {
      this.db
        .prepare(
          `INSERT INTO saved_work (learner_id, lesson_id, created_at, size_bytes, archive) VALUES (?, ?, ?, ?, ?)
                       ON CONFLICT (learner_id, lesson_id) DO UPDATE SET
                         created_at = excluded.created_at, size_bytes = excluded.size_bytes, archive = excluded.archive`,
        )
        .run(w.learnerId, w.lessonId, w.createdAt, w.archive.length, w.archive);
      return { learnerId: w.learnerId, lessonId: w.lessonId, createdAt: w.createdAt, sizeBytes: w.archive.length };
    });
  }

  getLatestSavedWorkInfo(learnerId: string, lessonId: string): Promise<SavedWorkInfo | null> {
    return this.run(`read saved work of learner ${learnerId} for lesson ${lessonId}`, () => {
      const row = this.db.prepare('SELECT created_at, size_bytes FROM saved_work WHERE learner_id = ? AND lesson_id = ?').get(learnerId, lessonId) as
        { created_at: number; size_bytes: number } | undefined;
      return row ? { learnerId, lessonId, createdAt: row.created_at, sizeBytes: row.size_bytes } : null;
    });
  }

  getLatestSavedWork(learnerId: string, lessonId: string): Promise<SavedWork | null> {
    return this.run(`read saved work of learner ${learnerId} for lesson ${lessonId}`, () => {
      const row = this.db.prepare('SELECT created_at, size_bytes, archive FROM saved_work WHERE learner_id = ? AND lesson_id = ?').get(learnerId, lessonId) as
        { created_at: number; size_bytes: number; archive: Buffer } | undefined;
      return row ? { learnerId, lessonId, createdAt: row.created_at, sizeBytes: row.size_bytes, archive: row.archive } : null;
    });
  }

  deleteSavedWork(learnerId: string, lessonId: string): Promise<boolean> {
    return this.run(
      `delete saved work of learner ${learnerId} for lesson ${lessonId}`,
      () => this.db.prepare('DELETE FROM saved_work WHERE learner_id = ? AND lesson_id = ?').run(learnerId, lessonId).changes === 1,
    );
  }

  // Device-transfer codes.

  createDeviceCode(c: NewDeviceCode): Promise<void> {
    return this.run(`create a device code for learner ${c.learnerId}`, () => {
      this.db.prepare('INSERT INTO device_codes (code_hash, learner_id, created_at, expires_at) VALUES (?, ?, ?, ?)').run(c.codeHash, c.learnerId, c.createdAt, c.expiresAt);
    });
  }

  consumeDeviceCode(codeHash: string, now: number): Promise<ConsumeResult> {
    return this.run('consume a device code', () =>
      this.db
        .transaction((): ConsumeResult => {
          const found = this.usableOnce<{ learner_id: string }>('SELECT learner_id, expires_at, used_at FROM device_codes WHERE code_hash = ?', codeHash, now);
          if (!found.ok) return found;
          this.db.prepare('UPDATE device_codes SET used_at = ? WHERE code_hash = ?').run(now, codeHash);
          return { ok: true, learnerId: found.row.learner_id };
        })
        .immediate(),
    );
  }

  // ---- instructors and workshops ------------------------------------------------------------

  createInstructorInvite(i: NewInstructorInvite): Promise<void> {
    return this.run('create an instructor invite', () => {
      this.db.prepare('INSERT INTO instructor_invites (token_hash, name, created_at, expires_at) VALUES (?, ?, ?, ?)').run(i.tokenHash, i.name, i.createdAt, i.expiresAt);
    });
  }

  acceptInstructorInvite(tokenHash: string, instructor: { id: string; createdAt: number }, now: number): Promise<AcceptInviteResult> {
    return this.run('accept an instructor invite', () =>
      this.db
        .transaction((): AcceptInviteResult => {
          const found = this.usableOnce<{ name: string }>('SELECT name, expires_at, used_at FROM instructor_invites WHERE token_hash = ?', tokenHash, now);
          if (!found.ok) return found;
          const row = found.row;
          this.db.prepare('INSERT INTO instructors (id, name, created_at) VALUES (?, ?, ?)').run(instructor.id, row.name, instructor.createdAt);
          this.db.prepare('UPDATE instructor_invites SET used_at = ?, used_by = ? WHERE token_hash = ?').run(now, instructor.id, tokenHash);
          return { ok: true, instructor: { id: instructor.id, name: row.name, passwordHash: null, createdAt: instructor.createdAt } };
        })
        .immediate(),
    );
  }

  /** A one-time row (a device code, an invite) by its hash, if it can be used at `now`; else why not. Call inside the transaction that uses it. */
  private usableOnce<R>(select: string, hash: string, now: number): { ok: true; row: R } | { ok: false; reason: 'unknown' | 'used' | 'expired' } {
    const row = this.db.prepare(select).get(hash) as (R & { expires_at: number; used_at: number | null }) | undefined;
    if (!row) return { ok: false, reason: 'unknown' };
    if (row.used_at !== null) return { ok: false, reason: 'used' };
    if (now >= row.expires_at) return { ok: false, reason: 'expired' };
    return { ok: true, row };
  }

  getInstructor(id: string): Promise<InstructorRecord | null> {
    return this.run(`read instructor ${id}`, () => {
      const r = this.db.prepare('SELECT id, name, password_hash, created_at FROM instructors WHERE id = ?').get(id) as
        { id: string; name: string; password_hash: string | null; created_at: number } | undefined;
      return r ? { id: r.id, name: r.name, passwordHash: r.password_hash, createdAt: r.created_at } : null;
    });
  }

  setInstructorPassword(id: string, passwordHash: string): Promise<boolean> {
    return this.run(`set instructor ${id}'s password`, () => this.db.prepare('UPDATE instructors SET password_hash = ? WHERE id = ?').run(passwordHash, id).changes > 0);
  }

  createWorkshop(w: NewWorkshop): Promise<WorkshopRecord> {
    return this.run(`create workshop ${w.id}`, () => {
      this.db
        .prepare(
          `INSERT INTO workshops (id, instructor_id, title, join_code, lesson_ids, starts_at, ends_at, seats, pace, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(w.id, w.instructorId, w.title, w.joinCode, JSON.stringify(w.lessonIds), w.startsAt, w.endsAt, w.seats, w.pace, w.createdAt);
      return this.workshopRow(w.id)!;
    });
  }

  getWorkshop(id: string): Promise<WorkshopRecord | null> {
    return this.run(`read workshop ${id}`, () => this.workshopRow(id));
  }

  findWorkshopByCode(joinCode: string): Promise<WorkshopRecord | null> {
    return this.run('find a workshop by its join code', () => {
      const id = this.db.prepare('SELECT id FROM workshops WHERE join_code = ?').pluck().get(joinCode) as string | undefined;
      return id ? this.workshopRow(id) : null;
    });
  }

  listWorkshops(instructorId?: string): Promise<WorkshopRecord[]> {
    return this.run('list workshops', () => {
      const rows = (
        instructorId === undefined
          ? this.db.prepare('SELECT * FROM workshops ORDER BY starts_at DESC, id').all()
          : this.db.prepare('SELECT * FROM workshops WHERE instructor_id = ? ORDER BY starts_at DESC, id').all(instructorId)
      ) as WorkshopRow[];
      return rows.map(workshopOf);
    });
  }

  updateWorkshop(id: string, u: WorkshopUpdate): Promise<WorkshopRecord | null> {
    return this.run(`update workshop ${id}`, () =>
      this.db.transaction(() => {
        if (!this.workshopRow(id)) return null;
        if (u.unlocked !== undefined) this.db.prepare('UPDATE workshops SET unlocked = ? WHERE id = ?').run(u.unlocked, id);
        if (u.endedAt !== undefined) this.db.prepare('UPDATE workshops SET ended_at = ? WHERE id = ? AND ended_at IS NULL').run(u.endedAt, id);
        return this.workshopRow(id);
      })(),
    );
  }

  private workshopRow(id: string): WorkshopRecord | null {
    const r = this.db.prepare('SELECT * FROM workshops WHERE id = ?').get(id) as WorkshopRow | undefined;
    return r ? workshopOf(r) : null;
  }

  takeSeat(seat: NewSeat): Promise<TakeSeatResult> {
    return this.run(`take a seat in workshop ${seat.workshopId}`, () =>
      this.db
        .transaction((): TakeSeatResult => {
          const seats = this.db.prepare('SELECT seats FROM workshops WHERE id = ?').pluck().get(seat.workshopId) as number | undefined;
          if (seats === undefined) throw new StoreError('not_found', `take a seat: there is no workshop ${seat.workshopId} in ${this.file}`, this.file);
          const held = this.seatRow(seat.workshopId, seat.learnerId);
          if (held) return held.removedAt !== null ? { ok: false, reason: 'removed' } : { ok: true, seat: held, rejoined: true };
          const taken = this.db.prepare('SELECT count(*) FROM workshop_seats WHERE workshop_id = ? AND removed_at IS NULL').pluck().get(seat.workshopId) as number;
          if (this.db.prepare('SELECT 1 FROM workshop_seats WHERE workshop_id = ? AND name_key = ?').get(seat.workshopId, seat.nameKey)) return { ok: false, reason: 'name_taken' };
          if (taken >= seats) return { ok: false, reason: 'full' };
          this.db
            .prepare('INSERT INTO workshop_seats (workshop_id, learner_id, display_name, name_key, joined_at) VALUES (?, ?, ?, ?, ?)')
            .run(seat.workshopId, seat.learnerId, seat.displayName, seat.nameKey, seat.joinedAt);
          return { ok: true, seat: this.seatRow(seat.workshopId, seat.learnerId)!, rejoined: false };
        })
        .immediate(),
    );
  }

  listSeats(workshopId: string): Promise<SeatRecord[]> {
    return this.run(`list the seats of workshop ${workshopId}`, () =>
      (this.db.prepare('SELECT * FROM workshop_seats WHERE workshop_id = ? ORDER BY joined_at, rowid').all(workshopId) as SeatRow[]).map(seatOf),
    );
  }

  getSeat(workshopId: string, learnerId: string): Promise<SeatRecord | null> {
    return this.run(`read a seat of workshop ${workshopId}`, () => this.seatRow(workshopId, learnerId));
  }

  removeSeat(workshopId: string, learnerId: string, at: number): Promise<boolean> {
    return this.run(`remove a seat of workshop ${workshopId}`, () => {
      if (!this.seatRow(workshopId, learnerId)) return false;
      this.db.prepare('UPDATE workshop_seats SET removed_at = ? WHERE workshop_id = ? AND learner_id = ? AND removed_at IS NULL').run(at, workshopId, learnerId);
      return true;
    });
  }

  private seatRow(workshopId: string, learnerId: string): SeatRecord | null {
    const r = this.db.prepare('SELECT * FROM workshop_seats WHERE workshop_id = ? AND learner_id = ?').get(workshopId, learnerId) as SeatRow | undefined;
    return r ? seatOf(r) : null;
  }

  appendWorkshopLog(e: WorkshopLogEntry): Promise<void> {
    return this.run(`log to workshop ${e.workshopId}`, () => {
      this.db
        .prepare('INSERT INTO workshop_log (workshop_id, at, actor, action, learner_id, detail) VALUES (?, ?, ?, ?, ?, ?)')
        .run(e.workshopId, e.at, e.actor, e.action, e.learnerId ?? null, e.detail ?? '');
    });
  }

  listWorkshopLog(workshopId: string): Promise<Required<WorkshopLogEntry>[]> {
    return this.run(`read the log of workshop ${workshopId}`, () =>
      (
        this.db.prepare('SELECT workshop_id, at, actor, action, learner_id, detail FROM workshop_log WHERE workshop_id = ? ORDER BY id').all(workshopId) as {
          workshop_id: string;
          at: number;
          actor: string;
          action: string;
          learner_id: string | null;
          detail: string;
        }[]
      ).map((r) => ({ workshopId: r.workshop_id, at: r.at, actor: r.actor, action: r.action, learnerId: r.learner_id, detail: r.detail })),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }
}

interface CheckRow {
  session_id: string;
  learner_id: string;
  lesson_id: string;
  exercise_id: string;
  passed: number;
  message: string;
  duration_ms: number;
  exit_code: number | null;
  at: number;
}
interface ProgressRow {
  lesson_id: string;
  exercise_id: string;
  attempts: number;
  first_passed_at: number | null;
  last_attempt_at: number;
}

function learnerFrom(row: unknown): LearnerRecord | null {
  if (!row) return null;
  const r = row as { id: string; kind: LearnerRecord['kind']; created_at: number; last_seen_at: number; external_issuer: string | null; external_subject: string | null };
  return {
    id: r.id,
    kind: r.kind,
    createdAt: r.created_at,
    lastSeenAt: r.last_seen_at,
    external: r.external_issuer !== null && r.external_subject !== null ? { issuer: r.external_issuer, subject: r.external_subject } : null,
  };
}

function sessionFrom(row: unknown): SessionRecord | null {
  if (!row) return null;
  const r = row as {
    id: string;
    learner_id: string;
    lesson_id: string;
    runtime: SessionRecord['runtime'];
    sandbox_id: string | null;
    driver_state: string | null;
    state: SessionRecord['state'];
    created_at: number;
    started_at: number | null;
    expires_at: number | null;
    extends_used: number;
    ended_at: number | null;
    end_reason: EndReason | null;
  };
  return {
    id: r.id,
    learnerId: r.learner_id,
    lessonId: r.lesson_id,
    runtime: r.runtime,
    sandboxId: r.sandbox_id,
    driverState: r.driver_state === null ? null : JSON.parse(r.driver_state),
    state: r.state,
    createdAt: r.created_at,
    startedAt: r.started_at,
    expiresAt: r.expires_at,
    extendsUsed: r.extends_used,
    endedAt: r.ended_at,
    endReason: r.end_reason,
  };
}

/** null and undefined are "no driver state" (SQL NULL); anything else is stored as its JSON. */
function jsonOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : JSON.stringify(v);
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

interface WorkshopRow {
  id: string;
  instructor_id: string;
  title: string;
  join_code: string;
  lesson_ids: string;
  starts_at: number;
  ends_at: number;
  seats: number;
  pace: 'open' | 'instructor';
  unlocked: number;
  created_at: number;
  ended_at: number | null;
}

function workshopOf(r: WorkshopRow): WorkshopRecord {
  return {
    id: r.id,
    instructorId: r.instructor_id,
    title: r.title,
    joinCode: r.join_code,
    lessonIds: JSON.parse(r.lesson_ids) as string[],
    startsAt: r.starts_at,
    endsAt: r.ends_at,
    seats: r.seats,
    pace: r.pace,
    unlocked: r.unlocked,
    createdAt: r.created_at,
    endedAt: r.ended_at,
  };
}

interface SeatRow {
  workshop_id: string;
  learner_id: string;
  display_name: string;
  name_key: string;
  joined_at: number;
  removed_at: number | null;
}

function seatOf(r: SeatRow): SeatRecord {
  return { workshopId: r.workshop_id, learnerId: r.learner_id, displayName: r.display_name, nameKey: r.name_key, joinedAt: r.joined_at, removedAt: r.removed_at };
}
