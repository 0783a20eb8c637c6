import type { Metadata } from 'next';
import { ProgressView } from '@/components/progress/ProgressView';
import { ContinueElsewhere } from '@/components/progress/ContinueElsewhere';
import { courseOutline, readCourse } from '@/components/server/course';

export const metadata: Metadata = { title: 'Your progress' };

/** The course outline is read here; the learner's results are fetched by the browser (ProgressView). */
export default async function ProgressPage() {
  const { lessons, contentError } = await readCourse();

  return (
    <main data-testid="progress-page" className="mx-auto max-w-3xl px-4 py-10 sm:px-6">
      <h1 className="text-3xl font-bold tracking-tight text-slate-900">Your progress</h1>
      <p className="mt-2 text-slate-600">
        Every check you run is recorded by the lab. This is what it has recorded for this browser’s learner.{' '}
        <a href="#continue-elsewhere" className="text-indigo-700 underline hover:text-indigo-900">
          Continue on another device
        </a>
      </p>

      {contentError && (
        <div role="alert" className="mt-6 rounded-lg border border-rose-300 bg-rose-50 p-4 text-sm text-rose-900">
          <p className="font-semibold">A lesson could not be loaded</p>
          <p className="mt-1 whitespace-pre-wrap font-mono text-xs">{contentError}</p>
        </div>
      )}

      <div className="mt-8">
        <ProgressView modules={courseOutline(lessons)} />
      </div>

      <div className="mt-12">
        <ContinueElsewhere />
      </div>
    </main>
  );
}
