import type { RuntimeName } from '@/lab-backend/src/wire';

const LABEL: Record<RuntimeName, { text: string; title: string }> = {
  gvisor: { text: 'gVisor', title: 'Runs in a gVisor sandbox (user-space kernel)' },
  microvm: { text: 'microVM', title: 'Runs in a lightweight virtual machine with its own kernel' },
  runc: { text: 'runc', title: 'Runs as a plain runc container' },
};

/** Small pill naming the sandbox runtime. Shared by server (catalog) and client (panel). */
export function RuntimeBadge({ runtime, dark = false }: { runtime: RuntimeName; dark?: boolean }) {
  const l = LABEL[runtime] ?? { text: runtime, title: runtime };
  const cls = dark ? 'border-slate-600 bg-slate-800 text-slate-300' : 'border-indigo-200 bg-indigo-50 text-indigo-700';
  return (
    <span data-testid="runtime-badge" title={l.title} className={`inline-flex items-center rounded-full border px-2 py-0.5 font-mono text-[11px] leading-4 ${cls}`}>
      {l.text}
    </span>
  );
}
