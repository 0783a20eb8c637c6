'use client';
/** "2/3 exercises passed" from localStorage (`lab:progress:<lessonId>`), rendered after mount. */
import { useEffect, useState } from 'react';
import { PROGRESS_EVENT, progressKey, readProgress } from '@/components/lab/storage';

export function LessonProgress({ lessonId, exerciseIds }: { lessonId: string; exerciseIds: string[] }) {
  const [passed, setPassed] = useState<number | null>(null);
  const idsKey = exerciseIds.join('\n');

  useEffect(() => {
    const ids = new Set(idsKey.split('\n'));
    const update = () => setPassed(readProgress(lessonId).filter((id) => ids.has(id)).length);
    update();
    const onStorage = (e: StorageEvent) => {
      if (e.key === null || e.key === progressKey(lessonId)) update();
    };
    window.addEventListener('storage', onStorage);
    window.addEventListener(PROGRESS_EVENT, update);
    return () => {
      window.removeEventListener('storage', onStorage);
      window.removeEventListener(PROGRESS_EVENT, update);
    };
  }, [lessonId, idsKey]);

  const total = exerciseIds.length;
  if (total === 0) return null;
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
        <div
          className={`h-full rounded-full ${done ? 'bg-emerald-500' : 'bg-indigo-500'}`}
          style={{ width: `${Math.round((n / total) * 100)}%` }}
        />
      </div>
      <span className={done ? 'font-medium text-emerald-700' : 'text-slate-600'}>
        {done ? '✓ ' : ''}
        {n}/{total} exercises passed
      </span>
    </div>
  );
}
