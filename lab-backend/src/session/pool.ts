/**
 * The warm pool: per lesson, policy.poolSizes[runtime] sandboxes booted with
 * the lesson's setup done and its shell started, waiting for a learner. A
 * learner's start is then just a claim. Warm sandboxes have no owner and no
 * lifetime and are not counted as in use, but they share maxSandboxes with
 * learners' sandboxes, and a learner always wins a slot from them.
 */
import type { Lesson } from '../content';
import type { Driver } from '../sandbox/driver';
import type { RuntimeName } from '../wire';
import type { EndReason } from './events';
import type { Session } from './session';
import type { SessionPolicy } from './policy';

/** A lesson whose warm sandbox failed to boot is not retried sooner than this. */
export const POOL_RETRY_MS = 60_000;

/** What the pool needs from the SessionManager. */
export interface PoolHost {
  readonly policy: SessionPolicy;
  readonly drivers: Partial<Record<RuntimeName, Driver>>;
  now(): number;
  log(msg: string): void;
  /** The lessons to keep warm sandboxes for (none when absent). */
  lessons?: () => Promise<Lesson[]>;
  /** A warm sandbox may take a slot now: the lab is not stopping, no learner waits, and learners' plus warm sandboxes stay below maxSandboxes. */
  roomForWarm(): boolean;
  readonly stopping: boolean;
  /** A new unowned session for `lesson`, marked pooled. */
  newWarm(lesson: Lesson): Session;
  /** Boots it (the session's `booted` settles when the attempt is over). */
  boot(session: Session, driver: Driver): Promise<void>;
  end(session: Session, reason: EndReason, message?: string): Promise<void>;
}

export class WarmPool {
  /** Warm sandboxes nobody has claimed, by lesson id. */
  private readonly byLesson = new Map<string, Session[]>();
  /** Lessons whose warm sandbox failed to boot, and when: not retried for POOL_RETRY_MS. */
  private readonly failedAt = new Map<string, number>();
  private filling: Promise<void> | null = null;
  private refillWanted = false;
  private lastRefillAt = 0;

  constructor(private readonly host: PoolHost) {}

  /** Warm sandboxes (booting or ready). */
  get size(): number {
    let n = 0;
    for (const l of this.byLesson.values()) n += l.length;
    return n;
  }
  all(): Session[] {
    return [...this.byLesson.values()].flat();
  }

  /** A warm sandbox for exactly this lesson (same image, runtime, capabilities and setup), if one is ready; stale ones are ended. */
  claim(lesson: Lesson): Session | undefined {
    const list = this.byLesson.get(lesson.id);
    if (!list) return undefined;
    const same = (s: Session) =>
      s.lesson.image === lesson.image &&
      s.lesson.runtime === lesson.runtime &&
      s.lesson.setupScript === lesson.setupScript &&
      s.lesson.capabilities.join() === lesson.capabilities.join();
    for (const stale of list.filter((s) => !same(s))) void this.host.end(stale, 'closed', 'The lesson changed since this warm sandbox started.');
    const i = list.findIndex((s) => s.status === 'ready' && same(s));
    return i < 0 ? undefined : list.splice(i, 1)[0];
  }

  /** A learner needs a slot and learners' plus warm sandboxes are at maxSandboxes: drop a warm one (a booting one first). */
  makeRoom(inUse: number) {
    if (inUse + this.size < this.host.policy.maxSandboxes) return;
    let victim: Session | undefined;
    for (const s of this.all()) if (!victim || s.status !== 'ready') victim = s;
    if (victim) void this.host.end(victim, 'closed', 'Warm sandbox released to make room.');
  }

  remove(s: Session) {
    const list = this.byLesson.get(s.lesson.id);
    const i = list?.indexOf(s) ?? -1;
    if (list && i >= 0) list.splice(i, 1);
  }

  /** A warm sandbox of this lesson failed to boot now. */
  failed(lessonId: string) {
    this.failedAt.set(lessonId, this.host.now());
  }

  /** Top up every pool lesson, booting one at a time (a boot is CPU-heavy) and only into slots no learner needs. */
  refill(): void {
    const h = this.host;
    if (!h.lessons || h.stopping) return;
    if (this.filling) {
      this.refillWanted = true;
      return;
    }
    this.lastRefillAt = h.now();
    this.filling = (async () => {
      do {
        this.refillWanted = false;
        const lessons = await h.lessons!().catch((e) => {
          h.log(`warm pool: cannot list lessons: ${e}`);
          return [] as Lesson[];
        });
        for (const lesson of lessons) {
          const want = h.policy.poolSizes?.[lesson.runtime] ?? 0;
          const driver = h.drivers[lesson.runtime];
          if (!want || !driver || h.stopping) continue;
          const failedAt = this.failedAt.get(lesson.id);
          if (failedAt !== undefined && h.now() - failedAt < POOL_RETRY_MS) continue;
          const list = this.byLesson.get(lesson.id) ?? [];
          this.byLesson.set(lesson.id, list);
          while (list.length < want && h.roomForWarm() && (await driver.available()).ok) {
            const s = h.newWarm(lesson);
            list.push(s);
            s.booted = h.boot(s, driver);
            // Not past the start time limit: a driver that ignores the abort must not hold the pool (or a shutdown) forever.
            await Promise.race([s.booted, s.startGaveUp]);
            if (s.ended) break; // failed: failedAt holds it back for a while
          }
        }
      } while (this.refillWanted && !h.stopping);
    })()
      .catch((e) => h.log(`warm pool: ${e}`))
      .finally(() => {
        this.filling = null;
      });
  }

  /** Resolves once the pool has nothing left to boot. */
  async settled(): Promise<void> {
    while (this.filling) await this.filling;
  }

  /** Once a tick: retry failed lessons after POOL_RETRY_MS; end warm sandboxes whose sandbox died. */
  async tick(): Promise<void> {
    if (this.host.now() - this.lastRefillAt >= POOL_RETRY_MS) this.refill();
    for (const s of this.all()) {
      if (s.status === 'ready' && s.sandbox) {
        const gone = await this.host.drivers[s.runtime]!.poll(s.sandbox);
        if (gone) await this.host.end(s, 'sandbox_exited', exitMessage(gone.reason));
      }
    }
  }
}

/** What the learner is told when their sandbox ended by itself: the driver's reason, as a sentence. */
export function exitMessage(reason: string): string {
  return `The sandbox stopped unexpectedly: ${reason.replace(/\.$/, '')}.`;
}
