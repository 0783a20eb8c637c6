/**
 * What an instructor sees of a class, computed from the results the server
 * recorded (store.progressOf per seat): a cell per seat and exercise, the
 * group view (how many passed each exercise), who looks stuck, the summary
 * after the class (pass rate and median time to pass), and the CSV export.
 * Pure functions: the routes feed them and stream what they return.
 */
import type { ExerciseProgress } from '../store/store';

export interface WorkshopLesson {
  id: string;
  exerciseIds: readonly string[];
}

export interface SeatView {
  seatId: string;
  displayName: string;
  joinedAt: number;
  /** The seat's recorded results, for the workshop's lessons (others are ignored). */
  progress: readonly ExerciseProgress[];
  /** The lesson its newest sandbox is for, if any. */
  currentLessonId: string | null;
  /** The last keystroke or check of the seat, or its join. */
  lastActivityAt: number;
}

export type CellState = 'not_tried' | 'tried' | 'passed';

export interface Cell {
  lessonId: string;
  exerciseId: string;
  state: CellState;
  attempts: number;
  firstPassedAt: number | null;
}

const key = (lessonId: string, exerciseId: string) => `${lessonId}\u0000${exerciseId}`;

function progressIndex(progress: readonly ExerciseProgress[]): Map<string, ExerciseProgress> {
  return new Map(progress.map((p) => [key(p.lessonId, p.exerciseId), p]));
}

/** A seat's row: one cell per exercise of the workshop, in lesson order. */
export function cellsOf(lessons: readonly WorkshopLesson[], progress: readonly ExerciseProgress[]): Cell[] {
  const byKey = progressIndex(progress);
  return lessons.flatMap((l) =>
    l.exerciseIds.map((exerciseId) => {
      const p = byKey.get(key(l.id, exerciseId));
      const state: CellState = p?.passed ? 'passed' : p && p.attempts > 0 ? 'tried' : 'not_tried';
      return { lessonId: l.id, exerciseId, state, attempts: p?.attempts ?? 0, firstPassedAt: p?.passed ? p.firstPassedAt : null };
    }),
  );
}

export interface ExerciseTally {
  lessonId: string;
  exerciseId: string;
  passed: number;
  tried: number;
  seats: number;
}

/** The group view: for each exercise, how many seats passed it and how many tried without passing. */
export function groupView(lessons: readonly WorkshopLesson[], seats: readonly SeatView[]): ExerciseTally[] {
  const rows = seats.map((s) => cellsOf(lessons, s.progress));
  return lessons.flatMap((l, li) =>
    l.exerciseIds.map((exerciseId, ei) => {
      const at = lessons.slice(0, li).reduce((n, x) => n + x.exerciseIds.length, 0) + ei;
      const states = rows.map((r) => r[at].state);
      return { lessonId: l.id, exerciseId, passed: states.filter((s) => s === 'passed').length, tried: states.filter((s) => s === 'tried').length, seats: seats.length };
    }),
  );
}

export interface StuckRules {
  /** Failed checks on one exercise not yet passed, from which a seat looks stuck. */
  failedAttempts: number;
  /** No activity for this long on a lesson not yet finished. */
  idleMs: number;
}

export const STUCK_DEFAULTS: StuckRules = { failedAttempts: 3, idleMs: 10 * 60_000 };

export type StuckReason = { kind: 'failing'; lessonId: string; exerciseId: string; attempts: number } | { kind: 'idle'; lessonId: string; idleMs: number };

/** Why a seat looks stuck now (empty: it does not), the most telling first. */
export function stuckReasons(lessons: readonly WorkshopLesson[], seat: SeatView, now: number, rules: StuckRules = STUCK_DEFAULTS): StuckReason[] {
  const reasons: StuckReason[] = [];
  const cells = cellsOf(lessons, seat.progress);
  for (const c of cells) {
    if (c.state === 'tried' && c.attempts >= rules.failedAttempts) reasons.push({ kind: 'failing', lessonId: c.lessonId, exerciseId: c.exerciseId, attempts: c.attempts });
  }
  reasons.sort((a, b) => (b.kind === 'failing' && a.kind === 'failing' ? b.attempts - a.attempts : 0));
  const current = seat.currentLessonId;
  const idle = now - seat.lastActivityAt;
  if (current && idle >= rules.idleMs && cells.some((c) => c.lessonId === current && c.state !== 'passed')) reasons.push({ kind: 'idle', lessonId: current, idleMs: idle });
  return reasons;
}

export interface ExerciseSummary extends ExerciseTally {
  /** passed / seats (0 with no seats). */
  passRate: number;
  /** The median, over seats that passed, of first pass less the seat's join; null when nobody passed. */
  medianMsToPass: number | null;
}

function median(xs: number[]): number | null {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The page after the class: each exercise's pass rate and median time to pass. */
export function summary(lessons: readonly WorkshopLesson[], seats: readonly SeatView[]): ExerciseSummary[] {
  const indexes = seats.map((s) => progressIndex(s.progress));
  return groupView(lessons, seats).map((t) => {
    const times = seats.flatMap((s, i) => {
      const p = indexes[i].get(key(t.lessonId, t.exerciseId));
      return p?.passed && p.firstPassedAt !== null ? [Math.max(0, p.firstPassedAt - s.joinedAt)] : [];
    });
    return { ...t, passRate: t.seats ? t.passed / t.seats : 0, medianMsToPass: median(times) };
  });
}

/**
 * A CSV field (RFC 4180 quoting). A learner's display name is theirs to
 * choose, so a field a spreadsheet would run as a formula (= + - @, tab, CR)
 * is prefixed with a quote mark and read as text.
 */
export function csvField(v: string | number | boolean | null): string {
  let s = v === null ? '' : String(v);
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The export: a row per seat and exercise (learner, lesson, exercise, passed, first passed at as ISO 8601, attempts). */
export function resultsCsv(lessons: readonly WorkshopLesson[], seats: readonly SeatView[]): string {
  const lines = [['learner', 'lesson', 'exercise', 'passed', 'first_passed_at', 'attempts'].join(',')];
  for (const s of seats) {
    for (const c of cellsOf(lessons, s.progress)) {
      const first = c.firstPassedAt === null ? null : new Date(c.firstPassedAt).toISOString();
      lines.push([s.displayName, c.lessonId, c.exerciseId, c.state === 'passed', first, c.attempts].map(csvField).join(','));
    }
  }
  return `${lines.join('\r\n')}\r\n`;
}
