import { describe, expect, it } from 'vitest';
import { CrashingDriver, InstantDriver, POLICY, lesson, scriptOf, setup } from './fakes';
import { learner } from '../learners';

const warmPolicy = { ...POLICY, maxSandboxes: 4, poolSizes: { gvisor: 1 } };

describe('warm pool', () => {
  it('keeps a ready sandbox per lesson, with setup done and the shell started, not counted as in use', async () => {
    const l = lesson({ setupScript: 'setup!' });
    const { m, driver } = setup(new InstantDriver(), warmPolicy, { poolLessons: async () => [l] });
    m.refillPools();
    await m.poolSettled();
    expect(m.warm).toBe(1);
    expect(m.inUse).toBe(0);
    expect(driver.onHost.size).toBe(1);
    expect(driver.processes.some((p) => scriptOf(p.argv) === 'setup!')).toBe(true);
    expect(driver.terminals.length).toBe(1);
  });

  it('a learner claims the warm sandbox (ready at once, clock starting now) and the pool refills behind them', async () => {
    const l = lesson();
    const { m, driver, clock } = setup(new InstantDriver(), warmPolicy, { poolLessons: async () => [l] });
    m.refillPools();
    await m.poolSettled();
    const warmId = [...driver.onHost][0];
    clock.advance(5 * 60_000); // sitting in the pool costs the learner nothing
    const s = await m.create(l, learner('a'));
    expect(s.status).toBe('ready');
    expect(s.fromPool).toBe(true);
    expect(s.sandbox?.id).toBe(warmId);
    expect(s.expiresAt).toBe(clock.now() + POLICY.maxLifetimeMs);
    await m.poolSettled();
    expect(m.warm).toBe(1);
    expect(m.inUse).toBe(1);
    expect(driver.onHost.size).toBe(2);
  });

  it("a different lesson is never served from another lesson's pool", async () => {
    const l = lesson();
    const { m } = setup(new InstantDriver(), warmPolicy, { poolLessons: async () => [l] });
    m.refillPools();
    await m.poolSettled();
    const other = await m.create(lesson({ id: '01-mod/02-other' }), learner('a'));
    expect(other.fromPool).toBe(false);
  });

  it('drops a warm sandbox whose lesson changed since it started (a stale setup never reaches a learner)', async () => {
    const l = lesson({ setupScript: 'old' });
    const { m } = setup(new InstantDriver(), warmPolicy, { poolLessons: async () => [l] });
    m.refillPools();
    await m.poolSettled();
    const s = await m.create(lesson({ setupScript: 'new' }), learner('a'));
    expect(s.fromPool).toBe(false);
  });

  it('learners and warm sandboxes together stay within maxSandboxes: a warm one makes way', async () => {
    const lessons = [lesson({ id: '01-mod/01-a' }), lesson({ id: '01-mod/02-b' }), lesson({ id: '01-mod/03-c' })];
    const { m, driver } = setup(new InstantDriver(), { ...warmPolicy, maxSandboxes: 3 }, { poolLessons: async () => lessons });
    m.refillPools();
    await m.poolSettled();
    expect(m.warm).toBe(3);
    await m.create(lesson({ id: '01-mod/09-cold' }), learner('a'));
    await new Promise((r) => setTimeout(r, 0));
    expect(m.warm + m.inUse).toBeLessThanOrEqual(3);
    expect(driver.onHost.size).toBeLessThanOrEqual(3);
  });

  it('a runtime that cannot boot leaves the pool empty instead of looping', async () => {
    const { m, logs } = setup(new CrashingDriver(), warmPolicy, { poolLessons: async () => [lesson()] });
    m.refillPools();
    await m.poolSettled();
    expect(m.warm).toBe(0);
    expect(logs.some((l) => l.includes('cannot open rootfs'))).toBe(true);
  });

  it('shutdown destroys warm sandboxes too', async () => {
    const { m, driver } = setup(new InstantDriver(), warmPolicy, { poolLessons: async () => [lesson()] });
    m.refillPools();
    await m.poolSettled();
    await m.shutdown();
    expect(driver.onHost.size).toBe(0);
    expect(m.warm).toBe(0);
  });
});
