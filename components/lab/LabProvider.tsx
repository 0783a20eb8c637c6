'use client';
/**
 * LabProvider: one per lesson page, wrapping both the lesson prose and the lab
 * panel. A thin React adapter over the lab client (client.ts), which holds all the
 * logic: it creates one client per lesson, reads its snapshot with
 * useSyncExternalStore, and hands the snapshot and the client's actions to anything
 * inside it through useLab() (Run buttons in code blocks, <Exercise> boxes, the
 * panel, the terminal).
 */
import { createContext, useContext, useEffect, useMemo, useRef, useSyncExternalStore, type ReactNode } from 'react';
import { browserLabDeps, createLabClient, type LabClient, type LabLesson, type LabSnapshot, type TerminalPort, type TerminalSink } from './client';

export type { CheckState, Connection, EndedInfo, SavedWorkState, ExpiringInfo, LabExercise, LabLesson, TerminalRole, TerminalState, WaitReason } from './client';

export interface LabContextValue extends LabSnapshot {
  lesson: LabLesson;
  /** Answer the expiring warning: keep working (idle) or add time (lifetime, bounded). */
  extend(): Promise<void>;
  dismissResumeNotice(): void;
  /** Put the offered saved files back into the sandbox, or start fresh. */
  restoreWork(): Promise<void>;
  dismissSavedWork(): void;
  runCommand(cmd: string): void;
  check(exerciseId: string): Promise<void>;
  /** End the sandbox (the panel then offers a new one). */
  stop(): void;
  /** Drop the current sandbox (if any) and start a new one. */
  restart(): void;
  /** Retry now instead of waiting for the backoff timer. */
  retryNow(): void;
  /** The terminal's byte stream: TerminalView attaches its xterm here. */
  attachTerminal(sink: TerminalSink): TerminalPort;
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

function actionsOf(client: LabClient) {
  return {
    extend: () => client.extend(),
    dismissResumeNotice: client.dismissResumeNotice,
    restoreWork: client.restoreWork,
    dismissSavedWork: client.dismissSavedWork,
    runCommand: client.runCommand,
    check: client.check,
    stop: client.stop,
    restart: client.restart,
    retryNow: client.retryNow,
    attachTerminal: client.attachTerminal,
  };
}

export function LabProvider({ lesson, children }: { lesson: LabLesson; children: ReactNode }) {
  // Creating a client has no side effects (start() does), so a discarded one costs nothing.
  const client = useMemo(() => createLabClient(browserLabDeps(lesson.id)), [lesson.id]);
  const actions = useMemo(() => actionsOf(client), [client]);
  const snapshot = useSyncExternalStore(client.subscribe, client.getSnapshot, client.getServerSnapshot);

  // Disposed a tick after unmount, so React strict mode's unmount/remount keeps the same session.
  const disposal = useRef<{ client: LabClient; timer: ReturnType<typeof setTimeout> } | null>(null);
  useEffect(() => {
    if (disposal.current?.client === client) clearTimeout(disposal.current.timer);
    disposal.current = null;
    client.start();
    return () => {
      disposal.current = { client, timer: setTimeout(() => client.dispose(), 0) };
    };
  }, [client]);

  const value = useMemo<LabContextValue>(() => ({ ...snapshot, ...actions, lesson }), [snapshot, actions, lesson]);
  return <LabContext.Provider value={value}>{children}</LabContext.Provider>;
}
