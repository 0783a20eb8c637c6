/**
 * The learner's progress as the server recorded it (GET /lab-api/progress), cached
 * once per page and shared by every display. No React in here: components read it
 * with useSyncExternalStore(store.subscribe, store.getSnapshot, store.getServerSnapshot),
 * the unit tests drive it with a fake fetch.
 *
 * Contract:
 *  - getSnapshot() returns the same object until something changed; a fetch that
 *    answers what we already have changes nothing and notifies nobody.
 *  - refresh() resolves with the result of a fetch that started after the call, so
 *    a check recorded just before is in it. Calls made while a fetch is in flight
 *    share one follow-up fetch: never more than one in flight and one queued.
 *  - The first subscribe (after there were none) starts a fetch unless one is
 *    already in flight or queued: each page that shows progress asks the server.
 *  - status 'loading' until the first fetch answered. A failed fetch sets status
 *    'error' (with a message fit to show) and keeps the exercises of the last good
 *    answer; displays show the error, the lab panel keeps its ✓ marks.
 */
import type { ExerciseProgressEntry, ProgressResponse } from '@/lab-backend/src/wire';
import { getProgress } from './api';
import { dropLegacyProgress } from './storage';

export interface ProgressSnapshot {
  status: 'loading' | 'ready' | 'error';
  /** Only exercises with at least one recorded result, ordered by lesson, then exercise. */
  exercises: readonly ExerciseProgressEntry[];
  error: string | null;
}

export interface ProgressStore {
  subscribe(listener: () => void): () => void;
  getSnapshot(): ProgressSnapshot;
  /** What the server render (and hydration) sees: always the loading snapshot. */
  getServerSnapshot(): ProgressSnapshot;
  refresh(): Promise<ProgressSnapshot>;
  /** Exercise ids of `lessonId` the server has recorded as passed; the same Set until the snapshot changes. */
  passedIn(lessonId: string): ReadonlySet<string>;
}

const LOADING: ProgressSnapshot = Object.freeze({ status: 'loading', exercises: Object.freeze([]), error: null });

function isProgressResponse(v: unknown): v is ProgressResponse {
  return !!v && typeof v === 'object' && Array.isArray((v as { exercises?: unknown }).exercises);
}

function sameSnapshot(a: ProgressSnapshot, b: ProgressSnapshot): boolean {
  return a.status === b.status && a.error === b.error && JSON.stringify(a.exercises) === JSON.stringify(b.exercises);
}

export function createProgressStore(opts: { fetchImpl?: typeof fetch; onFirstUse?: () => void } = {}): ProgressStore {
  let snapshot = LOADING;
  let passedByLesson = new Map<string, ReadonlySet<string>>();
  const listeners = new Set<() => void>();
  let inFlight: Promise<ProgressSnapshot> | null = null;
  let queued: Promise<ProgressSnapshot> | null = null;
  let used = false;

  function publish(next: ProgressSnapshot): void {
    if (sameSnapshot(snapshot, next)) return;
    snapshot = next;
    passedByLesson = new Map();
    for (const l of [...listeners]) l();
  }

  /** Only called with nothing in flight (refresh and subscribe see to it). */
  function fetchNow(): Promise<ProgressSnapshot> {
    inFlight = (async () => {
      const outcome = await getProgress({ fetchImpl: opts.fetchImpl });
      inFlight = null;
      if (outcome.ok && isProgressResponse(outcome.value)) {
        publish({ status: 'ready', exercises: outcome.value.exercises, error: null });
      } else {
        const error = outcome.ok ? 'The lab answered with something that is not progress.' : outcome.kind === 'error' ? outcome.message : 'The lab did not answer.';
        publish({ status: 'error', exercises: snapshot.exercises, error });
      }
      return snapshot;
    })();
    return inFlight;
  }

  function refresh(): Promise<ProgressSnapshot> {
    if (queued) return queued;
    if (!inFlight) return fetchNow();
    queued = inFlight.then(() => {
      queued = null;
      return fetchNow();
    });
    return queued;
  }

  return {
    subscribe(listener) {
      if (!used) {
        used = true;
        opts.onFirstUse?.();
      }
      const first = listeners.size === 0;
      listeners.add(listener);
      if (first && !inFlight && !queued) void fetchNow();
      return () => {
        listeners.delete(listener);
      };
    },
    getSnapshot: () => snapshot,
    getServerSnapshot: () => LOADING,
    refresh,
    passedIn(lessonId) {
      let s = passedByLesson.get(lessonId);
      if (!s) {
        s = new Set(snapshot.exercises.filter((e) => e.lessonId === lessonId && e.passed).map((e) => e.exerciseId));
        passedByLesson.set(lessonId, s);
      }
      return s;
    },
  };
}

/** The page's store. Coming back to a hidden tab asks again: another tab or device may have passed something. */
export const progress: ProgressStore = createProgressStore({
  onFirstUse: () => {
    if (typeof window === 'undefined') return;
    dropLegacyProgress();
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') void progress.refresh();
    });
  },
});
