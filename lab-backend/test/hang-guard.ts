/**
 * Tests wait on events (an output, an exit, a state), never on the clock. A
 * hang guard bounds such a wait so that a hang fails with a message saying so
 * instead of blocking the run. Its bound is generous on purpose: it is not a
 * speed limit, and nothing asserts how long a wait took (speed is measured by
 * `npm run bench`, scripts/bench/).
 */

export class HangGuardError extends Error {}

function guardMessage(what: string, ms: number, detail?: () => string): string {
  const extra = detail ? `\n${detail()}` : '';
  return `hang guard: ${what} did not happen within ${ms / 1000} s (a bound against a hang, not a speed limit)${extra}`;
}

/** `p`, or a HangGuardError naming `what` once `ms` have passed without it settling. */
export function hangGuard<T>(what: string, p: Promise<T>, ms: number, detail?: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HangGuardError(guardMessage(what, ms, detail))), ms);
  });
  return Promise.race([p, guard]).finally(() => clearTimeout(timer));
}

/** Resolves once `pred()` holds (checked every `pollMs`); a HangGuardError naming `what` if it has not after `ms`. */
export async function until(what: string, pred: () => boolean | Promise<boolean>, ms: number, detail?: () => string, pollMs = 20): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new HangGuardError(guardMessage(what, ms, detail));
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
