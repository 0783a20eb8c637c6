/**
 * The workshop rules and views as pure logic (lab-backend/src/workshops/):
 * join codes, display names, the time window and pace, the roster's cells,
 * the group view, stuck detection, the summary and the CSV export.
 */
import { describe, expect, it } from 'vitest';
import { JOIN_CODE_LENGTH, newJoinCode, normaliseJoinCode, showJoinCode } from '../../src/workshops/codes';
import { DISPLAY_NAME_MAX, checkDisplayName } from '../../src/workshops/names';
import { joinRefusal, nextToUnlock, openLessons, type WorkshopRules } from '../../src/workshops/pace';
import { cellsOf, csvField, groupView, resultsCsv, stuckReasons, summary, type SeatView, type WorkshopLesson } from '../../src/workshops/roster';
import { newDeviceCode, normaliseDeviceCode } from '../../src/identity/device-codes';
import type { ExerciseProgress } from '../../src/store/store';

describe('join codes', () => {
  it('are 6 characters without 0/O/1/I, shown as two groups of three, and read back however they are typed', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 500; i++) {
      const shown = newJoinCode();
      expect(shown).toMatch(/^[A-HJ-NP-Z2-9]{3}-[A-HJ-NP-Z2-9]{3}$/);
      const canonical = normaliseJoinCode(` ${shown.toLowerCase().replace('-', ' - ')} `)!;
      expect(canonical).toHaveLength(JOIN_CODE_LENGTH);
      expect(showJoinCode(canonical)).toBe(shown);
      seen.add(canonical);
    }
    expect(seen.size).toBeGreaterThan(490); // 2^30 codes: repeats in 500 are rare
    for (const bad of ['', 'ABCDE', 'ABCDEFG', 'ABC-DE0', 'ABC-DEI', 'ABC-DE1', 'ABC-DEO', 12345678, null, 'x'.repeat(40)]) {
      expect(normaliseJoinCode(bad), String(bad)).toBeNull();
    }
  });

  it('device codes, made by the same piece, keep their own length and grouping', () => {
    const code = newDeviceCode();
    expect(code).toMatch(/^[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}$/);
    expect(normaliseDeviceCode(code.toLowerCase())).toBe(code.replace('-', ''));
    expect(normaliseDeviceCode(newJoinCode())).toBeNull();
  });
});

describe('display names', () => {
  it('are trimmed text of bounded length, compared in any case and form', () => {
    expect(checkDisplayName('  Ada   Lovelace ')).toEqual({ ok: true, name: 'Ada Lovelace', key: 'ada lovelace' });
    expect(checkDisplayName('<b>Bob</b>')).toMatchObject({ ok: true, name: '<b>Bob</b>' }); // text, shown as text: nothing to strip
    const a = checkDisplayName('ÉVA');
    const b = checkDisplayName('E\u0301va');
    expect(a.ok && b.ok && a.key === b.key).toBe(true);
    expect(checkDisplayName('x'.repeat(DISPLAY_NAME_MAX))).toMatchObject({ ok: true });
    expect(checkDisplayName('x'.repeat(DISPLAY_NAME_MAX + 1))).toMatchObject({ ok: false, message: expect.stringContaining(`${DISPLAY_NAME_MAX}`) });
    for (const bad of ['', '   ', 'a\u0000b', 'right\u202eleft', 'zero\u200bwidth', 'bell\u0007', 42, undefined]) {
      expect(checkDisplayName(bad), JSON.stringify(bad)).toMatchObject({ ok: false });
    }
  });
});

const W: WorkshopRules = { lessonIds: ['l1', 'l2', 'l3'], pace: 'instructor', unlocked: 1, startsAt: 10_000, endsAt: 20_000, seats: 2 };

describe('the time window, seats and pace', () => {
  it('refuses a join before the start (less the early-join time), after the end, and when full, except to a seat holder', () => {
    expect(joinRefusal(W, 9_999, 0, false)).toBe('not_started');
    expect(joinRefusal(W, 9_000, 0, false, 1_000)).toBeNull();
    expect(joinRefusal(W, 10_000, 1, false)).toBeNull();
    expect(joinRefusal(W, 10_000, 2, false)).toBe('full');
    expect(joinRefusal(W, 10_000, 2, true)).toBeNull();
    expect(joinRefusal(W, 20_000, 0, true)).toBe('ended');
  });

  it('opens every lesson in open pace, and in instructor pace the first ones up to what was unlocked', () => {
    expect(openLessons({ ...W, pace: 'open', unlocked: 0 })).toEqual(['l1', 'l2', 'l3']);
    expect(openLessons({ ...W, unlocked: 0 })).toEqual(['l1']);
    expect(openLessons({ ...W, unlocked: 2 })).toEqual(['l1', 'l2']);
    expect(openLessons({ ...W, unlocked: 99 })).toEqual(['l1', 'l2', 'l3']);
    expect(nextToUnlock({ ...W, unlocked: 1 })).toBe('l2');
    expect(nextToUnlock({ ...W, unlocked: 3 })).toBeNull();
    expect(nextToUnlock({ ...W, pace: 'open' })).toBeNull();
  });
});

const LESSONS: WorkshopLesson[] = [
  { id: 'l1', exerciseIds: ['a', 'b'] },
  { id: 'l2', exerciseIds: ['c'] },
];
const p = (lessonId: string, exerciseId: string, attempts: number, firstPassedAt: number | null): ExerciseProgress => ({
  lessonId,
  exerciseId,
  passed: firstPassedAt !== null,
  firstPassedAt,
  attempts,
  lastAttemptAt: firstPassedAt ?? 0,
});
const seat = (name: string, progress: ExerciseProgress[], over: Partial<SeatView> = {}): SeatView => ({
  seatId: name,
  displayName: name,
  joinedAt: 1_000,
  progress,
  currentLessonId: 'l1',
  lastActivityAt: 1_000,
  ...over,
});

describe('the roster and the group view', () => {
  const ann = seat('ann', [p('l1', 'a', 1, 2_000), p('l1', 'b', 4, null)]);
  const bob = seat('bob', [p('l1', 'a', 2, 5_000), p('l2', 'c', 1, 9_000), p('other', 'x', 1, 3_000)]);
  const cy = seat('cy', []);

  it('a cell per exercise in lesson order: not tried, tried n times, or passed with its time; results of other lessons ignored', () => {
    expect(cellsOf(LESSONS, ann.progress)).toEqual([
      { lessonId: 'l1', exerciseId: 'a', state: 'passed', attempts: 1, firstPassedAt: 2_000 },
      { lessonId: 'l1', exerciseId: 'b', state: 'tried', attempts: 4, firstPassedAt: null },
      { lessonId: 'l2', exerciseId: 'c', state: 'not_tried', attempts: 0, firstPassedAt: null },
    ]);
    expect(cellsOf(LESSONS, bob.progress).map((c) => c.state)).toEqual(['passed', 'not_tried', 'passed']);
  });

  it('the group view counts, per exercise, the seats that passed and those that tried', () => {
    expect(groupView(LESSONS, [ann, bob, cy])).toEqual([
      { lessonId: 'l1', exerciseId: 'a', passed: 2, tried: 0, seats: 3 },
      { lessonId: 'l1', exerciseId: 'b', passed: 0, tried: 1, seats: 3 },
      { lessonId: 'l2', exerciseId: 'c', passed: 1, tried: 0, seats: 3 },
    ]);
    expect(groupView(LESSONS, [])).toEqual(LESSONS.flatMap((l) => l.exerciseIds.map((exerciseId) => ({ lessonId: l.id, exerciseId, passed: 0, tried: 0, seats: 0 }))));
  });

  it('marks as stuck a seat failing one exercise again and again, or idle on a lesson it has not finished', () => {
    const rules = { failedAttempts: 3, idleMs: 60_000 };
    expect(stuckReasons(LESSONS, ann, 2_000, rules)).toEqual([{ kind: 'failing', lessonId: 'l1', exerciseId: 'b', attempts: 4 }]);
    expect(stuckReasons(LESSONS, cy, 1_000 + 60_000, rules)).toEqual([{ kind: 'idle', lessonId: 'l1', idleMs: 60_000 }]);
    expect(stuckReasons(LESSONS, cy, 1_000 + 59_999, rules)).toEqual([]);
    // Idle on a lesson it has finished, or with no lesson open, is not stuck.
    const done = seat('dee', [p('l1', 'a', 1, 2_000), p('l1', 'b', 1, 3_000)]);
    expect(stuckReasons(LESSONS, done, 10_000_000, rules)).toEqual([]);
    expect(stuckReasons(LESSONS, { ...cy, currentLessonId: null }, 10_000_000, rules)).toEqual([]);
  });

  it('the summary gives each exercise its pass rate and median time from join to first pass', () => {
    const late = seat('eve', [p('l1', 'a', 1, 11_000)], { joinedAt: 6_000 });
    const s = summary(LESSONS, [ann, bob, cy, late]);
    expect(s[0]).toMatchObject({ exerciseId: 'a', passed: 3, passRate: 0.75, medianMsToPass: 4_000 }); // 1000, 4000, 5000
    expect(s[1]).toMatchObject({ exerciseId: 'b', passed: 0, passRate: 0, medianMsToPass: null });
    expect(s[2]).toMatchObject({ exerciseId: 'c', passed: 1, passRate: 0.25, medianMsToPass: 8_000 });
  });
});

describe('the CSV export', () => {
  it('has a row per learner and exercise, quoted where needed, and no field a spreadsheet would run as a formula', () => {
    const csv = resultsCsv(LESSONS, [seat('=HYPERLINK("x")', [p('l1', 'a', 2, Date.UTC(2026, 11, 2, 10, 0, 0))]), seat('Smith, Jo', [])]);
    expect(csv.split('\r\n')).toEqual([
      'learner,lesson,exercise,passed,first_passed_at,attempts',
      `"'=HYPERLINK(""x"")",l1,a,true,2026-12-02T10:00:00.000Z,2`,
      `"'=HYPERLINK(""x"")",l1,b,false,,0`,
      `"'=HYPERLINK(""x"")",l2,c,false,,0`,
      '"Smith, Jo",l1,a,false,,0',
      '"Smith, Jo",l1,b,false,,0',
      '"Smith, Jo",l2,c,false,,0',
      '',
    ]);
    expect(['+1', '-1', '@x', 'plain', 'a"b', 'two\nlines'].map(csvField)).toEqual(["'+1", "'-1", "'@x", 'plain', '"a""b"', '"two\nlines"']);
  });
});
