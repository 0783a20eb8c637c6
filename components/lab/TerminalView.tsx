'use client';
/**
 * One terminal instance: xterm.js (loaded with a dynamic import so it stays out
 * of the lesson page's first-load JS) attached to the lab client (client.ts),
 * which owns the socket to the sandbox at `/lab-api/ws` and its flow control.
 * Its forward-only state (connecting → ready → closed) is the client's, shown as
 * `data-status`; LabPanel remounts this component (React key) when a new
 * instance is needed.
 */
import '@xterm/xterm/css/xterm.css';
import { useEffect, useRef, useState } from 'react';
import type { Terminal } from '@xterm/xterm';
import type { FitAddon } from '@xterm/addon-fit';
import { useLab } from './LabProvider';

export function TerminalView() {
  const { attachTerminal, connection, terminalState, sandboxStatus, statusMessage, role } = useLab();
  const hostRef = useRef<HTMLDivElement>(null);
  const termRef = useRef<Terminal | null>(null);
  const fitRef = useRef<FitAddon | null>(null);
  const [termLoaded, setTermLoaded] = useState(false);
  const [loadError, setLoadError] = useState<string | null>(null);

  // 1. Create xterm once per instance.
  useEffect(() => {
    let disposed = false;
    let observer: ResizeObserver | null = null;
    let frame = 0;
    void (async () => {
      try {
        const [{ Terminal }, { FitAddon }] = await Promise.all([import('@xterm/xterm'), import('@xterm/addon-fit')]);
        const host = hostRef.current;
        if (disposed || !host) return;
        const term = new Terminal({
          // A steady cursor, on purpose. The DOM renderer blinks with an endless CSS
          // animation, and while one runs Chromium produces frames on its own clock:
          // each echo waited for a frame before the page even saw the WebSocket
          // message, then a whole frame more before xterm.js drew it (≈ 25 ms per key
          // instead of ≈ 5 ms in scripts/bench/keystroke.ts).
          cursorBlink: false,
          fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace',
          fontSize: 13,
          lineHeight: 1.15,
          scrollback: 5000,
          allowProposedApi: false,
          theme: {
            background: '#0b1020',
            foreground: '#e2e8f0',
            cursor: '#a5b4fc',
            cursorAccent: '#0b1020',
            selectionBackground: '#334155',
            scrollbarSliderBackground: 'rgba(148, 163, 184, 0.25)',
            scrollbarSliderHoverBackground: 'rgba(148, 163, 184, 0.4)',
            scrollbarSliderActiveBackground: 'rgba(148, 163, 184, 0.55)',
          },
        });
        const fit = new FitAddon();
        term.loadAddon(fit);
        term.open(host);
        termRef.current = term;
        fitRef.current = fit;
        const refit = () => {
          cancelAnimationFrame(frame);
          frame = requestAnimationFrame(() => {
            try {
              if (host.clientWidth > 0 && host.clientHeight > 0) fit.fit();
            } catch {
              /* not rendered yet */
            }
          });
        };
        refit();
        observer = new ResizeObserver(refit);
        observer.observe(host);
        setTermLoaded(true);
      } catch (err) {
        if (!disposed) setLoadError(err instanceof Error ? err.message : String(err));
      }
    })();
    return () => {
      disposed = true;
      cancelAnimationFrame(frame);
      observer?.disconnect();
      termRef.current?.dispose();
      termRef.current = null;
      fitRef.current = null;
    };
  }, []);

  // 2. Attach xterm to the lab client's byte stream: it opens the socket once the
  //    session is active, writes output here (acking what was rendered) and sends
  //    what is typed (nothing while this socket is a viewer's).
  useEffect(() => {
    const term = termRef.current;
    if (!termLoaded || !term) return;
    const port = attachTerminal({
      write: (chunk, rendered) => term.write(chunk, rendered),
      size: () => {
        try {
          fitRef.current?.fit();
        } catch {
          /* ignore */
        }
        return { cols: term.cols, rows: term.rows };
      },
      focus: () => term.focus(),
    });
    const disposables = [
      term.onData((data) => port.input(data)),
      term.onBinary((data) => port.input(Uint8Array.from(data, (c) => c.charCodeAt(0) & 0xff))),
      term.onResize(({ cols, rows }) => port.resize(cols, rows)),
    ];
    return () => {
      disposables.forEach((d) => d.dispose());
      port.detach();
    };
  }, [termLoaded, attachTerminal]);

  // A closed terminal keeps its scrollback for reading but takes no more input; nor does a viewer's.
  useEffect(() => {
    const term = termRef.current;
    if (!termLoaded || !term || (terminalState !== 'closed' && role !== 'viewer')) return;
    term.options.disableStdin = true;
  }, [termLoaded, terminalState, role]);

  let overlay: string | null = null;
  if (loadError) overlay = `Could not load the terminal: ${loadError}`;
  else if (terminalState === 'connecting') {
    if (connection.kind === 'waiting') overlay = 'Waiting for the lab backend…';
    else if (connection.kind !== 'failed') overlay = (sandboxStatus === 'starting' && statusMessage) || 'Starting sandbox…';
  }

  return (
    <div data-testid="terminal" data-status={terminalState} className="lab-terminal relative h-full min-h-0 w-full overflow-hidden bg-[#0b1020]">
      <div ref={hostRef} className="absolute inset-0" />
      {overlay && (
        <div className="pointer-events-none absolute inset-0 flex items-center justify-center">
          <span className="flex items-center gap-2 rounded-md bg-slate-800/80 px-3 py-1.5 text-sm text-slate-300">
            <span className="h-2 w-2 animate-pulse rounded-full bg-indigo-400" aria-hidden />
            {overlay}
          </span>
        </div>
      )}
    </div>
  );
}
