import Link from 'next/link';
import { RuntimeBadge } from '@/components/lab/RuntimeBadge';
import { ClockIcon } from '@/components/lab/ClockIcon';
import { LessonProgress } from '@/components/catalog/LessonProgress';
import { groupByModule, lessonHref, moduleNumber, readCourse } from '@/components/server/course';

export default async function CatalogPage() {
  const { lessons, contentError } = await readCourse();
  const modules = groupByModule(lessons);

  return (
    <main className="mx-auto max-w-5xl px-4 py-10 sm:px-6">
      <section className="mb-10">
        <h1 className="text-3xl font-bold tracking-tight text-slate-900 sm:text-4xl">How containers really work</h1>
        <p className="mt-3 max-w-2xl text-lg text-slate-600">
          Short lessons on the kernel features behind containers. Each one comes with a live sandbox: read on the left, experiment in the terminal on the right, and check your
          work.
        </p>
      </section>

      {contentError && (
        <div role="alert" className="mb-8 rounded-lg border border-rose-300 bg-rose-50 p-4 text-sm text-rose-900">
          <p className="font-semibold">A lesson could not be loaded</p>
          <p className="mt-1 whitespace-pre-wrap font-mono text-xs">{contentError}</p>
        </div>
      )}

      {!contentError && modules.length === 0 && <p className="rounded-lg border border-dashed border-slate-300 p-8 text-center text-slate-500">No lessons yet.</p>}

      <div className="space-y-12">
        {modules.map((m) => (
          <section key={m.dir} aria-labelledby={`module-${m.dir}`} data-testid="catalog-module">
            <p className="font-mono text-xs font-medium uppercase tracking-wider text-indigo-600">{moduleNumber(m.dir)}</p>
            <h2 id={`module-${m.dir}`} className="mt-1 text-xl font-semibold text-slate-900">
              {m.title}
            </h2>
            <ol className="mt-4 grid gap-4 sm:grid-cols-2">
              {m.lessons.map((l) => (
                <li key={l.id}>
                  <Link
                    href={lessonHref(l.id)}
                    data-testid="lesson-card"
                    data-lesson-id={l.id}
                    className="group flex h-full flex-col rounded-xl border border-slate-200 bg-white p-5 shadow-sm transition hover:-translate-y-0.5 hover:border-indigo-300 hover:shadow-md"
                  >
                    <div className="flex items-start gap-3">
                      <h3 className="flex-1 text-base font-semibold text-slate-900 group-hover:text-indigo-700">{l.title}</h3>
                      <RuntimeBadge runtime={l.runtime} />
                    </div>
                    <p className="mt-2 flex-1 text-sm leading-relaxed text-slate-600">{l.summary}</p>
                    <div className="mt-4 flex flex-wrap items-center gap-x-4 gap-y-2 text-xs text-slate-500">
                      <span className="inline-flex items-center gap-1">
                        <ClockIcon /> {l.estimateMinutes} min
                      </span>
                      <span>
                        {l.exercises.length} {l.exercises.length === 1 ? 'exercise' : 'exercises'}
                      </span>
                      <span className="ml-auto">
                        <LessonProgress lessonId={l.id} exerciseIds={l.exercises.map((e) => e.id)} />
                      </span>
                    </div>
                  </Link>
                </li>
              ))}
            </ol>
          </section>
        ))}
      </div>
    </main>
  );
}
