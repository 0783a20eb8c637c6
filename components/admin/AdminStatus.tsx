'use client';
/**
 * The admin's view of the lab (GET /lab-api/admin/status, every 3 s): health and
 * every live session. Without the admin cookie the backend answers 403
 * admin_required, and this says how to get it. A failed poll keeps the last
 * answer on screen and says so.
 */
import { useEffect, useState } from 'react';
import type { AdminStatusResponse } from '@/lab-backend/src/wire';
import { getAdminStatus } from '@/components/lab/api';
import { RuntimeBadge } from '@/components/lab/RuntimeBadge';

const POLL_MS = 3000;

type View =
  | { kind: 'loading' }
  | { kind: 'signin' }
  /** `at`: when it was fetched (the "idle for" column counts from there). */
  | { kind: 'status'; status: AdminStatusResponse; at: number };

/** 42s · 3m 05s · 1h 02m */
function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

const time = (ms: number) => new Date(ms).toLocaleTimeString();

export function AdminStatus() {
  const [view, setView] = useState<View>({ kind: 'loading' });
  const [pollError, setPollError] = useState<string | null>(null);

  useEffect(() => {
    let cancelled = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      const r = await getAdminStatus();
      if (cancelled) return;
      if (r.ok) {
        setView({ kind: 'status', status: r.value, at: Date.now() });
        setPollError(null);
      } else if (r.kind === 'error' && r.code === 'admin_required') {
        setView({ kind: 'signin' });
        setPollError(null);
      } else {
        setPollError(r.kind === 'error' ? r.message : 'The lab did not answer.');
      }
      timer = setTimeout(() => void poll(), POLL_MS);
    };
    void poll();
    return () => {
      cancelled = true;
      clearTimeout(timer);
    };
  }, []);

  return (
    <div>
      {pollError && (
        <p data-testid="admin-error" role="alert" className="mb-4 rounded-md border border-rose-200 bg-rose-50 px-3 py-2 text-sm text-rose-900">
          {pollError} {view.kind === 'status' ? `Showing the answer from ${time(view.at)}.` : ''}
        </p>
      )}
      {view.kind === 'loading' && !pollError && <p className="text-sm text-slate-500">Loading…</p>}
      {view.kind === 'signin' && (
        <p data-testid="admin-signin-needed" className="rounded-lg border border-amber-200 bg-amber-50 p-4 text-amber-900">
          Sign in with the admin link that <code className="font-mono">npm start</code> printed.
        </p>
      )}
      {view.kind === 'status' && <StatusView status={view.status} at={view.at} />}
    </div>
  );
}

function StatusView({ status, at }: { status: AdminStatusResponse; at: number }) {
  const h = status.health;
  const stats: [string, string][] = [
    ['Sandboxes in use', `${h.sandboxesInUse} / ${h.maxSandboxes}`],
    ['Queued', String(h.queued)],
    ['Warm', String(h.warmSandboxes)],
  ];
  return (
    <>
      <section data-testid="admin-health" data-ok={h.ok ? 'true' : 'false'} aria-label="Health">
        <div className="grid gap-3 sm:grid-cols-4">
          <div className={`rounded-lg border p-3 ${h.ok ? 'border-emerald-200 bg-emerald-50' : 'border-rose-200 bg-rose-50'}`}>
            <p className="text-xs text-slate-500">Health</p>
            <p className={`text-lg font-semibold ${h.ok ? 'text-emerald-700' : 'text-rose-700'}`}>{h.ok ? 'OK' : 'Not OK'}</p>
          </div>
          {stats.map(([label, value]) => (
            <div key={label} className="rounded-lg border border-slate-200 bg-white p-3">
              <p className="text-xs text-slate-500">{label}</p>
              <p className="font-mono text-lg font-semibold text-slate-900">{value}</p>
            </div>
          ))}
        </div>
        <ul className="mt-3 flex flex-wrap gap-2 text-xs">
          {Object.entries(h.runtimes).map(([name, r]) => {
            const tone = !r.enabled
              ? 'border-slate-200 bg-slate-50 text-slate-500'
              : r.available
                ? 'border-emerald-200 bg-emerald-50 text-emerald-800'
                : 'border-rose-200 bg-rose-50 text-rose-800';
            return (
              <li key={name} title={r.reason} className={`rounded-full border px-2.5 py-0.5 ${tone}`}>
                <span className="font-mono">{name}</span>: {!r.enabled ? 'disabled' : r.available ? 'available' : `unavailable${r.reason ? ` (${r.reason})` : ''}`}
              </li>
            );
          })}
        </ul>
      </section>

      <h2 className="mt-8 text-lg font-semibold text-slate-900">
        Sessions <span className="text-sm font-normal text-slate-500">({status.sessions.length})</span>
      </h2>
      <div className="mt-3 overflow-x-auto rounded-lg border border-slate-200 bg-white">
        <table data-testid="admin-sessions" className="min-w-full text-left text-sm">
          <thead className="bg-slate-50 text-xs uppercase tracking-wider text-slate-500">
            <tr>
              {['Session', 'Owner', 'Lesson', 'Runtime', 'Status', 'Created', 'Expires', 'Idle for', 'Peers'].map((c) => (
                <th key={c} scope="col" className="whitespace-nowrap px-3 py-2 font-medium">
                  {c}
                </th>
              ))}
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100">
            {status.sessions.length === 0 && (
              <tr>
                <td colSpan={9} className="px-3 py-4 text-center text-slate-500">
                  No live sessions.
                </td>
              </tr>
            )}
            {status.sessions.map((s) => (
              <tr key={s.sessionId} data-testid="admin-session" data-session-id={s.sessionId} className="whitespace-nowrap">
                <td className="px-3 py-2 font-mono text-xs" title={s.sessionId}>
                  {s.sessionId.slice(0, 8)}
                </td>
                <td className="max-w-[14rem] truncate px-3 py-2 font-mono text-xs" title={s.owner}>
                  {s.owner}
                </td>
                <td className="px-3 py-2">{s.lessonId}</td>
                <td className="px-3 py-2">
                  <RuntimeBadge runtime={s.runtime} />
                  {s.fromPool && (
                    <span className="ml-1.5 text-xs text-slate-500" title="Came from the warm pool">
                      warm
                    </span>
                  )}
                </td>
                <td className="px-3 py-2">{s.status}</td>
                <td className="px-3 py-2">{time(s.createdAt)}</td>
                <td className="px-3 py-2">
                  {time(s.expiresAt)} <span className="text-xs text-slate-500">(in {duration(s.expiresAt - at)})</span>
                </td>
                <td className="px-3 py-2">{duration(at - s.lastActivityAt)}</td>
                <td className="px-3 py-2 text-right font-mono">{s.peers}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}
