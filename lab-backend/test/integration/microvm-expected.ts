/**
 * Whether the microVM suites run. QEMU is *expected* in CI (CI=true) and
 * wherever the configured runtimes include microvm (LAB_RUNTIMES; its default,
 * config.ts, does): there a missing qemu-system-x86_64 fails the suite, naming
 * the cause, instead of skipping it silently. Only where microvm is not
 * configured is a missing QEMU a skip, and the skip is announced.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'vitest';
import { loadConfig } from '../../src/config';

export const hasQemu = (process.env.PATH ?? '/usr/bin:/bin').split(':').some((d) => existsSync(path.join(d, 'qemu-system-x86_64')));

/** Why QEMU must be present here, or null when a missing QEMU may be skipped. */
export function qemuExpected(env: Record<string, string | undefined> = process.env): string | null {
  if (env.CI === 'true' || env.CI === '1') return `CI=${env.CI}`;
  // LAB_SECRET set: loadConfig would otherwise make a signing key in the state dir.
  const runtimes = loadConfig({ ...env, LAB_SECRET: 'unused' }).runtimes;
  if (runtimes.includes('microvm')) return `the configured runtimes (${env.LAB_RUNTIMES === undefined ? 'default ' : 'LAB_RUNTIMES='}${runtimes.join(',')}) include microvm`;
  return null;
}

/** describe() for a suite that needs QEMU: runs it, fails it (QEMU expected but missing), or skips it out loud. */
export function describeMicrovm(name: string, body: () => void): void {
  if (hasQemu) {
    describe(name, body);
    return;
  }
  const why = qemuExpected();
  if (why) {
    describe(name, () => {
      it('has QEMU to run on', () => {
        throw new Error(`qemu-system-x86_64 is not on PATH, but microVM tests are expected here (${why}): install qemu-system-x86 and qemu-utils (scripts/setup.sh does)`);
      });
    });
    return;
  }
  console.warn(`[microvm] SKIPPED "${name}": qemu-system-x86_64 is not on PATH and microvm is not among LAB_RUNTIMES (${process.env.LAB_RUNTIMES})`);
  describe.skip(name, body);
}

/**
 * For a test that covers the microVM beside other runtimes: whether to include it. True when QEMU is
 * here; throws when it is expected but missing; otherwise announces that the microVM part is left out.
 */
export function includeMicrovm(what: string): boolean {
  if (hasQemu) return true;
  const why = qemuExpected();
  if (why) throw new Error(`qemu-system-x86_64 is not on PATH, but microVM tests are expected here (${why}): install qemu-system-x86 and qemu-utils (scripts/setup.sh does)`);
  console.warn(`[microvm] "${what}" runs WITHOUT its microVM part: qemu-system-x86_64 is not on PATH and microvm is not among LAB_RUNTIMES (${process.env.LAB_RUNTIMES})`);
  return false;
}
