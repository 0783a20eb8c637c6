/**
 * The SIGTERM path (scripts/serve.ts): end every sandbox, wait until each one
 * is really gone, within a bound, and say so in the log.
 *
 * "Gone" is counted from the drivers' own start/stop calls (SandboxLedger), not
 * from the SessionManager's lists: a stop already under way when the signal came
 * (an idle end, a DELETE, a warm sandbox released for room) is no longer in those
 * lists, and SessionManager.end() returns at once for a session that is already
 * ending, so shutdown() alone can resolve while such a stop is still running.
 */
import type { Driver, Sandbox, SandboxSpec } from './sandbox/driver';
import type { RuntimeName } from './wire';

/** Every sandbox a driver was asked to start and has not finished stopping. */
export class SandboxLedger {
  private readonly live = new Map<string, string>();
  private readonly failed = new Map<string, string>();
  private readonly emptyWaiters = new Set<() => void>();
  /** Sandboxes ever seen (for the "all N gone" line). */
  seen = 0;

  /** The same drivers, each start/stop recorded here; everything else passes through untouched. */
  track(drivers: Partial<Record<RuntimeName, Driver>>): Partial<Record<RuntimeName, Driver>> {
    const out: Partial<Record<RuntimeName, Driver>> = {};
    for (const [name, d] of Object.entries(drivers) as [RuntimeName, Driver][]) out[name] = this.wrap(d);
    return out;
  }

  wrap<T extends Driver>(driver: T): T {
    return new Proxy(driver, {
      // An arrow function, so that `this` is the ledger.
      get: (target, prop) => {
        const value = Reflect.get(target, prop, target) as unknown;
        if (prop === 'start') {
          return async (spec: SandboxSpec, ...rest: unknown[]) => {
            this.add(spec.id, `${target.name} ${spec.id} (starting)`);
            try {
              const sb = await (value as Driver['start']).call(target, spec, ...(rest as [AbortSignal?]));
              if (this.live.has(spec.id)) this.live.set(spec.id, `${target.name} ${spec.id}`);
              return sb;
            } catch (e) {
              this.remove(spec.id); // the contract: a failed start leaves nothing
              throw e;
            }
          };
        }
        if (prop === 'adopt') {
          return async (state: unknown) => {
            const sb = await (value as Driver['adopt']).call(target, state);
            this.add(sb.id, `${target.name} ${sb.id} (adopted)`);
            return sb;
          };
        }
        if (prop === 'stop') {
          return async (sb: Sandbox, ...rest: unknown[]) => {
            try {
              await (value as Driver['stop']).call(target, sb, ...(rest as [{ now?: boolean }?]));
            } catch (e) {
              this.failed.set(sb.id, `${target.name} ${sb.id}: ${e instanceof Error ? e.message : e}`);
              throw e;
            } finally {
              this.remove(sb.id);
            }
          };
        }
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  }

  private add(id: string, what: string) {
    if (!this.live.has(id)) this.seen++;
    this.live.set(id, what);
  }
  private remove(id: string) {
    this.live.delete(id);
    if (this.live.size === 0) for (const w of [...this.emptyWaiters]) w();
  }

  /** What is still running (or starting), one description per sandbox. */
  get remaining(): string[] {
    return [...this.live.values()];
  }
  /** Stops that threw: the sandbox may still be on the host. */
  get failures(): string[] {
    return [...this.failed.values()];
  }

  whenEmpty(): Promise<void> {
    if (this.live.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.emptyWaiters.delete(done);
        resolve();
      };
      this.emptyWaiters.add(done);
    });
  }
}

export interface ShutdownResult {
  /** Every sandbox ended within the bound and none failed to stop. */
  ok: boolean;
  remaining: string[];
  failures: string[];
  tookMs: number;
}

/**
 * Call `close` (the backend's: ends every session and warm sandbox), then wait
 * until the ledger is empty; give up after `boundMs`. Logs how many sandboxes it
 * ends, and then either that all are gone or which remain.
 */
export async function shutDown(opts: {
  close: () => Promise<void>;
  ledger: SandboxLedger;
  boundMs: number;
  log: (msg: string) => void;
  now?: () => number;
}): Promise<ShutdownResult> {
  const { ledger, log } = opts;
  const now = opts.now ?? Date.now;
  const t0 = now();
  const at = ledger.remaining;
  const seenBefore = ledger.seen;
  log(`ending ${at.length} sandbox${at.length === 1 ? '' : 'es'}${at.length ? `: ${at.join(', ')}` : ''}`);
  let timer: NodeJS.Timeout | undefined;
  const finished = opts
    .close()
    .catch((e) => log(`shutdown: closing the backend failed: ${e instanceof Error ? e.message : e}`))
    .then(() => ledger.whenEmpty())
    .then(() => true);
  const inTime = await Promise.race([
    finished,
    new Promise<false>((r) => {
      timer = setTimeout(() => r(false), opts.boundMs);
    }),
  ]);
  clearTimeout(timer);
  const tookMs = now() - t0;
  const remaining = ledger.remaining;
  const failures = ledger.failures;
  if (!inTime) {
    log(`shutdown bound of ${opts.boundMs} ms passed; ${remaining.length} sandbox${remaining.length === 1 ? '' : 'es'} still running: ${remaining.join(', ')}`);
  } else {
    const ended = at.length + (ledger.seen - seenBefore);
    log(`all ${ended} sandbox${ended === 1 ? '' : 'es'} gone in ${tookMs} ms`);
  }
  if (failures.length) log(`could not stop ${failures.length}: ${failures.join('; ')}`);
  return { ok: inTime && failures.length === 0, remaining, failures, tookMs };
}
