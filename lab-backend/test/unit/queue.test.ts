import { describe, expect, it } from 'vitest';
import { InstantDriver, POLICY, RecordingPeer, SlowDriver, lesson, setup } from './fakes';
import { learner } from '../learners';

describe('a full lab queues learners instead of refusing them', () => {
  it('tells a queued learner their place, and starts their sandbox when a slot frees', async () => {
    const { m, driver } = setup();
    const running = [];
    for (const c of ['a', 'b', 'c']) running.push(await m.create(lesson(), learner(c)));
    const first = await m.create(lesson(), learner('q1'));
    const second = await m.create(lesson(), learner('q2'));
    expect([first.status, second.status]).toEqual(['queued', 'queued']);
    expect(driver.onHost.size).toBe(3); // nothing booted for the queue
    const p1 = new RecordingPeer();
    const p2 = new RecordingPeer();
    void first.terminal.attach(p1);
    void second.terminal.attach(p2);
    expect(p1.of('status')[0]).toMatchObject({ status: 'queued', queuePosition: 1 });
    expect(p2.of('status')[0]).toMatchObject({ status: 'queued', queuePosition: 2 });

    await m.end(running[0], 'closed');
    await first.ready;
    expect(first.status).toBe('ready');
    expect(p1.of('status').map((s) => s.status)).toContain('starting');
    // the second moved up one place and was told so
    expect(second.status).toBe('queued');
    expect(p2.of('status').at(-1)).toMatchObject({ status: 'queued', queuePosition: 1, message: expect.stringContaining('number 1 in the queue') });
    expect(m.inUse).toBe(3);
  });

  it('a queued learner who leaves gives up their place, and the next one moves up', async () => {
    const { m, clock } = setup();
    for (const c of ['a', 'b', 'c']) await (await m.create(lesson(), learner(c))).terminal.attach(new RecordingPeer());
    const gone = await m.create(lesson(), learner('q1'));
    const stays = await m.create(lesson(), learner('q2'));
    const p = new RecordingPeer();
    void stays.terminal.attach(p);
    clock.advance(POLICY.reconnectGraceMs + 1);
    await m.tick();
    expect(gone.ended).toBe(true);
    expect(m.queuePosition(stays)).toBe(1);
    expect(p.of('status').at(-1)).toMatchObject({ queuePosition: 1 });
  });

  it('the lifetime of a queued session starts when its sandbox does, not while it waits', async () => {
    const driver = new SlowDriver();
    const { m, clock } = setup(driver);
    const first = [];
    for (const c of ['a', 'b', 'c']) first.push(await m.create(lesson(), learner(c)));
    const q = await m.create(lesson(), learner('q'));
    void q.terminal.attach(new RecordingPeer());
    clock.advance(10 * 60_000);
    const endPromise = m.end(first[0], 'closed');
    expect(driver.onHost.has(`s${first[0].id}`)).toBe(true); // ended while still starting
    driver.release();
    await endPromise;
    expect(driver.onHost.has(`s${first[0].id}`)).toBe(false); // destroyed once its start returned
    driver.release();
    await q.ready;
    expect(q.expiresAt).toBe(clock.now() + POLICY.maxLifetimeMs);
  });

  it('shutdown ends queued sessions too, starting nothing', async () => {
    const { m, driver } = setup(new InstantDriver());
    for (const c of ['a', 'b', 'c', 'q']) await m.create(lesson(), learner(c));
    await m.shutdown();
    expect(m.list().every((s) => s.ended)).toBe(true);
    expect(driver.onHost.size).toBe(0);
  });
});
