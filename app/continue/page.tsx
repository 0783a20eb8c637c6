import type { Metadata } from 'next';
import { ContinueForm } from '@/components/progress/ContinueForm';

export const metadata: Metadata = { title: 'Continue on this device', robots: { index: false } };

type SearchParams = { code?: string | string[] };

/** ?code= only fills in the form; redeeming it takes a click (ContinueForm). */
export default async function ContinuePage({ searchParams }: { searchParams: Promise<SearchParams> }) {
  const { code } = await searchParams;
  const initialCode = (Array.isArray(code) ? code[0] : code) ?? '';

  return (
    <main className="mx-auto max-w-md px-4 py-16 sm:px-6">
      <h1 className="text-2xl font-bold tracking-tight text-slate-900">Continue on this device</h1>
      <p className="mt-2 text-sm text-slate-600">
        Enter the code from <span className="font-medium">Your progress → Continue on another device</span> on your other device. This browser then continues as that learner, with
        the same progress. A code works once.
      </p>
      <div className="mt-6">
        <ContinueForm initialCode={initialCode} />
      </div>
    </main>
  );
}
