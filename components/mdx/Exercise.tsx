'use client';
/**
 * <Exercise id="..."> in a lesson: title and hint come from the lesson
 * frontmatter (via LabProvider), the description is the MDX children. Its Check
 * button runs the same check as the lab panel's (shared state in the provider).
 */
import type { ReactNode } from 'react';
import { useLab } from '@/components/lab/LabProvider';
import { CheckButton, CheckResultLine } from '@/components/lab/ExerciseCheck';

export function Exercise({ id, children }: { id: string; children?: ReactNode }) {
  const { lesson, passed } = useLab();
  const index = lesson.exercises.findIndex((e) => e.id === id);
  const ex = lesson.exercises[index];
  if (!ex) {
    return (
      <div className="not-prose my-6 rounded-lg border border-rose-300 bg-rose-50 p-4 text-sm text-rose-900">
        Unknown exercise <code>{id}</code>: it is not listed in this lesson’s frontmatter.
      </div>
    );
  }
  const done = passed.includes(id);
  return (
    <section data-testid={`exercise-${id}`} id={`exercise-${id}`} className="my-8 rounded-xl border border-indigo-200 bg-white shadow-sm">
      <header className="not-prose flex items-center gap-3 rounded-t-xl border-b border-indigo-100 bg-indigo-50/70 px-5 py-3">
        <span className="text-xs font-semibold uppercase tracking-wider text-indigo-600">Exercise {index + 1}</span>
        <h3 className="min-w-0 flex-1 text-base font-semibold text-slate-900">{ex.title}</h3>
        {done && <span className="text-xs font-medium text-emerald-600">✓ passed</span>}
      </header>
      {/* The description is styled by the lesson's surrounding `prose`. */}
      <div className="px-5 pt-1 [&>*:last-child]:mb-2">{children}</div>
      <div className="not-prose px-5 pb-4 pt-2">
        {ex.hint && (
          <details className="group mb-3 text-sm">
            <summary className="cursor-pointer select-none text-indigo-700 hover:text-indigo-900">
              <span className="group-open:hidden">Show hint</span>
              <span className="hidden group-open:inline">Hide hint</span>
            </summary>
            <p className="mt-2 whitespace-pre-wrap rounded-md bg-slate-50 px-3 py-2 text-slate-700">{ex.hint}</p>
          </details>
        )}
        <div className="flex items-center gap-3">
          <CheckButton exerciseId={id} testId={`exercise-check-${id}`} />
          <span className="text-xs text-slate-500">Runs a check inside your sandbox.</span>
        </div>
        <CheckResultLine exerciseId={id} testId={`exercise-result-${id}`} />
      </div>
    </section>
  );
}
