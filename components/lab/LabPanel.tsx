'use client';
/** The lab column: sandbox status, banners, the terminal and the exercise checks. */
import { useEffect, useState } from 'react';
import type { EndedInfo } from './LabProvider';
import { useLab, type Connection } from './LabProvider';
import { TerminalView } from './TerminalView';
import { CheckButton, CheckResultLine } from './ExerciseCheck';
import { RuntimeBadge } from './RuntimeBadge';

function useNow(active: boolean, everyMs = 250): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (!active) return;
    setNow(Date.now());
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [active, everyMs]);
  return now;
}

function secondsLeft(at: number, now: number): number {
  return Math.max(0, Math.ceil((at - now) / 1000));
}

function mmss(totalSeconds: number): string {
  const m = Math.floor(totalSeconds / 60);
  const s = totalSeconds % 60;
  return `${m}:${String(s).padStart(2, '0')}`;
}

const ENDED_REASON: Record<EndedInfo['reason'], string> = {
  idle: 'Sandbox stopped after being idle',
  lifetime: 'Sandbox reached its time limit',
  closed: 'Sandbox closed',
  sandbox_exited: 'The sandbox exited',
  shutdown: 'The lab server is restarting',
  replaced: 'This sandbox was opened in another tab',
  start_timeout: 'The sandbox did not start in time',
};

function EyeIcon() {
  return (
    <svg viewBox="0 0 16 16" width="12" height="12" fill="none" stroke="currentColor" strokeWidth="1.5" aria-hidden>
      <path d="M1 8s2.5-5 7-5 7 5 7 5-2.5 5-7 5-7-5-7-5Z" />
      <circle cx="8" cy="8" r="2" />
    </svg>
  );
}

type Tone = 'neutral' | 'ok' | 'warn' | 'error';

function waitingText(c: Extract<Connection, { kind: 'waiting' }>, now: number): string {
  const n = secondsLeft(c.retryAt, now);
  switch (c.reason) {
    case 'unreachable':
      return `Lab backend unreachable — retrying in ${n}s`;
    case 'reconnect':
      return `${c.message} — reconnecting in ${n}s`;
    default:
      return `${c.message} — retrying in ${n}s`;
  }
}

export function LabPanel() {
  const lab = useLab();
  const { connection, sandboxStatus, statusMessage, ended, expiring, session, lesson } = lab;
  const ticking = connection.kind === 'waiting' || !!expiring;
  const now = useNow(ticking);

  let status: string;
  let statusKey: string;
  let tone: Tone;
  if (ended) {
    status = ENDED_REASON[ended.reason] ?? 'Sandbox ended';
    statusKey = 'ended';
    tone = 'neutral';
  } else if (connection.kind === 'creating') {
    status = 'Starting sandbox…';
    statusKey = 'starting';
    tone = 'neutral';
  } else if (connection.kind === 'waiting') {
    status = waitingText(connection, now);
    statusKey = connection.reason;
    tone = 'warn';
  } else if (connection.kind === 'failed') {
    status = connection.message;
    statusKey = 'error';
    tone = 'error';
  } else if (sandboxStatus === 'ready') {
    status = session?.resumed ? 'Ready (reattached to your sandbox)' : 'Ready';
    statusKey = 'ready';
    tone = 'ok';
  } else if (sandboxStatus === 'error') {
    status = statusMessage ?? 'The sandbox failed';
    statusKey = 'error';
    tone = 'error';
  } else if (sandboxStatus === 'queued') {
    status = statusMessage ?? 'The lab is full; you are in the queue.';
    statusKey = 'queued';
    tone = 'warn';
  } else if (sandboxStatus === 'ended') {
    status = 'Sandbox ended';
    statusKey = 'ended';
    tone = 'neutral';
  } else {
    status = statusMessage ?? 'Starting sandbox…';
    statusKey = 'starting';
    tone = 'neutral';
  }

  const dot: Record<Tone, string> = {
    neutral: 'bg-slate-400 animate-pulse',
    ok: 'bg-emerald-400',
    warn: 'bg-amber-400 animate-pulse',
    error: 'bg-rose-500',
  };
  if (statusKey === 'ended') dot.neutral = 'bg-slate-500';

  return (
    <section aria-label="Lab" className="flex h-full min-h-0 flex-col overflow-hidden rounded-xl border border-slate-800 bg-slate-900 text-slate-100 shadow-lg [color-scheme:dark]">
      <header className="flex flex-wrap items-center gap-x-3 gap-y-1 border-b border-slate-800 px-4 py-2.5">
        <h2 className="text-sm font-semibold tracking-wide text-slate-200">Lab sandbox</h2>
        <RuntimeBadge runtime={session?.runtime ?? lesson.runtime} dark />
        {lab.viewers > 0 && (
          <span
            data-testid="viewers"
            data-count={lab.viewers}
            title="Read-only viewers following this terminal"
            className="flex items-center gap-1 rounded-full bg-slate-800 px-2 py-0.5 text-xs text-slate-300"
          >
            <EyeIcon />
            {lab.viewers} watching
          </span>
        )}
        <div className="ml-auto flex min-w-0 items-center gap-2 text-sm">
          <span className={`h-2 w-2 shrink-0 rounded-full ${dot[tone]}`} aria-hidden />
          <span
            data-testid="sandbox-status"
            data-status={statusKey}
            role="status"
            aria-live="polite"
            className={`min-w-0 whitespace-pre-wrap ${tone === 'error' ? 'text-rose-300' : tone === 'warn' ? 'text-amber-200' : 'text-slate-300'}`}
          >
            {status}
          </span>
          {(connection.kind === 'waiting' || connection.kind === 'failed') && !ended && (
            <button
              type="button"
              onClick={lab.retryNow}
              data-testid="retry-now"
              className="shrink-0 rounded-md border border-slate-600 px-2 py-0.5 text-xs text-slate-200 hover:bg-slate-800"
            >
              {connection.kind === 'failed' ? 'Try again' : 'Retry now'}
            </button>
          )}
        </div>
      </header>

      {expiring && !ended && (
        <div data-testid="expiring-banner" role="alert" className="border-b border-amber-700/50 bg-amber-900/40 px-4 py-2 text-sm text-amber-100">
          <div className="flex flex-wrap items-center gap-x-3 gap-y-1">
            <span>
              {expiring.reason === 'idle'
                ? `Idle sandbox: it stops in ${mmss(secondsLeft(expiring.endsAt, now))} unless you type something.`
                : `This sandbox reaches its time limit in ${mmss(secondsLeft(expiring.endsAt, now))}.`}
            </span>
            {(expiring.reason === 'idle' || expiring.extendsLeft > 0) && (
              <button
                type="button"
                data-testid="extend"
                onClick={() => void lab.extend()}
                className="rounded-md border border-amber-500/60 px-2 py-0.5 text-xs text-amber-50 hover:bg-amber-800/60"
              >
                {expiring.reason === 'idle' ? 'Keep working' : `Extend (${expiring.extendsLeft} left)`}
              </button>
            )}
          </div>
          {lab.extendNote && <p className="mt-1 text-amber-200/90">{lab.extendNote}</p>}
        </div>
      )}

      {lab.resumeNotice && (
        <div data-testid="resume-notice" role="alert" className="flex flex-wrap items-center gap-3 border-b border-sky-800/60 bg-sky-950/60 px-4 py-2 text-sm text-sky-100">
          <span className="min-w-0 flex-1 whitespace-pre-wrap">{lab.resumeNotice}</span>
          <button
            type="button"
            onClick={lab.dismissResumeNotice}
            data-testid="resume-notice-dismiss"
            className="rounded-md border border-sky-600/60 px-2 py-0.5 text-xs text-sky-50 hover:bg-sky-900/60"
          >
            OK
          </button>
        </div>
      )}

      {lab.savedWork && <SavedWorkBanner />}

      {ended && (
        <div data-testid="ended-banner" role="alert" className="flex flex-wrap items-center gap-3 border-b border-slate-700 bg-slate-800 px-4 py-2.5 text-sm">
          <span className="min-w-0 flex-1 whitespace-pre-wrap text-slate-200">{ended.message || ENDED_REASON[ended.reason]}</span>
          <button type="button" onClick={lab.restart} data-testid="new-sandbox" className="rounded-md bg-indigo-500 px-3 py-1 text-sm font-medium text-white hover:bg-indigo-400">
            Start a new sandbox
          </button>
        </div>
      )}

      <div className="min-h-0 flex-1">
        <TerminalView key={lab.terminalGeneration} />
      </div>

      {lesson.exercises.length > 0 && (
        <div className="max-h-[42%] shrink-0 overflow-y-auto border-t border-slate-800 bg-slate-900/95">
          <h3 className="px-4 pt-3 text-xs font-semibold uppercase tracking-wider text-slate-400">Exercises</h3>
          <ol className="divide-y divide-slate-800">
            {lesson.exercises.map((ex, i) => (
              <li key={ex.id} data-testid={`exercise-item-${ex.id}`} className="px-4 py-2.5">
                <div className="flex items-center gap-3">
                  <span className="text-xs tabular-nums text-slate-500">{i + 1}.</span>
                  <span className="min-w-0 flex-1 text-sm text-slate-100">
                    {ex.title}
                    {lab.passed.includes(ex.id) && (
                      <span className="ml-2 text-xs text-emerald-400" title="Passed in this browser">
                        ✓ passed
                      </span>
                    )}
                  </span>
                  <CheckButton exerciseId={ex.id} testId={`check-${ex.id}`} dark />
                </div>
                <CheckResultLine exerciseId={ex.id} testId={`check-result-${ex.id}`} dark />
              </li>
            ))}
          </ol>
        </div>
      )}
    </section>
  );
}

/**
 * "Restore your work from <time>": offered with a new sandbox when the
 * learner's files were saved at the end of their last session of this lesson.
 */
function SavedWorkBanner() {
  const lab = useLab();
  const w = lab.savedWork;
  if (!w) return null;
  const when = new Date(w.savedAt).toLocaleString();
  const ready = lab.sandboxStatus === 'ready';
  const button = 'rounded-md border px-2 py-0.5 text-xs disabled:cursor-not-allowed disabled:opacity-50';
  return (
    <div
      data-testid="saved-work"
      data-state={w.state}
      role={w.state === 'failed' ? 'alert' : 'status'}
      className="flex flex-wrap items-center gap-3 border-b border-emerald-800/60 bg-emerald-950/50 px-4 py-2 text-sm text-emerald-100"
    >
      <span className="min-w-0 flex-1 whitespace-pre-wrap">
        {w.state === 'offered' && `Your files from ${when} were saved.`}
        {w.state === 'restoring' && `Restoring your work from ${when}…`}
        {w.state === 'restored' && `Your work from ${when} is back in this sandbox.`}
        {w.state === 'failed' && w.message}
      </span>
      {(w.state === 'offered' || w.state === 'failed') && (
        <>
          <button
            type="button"
            data-testid="restore-work"
            disabled={!ready}
            onClick={() => void lab.restoreWork()}
            title={ready ? undefined : 'Available once the sandbox is ready'}
            className={`${button} border-emerald-500/70 bg-emerald-700/40 text-emerald-50 hover:bg-emerald-700/70`}
          >
            {w.state === 'failed' ? 'Try again' : `Restore your work from ${when}`}
          </button>
          <button type="button" data-testid="restore-dismiss" onClick={lab.dismissSavedWork} className={`${button} border-emerald-700/60 text-emerald-100 hover:bg-emerald-900/60`}>
            Start fresh
          </button>
        </>
      )}
      {w.state === 'restored' && (
        <button type="button" data-testid="restore-dismiss" onClick={lab.dismissSavedWork} className={`${button} border-emerald-700/60 text-emerald-100 hover:bg-emerald-900/60`}>
          OK
        </button>
      )}
    </div>
  );
}
