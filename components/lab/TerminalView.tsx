'use client';
/**
 * One terminal instance: xterm.js (loaded with a dynamic import so it stays out
 * of the lesson page's first-load JS) connected to the sandbox over
 * `/lab-api/ws`. Its forward-only state (connecting → ready → closed) is owned
 * by LabProvider and shown as `data-status`; LabPanel remounts this component
 * (React key) when a new instance is needed.
 */
import '@xterm/xterm/css/xterm.css';
import { useEffect, useRef, useState } from 'react';
import type { Terminal } from '@xterm/xterm';
import type { FitAddon } from '@xterm/addon-fit';
import {
  FLOW_ACK_EVERY_BYTES,
  MAX_FRAME_BYTES,
  type ClientMessage,
  type ServerMessage,
} from '@/lab-backend/src/wire';
import { wsUrl } from './api';
import { useLab } from './LabProvider';

const PING_EVERY_MS = 30_000;
const SERVER_MESSAGE_TYPES = new Set<ServerMessage['type']>(['status', 'token', 'expiring', 'extended', 'ended', 'error', 'pong']);

export function TerminalView() {
  const { bridge, connection, session, terminalState, sandboxStatus, statusMessage } = useLab();
  const hostRef = useRef<HTMLDivElement>(null);
  const termRef = useRef<Terminal | null>(null);
  const fitRef = useRef<FitAddon | null>(null);
  const [termLoaded, setTermLoaded] = useState(false);
  const [loadError, setLoadError] = useState<string | null>(null);
  // The session this instance connects to: the one that was active when it could connect.
  const sessionId = connection.kind === 'active' ? session?.sessionId ?? null : null;

  // 1. Create xterm once per instance.
  useEffect(() => {
    let disposed = false;
    let observer: ResizeObserver | null = null;
    let frame = 0;
    void (async () => {
      try {
        const [{ Terminal }, { FitAddon }] = await Promise.all([
          import('@xterm/xterm'),
          import('@xterm/addon-fit'),
        ]);
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

  // 2. Connect the socket once xterm exists and the session is known.
  useEffect(() => {
    const term = termRef.current;
    if (!termLoaded || !term || !sessionId) return;
    const token = bridge.getToken();
    if (!token) return;

    let ws: WebSocket | null = null;
    let closedByUs = false;
    let pendingWrites = 0;
    let renderedUnacked = 0;
    const encoder = new TextEncoder();
    const disposables: { dispose(): void }[] = [];
    let ping: ReturnType<typeof setInterval> | null = null;

    const sendJson = (msg: ClientMessage) => {
      if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
    };
    const sendBytes = (bytes: Uint8Array) => {
      if (!ws || ws.readyState !== WebSocket.OPEN) return;
      for (let i = 0; i < bytes.length; i += MAX_FRAME_BYTES) ws.send(bytes.subarray(i, i + MAX_FRAME_BYTES));
    };
    const flushAck = () => {
      if (renderedUnacked > 0 && ws && ws.readyState === WebSocket.OPEN) {
        sendJson({ type: 'ack', bytes: renderedUnacked });
        renderedUnacked = 0;
      }
    };
    const sendResize = () => sendJson({ type: 'resize', cols: term.cols, rows: term.rows });

    // Deferred a tick so React strict mode's mount/unmount/mount opens one socket, not two.
    const connectTimer = setTimeout(() => {
      ws = new WebSocket(wsUrl(sessionId, token));
      ws.binaryType = 'arraybuffer';
      ws.onopen = () => {
        try {
          fitRef.current?.fit();
        } catch {
          /* ignore */
        }
        sendResize();
      };
      ws.onmessage = (ev: MessageEvent) => {
        if (ev.data instanceof ArrayBuffer) {
          const chunk = new Uint8Array(ev.data);
          const n = chunk.byteLength;
          pendingWrites += 1;
          term.write(chunk, () => {
            pendingWrites -= 1;
            renderedUnacked += n;
            // Ack in FLOW_ACK_EVERY_BYTES steps, and whatever is left once output goes quiet.
            if (renderedUnacked >= FLOW_ACK_EVERY_BYTES || pendingWrites === 0) flushAck();
          });
          return;
        }
        if (typeof ev.data !== 'string') return;
        let msg: ServerMessage;
        try {
          msg = JSON.parse(ev.data) as ServerMessage;
        } catch {
          return;
        }
        if (!msg || typeof msg !== 'object' || !SERVER_MESSAGE_TYPES.has(msg.type as ServerMessage['type'])) return;
        bridge.onServerMessage(msg);
      };
      ws.onclose = (ev) => {
        if (ping) clearInterval(ping);
        bridge.registerSender(null);
        if (!closedByUs) bridge.onSocketClosed({ code: ev.code, reason: ev.reason });
      };
      ping = setInterval(() => sendJson({ type: 'ping' }), PING_EVERY_MS);
      bridge.registerSender((text) => {
        sendBytes(encoder.encode(text));
        term.focus();
      });
    }, 0);

    disposables.push(
      term.onData((data) => {
        bridge.onUserInput();
        sendBytes(encoder.encode(data));
      }),
      term.onBinary((data) => {
        bridge.onUserInput();
        sendBytes(Uint8Array.from(data, (c) => c.charCodeAt(0) & 0xff));
      }),
      term.onResize(() => sendResize()),
    );

    return () => {
      clearTimeout(connectTimer);
      closedByUs = true;
      if (ping) clearInterval(ping);
      disposables.forEach((d) => d.dispose());
      bridge.registerSender(null);
      if (ws && (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING)) ws.close(1000, 'client left');
    };
  }, [termLoaded, sessionId, bridge]);

  // A closed terminal keeps its scrollback for reading but takes no more input.
  useEffect(() => {
    const term = termRef.current;
    if (!termLoaded || !term || terminalState !== 'closed') return;
    term.options.disableStdin = true;
  }, [termLoaded, terminalState]);

  let overlay: string | null = null;
  if (loadError) overlay = `Could not load the terminal: ${loadError}`;
  else if (terminalState === 'connecting') {
    if (connection.kind === 'waiting') overlay = 'Waiting for the lab backend…';
    else if (connection.kind !== 'failed') overlay = (sandboxStatus === 'starting' && statusMessage) || 'Starting sandbox…';
  }

  return (
    <div
      data-testid="terminal"
      data-status={terminalState}
      className="lab-terminal relative h-full min-h-0 w-full overflow-hidden bg-[#0b1020]"
    >
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
