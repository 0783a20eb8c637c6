'use client';
/**
 * "Continue on another device": asks the backend for a one-time device code
 * (POST /lab-api/device-codes) and shows it with its /continue link and when it
 * runs out. Redeeming it happens on the other device (ContinueForm).
 */
import { useEffect, useState } from 'react';
import type { DeviceCodeResponse } from '@/lab-backend/src/wire';
import { createDeviceCode } from '@/components/lab/api';

type State = { kind: 'idle' } | { kind: 'creating' } | { kind: 'shown'; device: DeviceCodeResponse } | { kind: 'error'; message: string };

export function ContinueElsewhere() {
  const [state, setState] = useState<State>({ kind: 'idle' });
  const [copied, setCopied] = useState<'yes' | 'failed' | null>(null);
  const [now, setNow] = useState(() => Date.now());

  // Keep "valid for N minutes" current while a code is shown.
  const shown = state.kind === 'shown';
  useEffect(() => {
    if (!shown) return;
    const t = setInterval(() => setNow(Date.now()), 15_000);
    return () => clearInterval(t);
  }, [shown]);

  const create = async () => {
    setState({ kind: 'creating' });
    setCopied(null);
    const r = await createDeviceCode();
    setNow(Date.now());
    if (r.ok) setState({ kind: 'shown', device: r.value });
    else setState({ kind: 'error', message: r.kind === 'error' ? r.message : 'The lab did not answer; try again in a moment.' });
  };

  const copy = async (url: string) => {
    try {
      await navigator.clipboard.writeText(url);
      setCopied('yes');
    } catch {
      setCopied('failed');
    }
  };

  const expired = state.kind === 'shown' && state.device.expiresAt <= now;
  const minutes = state.kind === 'shown' ? Math.max(1, Math.ceil((state.device.expiresAt - now) / 60_000)) : 0;

  return (
    <section
      id="continue-elsewhere"
      data-testid="continue-elsewhere"
      aria-labelledby="continue-elsewhere-title"
      className="scroll-mt-20 rounded-xl border border-indigo-200 bg-indigo-50/60 p-5"
    >
      <h2 id="continue-elsewhere-title" className="text-lg font-semibold text-slate-900">
        Continue on another device
      </h2>
      <p className="mt-1 text-sm text-slate-600">A code signs the other device in as the same learner as this browser, with no password — so keep it to yourself.</p>

      {state.kind === 'shown' && (
        <div className="mt-4 rounded-lg border border-slate-200 bg-white p-4">
          <p data-testid="device-code" className={`font-mono text-3xl font-bold tracking-[0.2em] ${expired ? 'text-slate-400 line-through' : 'text-slate-900'}`}>
            {state.device.code}
          </p>
          <div className="mt-3 flex flex-wrap items-center gap-2 text-sm">
            <a data-testid="device-link" href={state.device.url} className="break-all font-mono text-indigo-700 underline hover:text-indigo-900">
              {state.device.url}
            </a>
            <button
              type="button"
              data-testid="device-link-copy"
              onClick={() => void copy(state.device.url)}
              className="rounded-md border border-slate-300 bg-white px-2 py-0.5 text-xs font-medium text-slate-700 hover:bg-slate-50"
            >
              {copied === 'yes' ? 'Copied' : 'Copy link'}
            </button>
            {copied === 'failed' && <span className="text-xs text-rose-700">Could not copy; select the link instead.</span>}
          </div>
          <p data-testid="device-code-expiry" data-expires-at={state.device.expiresAt} className="mt-2 text-xs text-slate-500">
            {expired
              ? 'This code has expired; make a new one.'
              : `Valid for ${minutes} ${minutes === 1 ? 'minute' : 'minutes'}, once. Open the link, or go to /continue and type the code.`}
          </p>
        </div>
      )}

      {state.kind === 'error' && (
        <p data-testid="device-code-error" role="alert" className="mt-3 text-sm text-rose-700">
          {state.message}
        </p>
      )}

      <button
        type="button"
        data-testid="device-code-create"
        disabled={state.kind === 'creating'}
        onClick={() => void create()}
        className="mt-4 rounded-md bg-indigo-600 px-4 py-2 text-sm font-medium text-white hover:bg-indigo-500 disabled:cursor-not-allowed disabled:opacity-50"
      >
        {state.kind === 'creating' ? 'Making a code…' : state.kind === 'shown' ? 'Make a new code' : 'Continue on another device'}
      </button>
    </section>
  );
}
