/**
 * `kill -9` during writes: a child process records check results into the
 * SQLite store in a loop and is SIGKILLed mid-stream, several times over on
 * one database. After each kill the file must pass `PRAGMA integrity_check`,
 * hold every result the child saw recorded, and hold only whole results: each
 * row equal to what was written, and the progress table (updated in the same
 * transaction) agreeing exactly with the rows. Needs no root or sandbox.
 */
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite';
import { hangGuard } from '../hang-guard';
import { CRASH_LEARNER, CRASH_LESSON, CRASH_SESSION, resultFor } from '../fixtures/store-crash-data';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const WRITER = path.join(ROOT, 'lab-backend', 'test', 'fixtures', 'store-writer.ts');
const ROUNDS = 5;
const GUARD_MS = 60_000;

const dir = mkdtempSync(path.join(os.tmpdir(), 'lab-store-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Starts the writer at result `first`, waits until it has recorded `atLeast`
 * results in this run, SIGKILLs it while it goes on writing and waits for it to
 * be gone. Returns the last index it printed as recorded (-1 if none).
 */
async function writeAndKill(file: string, first: number, atLeast: number): Promise<number> {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, file, String(first)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let last = -1;
  child.stderr.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  const enough = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const lines = out.split('\n');
      out = lines.pop() ?? '';
      for (const line of lines) {
        const m = /^recorded (\d+)$/.exec(line);
        if (m) last = Number(m[1]);
      }
      if (last >= first + atLeast - 1) resolve();
    });
    void exited.then(() => reject(new Error(`the writer exited before recording ${atLeast} results:\n${err}`)));
  });
  try {
    await hangGuard(`the writer recording ${atLeast} results`, enough, GUARD_MS, () => err);
  } finally {
    child.kill('SIGKILL'); // while it is in the middle of its next results
  }
  expect(await hangGuard('the killed writer to exit', exited, GUARD_MS)).toBe('SIGKILL');
  return last;
}

interface Row {
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

/** Everything the test asserts about the file after a kill; returns how many results it holds. */
function checkWhole(file: string, lastAcked: number): number {
  const db = new Database(file);
  try {
    expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    const rows = db.prepare('SELECT * FROM check_results ORDER BY id').all() as Row[];
    // Every result the writer saw recorded is there, plus at most the one in flight
    // (committed, killed before it printed); none lost before it, none twice.
    expect(rows.length).toBeGreaterThanOrEqual(lastAcked + 1);
    expect(rows.length).toBeLessThanOrEqual(lastAcked + 2);
    rows.forEach((r, i) => {
      const want = resultFor(i);
      expect(r.duration_ms, `row ${i}`).toBe(i);
      expect(r, `row ${i} is the result written`).toEqual({
        id: i + 1, // the rowid: n rows numbered 1..n
        session_id: CRASH_SESSION,
        learner_id: CRASH_LEARNER,
        lesson_id: CRASH_LESSON,
        exercise_id: want.exerciseId,
        passed: want.passed ? 1 : 0,
        message: want.message,
        duration_ms: want.durationMs,
        exit_code: want.exitCode,
        at: want.at,
      });
    });
    // The second table, written in the same transaction, agrees with the rows exactly.
    const progress = db.prepare('SELECT exercise_id, attempts, first_passed_at, last_attempt_at FROM progress WHERE learner_id = ? ORDER BY exercise_id').all(CRASH_LEARNER);
    const fromRows = db
      .prepare(
        `SELECT exercise_id, count(*) AS attempts, min(CASE WHEN passed = 1 THEN at END) AS first_passed_at, max(at) AS last_attempt_at
                                 FROM check_results WHERE learner_id = ? GROUP BY exercise_id ORDER BY exercise_id`,
      )
      .all(CRASH_LEARNER);
    expect(progress, 'progress rows agree with the recorded results (no result without its progress, or the reverse)').toEqual(fromRows);
    return rows.length;
  } finally {
    db.close();
  }
}

describe('SQLite store: kill -9 during writes', () => {
  it(`leaves an intact database and only whole results, over ${ROUNDS} kills`, async () => {
    const file = path.join(dir, 'lab.db');
    const setup = await openSqliteStore(file);
    await setup.createLearner({ id: CRASH_LEARNER, kind: 'anonymous', createdAt: 1 });
    await setup.createSession({ id: CRASH_SESSION, learnerId: CRASH_LEARNER, lessonId: CRASH_LESSON, runtime: 'gvisor', createdAt: 2 });
    await setup.close();

    let count = 0;
    for (let round = 0; round < ROUNDS; round++) {
      // A different number of results before each kill, so it lands at different points.
      const lastAcked = await writeAndKill(file, count, 20 + ((round * 17) % 40));
      count = checkWhole(file, lastAcked);
    }
    // The store itself opens the killed file (WAL recovery, quick_check) and reads it.
    const store = await openSqliteStore(file);
    try {
      const attempts = (await store.getProgress(CRASH_LEARNER)).reduce((n, p) => n + p.attempts, 0);
      expect(attempts).toBe(count);
      expect((await store.listCheckResults(CRASH_LEARNER)).length).toBe(count);
    } finally {
      await store.close();
    }
  });
});
