/**
 * The SQLite store: the Store suite on temporary files, then what only a file
 * can do: be missing, be migrated from every earlier schema, be corrupt, be
 * locked by another connection.
 */
import Database from 'better-sqlite3';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadMigrations, MEMORY, MIGRATIONS_DIR, openSqliteStore } from '../../src/store/sqlite';
import { storeErrorOf, storeSuite } from './store-suite';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(path.join(os.tmpdir(), 'lab-store-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

storeSuite('sqlite', () => openSqliteStore(path.join(tempDir(), 'lab.db')));
storeSuite('sqlite in memory', () => openSqliteStore(MEMORY));

describe('SQLite store: the file', () => {
  it('a missing file is made, with its directories, mode 0600, in WAL mode at the latest schema', async () => {
    const file = path.join(tempDir(), 'not', 'yet', 'lab.db');
    const store = await openSqliteStore(file);
    await store.close();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const db = new Database(file, { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(db.pragma('user_version', { simple: true })).toBe(loadMigrations().length);
    } finally {
      db.close();
    }
  });

  it('what was stored is there after close and reopen', async () => {
    const file = path.join(tempDir(), 'lab.db');
    const a = await openSqliteStore(file);
    await a.createLearner({ id: 'ann', kind: 'anonymous', createdAt: 1 });
    await a.createSession({ id: 's1', learnerId: 'ann', lessonId: 'ns', runtime: 'gvisor', createdAt: 2 });
    await a.recordCheckResult({ sessionId: 's1', exerciseId: 'e1', passed: true, message: 'ok', durationMs: 3, exitCode: 0, at: 4 });
    await a.close();
    const b = await openSqliteStore(file);
    try {
      expect(await b.getProgress('ann')).toEqual([{ lessonId: 'ns', exerciseId: 'e1', passed: true, firstPassedAt: 4, attempts: 1, lastAttemptAt: 4 }]);
      expect((await b.listLiveSessions()).map((s) => s.id)).toEqual(['s1']);
    } finally {
      await b.close();
    }
  });

  it('a path that cannot hold a file is an error naming it', async () => {
    const dir = tempDir();
    writeFileSync(path.join(dir, 'plain-file'), 'x');
    const file = path.join(dir, 'plain-file', 'lab.db'); // its "directory" is a file
    const e = await storeErrorOf(openSqliteStore(file), 'open_failed');
    expect(e.message).toContain(file);
  });
});

describe('SQLite store: migrations', () => {
  const all = loadMigrations();

  /**
   * Data as it was written at each schema version, in that version's own SQL.
   * A new migration NNN needs its entry here: the test below fails until it
   * has one, so every migration is proven to carry the data before it.
   */
  const SEEDS: Record<number, string> = {
    1: `
      INSERT INTO learners (id, kind, created_at, last_seen_at, external_issuer, external_subject) VALUES
        ('ann', 'anonymous', 10, 20, NULL, NULL), ('lti', 'embedded', 11, 11, 'lms.example', 'u42');
      INSERT INTO sessions (id, learner_id, lesson_id, runtime, sandbox_id, driver_state, state, created_at, started_at, expires_at, ended_at, end_reason) VALUES
        ('s0', 'ann', 'ns', 'gvisor', 'lab-s0', NULL, 'ended', 50, 60, 1000, 90, 'idle'),
        ('s1', 'ann', 'ns', 'gvisor', 'lab-s1', '{"pid":42}', 'ready', 100, 150, 7350, NULL, NULL);
      INSERT INTO check_results (session_id, learner_id, lesson_id, exercise_id, passed, message, duration_ms, exit_code, at) VALUES
        ('s1', 'ann', 'ns', 'e1', 0, 'Not yet.', 12, 1, 200), ('s1', 'ann', 'ns', 'e1', 1, 'Passed', 13, 0, 300);
      INSERT INTO progress (learner_id, lesson_id, exercise_id, attempts, first_passed_at, last_attempt_at) VALUES ('ann', 'ns', 'e1', 2, 300, 300);
      INSERT INTO saved_work (learner_id, lesson_id, created_at, size_bytes, archive) VALUES ('ann', 'ns', 400, 5, X'0001020304');
      INSERT INTO device_codes (code_hash, learner_id, created_at, expires_at, used_at) VALUES ('h', 'ann', 500, 900, NULL);
    `,
  };
  // Version 2 adds sessions.extends_used: the same data, and s1 extended once.
  SEEDS[2] = `${SEEDS[1]}\n      UPDATE sessions SET extends_used = 1 WHERE id = 's1';`;
  // Version 3 adds workshops: the same data, and a workshop with ann's seat in it.
  SEEDS[3] = `${SEEDS[2]}
      INSERT INTO instructors (id, name, password_hash, created_at) VALUES ('i1', 'Ines', NULL, 5);
      INSERT INTO workshops (id, instructor_id, title, join_code, lesson_ids, starts_at, ends_at, seats, pace, unlocked, created_at, ended_at)
        VALUES ('w1', 'i1', 'Class', 'ABCDEF', '["ns"]', 100, 900, 10, 'open', 1, 50, NULL);
      INSERT INTO workshop_seats (workshop_id, learner_id, display_name, name_key, joined_at, removed_at) VALUES ('w1', 'ann', 'Ann', 'ann', 120, NULL);`;

  it('there is a seed for every migration, and the migrations are numbered 1..n', () => {
    expect(all.map((m) => m.version)).toEqual(all.map((_, i) => i + 1));
    expect(Object.keys(SEEDS).map(Number)).toEqual(all.map((m) => m.version));
  });

  it('from empty: every migration applies, in order', async () => {
    const file = path.join(tempDir(), 'lab.db');
    await (await openSqliteStore(file)).close();
    const db = new Database(file, { readonly: true });
    try {
      expect(db.pragma('user_version', { simple: true })).toBe(all.length);
      const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all();
      expect(tables).toEqual([
        'check_results',
        'device_codes',
        'instructor_invites',
        'instructors',
        'learners',
        'progress',
        'saved_work',
        'sessions',
        'sqlite_sequence',
        'workshop_log',
        'workshop_seats',
        'workshops',
      ]);
    } finally {
      db.close();
    }
  });

  // Each version k the lab has shipped: a database made by it (migrations 1..k)
  // holding that version's data, opened by this version. The last k is this
  // version itself (a reopen applies nothing and must keep everything too).
  for (const k of all.map((m) => m.version)) {
    it(`from version ${k}: the data written at that version survives migrating to ${all.length}`, async () => {
      const file = path.join(tempDir(), 'lab.db');
      await (await openSqliteStore(file, { migrations: all.slice(0, k) })).close();
      const raw = new Database(file);
      try {
        expect(raw.pragma('user_version', { simple: true })).toBe(k);
        raw.exec(SEEDS[k]);
      } finally {
        raw.close();
      }

      const store = await openSqliteStore(file);
      try {
        expect(await store.getLearner('ann')).toEqual({ id: 'ann', kind: 'anonymous', createdAt: 10, lastSeenAt: 20, external: null });
        expect((await store.findLearnerByExternal('lms.example', 'u42'))?.id).toBe('lti');
        expect(await store.getSession('s1')).toMatchObject({
          learnerId: 'ann',
          state: 'ready',
          sandboxId: 'lab-s1',
          driverState: { pid: 42 },
          expiresAt: 7350,
          extendsUsed: k >= 2 ? 1 : 0,
        });
        expect((await store.listLiveSessions()).map((s) => s.id)).toEqual(['s1']);
        expect((await store.getSession('s0'))?.endReason).toBe('idle');
        expect((await store.listCheckResults('ann')).map((r) => [r.exerciseId, r.passed, r.message])).toEqual([
          ['e1', false, 'Not yet.'],
          ['e1', true, 'Passed'],
        ]);
        expect(await store.getProgress('ann')).toEqual([{ lessonId: 'ns', exerciseId: 'e1', passed: true, firstPassedAt: 300, attempts: 2, lastAttemptAt: 300 }]);
        expect((await store.getLatestSavedWork('ann', 'ns'))?.archive).toEqual(Buffer.from([0, 1, 2, 3, 4]));
        // And the migrated database goes on working: a new result builds on the old progress.
        await store.recordCheckResult({ sessionId: 's1', exerciseId: 'e1', passed: false, message: 'again', durationMs: 1, exitCode: 1, at: 600 });
        expect((await store.getProgress('ann'))[0]).toMatchObject({ attempts: 3, firstPassedAt: 300, lastAttemptAt: 600 });
        expect(await store.consumeDeviceCode('h', 600)).toEqual({ ok: true, learnerId: 'ann' });
        if (k >= 3) expect((await store.listSeats('w1')).map((x) => [x.learnerId, x.displayName])).toEqual([['ann', 'Ann']]);
        else expect(await store.listWorkshops()).toEqual([]);
      } finally {
        await store.close();
      }
    });
  }

  it('a failing migration applies none of itself, names itself and the file, and leaves the earlier ones', async () => {
    const migDir = tempDir();
    copyFileSync(path.join(MIGRATIONS_DIR, '001-initial.sql'), path.join(migDir, '001-initial.sql'));
    writeFileSync(path.join(migDir, '002-broken.sql'), 'CREATE TABLE half_done (x INTEGER);\nINSERT INTO no_such_table VALUES (1);\n');
    const file = path.join(tempDir(), 'lab.db');
    const e = await storeErrorOf(openSqliteStore(file, { migrations: loadMigrations(migDir) }), 'migration_failed');
    expect(e.message).toContain(file);
    expect(e.message).toContain('002-broken.sql');
    const db = new Database(file, { readonly: true });
    try {
      expect(db.pragma('user_version', { simple: true })).toBe(1);
      expect(db.prepare("SELECT count(*) FROM sqlite_schema WHERE name = 'half_done'").pluck().get()).toBe(0);
    } finally {
      db.close();
    }
    await (await openSqliteStore(file, { migrations: loadMigrations(migDir).slice(0, 1) })).close(); // still usable at version 1
  });

  it('migration files must be numbered 1..n without gaps and named NNN-name.sql', async () => {
    const gap = tempDir();
    writeFileSync(path.join(gap, '001-a.sql'), '');
    writeFileSync(path.join(gap, '003-c.sql'), '');
    expect(() => loadMigrations(gap)).toThrow(/003-c\.sql should be number 2/);
    const badName = tempDir();
    writeFileSync(path.join(badName, '1-a.sql'), '');
    expect(() => loadMigrations(badName)).toThrow(/NNN-name\.sql/);
  });

  it('a database from a newer lab (a schema version above the latest) is refused, unchanged', async () => {
    const file = path.join(tempDir(), 'lab.db');
    await (await openSqliteStore(file)).close();
    const db = new Database(file);
    db.pragma(`user_version = ${all.length + 5}`);
    db.close();
    const e = await storeErrorOf(openSqliteStore(file), 'too_new');
    expect(e.message).toContain(file);
    expect(e.message).toContain(`schema version ${all.length + 5}`);
  });
});

describe('SQLite store: a corrupt or locked file', () => {
  it('a file of garbage bytes is "corrupt", naming the file, and is left as it was', async () => {
    const file = path.join(tempDir(), 'lab.db');
    const garbage = randomBytes(16 * 1024);
    writeFileSync(file, garbage);
    const e = await storeErrorOf(openSqliteStore(file), 'corrupt');
    expect(e.message).toContain(file);
    expect(e.file).toBe(file);
    expect(readFileSync(file).equals(garbage)).toBe(true);
  });

  it('a real database with its table pages overwritten is "corrupt" at open, not later in a learner\'s session', async () => {
    const file = path.join(tempDir(), 'lab.db');
    const store = await openSqliteStore(file);
    await store.createLearner({ id: 'ann', kind: 'anonymous', createdAt: 1 });
    await store.createSession({ id: 's1', learnerId: 'ann', lessonId: 'ns', runtime: 'gvisor', createdAt: 2 });
    for (let i = 0; i < 50; i++) {
      await store.recordCheckResult({ sessionId: 's1', exerciseId: `e${i % 3}`, passed: i % 2 === 0, message: 'm'.repeat(500), durationMs: i, exitCode: 0, at: i });
    }
    await store.close(); // checkpoints the WAL into the file
    const pageSize = 4096;
    const size = statSync(file).size;
    const bytes = readFileSync(file);
    randomBytes(size - 2 * pageSize).copy(bytes, 2 * pageSize); // keep the header page and the next, damage the rest
    writeFileSync(file, bytes);
    const e = await storeErrorOf(openSqliteStore(file), 'corrupt');
    expect(e.message).toContain(file);
    expect(e.message).toMatch(/quick_check|malformed/);
  });

  it('a file another connection holds an exclusive lock on is "locked", naming the file; once released it opens', async () => {
    const file = path.join(tempDir(), 'lab.db');
    await (await openSqliteStore(file)).close();
    const holder = new Database(file);
    holder.exec('BEGIN EXCLUSIVE');
    try {
      const e = await storeErrorOf(openSqliteStore(file, { busyTimeoutMs: 200 }), 'locked');
      expect(e.message).toContain(file);
    } finally {
      holder.exec('ROLLBACK');
      holder.close();
    }
    await (await openSqliteStore(file, { busyTimeoutMs: 200 })).close();
  });

  it('a lock taken after open makes a write fail "locked", naming the file, and records nothing half', async () => {
    const file = path.join(tempDir(), 'lab.db');
    const store = await openSqliteStore(file, { busyTimeoutMs: 200 });
    try {
      await store.createLearner({ id: 'ann', kind: 'anonymous', createdAt: 1 });
      await store.createSession({ id: 's1', learnerId: 'ann', lessonId: 'ns', runtime: 'gvisor', createdAt: 2 });
      const holder = new Database(file);
      holder.exec('BEGIN EXCLUSIVE');
      try {
        const e = await storeErrorOf(store.recordCheckResult({ sessionId: 's1', exerciseId: 'e1', passed: true, message: 'ok', durationMs: 1, exitCode: 0, at: 3 }), 'locked');
        expect(e.message).toContain(file);
      } finally {
        holder.exec('ROLLBACK');
        holder.close();
      }
      expect(await store.listCheckResults('ann')).toEqual([]);
      expect(await store.getProgress('ann')).toEqual([]);
      await store.recordCheckResult({ sessionId: 's1', exerciseId: 'e1', passed: true, message: 'ok', durationMs: 1, exitCode: 0, at: 4 });
      expect((await store.getProgress('ann'))[0]).toMatchObject({ attempts: 1, firstPassedAt: 4 });
    } finally {
      await store.close();
    }
  });
});
