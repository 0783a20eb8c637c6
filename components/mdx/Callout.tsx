import type { ReactNode } from 'react';

const STYLES = {
  note: {
    box: 'border-sky-300 bg-sky-50',
    label: 'text-sky-800',
    icon: 'ℹ',
    defaultTitle: 'Note',
  },
  pitfall: {
    box: 'border-amber-300 bg-amber-50',
    label: 'text-amber-800',
    icon: '⚠',
    defaultTitle: 'Pitfall',
  },
} as const;

function Callout({ kind, title, children }: { kind: keyof typeof STYLES; title?: string; children?: ReactNode }) {
  const s = STYLES[kind];
  return (
    <aside data-callout={kind} className={`my-6 rounded-lg border-l-4 px-5 py-3 ${s.box}`}>
      <p className={`!my-1 flex items-center gap-2 text-sm font-semibold ${s.label}`}>
        <span aria-hidden>{s.icon}</span>
        {title ?? s.defaultTitle}
      </p>
      <div className="[&>*:first-child]:mt-1 [&>*:last-child]:mb-1">{children}</div>
    </aside>
  );
}

export function Note(props: { title?: string; children?: ReactNode }) {
  return <Callout kind="note" {...props} />;
}

export function Pitfall(props: { title?: string; children?: ReactNode }) {
  return <Callout kind="pitfall" {...props} />;
}
