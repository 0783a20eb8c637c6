import type { Metadata, Viewport } from 'next';
import Link from 'next/link';
import type { ReactNode } from 'react';
import './globals.css';

export const metadata: Metadata = {
  title: { default: 'Container Internals Lab', template: '%s · Container Internals Lab' },
  description: 'Learn how containers really work, in a live sandbox beside every lesson.',
};

export const viewport: Viewport = {
  themeColor: '#0f172a',
};

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body className="min-h-dvh">
        <header className="sticky top-0 z-30 h-14 border-b border-slate-800 bg-slate-900 text-slate-100">
          <div className="mx-auto flex h-full max-w-[1800px] items-center gap-3 px-4 lg:px-6">
            <Link href="/" className="flex items-center gap-2.5 font-semibold tracking-tight hover:text-white">
              <span aria-hidden className="grid h-7 w-7 place-items-center rounded-md bg-indigo-500 font-mono text-sm font-bold text-white">
                ▣
              </span>
              Container Internals Lab
            </Link>
            <span className="hidden text-sm text-slate-400 sm:inline">namespaces, cgroups &amp; friends — hands on</span>
            <nav aria-label="Site" className="ml-auto flex items-center gap-4 text-sm">
              <Link href="/progress" data-testid="nav-progress" className="text-slate-300 hover:text-white">
                Your progress
              </Link>
            </nav>
          </div>
        </header>
        {children}
      </body>
    </html>
  );
}
