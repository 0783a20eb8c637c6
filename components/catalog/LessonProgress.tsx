'use client';
/**
 * "2/3 exercises passed" as the server recorded it (progress.ts). Invisible until
 * the first fetch answered (the server render has no progress); "Progress
 * unavailable" when the last fetch failed. data-passed is set only when known.
 */
import { useSyncExternalStore } from 'react';
import { progress } from '@/components/lab/progress';

export function LessonProgress({ lessonId, exerciseIds }: { lessonId: string; exerciseIds: string[] }) {
  const snap = useSyncExternalStore(progress.subscribe, progress.getSnapshot, progress.getServerSnapshot);
  const total = exerciseIds.length;
  if (total === 0) return null;

  if (snap.status === 'error') {
    return (
      <div data-testid="lesson-progress" data-lesson-id={lessonId} data-error="true" className="text-xs">
        <span data-testid="progress-error" className="text-slate-500" title={snap.error ?? undefined}>
          Progress unavailable
        </span>
      </div>
    );
  }

  const passedIds = progress.passedIn(lessonId);
  const passed = snap.status === 'ready' ? exerciseIds.filter((id) => passedIds.has(id)).length : null;
  const n = passed ?? 0;
  const done = n >= total;
  return (
    <div
      data-testid="lesson-progress"
      data-lesson-id={lessonId}
      data-passed={passed ?? undefined}
      className={`flex items-center gap-2 text-xs ${passed === null ? 'invisible' : ''}`}
    >
      <div className="h-1.5 w-20 overflow-hidden rounded-full bg-slate-200" aria-hidden>
        <div className={`h-full rounded-full ${done ? 'bg-emerald-500' : 'bg-indigo-500'}`} style={{ width: `${Math.round((n / total) * 100)}%` }} />
      </div>
      <span className={done ? 'font-medium text-emerald-700' : 'text-slate-600'}>
        {done ? '✓ ' : ''}
        {n}/{total} exercises passed
      </span>
    </div>
  );
}
