/**
 * The course's proof, with production timeouts (the check and setup timeouts
 * of policyFrom(loadConfig({})) and each exercise's own timeoutMs):
 *  - every exercise, in a fresh sandbox of its lesson's runtime: the setup
 *    runs; the check FAILS CLEANLY twice (it finished by itself, exited 1-125,
 *    and printed a message of its own: not a timeout, a crash, a missing
 *    command or the fallback text); the solution runs; the check PASSES;
 *  - every lesson once more in one sandbox, as a learner does it: each
 *    exercise in order fails cleanly, is solved, and passes.
 * Writes test-results/course-proof.json (per exercise: result, time, and why
 * the first check failed) and prints a table.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCourse, type Lesson } from '../../src/content';
import { SessionManager, policyFrom, silentCheckMessage, type Session } from '../../src/sessions';
import { loadConfig } from '../../src/config';
import { GvisorDriver } from '../../src/sandbox/gvisor';
import { MicrovmDriver } from '../../src/sandbox/microvm';
import { ensureImage } from '../../src/images';
import type { Driver } from '../../src/sandbox/driver';
import type { CheckResult, RuntimeName } from '../../src/wire';
import { baseRootfs, tempStateDir } from './helpers';
import { imagePath } from '../../src/images';
import { IMAGE_DIR } from './helpers';
import { learner, memoryStore } from '../learners';

const course = await loadCourse();
const stateDir = tempStateDir();
const drivers: Partial<Record<RuntimeName, Driver>> = { gvisor: new GvisorDriver({ stateDir }), microvm: new MicrovmDriver({ stateDir }) };
const manager = new SessionManager({
  store: memoryStore(),
  drivers,
  rootfsFor: (image) => imagePath(IMAGE_DIR, image).rootfs,
  log: () => {},
  // Production timeouts; only the per-client caps are lifted (one client starts every sandbox here).
  policy: {
    ...policyFrom(loadConfig({})),
    maxSandboxes: 10,
    maxSandboxesPerClient: 10,
    sessionsPerClientPerMinute: 1000,
    idleTimeoutMs: 600_000,
    maxLifetimeMs: 600_000,
    reconnectGraceMs: 600_000,
    limits: { memoryLimitBytes: 512 * 1024 * 1024, pidsLimit: 1024, cpuQuotaMillicores: 1000 },
  },
});

interface Row {
  lesson: string;
  exercise: string;
  runtime: string;
  run: 'fresh sandbox' | 'lesson in order';
  result: 'proven' | 'FAILED';
  ms: number;
  firstFailure: string;
  detail: string;
}
const rows: Row[] = [];

afterAll(async () => {
  await manager.shutdown();
  mkdirSync('test-results', { recursive: true });
  writeFileSync('test-results/course-proof.json', JSON.stringify(rows, null, 1));
  const fresh = rows.filter((r) => r.run === 'fresh sandbox');
  const inOrder = rows.filter((r) => r.run === 'lesson in order');
  console.log(
    `\nCourse proof: ${fresh.filter((r) => r.result === 'proven').length}/${fresh.length} exercises proven in fresh sandboxes, ${inOrder.filter((r) => r.result === 'proven').length}/${inOrder.length} in lesson order`,
  );
  console.table(rows.map((r) => ({ lesson: r.lesson, exercise: r.exercise, runtime: r.runtime, run: r.run, result: r.result, ms: r.ms })));
});

/** A check that fails before the solution must fail cleanly: by itself, with an exit status of its own choosing, saying why. */
function expectCleanFailure(r: CheckResult, what: string) {
  expect(r.passed, `${what} passed before the solution: ${r.message}`).toBe(false);
  expect(r.timedOut ?? false, `${what} timed out instead of failing: ${r.message}`).toBe(false);
  expect(r.exitCode, `${what} was killed or never ran: ${r.message}`).not.toBeNull();
  expect(r.exitCode!, `${what} exited ${r.exitCode} (126/127: not runnable or a missing command; 128+: a signal): ${r.message}`).toBeGreaterThanOrEqual(1);
  expect(r.exitCode!, `${what} exited ${r.exitCode} (126/127: not runnable or a missing command; 128+: a signal): ${r.message}`).toBeLessThanOrEqual(125);
  expect(r.message, `${what} printed nothing: a failing check must say what is missing`).not.toBe(silentCheckMessage(false, r.exitCode ?? null));
}

async function solve(session: Session, lesson: Lesson, exerciseId: string) {
  const ex = lesson.exercises.find((e) => e.id === exerciseId)!;
  const sol = await session.checks.runScript(ex.solutionScript, 60_000);
  expect(sol.timedOut, 'solution must return promptly (background long-lived processes)').toBe(false);
  expect(sol.code, `solution failed: ${sol.output}`).toBe(0);
  const after = await session.checks.run(ex.id);
  expect(after.passed, `check failed after the solution: ${after.message}`).toBe(true);
  return after;
}

async function prepare(lesson: Lesson) {
  await baseRootfs();
  await ensureImage(IMAGE_DIR, lesson.image, (l) => console.log(`[images] ${l}`));
}

describe('every exercise: check fails cleanly (twice), solution runs, check passes', () => {
  it('the course has lessons and exercises', () => {
    expect(course.length).toBeGreaterThan(0);
    expect(course.flatMap((l) => l.exercises).length).toBeGreaterThanOrEqual(2);
  });

  for (const lesson of course) {
    for (const ex of lesson.exercises) {
      it(`${lesson.id} › ${ex.id}`, { timeout: 600_000 }, async () => {
        await prepare(lesson);
        const t0 = Date.now();
        const row: Row = { lesson: lesson.id, exercise: ex.id, runtime: lesson.runtime, run: 'fresh sandbox', result: 'FAILED', ms: 0, firstFailure: '', detail: '' };
        rows.push(row);
        const session = await manager.create(lesson, learner(`proof-${lesson.id}-${ex.id}`));
        try {
          await session.ready;
          expect(session.status, session.statusMessage).toBe('ready');
          const first = await session.checks.run(ex.id);
          row.firstFailure = first.message;
          expectCleanFailure(first, 'the first check');
          expectCleanFailure(await session.checks.run(ex.id), 'the second check');
          row.detail = (await solve(session, lesson, ex.id)).message;
          row.result = 'proven';
        } finally {
          row.ms = Date.now() - t0;
          await manager.end(session, 'closed');
        }
      });
    }
  }
});

describe('every lesson in one sandbox, exercise after exercise, as a learner does it', () => {
  for (const lesson of course) {
    it(`${lesson.id} (${lesson.exercises.length} exercises in order)`, { timeout: 900_000 }, async () => {
      await prepare(lesson);
      const session = await manager.create(lesson, learner(`proof-order-${lesson.id}`));
      try {
        await session.ready;
        expect(session.status, session.statusMessage).toBe('ready');
        for (const ex of lesson.exercises) {
          const t0 = Date.now();
          const row: Row = { lesson: lesson.id, exercise: ex.id, runtime: lesson.runtime, run: 'lesson in order', result: 'FAILED', ms: 0, firstFailure: '', detail: '' };
          rows.push(row);
          try {
            const first = await session.checks.run(ex.id);
            row.firstFailure = first.message;
            expectCleanFailure(first, `${ex.id}'s check, after the exercises before it were solved,`);
            row.detail = (await solve(session, lesson, ex.id)).message;
            row.result = 'proven';
          } finally {
            row.ms = Date.now() - t0;
          }
        }
      } finally {
        await manager.end(session, 'closed');
      }
    });
  }
});
