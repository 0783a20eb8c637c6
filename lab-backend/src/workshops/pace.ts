/**
 * A workshop's time window, seats and pace, as rules over plain values (the
 * store and the routes supply them; nothing here reads a clock or a database).
 *
 *  - Joining is refused before the workshop opens (`startsAt` less the early
 *    join time), after it ends, and when every seat is taken. A learner who
 *    already holds a seat may come back while it runs, even when it is full.
 *  - Pace "open": every lesson of the workshop is open. Pace "instructor": the
 *    first `unlocked` lessons are (at least the first one), and the
 *    instructor unlocks the next one at a time.
 */

export type Pace = 'open' | 'instructor';

export interface WorkshopRules {
  /** The workshop's lessons, in the instructor's order. */
  lessonIds: readonly string[];
  pace: Pace;
  /** Pace "instructor": how many lessons the instructor has opened (the first is always open). */
  unlocked: number;
  startsAt: number;
  endsAt: number;
  seats: number;
}

export type JoinRefusal = 'not_started' | 'ended' | 'full';

/** Plain words for a refused join, for the learner. */
export const JOIN_REFUSALS: Record<JoinRefusal, string> = {
  not_started: 'This workshop has not started yet.',
  ended: 'This workshop has ended.',
  full: 'This workshop is full: every seat is taken.',
};

/** Why `now` is no time to join (null: it is), for a learner new to it or one who already holds a seat. */
export function joinRefusal(w: WorkshopRules, now: number, seatsTaken: number, holdsSeat: boolean, earlyJoinMs = 0): JoinRefusal | null {
  if (now >= w.endsAt) return 'ended';
  if (now < w.startsAt - earlyJoinMs) return 'not_started';
  if (!holdsSeat && seatsTaken >= w.seats) return 'full';
  return null;
}

/** The lessons a seat may open now. */
export function openLessons(w: WorkshopRules): string[] {
  if (w.pace === 'open') return [...w.lessonIds];
  return w.lessonIds.slice(0, Math.max(1, Math.min(w.lessonIds.length, Math.floor(w.unlocked))));
}

/** The lesson the instructor would unlock next, or null when all are open. */
export function nextToUnlock(w: WorkshopRules): string | null {
  const open = openLessons(w).length;
  return open < w.lessonIds.length ? w.lessonIds[open] : null;
}
