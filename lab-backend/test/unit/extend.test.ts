import { describe, expect, it } from 'vitest';
import { POLICY, RecordingPeer, lesson, setup } from './fakes';
import { learner } from '../learners';

describe('extending a session', () => {
  it('adds time to the lifetime after a warning, a bounded number of times, then says why not', async () => {
    const { m, clock } = setup(undefined, { ...POLICY, idleTimeoutMs: 24 * 3_600_000 });
    const s = await m.create(lesson(), learner('a'));
    const peer = new RecordingPeer();
    await s.terminal.attach(peer);
    const firstEnd = s.expiresAt;
    clock.advance(POLICY.maxLifetimeMs - POLICY.warnBeforeEndMs);
    await m.tick();
    expect(peer.of('expiring').at(-1)).toMatchObject({ reason: 'lifetime', endsAt: firstEnd, extendsLeft: 2 });
    expect(s.extend('lifetime')).toEqual({ expiresAt: firstEnd + POLICY.extendByMs, extendsLeft: 1 });
    expect(peer.of('extended').at(-1)).toEqual({ type: 'extended', expiresAt: firstEnd + POLICY.extendByMs, extendsLeft: 1 });
    clock.advance(POLICY.warnBeforeEndMs); // past the original end
    await m.tick();
    expect(s.ended).toBe(false);
    s.extend('lifetime');
    expect(() => s.extend('lifetime')).toThrow(expect.objectContaining({ code: 'extend_limit', message: expect.stringContaining('2 times') }));
    clock.advance(2 * POLICY.extendByMs);
    await m.tick();
    expect(s.endReason).toBe('lifetime');
  });

  it('"keep working" on an idle warning counts as activity and uses no extension', async () => {
    const { m, clock } = setup();
    const s = await m.create(lesson(), learner('a'));
    const peer = new RecordingPeer();
    await s.terminal.attach(peer);
    clock.advance(POLICY.idleTimeoutMs - POLICY.warnBeforeEndMs);
    await m.tick();
    expect(peer.of('expiring').at(-1)?.reason).toBe('idle');
    expect(s.extend('idle').extendsLeft).toBe(POLICY.maxExtends);
    clock.advance(POLICY.warnBeforeEndMs + 1);
    await m.tick();
    expect(s.ended).toBe(false);
  });

  it('an ended session cannot be extended', async () => {
    const { m } = setup();
    const s = await m.create(lesson(), learner('a'));
    await m.end(s, 'closed');
    expect(() => s.extend('lifetime')).toThrow(expect.objectContaining({ code: 'session_expired' }));
  });
});
