import { hkdfSync } from 'node:crypto';
import { parseSetCookie } from 'cookie';
import { SignJWT, UnsecuredJWT } from 'jose';
import { beforeEach, describe, expect, it } from 'vitest';
import { NewLearnerLimitError } from '../../src/errors';
import { addressKey, ClientAddress, normaliseAddress, parseTrustProxy } from '../../src/identity/address';
import {
  ADMIN_COOKIE_TTL_MS,
  INSTRUCTOR_COOKIE_TTL_MS,
  Identity,
  newInstructorId,
  LEARNER_COOKIE_TTL_MS,
  LEARNER_RENEW_AFTER_MS,
  type IdentityConfig,
  type RequestLike,
} from '../../src/identity/identity';
import { principalKey, type Principal } from '../../src/identity/principal';
import { TokenSigner } from '../../src/tokens';

const SECRET = 'a'.repeat(64);
let t = Date.parse('2030-01-01T00:00:00Z');
const now = () => t;
beforeEach(() => {
  t = Date.parse('2030-01-01T00:00:00Z');
});

const config = (over: Partial<IdentityConfig> = {}): IdentityConfig => ({
  secret: SECRET,
  publicUrl: null,
  trustProxy: { kind: 'off' },
  adminToken: null,
  newLearnersPerAddressPerHour: 100,
  ...over,
});
const req = (cookie?: string, remoteAddress = '198.51.100.7', xff?: string): RequestLike => ({
  headers: { ...(cookie !== undefined ? { cookie } : {}), ...(xff !== undefined ? { 'x-forwarded-for': xff } : {}) },
  socket: { remoteAddress },
});
/** The `name=value` a browser sends back for a Set-Cookie header. */
const sent = (setCookie: string | undefined) => {
  expect(setCookie).toBeTruthy();
  return setCookie!.split(';')[0];
};
const valueOf = (setCookie: string | undefined) => sent(setCookie).slice(sent(setCookie).indexOf('=') + 1);
const learnerIdOf = (p: Principal) => {
  expect(p.kind).toBe('learner');
  return (p as { learnerId: string }).learnerId;
};

/** The key the module documents for the learner cookie (HKDF-SHA256 of the secret, purpose in `info`). */
const learnerKey = (secret = SECRET) => new Uint8Array(hkdfSync('sha256', secret, '', 'container-internals-lab identity: learner cookie v1', 32));
const jws = (key: Uint8Array, claims: { sub: string; aud?: string; iss?: string; extra?: Record<string, unknown> }) => {
  const s = Math.floor(t / 1000);
  return new SignJWT(claims.extra ?? {})
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer(claims.iss ?? 'container-internals-lab')
    .setAudience(claims.aud ?? 'lab:learner')
    .setSubject(claims.sub)
    .setIssuedAt(s)
    .setExpirationTime(s + 3600)
    .sign(key);
};

describe('principal keys', () => {
  it('are stable, one per principal, and an id containing ":" cannot make two principals collide', () => {
    expect(principalKey({ kind: 'learner', learnerId: 'abc' })).toBe('learner:abc');
    expect(principalKey({ kind: 'admin' })).toBe('admin');
    const keys = [
      principalKey({ kind: 'participant', workshopId: 'w:1', participantId: 'p' }),
      principalKey({ kind: 'participant', workshopId: 'w', participantId: '1:p' }),
      principalKey({ kind: 'integration', integrationId: 'w', externalId: '1:p' }),
      principalKey({ kind: 'learner', learnerId: 'admin' }),
      principalKey({ kind: 'admin' }),
    ];
    expect(new Set(keys).size).toBe(keys.length);
  });
});

describe('learner cookie', () => {
  it('round trip: a first request makes a learner and a cookie; sending it back is the same learner, with no new cookie', async () => {
    const id = new Identity(config(), now);
    const first = await id.principalOf(req());
    expect(first.created).toBe(true);
    const learnerId = learnerIdOf(first.principal);
    expect(learnerId).toMatch(/^[A-Za-z0-9_-]{22}$/);
    t += 60_000;
    const again = await id.principalOf(req(`other=1; ${sent(first.setCookie)}`));
    expect(again).toEqual({ principal: { kind: 'learner', learnerId }, address: '198.51.100.7', created: false });
    // A restarted backend (new Identity, same secret) still knows the learner.
    expect((await new Identity(config(), now).principalOf(req(sent(first.setCookie)))).principal).toEqual(first.principal);
    // Two first requests are two learners.
    expect(learnerIdOf((await id.principalOf(req())).principal)).not.toBe(learnerId);
  });

  it('attributes: httpOnly, SameSite=Lax, Path=/, a year long; Secure and __Host- named when LAB_PUBLIC_URL is https', async () => {
    const plain = parseSetCookie((await new Identity(config({ publicUrl: 'http://lab.test' }), now).principalOf(req())).setCookie!);
    expect(plain).toMatchObject({ name: 'lab_learner', httpOnly: true, sameSite: 'lax', path: '/', maxAge: LEARNER_COOKIE_TTL_MS / 1000 });
    expect(plain.secure).toBeFalsy();
    expect(plain.domain).toBeUndefined();
    const https = new Identity(config({ publicUrl: 'https://lab.test' }), now);
    const first = await https.principalOf(req());
    expect(parseSetCookie(first.setCookie!)).toMatchObject({ name: '__Host-lab_learner', httpOnly: true, sameSite: 'lax', path: '/', secure: true });
    // Under https the unprefixed name (which a sibling subdomain could plant) is not read.
    const planted = await https.principalOf(req(`lab_learner=${valueOf(first.setCookie)}`));
    expect(planted.created).toBe(true);
    expect(learnerIdOf(planted.principal)).not.toBe(learnerIdOf(first.principal));
  });

  it('forged, edited, foreign-secret, garbage, oversized or wrongly-scoped cookies each yield a NEW learner, never the one named', async () => {
    const id = new Identity(config(), now);
    const victim = await id.principalOf(req());
    const victimId = learnerIdOf(victim.principal);
    const real = valueOf(victim.setCookie);
    const [h, p, sig] = real.split('.');
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());

    // Control: a cookie signed as the module documents is accepted, so the cases below fail for their own reason.
    expect((await id.principalOf(req(`lab_learner=${await jws(learnerKey(), { sub: victimId })}`))).principal).toEqual(victim.principal);

    const other = learnerIdOf((await id.principalOf(req())).principal);
    const bad: Record<string, string> = {
      'payload swapped to another learner, signature kept': `${h}.${b64({ ...claims, sub: other })}.${sig}`,
      'signature changed': `${h}.${p}.${sig.slice(0, -2)}${sig.endsWith('AA') ? 'BB' : 'AA'}`,
      'signature removed': `${h}.${p}.`,
      'alg none': new UnsecuredJWT({ sub: victimId }).setIssuer('container-internals-lab').setAudience('lab:learner').setIssuedAt().setExpirationTime('1h').encode(),
      "another lab's secret": valueOf((await new Identity(config({ secret: 'b'.repeat(64) }), now).principalOf(req())).setCookie),
      'signed with the raw secret (no domain separation)': await jws(new TextEncoder().encode(SECRET), { sub: victimId }),
      'an admin-audience token under the learner key': await jws(learnerKey(), { sub: victimId, aud: 'lab:admin' }),
      'another issuer': await jws(learnerKey(), { sub: victimId, iss: 'someone-else' }),
      'a sub that is not a learner id': await jws(learnerKey(), { sub: 'admin' }),
      'a session token': new TokenSigner(SECRET, 60_000, now).issue(victimId).token,
      oversized: await jws(learnerKey(), { sub: victimId, extra: { pad: 'x'.repeat(1200) } }),
      garbage: '%%%not-a-jws',
      'three dots': 'a.b.c',
      empty: '',
    };
    for (const [why, value] of Object.entries(bad)) {
      const r = await id.principalOf(req(`lab_learner=${value}`));
      expect(r.created, why).toBe(true);
      expect(learnerIdOf(r.principal), why).not.toBe(victimId);
      expect(learnerIdOf(r.principal), why).not.toBe(other);
      expect(r.setCookie, why).toBeTruthy();
    }
    // A malformed Cookie header is no error either.
    expect((await id.principalOf(req(';;==;lab_learner'))).created).toBe(true);
  });

  it('an expired cookie yields a new learner; one older than the renewal age is re-issued with the same id', async () => {
    const id = new Identity(config(), now);
    const first = await id.principalOf(req());
    t += LEARNER_RENEW_AFTER_MS - 1000;
    expect((await id.principalOf(req(sent(first.setCookie)))).setCookie).toBeUndefined();
    t += 2000;
    const renewed = await id.principalOf(req(sent(first.setCookie)));
    expect(renewed.principal).toEqual(first.principal);
    expect(renewed.created).toBe(false);
    expect(valueOf(renewed.setCookie)).not.toBe(valueOf(first.setCookie));
    t = Date.parse('2030-01-01T00:00:00Z') + LEARNER_COOKIE_TTL_MS + 1000;
    const expired = await id.principalOf(req(sent(first.setCookie)));
    expect(expired.created).toBe(true);
    expect(expired.principal).not.toEqual(first.principal);
    // The renewed cookie, issued later, is still good.
    expect((await id.principalOf(req(sent(renewed.setCookie)))).principal).toEqual(first.principal);
  });
});

describe('new learners per address', () => {
  it('past the limit principalOf() refuses with a 429 saying when to retry; other addresses and known learners are unaffected; it frees up after an hour', async () => {
    const id = new Identity(config({ newLearnersPerAddressPerHour: 3 }), now);
    const made = [];
    for (let i = 0; i < 3; i++) made.push(await id.principalOf(req(undefined, '203.0.113.9')));
    const refused = await id.principalOf(req(undefined, '203.0.113.9')).catch((e) => e);
    expect(refused).toBeInstanceOf(NewLearnerLimitError);
    expect(refused.httpStatus).toBe(429);
    expect(refused.code).toBe('rate_limited');
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect(refused.retryAfterMs).toBeLessThanOrEqual(3_600_000);
    expect(refused.message).toMatch(/new learners from your address/);
    // Churned, forged cookies count as new learners too.
    await expect(id.principalOf(req('lab_learner=forged', '203.0.113.9'))).rejects.toBeInstanceOf(NewLearnerLimitError);
    // A learner who already has a cookie goes on.
    expect((await id.principalOf(req(sent(made[0].setCookie), '203.0.113.9'))).principal).toEqual(made[0].principal);
    expect((await id.principalOf(req(undefined, '203.0.113.10'))).created).toBe(true);
    t += 3_600_001;
    expect((await id.principalOf(req(undefined, '203.0.113.9'))).created).toBe(true);
  });

  it('counts an IPv6 /64 as one address (IPv4-mapped addresses as IPv4)', async () => {
    const id = new Identity(config({ newLearnersPerAddressPerHour: 2 }), now);
    await id.principalOf(req(undefined, '2001:db8:1:2::1'));
    await id.principalOf(req(undefined, '2001:db8:1:2:ffff:0:0:99'));
    await expect(id.principalOf(req(undefined, '2001:0db8:0001:0002::abcd'))).rejects.toBeInstanceOf(NewLearnerLimitError);
    expect((await id.principalOf(req(undefined, '2001:db8:1:3::1'))).created).toBe(true);
    expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('10.0.0.1')).toBe('10.0.0.1');
    expect(normaliseAddress('::ffff:10.0.0.1')).toBe('10.0.0.1');
  });

  it('spoofed X-Forwarded-For does not give a fresh allowance when proxy trust is off', async () => {
    const id = new Identity(config({ newLearnersPerAddressPerHour: 2 }), now);
    for (let i = 0; i < 2; i++) await id.principalOf(req(undefined, '203.0.113.9', `10.9.9.${i}`));
    await expect(id.principalOf(req(undefined, '203.0.113.9', '10.9.9.99'))).rejects.toBeInstanceOf(NewLearnerLimitError);
  });
});

describe('client address and LAB_TRUST_PROXY', () => {
  const spoofed = '6.6.6.6, 203.0.113.50';

  it('off (the default): X-Forwarded-For is ignored', async () => {
    expect(parseTrustProxy(undefined)).toEqual({ kind: 'off' });
    const id = new Identity(config(), now);
    expect((await id.principalOf(req(undefined, '127.0.0.1', spoofed))).address).toBe('127.0.0.1');
    expect(new ClientAddress({ kind: 'off' }).of('::ffff:192.0.2.1', spoofed)).toBe('192.0.2.1');
  });

  it('true / a hop count: the client is that many hops from the right, whatever the client prepended', async () => {
    const id = new Identity(config({ trustProxy: parseTrustProxy('true') }), now);
    expect((await id.principalOf(req(undefined, '127.0.0.1', spoofed))).address).toBe('203.0.113.50');
    const two = new ClientAddress(parseTrustProxy('2'));
    expect(two.of('10.0.0.2', '6.6.6.6, 203.0.113.50, 10.0.0.1')).toBe('203.0.113.50');
    // Repeated headers (Node joins them, or an array) read as one list.
    expect(two.of('10.0.0.2', ['6.6.6.6', '203.0.113.50, 10.0.0.1'])).toBe('203.0.113.50');
    // Fewer entries than hops, or garbage where the client should be: the nearest valid hop to its right.
    expect(two.of('10.0.0.2', '10.0.0.1')).toBe('10.0.0.1');
    expect(two.of('10.0.0.2', 'junk, 10.0.0.1')).toBe('10.0.0.1');
    expect(new ClientAddress(parseTrustProxy('1')).of('127.0.0.1', undefined)).toBe('127.0.0.1');
    expect(new ClientAddress(parseTrustProxy('1')).of('127.0.0.1', '[2001:db8::7]:443')).toBe('2001:db8::7');
  });

  it('a list of proxies: the rightmost hop not in the list; no trust for a peer outside it', () => {
    const list = new ClientAddress(parseTrustProxy('127.0.0.1, 10.0.0.0/8'));
    expect(list.of('127.0.0.1', '6.6.6.6, 203.0.113.50, 10.1.2.3')).toBe('203.0.113.50');
    expect(list.of('::ffff:127.0.0.1', '203.0.113.50')).toBe('203.0.113.50');
    // A client connecting directly (not through a listed proxy) cannot choose its address.
    expect(list.of('203.0.113.99', '10.1.2.3')).toBe('203.0.113.99');
    // Everything trusted: the leftmost.
    expect(list.of('127.0.0.1', '10.0.0.5, 10.0.0.6')).toBe('10.0.0.5');
  });

  it('parses only what it documents', () => {
    expect(parseTrustProxy('false')).toEqual({ kind: 'off' });
    expect(parseTrustProxy('0')).toEqual({ kind: 'off' });
    expect(parseTrustProxy('3')).toEqual({ kind: 'hops', hops: 3 });
    expect(parseTrustProxy('::1,fd00::/8')).toEqual({ kind: 'list', ranges: ['::1', 'fd00::/8'] });
    for (const bad of ['yes', '10.0.0.0/33', 'proxy.internal', '1.2.3', '-1', '99', '10.0.0.0/8/1']) expect(() => parseTrustProxy(bad), bad).toThrow(/LAB_TRUST_PROXY/);
  });
});

describe('instructor cookie', () => {
  it('signs an instructor in for INSTRUCTOR_COOKIE_TTL_MS; it is not the learner or admin cookie, and they are not it', async () => {
    const id = new Identity(config({ publicUrl: 'https://lab.test', adminToken: 'operator-token-0123456789' }), now);
    const ines = newInstructorId();
    const c = await id.signInInstructor(ines);
    expect(parseSetCookie(c)).toMatchObject({ name: '__Host-lab_instructor', httpOnly: true, sameSite: 'lax', path: '/', secure: true, maxAge: INSTRUCTOR_COOKIE_TTL_MS / 1000 });
    expect(await id.instructorOf(req(sent(c)))).toBe(ines);
    // The instructor cookie proves no learner and no admin; a learner or admin cookie proves no instructor.
    expect(await id.knownPrincipalOf(req(sent(c)))).toBeNull();
    const learner = (await id.principalOf(req())).setCookie!;
    const admin = await id.signInAdmin('operator-token-0123456789');
    if (!admin.ok) throw new Error(admin.message);
    expect(await id.instructorOf(req(sent(learner)))).toBeNull();
    expect(await id.instructorOf(req(sent(admin.setCookie)))).toBeNull();
    // A learner's value under the instructor's name, a forged signature, another lab's secret: nobody.
    expect(await id.instructorOf(req(`__Host-lab_instructor=${valueOf(learner)}`))).toBeNull();
    const v = valueOf(c);
    expect(await id.instructorOf(req(`__Host-lab_instructor=${v.slice(0, -2)}${v.endsWith('AA') ? 'BB' : 'AA'}`))).toBeNull();
    const other = new Identity(config({ secret: 'b'.repeat(64), publicUrl: 'https://lab.test' }), now);
    expect(await id.instructorOf(req(sent(await other.signInInstructor(ines))))).toBeNull();
    t += INSTRUCTOR_COOKIE_TTL_MS + 1000;
    expect(await id.instructorOf(req(sent(c)))).toBeNull();
    expect(parseSetCookie(id.signOutInstructor())).toMatchObject({ name: '__Host-lab_instructor', value: '', maxAge: 0 });
    await expect(id.signInInstructor('not/an:id')).rejects.toThrow(/not an instructor id/);
  });
});

describe('admin', () => {
  const tokenOf = (url: string) => new URL(url).searchParams.get('token')!;

  it('the sign-in link is <base>/admin/sign-in?token=…; the right token gives an admin cookie that makes requests admin', async () => {
    const id = new Identity(config({ publicUrl: 'https://lab.test' }), now);
    const url = id.adminSignInUrl('https://lab.test');
    expect(url).toMatch(/^https:\/\/lab\.test\/admin\/sign-in\?token=[A-Za-z0-9_-]{43}$/);
    const r = await id.signInAdmin(tokenOf(url));
    if (!r.ok) throw new Error(r.message);
    expect(parseSetCookie(r.setCookie)).toMatchObject({ name: '__Host-lab_admin', httpOnly: true, sameSite: 'lax', path: '/', secure: true, maxAge: ADMIN_COOKIE_TTL_MS / 1000 });
    expect((await id.principalOf(req(sent(r.setCookie)))).principal).toEqual({ kind: 'admin' });
    t += ADMIN_COOKIE_TTL_MS + 1000;
    expect((await id.principalOf(req(sent(r.setCookie)))).principal.kind).toBe('learner');
  });

  it('a wrong, empty, non-string or oversized token is refused', async () => {
    const id = new Identity(config({ adminToken: 'operator-token-0123456789' }), now);
    for (const wrong of ['operator-token-012345678', 'operator-token-0123456789x', '', undefined, 42, ['operator-token-0123456789'], 'x'.repeat(5000)]) {
      expect(await id.signInAdmin(wrong), String(wrong)).toMatchObject({ ok: false, reason: 'wrong_token' });
    }
    expect((await id.signInAdmin('operator-token-0123456789')).ok).toBe(true);
  });

  it('a generated token works once, even for two sign-ins at the same moment; an operator-set one works again', async () => {
    const id = new Identity(config(), now);
    expect(id.adminTokenGenerated).toBe(true);
    const token = tokenOf(id.adminSignInUrl('http://localhost:3000'));
    const [a, b] = await Promise.all([id.signInAdmin(token), id.signInAdmin(token)]);
    expect([a.ok, b.ok].sort()).toEqual([false, true]);
    expect(await id.signInAdmin(token)).toMatchObject({ ok: false, reason: 'used' });
    // Each start generates another token.
    expect(tokenOf(new Identity(config(), now).adminSignInUrl('http://localhost:3000'))).not.toBe(token);

    const operator = new Identity(config({ adminToken: 'operator-token-0123456789' }), now);
    expect(operator.adminTokenGenerated).toBe(false);
    expect((await operator.signInAdmin('operator-token-0123456789')).ok).toBe(true);
    expect((await operator.signInAdmin('operator-token-0123456789')).ok).toBe(true);
  });

  it('a forged, edited, learner, foreign-secret or old-token admin cookie is not admin', async () => {
    const id = new Identity(config({ adminToken: 'operator-token-0123456789' }), now);
    const r = await id.signInAdmin('operator-token-0123456789');
    if (!r.ok) throw new Error(r.message);
    const real = valueOf(r.setCookie);
    const [h, p, sig] = real.split('.');
    const learner = valueOf((await id.principalOf(req())).setCookie);
    const signIn = async (c: IdentityConfig) => {
      const x = await new Identity(c, now).signInAdmin(c.adminToken);
      return x.ok ? valueOf(x.setCookie) : 'refused';
    };
    const forged: Record<string, string> = {
      'signature changed': `${h}.${p}.${sig.slice(0, -2)}${sig.endsWith('AA') ? 'BB' : 'AA'}`,
      'alg none': new UnsecuredJWT({ sub: 'admin' }).setIssuer('container-internals-lab').setAudience('lab:admin').setIssuedAt().setExpirationTime('1h').encode(),
      'a learner cookie under the admin name': learner,
      'the learner key with the admin audience': await jws(learnerKey(), { sub: 'admin', aud: 'lab:admin' }),
      "another lab's secret": await signIn(config({ secret: 'b'.repeat(64), adminToken: 'operator-token-0123456789' })),
      'signed before LAB_ADMIN_TOKEN changed': await signIn(config({ adminToken: 'an-older-token-0123456789' })),
      garbage: 'admin',
    };
    expect((await id.principalOf(req(`lab_admin=${real}`))).principal).toEqual({ kind: 'admin' }); // control
    for (const [why, value] of Object.entries(forged)) {
      expect((await id.principalOf(req(`lab_admin=${value}`))).principal.kind, why).toBe('learner');
    }
  });
});
