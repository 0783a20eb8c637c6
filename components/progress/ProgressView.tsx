'use client';
/**
 * "Your progress": every exercise of the course with what the server recorded for
 * it (progress.ts). The course outline comes from the server page; results are
 * fetched by the browser. Recorded results for exercises the course no longer
 * has are not counted.
 */
import Link from 'next/link';
import { useEffect, useMemo, useState, useSyncExternalStore } from 'react';
import type { ExerciseProgressEntry } from '@/lab-backend/src/wire';
import { getMe } from '@/components/lab/api';
import { progress } from '@/components/lab/progress';

export interface OutlineLesson {
  id: string;
  title: string;
  href: string;
  exercises: { id: string; title: string }[];
}

export interface OutlineModule {
  dir: string;
  /** "Module 1" */
  label: string;
  title: string;
  lessons: OutlineLesson[];
}

const key = (lessonId: string, exerciseId: string) => `${lessonId}\n${exerciseId}`;

export function ProgressView({ modules }: { modules: OutlineModule[] }) {
  const snap = useSyncExternalStore(progress.subscribe, progress.getSnapshot, progress.getServerSnapshot);
  const recorded = useMemo(() => new Map(snap.exercises.map((e) => [key(e.lessonId, e.exerciseId), e])), [snap]);
  const all = modules.flatMap((m) => m.lessons.flatMap((l) => l.exercises.map((e) => key(l.id, e.id))));
  const total = all.length;
  const passed = all.filter((k) => recorded.get(k)?.passed).length;

  if (snap.status === 'loading') {
    return <p className="text-sm text-slate-500">Loading your progress…</p>;
  }
  if (snap.status === 'error') {
    return (
      <div data-testid="progress-error" role="alert" className="rounded-lg border border-rose-200 bg-rose-50 p-4 text-sm text-rose-900">
        <p className="font-semibold">Progress unavailable</p>
        <p className="mt-1">{snap.error}</p>
        <button type="button" onClick={() => void progress.refresh()} className="mt-3 rounded-md bg-rose-700 px-3 py-1 text-sm font-medium text-white hover:bg-rose-600">
          Try again
        </button>
      </div>
    );
  }

  const done = total > 0 && passed >= total;
  return (
    <div>
      <section data-testid="progress-summary" data-passed={passed} data-total={total} className="rounded-xl border border-slate-200 bg-white p-5 shadow-sm">
        <p className={`text-lg font-semibold ${done ? 'text-emerald-700' : 'text-slate-900'}`}>
          {done ? '✓ ' : ''}
          {passed} of {total} exercises passed
        </p>
        <div
          className="mt-3 h-2 overflow-hidden rounded-full bg-slate-200"
          role="progressbar"
          aria-label="Exercises passed"
          aria-valuemin={0}
          aria-valuemax={total}
          aria-valuenow={passed}
        >
          <div className={`h-full rounded-full ${done ? 'bg-emerald-500' : 'bg-indigo-500'}`} style={{ width: `${total ? Math.round((passed / total) * 100) : 0}%` }} />
        </div>
        <LearnerTag />
      </section>

      <div className="mt-10 space-y-10">
        {modules.map((m) => (
          <section key={m.dir} aria-labelledby={`progress-module-${m.dir}`}>
            <p className="font-mono text-xs font-medium uppercase tracking-wider text-indigo-600">{m.label}</p>
            <h2 id={`progress-module-${m.dir}`} className="mt-1 text-xl font-semibold text-slate-900">
              {m.title}
            </h2>
            <div className="mt-4 space-y-4">
              {m.lessons.map((l) => (
                <LessonBlock key={l.id} lesson={l} recorded={recorded} />
              ))}
            </div>
          </section>
        ))}
      </div>
    </div>
  );
}

function LessonBlock({ lesson, recorded }: { lesson: OutlineLesson; recorded: Map<string, ExerciseProgressEntry> }) {
  const n = lesson.exercises.filter((e) => recorded.get(key(lesson.id, e.id))?.passed).length;
  return (
    <div className="rounded-xl border border-slate-200 bg-white shadow-sm">
      <div className="flex items-baseline gap-3 border-b border-slate-100 px-5 py-3">
        <Link href={lesson.href} className="flex-1 font-semibold text-slate-900 hover:text-indigo-700">
          {lesson.title}
        </Link>
        <span className={`text-xs ${n === lesson.exercises.length && n > 0 ? 'font-medium text-emerald-700' : 'text-slate-500'}`}>
          {n}/{lesson.exercises.length}
        </span>
      </div>
      <ul className="divide-y divide-slate-100">
        {lesson.exercises.map((e) => {
          const r = recorded.get(key(lesson.id, e.id));
          const ok = !!r?.passed;
          return (
            <li
              key={e.id}
              data-testid="progress-exercise"
              data-exercise-id={e.id}
              data-lesson-id={lesson.id}
              data-passed={ok ? 'true' : 'false'}
              className="flex items-center gap-3 px-5 py-2.5 text-sm"
            >
              <span aria-hidden className={`w-4 text-center ${ok ? 'text-emerald-600' : 'text-slate-300'}`}>
                {ok ? '✓' : '○'}
              </span>
              <span className="min-w-0 flex-1 text-slate-800">{e.title}</span>
              <span className="shrink-0 text-xs text-slate-500">
                <ExerciseStatus entry={r} />
              </span>
            </li>
          );
        })}
      </ul>
    </div>
  );
}

function ExerciseStatus({ entry }: { entry: ExerciseProgressEntry | undefined }) {
  if (!entry || entry.attempts === 0) return <>Not attempted yet</>;
  if (entry.passed) {
    if (entry.firstPassedAt === null) return <span className="text-emerald-700">Passed</span>;
    return (
      <span className="text-emerald-700">
        Passed <time dateTime={new Date(entry.firstPassedAt).toISOString()}>{new Date(entry.firstPassedAt).toLocaleString()}</time>
      </span>
    );
  }
  return (
    <>
      {entry.attempts} {entry.attempts === 1 ? 'attempt' : 'attempts'} so far
    </>
  );
}

/** "Recorded for learner 3f9a2c" (the short tag from /lab-api/me); nothing if it cannot be had. */
function LearnerTag() {
  const [tag, setTag] = useState<string | null>(null);
  useEffect(() => {
    let cancelled = false;
    void getMe().then((r) => {
      if (!cancelled && r.ok) setTag(r.value.learnerTag);
    });
    return () => {
      cancelled = true;
    };
  }, []);
  if (!tag) return null;
  return (
    <p className="mt-3 text-xs text-slate-500">
      Recorded by the lab for learner{' '}
      <span data-testid="learner-tag" className="font-mono text-slate-700">
        {tag}
      </span>
      .
    </p>
  );
}
