import Link from 'next/link';

export default function NotFound() {
  return (
    <main className="mx-auto flex max-w-xl flex-col items-center px-6 py-24 text-center">
      <p className="font-mono text-sm text-indigo-600">404 · no such process</p>
      <h1 className="mt-3 text-3xl font-bold tracking-tight text-slate-900">This page isn’t in any namespace we know</h1>
      <p className="mt-4 text-slate-600">The lesson or page you asked for doesn’t exist — maybe it was renamed or the link is mistyped.</p>
      <pre className="mt-6 w-full whitespace-pre-wrap break-words rounded-lg bg-slate-900 px-4 py-3 text-left font-mono text-sm text-slate-200">
        <span className="text-emerald-400">$</span> ls /lessons/that-page{'\n'}
        <span className="text-rose-300">ls: cannot access &apos;/lessons/that-page&apos;: No such file or directory</span>
      </pre>
      <Link href="/" className="mt-8 rounded-md bg-indigo-600 px-4 py-2 text-sm font-medium text-white hover:bg-indigo-500">
        Back to all lessons
      </Link>
    </main>
  );
}
