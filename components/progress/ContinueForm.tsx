'use client';
/**
 * The other device's half of "Continue on another device": redeem a one-time
 * code (POST /lab-api/device-codes/redeem), after which this browser's learner
 * cookie is the code's learner. Never redeemed on load, only on submit: a link
 * previewer fetching the /continue?code=… URL must not use the code up.
 */
import Link from 'next/link';
import { useState, type FormEvent } from 'react';
import { redeemDeviceCode } from '@/components/lab/api';
import { progress } from '@/components/lab/progress';

/** Codes are shown upper case; the backend takes them in any case, with or without the dash. */
const normalise = (code: string) => code.toUpperCase();

type State = { kind: 'idle' } | { kind: 'redeeming' } | { kind: 'done' } | { kind: 'error'; message: string };

export function ContinueForm({ initialCode }: { initialCode: string }) {
  const [code, setCode] = useState(() => normalise(initialCode));
  const [state, setState] = useState<State>({ kind: 'idle' });

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const c = normalise(code.trim());
    if (!c) return;
    setState({ kind: 'redeeming' });
    const r = await redeemDeviceCode(c);
    if (r.ok) {
      setState({ kind: 'done' });
      // Anything this tab cached belongs to the learner it was before.
      void progress.refresh();
    } else {
      setState({ kind: 'error', message: r.kind === 'error' ? r.message : 'The lab did not answer; try again in a moment.' });
    }
  };

  if (state.kind === 'done') {
    return (
      <div data-testid="continue-done" className="rounded-lg border border-emerald-200 bg-emerald-50 p-4 text-emerald-900">
        <p className="font-semibold">This browser now continues as the same learner.</p>
        <Link href="/progress" className="mt-2 inline-block text-sm font-medium text-emerald-800 underline hover:text-emerald-950">
          See your progress →
        </Link>
      </div>
    );
  }

  return (
    <form onSubmit={(e) => void submit(e)} className="space-y-4">
      <label className="block">
        <span className="text-sm font-medium text-slate-700">Code</span>
        <input
          data-testid="continue-code"
          name="code"
          value={code}
          onChange={(e) => setCode(normalise(e.target.value))}
          required
          maxLength={16}
          autoComplete="off"
          autoCapitalize="characters"
          spellCheck={false}
          placeholder="K7QF-3MZP"
          className="mt-1 block w-full rounded-md border border-slate-300 bg-white px-3 py-2 font-mono text-2xl tracking-[0.2em] text-slate-900 placeholder:text-slate-300 focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-200"
        />
      </label>
      {state.kind === 'error' && (
        <p data-testid="continue-error" role="alert" className="text-sm text-rose-700">
          {state.message}
        </p>
      )}
      <button
        type="submit"
        data-testid="continue-submit"
        disabled={state.kind === 'redeeming'}
        className="rounded-md bg-indigo-600 px-4 py-2 text-sm font-medium text-white hover:bg-indigo-500 disabled:cursor-not-allowed disabled:opacity-50"
      >
        {state.kind === 'redeeming' ? 'Continuing…' : 'Continue as this learner'}
      </button>
    </form>
  );
}
