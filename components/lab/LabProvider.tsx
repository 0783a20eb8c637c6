'use client';
/**
 * LabProvider: one per lesson page, wrapping both the lesson prose and the lab
 * panel. It owns the sandbox session (create / resume / retry with backoff),
 * the sandbox status reported over the WebSocket and the check results, reads
 * the learner's progress from the server (progress.ts), and exposes
 * `runCommand(cmd)` and `check(exerciseId)` to anything inside it (Run buttons
 * in code blocks, <Exercise> boxes, the panel).
 *
 * The terminal itself (xterm + WebSocket) lives in TerminalView, which registers
 * a byte sender here and reports every ServerMessage / socket close back.
 */
import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
  useSyncExternalStore,
  type ReactNode,
} from 'react';
import type {
  CheckResult,
  CreateSessionResponse,
  ErrorCode,
  RuntimeName,
  SandboxStatus,
  ServerMessage,
} from '@/lab-backend/src/wire';
import { createSession, deleteSession, extendSession, runCheck, type ApiOutcome } from './api';
import { progress } from './progress';
import { clearSession, readSession, writeSession } from './storage';

export interface LabExercise {
  id: string;
  title: string;
  hint: string;
}

export interface LabLesson {
  id: string;
  title: string;
  runtime: RuntimeName;
  exercises: LabExercise[];
}

/** Forward-only state of one terminal instance (a new instance starts at `connecting`). */
export type TerminalState = 'connecting' | 'ready' | 'closed';
const TERMINAL_RANK: Record<TerminalState, number> = { connecting: 0, ready: 1, closed: 2 };

export type WaitReason = 'unreachable' | 'rate_limited' | 'lab_full' | 'reconnect';

export type Connection =
  | { kind: 'creating' }
  | { kind: 'waiting'; reason: WaitReason; message: string; retryAt: number }
  | { kind: 'failed'; message: string; code?: ErrorCode }
  | { kind: 'active' };

export type CheckState =
  | { state: 'running' }
  | { state: 'done'; result: CheckResult }
  | { state: 'error'; message: string };

export type EndedInfo = Extract<ServerMessage, { type: 'ended' }>;
export type ExpiringInfo = Extract<ServerMessage, { type: 'expiring' }>;

/** What TerminalView needs from the provider. */
export interface TerminalBridge {
  /** Latest token (it is refreshed over the socket). */
  getToken(): string | null;
  registerSender(send: ((text: string) => void) | null): void;
  onServerMessage(msg: ServerMessage): void;
  onSocketClosed(info: { code: number; reason: string }): void;
  onUserInput(): void;
}

export interface LabContextValue {
  lesson: LabLesson;
  connection: Connection;
  session: CreateSessionResponse | null;
  sandboxStatus: SandboxStatus | null;
  statusMessage: string | null;
  terminalState: TerminalState;
  /** Changes whenever a fresh terminal instance is needed (use as its React key). */
  terminalGeneration: number;
  expiring: ExpiringInfo | null;
  /** Why the last extend was refused, if it was. */
  extendNote: string | null;
  /** Answer the expiring warning: keep working (idle) or add time (lifetime, bounded). */
  extend(): Promise<void>;
  ended: EndedInfo | null;
  /** Told once a resume was refused and a new sandbox started instead (the earlier work is gone); null once dismissed. */
  resumeNotice: string | null;
  dismissResumeNotice(): void;
  checks: Record<string, CheckState>;
  /**
   * Exercise ids of this lesson the server recorded as passed, plus any check that
   * just passed here until the refetch after it answered (the refetch is the truth).
   */
  passed: string[];
  canRun: boolean;
  canCheck: boolean;
  runCommand(cmd: string): void;
  check(exerciseId: string): Promise<void>;
  /** Drop the current sandbox (if any) and start a new one. */
  restart(): void;
  /** Retry now instead of waiting for the backoff timer. */
  retryNow(): void;
  bridge: TerminalBridge;
}

const LabContext = createContext<LabContextValue | null>(null);

export function useLab(): LabContextValue {
  const ctx = useContext(LabContext);
  if (!ctx) throw new Error('useLab() must be used inside <LabProvider>');
  return ctx;
}

/** For components that also render outside a lesson (e.g. code blocks). */
export function useOptionalLab(): LabContextValue | null {
  return useContext(LabContext);
}

const MAX_BACKOFF_MS = 30_000;

/**
 * Dedupe session creation per (lesson, attempt): React strict mode runs effects
 * twice in development and we must not start two sandboxes.
 */
type Created = { outcome: ApiOutcome<CreateSessionResponse> };
const inflight = new Map<string, Promise<Created>>();

export function LabProvider({ lesson, children }: { lesson: LabLesson; children: ReactNode }) {
  const lessonId = lesson.id;
  const [attempt, setAttempt] = useState(0);
  const [connection, setConnection] = useState<Connection>({ kind: 'creating' });
  const [session, setSession] = useState<CreateSessionResponse | null>(null);
  const [sandboxStatus, setSandboxStatus] = useState<SandboxStatus | null>(null);
  const [statusMessage, setStatusMessage] = useState<string | null>(null);
  const [terminalState, setTerminalStateRaw] = useState<TerminalState>('connecting');
  const [terminalGeneration, setTerminalGeneration] = useState(0);
  const [expiring, setExpiring] = useState<ExpiringInfo | null>(null);
  const [ended, setEnded] = useState<EndedInfo | null>(null);
  /** Why an extend was refused (e.g. every extension used), shown in the expiring banner. */
  const [extendNote, setExtendNote] = useState<string | null>(null);
  const [resumeNotice, setResumeNotice] = useState<string | null>(null);
  const [checks, setChecks] = useState<Record<string, CheckState>>({});
  /** Checks that passed here and that the progress refetch has not confirmed yet. */
  const [optimistic, setOptimistic] = useState<ReadonlySet<string>>(() => new Set());
  // Re-render when the server's progress changes; `passed` below reads it.
  useSyncExternalStore(progress.subscribe, progress.getSnapshot, progress.getServerSnapshot);

  const tokenRef = useRef<string | null>(null);
  const sessionRef = useRef<CreateSessionResponse | null>(null);
  const senderRef = useRef<((text: string) => void) | null>(null);
  const terminalStateRef = useRef<TerminalState>('connecting');
  const failuresRef = useRef(0);
  const retryTimerRef = useRef<ReturnType<typeof setTimeout> | null>(null);
  const endedRef = useRef(false);
  const socketErrorRef = useRef<string | null>(null);
  const unmountedRef = useRef(false);

  useEffect(() => {
    unmountedRef.current = false;
    return () => {
      unmountedRef.current = true;
      if (retryTimerRef.current) clearTimeout(retryTimerRef.current);
    };
  }, []);

  const advanceTerminal = useCallback((next: TerminalState) => {
    if (TERMINAL_RANK[next] <= TERMINAL_RANK[terminalStateRef.current]) return;
    terminalStateRef.current = next;
    setTerminalStateRaw(next);
  }, []);

  /** Start the next attempt at creating/resuming a session. */
  const startAttempt = useCallback(() => {
    if (retryTimerRef.current) {
      clearTimeout(retryTimerRef.current);
      retryTimerRef.current = null;
    }
    if (terminalStateRef.current !== 'connecting') {
      // The old terminal instance is finished; a new one starts at `connecting`.
      terminalStateRef.current = 'connecting';
      setTerminalStateRaw('connecting');
      setTerminalGeneration((g) => g + 1);
    }
    endedRef.current = false;
    socketErrorRef.current = null;
    setEnded(null);
    setExpiring(null);
    setSandboxStatus(null);
    setStatusMessage(null);
    setConnection({ kind: 'creating' });
    setAttempt((a) => a + 1);
  }, []);

  const scheduleRetry = useCallback(
    (reason: WaitReason, message: string, delayMs?: number) => {
      const backoff = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** failuresRef.current);
      failuresRef.current += 1;
      const delay = Math.max(0, delayMs ?? backoff);
      setConnection({ kind: 'waiting', reason, message, retryAt: Date.now() + delay });
      if (retryTimerRef.current) clearTimeout(retryTimerRef.current);
      retryTimerRef.current = setTimeout(() => {
        retryTimerRef.current = null;
        if (!unmountedRef.current) startAttempt();
      }, delay);
    },
    [startAttempt],
  );

  const fail = useCallback(
    (message: string, code?: ErrorCode) => {
      setConnection({ kind: 'failed', message, code });
      advanceTerminal('closed');
    },
    [advanceTerminal],
  );

  // Create (or resume) the session for this attempt.
  useEffect(() => {
    let cancelled = false;
    const key = `${lessonId}#${attempt}`;
    let pending = inflight.get(key);
    if (!pending) {
      // The backend reattaches it if it still lives (the resume credential outlasts the
      // access token), or starts a new one and says why in `resumeRefused`.
      const resume = readSession(lessonId);
      pending = createSession({ lessonId, ...(resume ? { resume } : {}) }).then((outcome) => ({ outcome }));
      inflight.set(key, pending);
      void pending.finally(() => setTimeout(() => inflight.delete(key), 1000));
    }
    void pending.then(({ outcome }) => {
      if (cancelled) return;
      if (outcome.ok) {
        const s = outcome.value;
        writeSession(lessonId, { sessionId: s.sessionId, token: s.token, resumeToken: s.resumeToken });
        if (s.resumeRefused) setResumeNotice(s.resumeRefused.message);
        tokenRef.current = s.token;
        sessionRef.current = s;
        setSession(s);
        setConnection({ kind: 'active' });
        return;
      }
      if (outcome.kind === 'unreachable') {
        scheduleRetry('unreachable', 'Lab backend unreachable');
        return;
      }
      const { code, message, retryAfterMs } = outcome;
      if (code === 'rate_limited') {
        scheduleRetry('rate_limited', message, retryAfterMs ?? undefined);
        return;
      }
      if (code === 'lab_full' && retryAfterMs !== undefined) {
        scheduleRetry('lab_full', message, retryAfterMs);
        return;
      }
      fail(message, code);
    });
    return () => {
      cancelled = true;
    };
  }, [lessonId, attempt, scheduleRetry, startAttempt, fail]);

  const bridge = useMemo<TerminalBridge>(
    () => ({
      getToken: () => tokenRef.current,
      registerSender: (send) => {
        senderRef.current = send;
      },
      onServerMessage: (msg) => {
        switch (msg.type) {
          case 'status':
            setSandboxStatus(msg.status);
            setStatusMessage(msg.message ?? null);
            if (msg.status === 'ready') {
              failuresRef.current = 0;
              advanceTerminal('ready');
            } else if (msg.status === 'error') {
              socketErrorRef.current = msg.message ?? 'The sandbox failed.';
            }
            break;
          case 'token': {
            tokenRef.current = msg.token;
            const s = sessionRef.current;
            if (s) {
              const next = { ...s, token: msg.token, tokenExpiresAt: msg.tokenExpiresAt, resumeToken: msg.resumeToken, resumeTokenExpiresAt: msg.resumeTokenExpiresAt };
              sessionRef.current = next;
              setSession(next);
              writeSession(lessonId, { sessionId: s.sessionId, token: msg.token, resumeToken: msg.resumeToken });
            }
            break;
          }
          case 'expiring':
            setExpiring(msg);
            break;
          case 'extended':
            setExpiring(null);
            setExtendNote(null);
            break;
          case 'ended':
            endedRef.current = true;
            clearSession(lessonId);
            setEnded(msg);
            setExpiring(null);
            setSandboxStatus('ended');
            advanceTerminal('closed');
            break;
          case 'error':
            socketErrorRef.current = msg.message;
            setStatusMessage(msg.message);
            break;
          case 'pong':
            break;
        }
      },
      onSocketClosed: ({ reason }) => {
        advanceTerminal('closed');
        senderRef.current = null;
        if (endedRef.current || unmountedRef.current) return;
        if (socketErrorRef.current) {
          fail(socketErrorRef.current);
          return;
        }
        const why = reason ? `Connection to the sandbox lost (${reason})` : 'Connection to the sandbox lost';
        scheduleRetry('reconnect', why);
      },
      onUserInput: () => {
        setExpiring((e) => (e && e.reason === 'idle' ? null : e));
      },
    }),
    [lessonId, advanceTerminal, fail, scheduleRetry],
  );

  const runCommand = useCallback((cmd: string) => {
    const send = senderRef.current;
    if (!send || terminalStateRef.current !== 'ready') return;
    send(`${cmd}\r`);
  }, []);

  const check = useCallback(
    async (exerciseId: string) => {
      const s = sessionRef.current;
      const token = tokenRef.current;
      if (!s || !token) return;
      setChecks((c) => ({ ...c, [exerciseId]: { state: 'running' } }));
      const outcome = await runCheck(s.sessionId, token, exerciseId);
      let next: CheckState;
      if (outcome.ok) {
        next = { state: 'done', result: outcome.value };
        // The server recorded the result before answering; show a pass at once, then what the server says.
        if (outcome.value.passed) setOptimistic((o) => new Set(o).add(exerciseId));
        void progress.refresh().then((snap) => {
          if (snap.status !== 'ready') return;
          setOptimistic((o) => {
            if (!o.has(exerciseId)) return o;
            const rest = new Set(o);
            rest.delete(exerciseId);
            return rest;
          });
        });
      } else if (outcome.kind === 'error') {
        next = { state: 'error', message: outcome.message };
      } else {
        next = { state: 'error', message: 'Lab backend unreachable — try again in a moment.' };
      }
      setChecks((c) => ({ ...c, [exerciseId]: next }));
    },
    [],
  );

  // The same Set until the server's answer changes (progress.ts).
  const serverPassed = progress.passedIn(lessonId);
  const passed = useMemo(() => [...new Set([...serverPassed, ...optimistic])], [serverPassed, optimistic]);

  const restart = useCallback(() => {
    const s = sessionRef.current;
    const token = tokenRef.current;
    if (s && token && !endedRef.current) deleteSession(s.sessionId, token);
    clearSession(lessonId);
    sessionRef.current = null;
    tokenRef.current = null;
    setSession(null);
    setChecks({});
    setResumeNotice(null);
    failuresRef.current = 0;
    // Make sure the terminal instance is replaced even if it never got ready.
    advanceTerminal('closed');
    startAttempt();
  }, [lessonId, advanceTerminal, startAttempt]);

  const retryNow = useCallback(() => {
    startAttempt();
  }, [startAttempt]);

  const extend = useCallback(async () => {
    const s = sessionRef.current;
    const token = tokenRef.current;
    if (!s || !token || !expiring) return;
    const r = await extendSession(s.sessionId, token, expiring.reason);
    if (r.ok) { setExpiring(null); setExtendNote(null); }
    else setExtendNote(r.kind === 'error' ? r.message : 'The lab did not answer; try again.');
  }, [expiring]);

  const active = connection.kind === 'active' && !ended;
  const value: LabContextValue = {
    lesson,
    connection,
    session,
    sandboxStatus,
    statusMessage,
    terminalState,
    terminalGeneration,
    expiring,
    extendNote,
    extend,
    ended,
    resumeNotice,
    dismissResumeNotice: () => setResumeNotice(null),
    checks,
    passed,
    canRun: active && terminalState === 'ready',
    canCheck: active && sandboxStatus === 'ready',
    runCommand,
    check,
    restart,
    retryNow,
    bridge,
  };

  return <LabContext.Provider value={value}>{children}</LabContext.Provider>;
}
