/**
 * DELETE during boot (real runsc): a gVisor start aborted at any point of its
 * first few hundred milliseconds leaves nothing on the host, in any cgroup
 * hierarchy. runsc creates the sandbox's cgroup in every hierarchy mounted
 * here, the named `systemd` one included; an aborted `runsc run` never
 * removes them, so the driver must.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config';
import type { Lesson } from '../../src/content';
import { GvisorDriver } from '../../src/sandbox/gvisor';
import { SessionManager, policyFrom } from '../../src/sessions';
import { baseRootfs, cgroupParentsLeft, leftovers, specFor, tempStateDir } from './helpers';
import { learner, memoryStore } from '../learners';

const DELAYS_MS = [0, 20, 50, 75, 100, 125, 150, 250];
const CLEAN = { bundles: [], runscState: [], procs: [], cgroups: [], mounts: [], parents: [] };

async function everythingLeft(driver: GvisorDriver, stateDir: string) {
  return { ...(await leftovers(driver, stateDir)), parents: await cgroupParentsLeft(driver.cgroupParent) };
}

describe('DELETE during boot', () => {
  it('an aborted gVisor start leaves nothing in any cgroup hierarchy, whenever it is aborted', { timeout: 120_000 }, async () => {
    const rootfs = await baseRootfs();
    const stateDir = tempStateDir();
    // With a watchdog, as in production: a boot that got as far as starting one must not leave it either.
    const driver = new GvisorDriver({ stateDir, orphanGraceMs: 60_000 });
    const left: Record<number, unknown> = {};
    const outcome: Record<number, string> = {};
    for (const delay of DELAYS_MS) {
      const ac = new AbortController();
      const timer = setTimeout(() => ac.abort(), delay);
      try {
        const sb = await driver.start(specFor(rootfs), ac.signal);
        outcome[delay] = 'booted'; // faster than the abort: then this is a plain stop
        await driver.stop(sb, { now: true });
      } catch (e) {
        outcome[delay] = (e as Error).message;
      } finally {
        clearTimeout(timer);
      }
      left[delay] = await everythingLeft(driver, stateDir);
    }
    console.log('[boot-abort] outcomes by abort delay (ms):', outcome);
    expect(left).toEqual(Object.fromEntries(DELAYS_MS.map((d) => [d, CLEAN])));
    // At least the early aborts must really have aborted a boot, or the test proves nothing.
    expect(Object.values(outcome).filter((o) => o === 'start aborted').length).toBeGreaterThanOrEqual(2);
  });

  it('a session ended right after it was created (DELETE while booting) leaves nothing behind', { timeout: 120_000 }, async () => {
    const rootfs = await baseRootfs();
    const stateDir = tempStateDir();
    const driver = new GvisorDriver({ stateDir, orphanGraceMs: 60_000 });
    const manager = new SessionManager({
      store: memoryStore(),
      drivers: { gvisor: driver },
      rootfsFor: () => rootfs,
      log: () => {},
      policy: { ...policyFrom(loadConfig({ LAB_SECRET: 'test', LAB_STATE_DIR: stateDir })), maxSandboxesPerClient: 100, sessionsPerClientPerMinute: 100 },
    });
    const lesson: Lesson = {
      id: '01-fixture/01-abort',
      module: 'Fixture',
      title: 'Abort',
      summary: 'DELETE during boot',
      runtime: 'gvisor',
      estimateMinutes: 1,
      dir: '/nowhere',
      image: 'base',
      capabilities: ['CAP_CHOWN'],
      setupScript: null,
      body: '',
      exercises: [],
      keep: ['/root'],
    };
    const left: Record<number, unknown> = {};
    for (const delay of DELAYS_MS) {
      const session = await manager.create(lesson, learner(`client-${delay}`));
      if (delay) await new Promise((r) => setTimeout(r, delay));
      await manager.end(session, 'closed');
      left[delay] = await everythingLeft(driver, stateDir);
    }
    await manager.shutdown();
    expect(left).toEqual(Object.fromEntries(DELAYS_MS.map((d) => [d, CLEAN])));
  });
});
