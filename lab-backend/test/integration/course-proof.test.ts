/**
 * The course's proof: for every exercise of every lesson, in a fresh sandbox of
 * the lesson's runtime, the setup runs, the check FAILS, the solution runs, and
 * the check PASSES. Writes a report (test-results/course-proof.json) and prints
 * a table of every exercise with its result and time.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCourse } from '../../src/content';
import { SessionManager, policyFrom } from '../../src/sessions';
import { loadConfig } from '../../src/config';
import { GvisorDriver } from '../../src/sandbox/gvisor';
import { MicrovmDriver } from '../../src/sandbox/microvm';
import { ensureImage } from '../../src/images';
import type { Driver } from '../../src/sandbox/driver';
import type { RuntimeName } from '../../src/wire';
import { baseRootfs, tempStateDir } from './helpers';
import { imagePath } from '../../src/images';
import { IMAGE_DIR } from './helpers';

const course = await loadCourse();
const stateDir = tempStateDir();
const drivers: Partial<Record<RuntimeName, Driver>> = { gvisor: new GvisorDriver({ stateDir }), microvm: new MicrovmDriver({ stateDir }) };
const manager = new SessionManager({
  drivers,
  rootfsFor: (image) => imagePath(IMAGE_DIR, image).rootfs,
  log: () => {},
  policy: { ...policyFrom(loadConfig({})), maxSandboxes: 10, maxSandboxesPerClient: 10, sessionsPerClientPerMinute: 1000, idleTimeoutMs: 600_000, maxLifetimeMs: 600_000, reconnectGraceMs: 600_000, checkTimeoutMs: 20_000, checkOutputBytes: 4096,
    limits: { memoryLimitBytes: 512 * 1024 * 1024, pidsLimit: 1024, cpuQuotaMillicores: 1000 } },
});

interface Row { lesson: string; exercise: string; runtime: string; result: 'proven' | 'FAILED'; ms: number; detail: string }
const rows: Row[] = [];

afterAll(async () => {
  await manager.shutdown();
  mkdirSync('test-results', { recursive: true });
  writeFileSync('test-results/course-proof.json', JSON.stringify(rows, null, 1));
  console.log(`\nCourse proof: ${rows.filter((r) => r.result === 'proven').length}/${rows.length} exercises proven`);
  console.table(rows.map((r) => ({ lesson: r.lesson, exercise: r.exercise, runtime: r.runtime, result: r.result, ms: r.ms })));
});

describe('every exercise: check fails, solution runs, check passes', () => {
  it('the course has lessons and exercises', () => {
    expect(course.length).toBeGreaterThan(0);
    expect(course.flatMap((l) => l.exercises).length).toBeGreaterThanOrEqual(2);
  });

  for (const lesson of course) {
    for (const ex of lesson.exercises) {
      it(`${lesson.id} › ${ex.id}`, { timeout: 600_000 }, async () => {
        await baseRootfs();
        await ensureImage(IMAGE_DIR, lesson.image, (l) => console.log(`[images] ${l}`));
        const t0 = Date.now();
        const row: Row = { lesson: lesson.id, exercise: ex.id, runtime: lesson.runtime, result: 'FAILED', ms: 0, detail: '' };
        rows.push(row);
        const session = await manager.create(lesson, `proof-${lesson.id}-${ex.id}`);
        try {
          await session.ready;
          expect(session.status, session.statusMessage).toBe('ready');
          const before = await session.checks.run(ex.id);
          expect(before.passed, `check passed before the solution: ${before.message}`).toBe(false);
          expect(before.message.length, 'a failing check must say what is missing').toBeGreaterThan(0);
          const sol = await session.checks.runScript(ex.solutionScript, 60_000);
          expect(sol.timedOut, 'solution must return promptly (background long-lived processes)').toBe(false);
          expect(sol.code, `solution failed: ${sol.output}`).toBe(0);
          const after = await session.checks.run(ex.id);
          expect(after.passed, `check failed after the solution: ${after.message}`).toBe(true);
          row.result = 'proven';
          row.detail = after.message;
        } finally {
          row.ms = Date.now() - t0;
          await manager.end(session, 'closed');
        }
      });
    }
  }
});
