'use client';
/** A fenced code block: Copy on every block, Run (types into the lab terminal) on ```sh run blocks. */
import { useEffect, useState } from 'react';
import { useOptionalLab } from '@/components/lab/LabProvider';

async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Clipboard API needs a secure context; fall back to a hidden textarea.
    try {
      const ta = document.createElement('textarea');
      ta.value = text;
      ta.setAttribute('readonly', '');
      ta.style.position = 'fixed';
      ta.style.opacity = '0';
      document.body.appendChild(ta);
      ta.select();
      const ok = document.execCommand('copy');
      ta.remove();
      return ok;
    } catch {
      return false;
    }
  }
}

function useFlash(): [string | null, (s: string) => void] {
  const [flash, setFlash] = useState<string | null>(null);
  useEffect(() => {
    if (!flash) return;
    const t = setTimeout(() => setFlash(null), 1500);
    return () => clearTimeout(t);
  }, [flash]);
  return [flash, setFlash];
}

export function CodeBlock({ code, lang, runnable }: { code: string; lang?: string; runnable: boolean }) {
  const lab = useOptionalLab();
  const [copied, setCopied] = useFlash();
  const [ran, setRan] = useFlash();
  const canRun = !!lab?.canRun;

  return (
    <div className="not-prose my-5 overflow-hidden rounded-lg border border-slate-800 bg-[#0b1020] shadow-sm" data-runnable={runnable ? 'true' : undefined}>
      <div className="flex items-center gap-2 border-b border-slate-800 bg-slate-900/80 px-3 py-1.5">
        <span className="font-mono text-[11px] uppercase tracking-wider text-slate-500">{lang ?? 'text'}</span>
        <div className="ml-auto flex items-center gap-1.5">
          {runnable && lab && (
            <button
              type="button"
              data-testid="run-command"
              data-command={code}
              disabled={!canRun}
              title={canRun ? 'Type this command into the lab terminal' : 'Available once the sandbox is ready'}
              onClick={() => {
                lab.runCommand(code);
                setRan('Sent');
              }}
              className="rounded px-2 py-0.5 text-xs font-medium text-emerald-300 ring-1 ring-emerald-700/60 transition hover:bg-emerald-900/40 disabled:cursor-not-allowed disabled:opacity-40 disabled:hover:bg-transparent"
            >
              {ran ? '✓ Sent' : '▶ Run'}
            </button>
          )}
          <button
            type="button"
            data-testid="copy-code"
            onClick={async () => setCopied((await copyText(code)) ? 'Copied' : 'Copy failed')}
            className="rounded px-2 py-0.5 text-xs text-slate-300 ring-1 ring-slate-700 transition hover:bg-slate-800"
          >
            {copied ?? 'Copy'}
          </button>
        </div>
      </div>
      <pre className="overflow-x-auto px-4 py-3 font-mono text-[13px] leading-relaxed text-slate-100 [color-scheme:dark]">
        <code>{code}</code>
      </pre>
    </div>
  );
}
