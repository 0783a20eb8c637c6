import type { Metadata } from 'next';
import { AdminStatus } from '@/components/admin/AdminStatus';

export const metadata: Metadata = { title: 'Lab status', robots: { index: false } };

/** Not linked from the site: /admin/sign-in?token=… (the link `npm start` prints) lands here with the admin cookie. */
export default function AdminPage() {
  return (
    <main className="mx-auto max-w-6xl px-4 py-10 sm:px-6">
      <h1 className="text-2xl font-bold tracking-tight text-slate-900">Lab status</h1>
      <p className="mt-1 text-sm text-slate-500">Every live sandbox session and the warm pool, refreshed every 3 seconds.</p>
      <div className="mt-6">
        <AdminStatus />
      </div>
    </main>
  );
}
