import { describe, expect, it } from 'vitest';
import { TokenSigner } from '../../src/tokens';
import { RateLimiter } from '../../src/ratelimit';
import { FakeClock } from './fakes';

describe('session tokens', () => {
  const clock = new FakeClock();
  const signer = new TokenSigner('secret-a', 60_000, clock.now);

  it('verifies a token it issued, for that session only', () => {
    const { token } = signer.issue('abc');
    expect(signer.verify(token)).toBe('abc');
    expect(signer.verify(token.replace('abc', 'abd'))).toBeNull();
  });

  it('rejects forged, tampered, malformed and foreign-key tokens', () => {
    const { token } = signer.issue('abc');
    const [id, exp, mac] = token.split('.');
    expect(signer.verify(`${id}.${Number(exp) + 1000}.${mac}`)).toBeNull();
    expect(signer.verify(`${id}.${exp}.${mac.slice(0, -1)}A`)).toBeNull();
    expect(signer.verify('garbage')).toBeNull();
    expect(signer.verify('')).toBeNull();
    expect(signer.verify(undefined)).toBeNull();
    expect(new TokenSigner('secret-b', 60_000, clock.now).verify(token)).toBeNull();
  });

  it('expires', () => {
    const { token } = signer.issue('abc');
    clock.advance(60_001);
    expect(signer.verify(token)).toBeNull();
  });
});

// The origin and host checks are in http-guard.test.ts.

describe('rate limiter', () => {
  it('allows `limit` per window per key and says when the next one is allowed', () => {
    const clock = new FakeClock();
    const rl = new RateLimiter(2, 1000, clock.now);
    expect(rl.take('k')).toBe(0);
    clock.advance(100);
    expect(rl.take('k')).toBe(0);
    expect(rl.take('k')).toBe(900);
    expect(rl.take('other')).toBe(0);
    clock.advance(900);
    expect(rl.take('k')).toBe(0);
  });
});
