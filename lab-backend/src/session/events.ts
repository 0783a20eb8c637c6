/**
 * session.events: the typed stream of what happens to one session, in the
 * order it happens. The terminal's sockets, the store's recorder (and later
 * the workshop dashboard and the webhook outbox) subscribe; nobody reaches
 * into the session to find out.
 *
 * Contract: emit() calls every listener synchronously, in subscription order,
 * with the same event object (listeners must not change it). A listener that
 * throws is logged and skipped; the others still get the event. A listener
 * that does async work keeps its own order (see SessionRecorder).
 */
import type { CheckResult, SandboxStatus, ServerMessage } from '../wire';

export type EndReason = Extract<ServerMessage, { type: 'ended' }>['reason'];

export type SessionEvent =
  /** The sandbox's status as the learner sees it; queuePosition while queued. */
  | { type: 'status'; status: SandboxStatus; message?: string; queuePosition?: number }
  /** A check finished and its result is recorded (emitted after the store has it). */
  | { type: 'check'; result: CheckResult; at: number }
  | { type: 'expiring'; reason: 'idle' | 'lifetime'; endsAt: number; extendsLeft: number }
  | { type: 'extended'; expiresAt: number; extendsLeft: number }
  /** The session is over; the first and only one. */
  | { type: 'ended'; reason: EndReason; message: string }
  /** How many read-only viewers follow the terminal now. */
  | { type: 'viewers'; count: number };

export type SessionListener = (event: SessionEvent) => void;

export class SessionEvents {
  private listeners: SessionListener[] = [];
  constructor(private readonly onListenerError: (err: unknown, event: SessionEvent) => void = () => {}) {}

  /** Subscribe; the returned function unsubscribes (calling it twice is harmless). */
  on(listener: SessionListener): () => void {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  emit(event: SessionEvent): void {
    for (const l of [...this.listeners]) {
      try {
        l(event);
      } catch (err) {
        this.onListenerError(err, event);
      }
    }
  }
}
