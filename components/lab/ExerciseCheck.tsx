'use client';
/** Check button + result line, used both in the lab panel and in <Exercise> boxes. */
import { useLab } from './LabProvider';

export function CheckButton({ exerciseId, testId, dark = false }: { exerciseId: string; testId: string; dark?: boolean }) {
  const { check, checks, canCheck } = useLab();
  const running = checks[exerciseId]?.state === 'running';
  const disabled = !canCheck || running;
  return (
    <button
      type="button"
      data-testid={testId}
      disabled={disabled}
      onClick={() => void check(exerciseId)}
      title={canCheck ? 'Run this exercise’s check in your sandbox' : 'Available once the sandbox is ready'}
      className={`shrink-0 rounded-md px-3 py-1 text-sm font-medium transition disabled:cursor-not-allowed disabled:opacity-50 ${
        dark ? 'bg-indigo-500 text-white hover:bg-indigo-400 disabled:hover:bg-indigo-500' : 'bg-indigo-600 text-white hover:bg-indigo-500 disabled:hover:bg-indigo-600'
      }`}
    >
      {running ? 'Checking…' : 'Check'}
    </button>
  );
}

/** The check's message is shown as plain text (React escapes it; pre-wrap keeps its lines). */
export function CheckResultLine({ exerciseId, testId, dark = false }: { exerciseId: string; testId: string; dark?: boolean }) {
  const { checks } = useLab();
  const c = checks[exerciseId];
  if (!c) return null;
  if (c.state === 'running') {
    return (
      <p data-testid={testId} className={`mt-1.5 text-xs ${dark ? 'text-slate-400' : 'text-slate-500'}`}>
        Running the check…
      </p>
    );
  }
  const passed = c.state === 'done' && c.result.passed;
  const text = c.state === 'done' ? c.result.message || (passed ? 'Passed.' : 'Not yet.') : c.message;
  const extra =
    c.state === 'done' && (c.result.timedOut || c.result.truncated)
      ? ` ${[c.result.timedOut && '(check timed out)', c.result.truncated && '(output truncated)'].filter(Boolean).join(' ')}`
      : '';
  const tone = passed
    ? dark
      ? 'border-emerald-700/60 bg-emerald-950/60 text-emerald-200'
      : 'border-emerald-200 bg-emerald-50 text-emerald-900'
    : dark
      ? 'border-rose-800/60 bg-rose-950/50 text-rose-200'
      : 'border-rose-200 bg-rose-50 text-rose-900';
  return (
    <div
      data-testid={testId}
      data-result={passed ? 'pass' : 'fail'}
      {...(c.state === 'error' ? { 'data-error': 'true' } : {})}
      className={`mt-2 rounded-md border px-3 py-2 text-xs ${tone}`}
    >
      <span className="mb-0.5 block font-semibold">{passed ? '✓ Passed' : c.state === 'error' ? '✗ Check could not run' : '✗ Not yet'}</span>
      <span className="block whitespace-pre-wrap break-words font-mono">
        {text}
        {extra}
      </span>
    </div>
  );
}
