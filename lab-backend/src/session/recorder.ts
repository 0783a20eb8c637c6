/**
 * SessionRecorder: keeps the store's copy of each learner's session in step
 * with its events (status → state, extensions → expiresAt, the end → end
 * reason). Warm-pool sandboxes nobody has claimed are not recorded.
 *
 * Writes for one session are applied one after another in event order (the
 * store refuses a state that moves backwards, so order matters); different
 * sessions' writes do not wait for each other. A failed write is logged with
 * the store's message and the session goes on: the learner's sandbox does not
 * depend on its bookkeeping. What must not be lost is written by the caller
 * before it answers, not here: a session's creation (SessionManager.create)
 * and every check result (SessionChecks).
 */
import type { SessionEvent } from './events';
import type { Store } from '../store/store';

/** What the recorder reads of a session when an event arrives. */
export interface RecordedSession {
  readonly id: string;
  readonly sandboxId: string | null;
  readonly driverState: unknown;
  readonly startedAt: number;
  readonly expiresAt: number;
  readonly extendsUsed: number;
}

export class SessionRecorder {
  private chains = new Map<string, Promise<void>>();
  /** Sessions whose creation failed: their later writes are dropped. */
  private skipped = new Set<string>();

  constructor(
    private readonly store: Store,
    private readonly now: () => number,
    private readonly log: (msg: string) => void,
  ) {}

  /** Follow `session`'s events from now on; returns the listener to subscribe. */
  follow(session: RecordedSession): (e: SessionEvent) => void {
    return (e) => {
      switch (e.type) {
        case 'status':
          if (e.status === 'starting') this.write(session, () => this.store.updateSession(session.id, { state: 'starting', expiresAt: session.expiresAt }));
          if (e.status === 'ready') {
            this.write(session, () =>
              this.store.updateSession(session.id, {
                state: 'ready',
                sandboxId: session.sandboxId,
                driverState: session.driverState,
                startedAt: session.startedAt,
                expiresAt: session.expiresAt,
              }),
            );
          }
          break;
        case 'extended':
          this.write(session, () => this.store.updateSession(session.id, { expiresAt: e.expiresAt, extendsUsed: session.extendsUsed }));
          break;
        case 'ended': {
          const at = this.now();
          this.write(session, () => this.store.endSession(session.id, e.reason, at));
          break;
        }
        default:
          break;
      }
    };
  }

  /**
   * Queues `op` (the session's creation in the store) ahead of anything its
   * events queue later, and returns its outcome: unlike later writes, a
   * failure here is the caller's to handle, and the writes queued behind it
   * are skipped, as there is no record for them to change.
   */
  first(session: RecordedSession, op: () => Promise<void>): Promise<void> {
    const done = op();
    this.enqueue(
      session.id,
      done.catch(() => {
        this.skipped.add(session.id);
      }),
    );
    return done;
  }

  /** Resolves once every write queued so far has been applied or has failed (before the store closes). */
  async flush(): Promise<void> {
    while (this.chains.size) await Promise.all([...this.chains.values()]);
  }

  private write(session: RecordedSession, op: () => Promise<unknown>) {
    const prev = this.chains.get(session.id) ?? Promise.resolve();
    const next = prev
      .then(() => (this.skipped.has(session.id) ? undefined : op()))
      .then(
        () => {},
        (err: unknown) => this.log(`store: session ${session.id}: ${(err as Error)?.message ?? err}`),
      );
    this.enqueue(session.id, next);
  }

  /** `p` (which never rejects) is now the session's last write; the entry goes when nothing follows it. */
  private enqueue(id: string, p: Promise<void>) {
    this.chains.set(id, p);
    void p.then(() => {
      if (this.chains.get(id) === p) this.chains.delete(id);
    });
  }
}
