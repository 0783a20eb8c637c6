/**
 * Who is asking: the Principal of a request, from signed cookies.
 *
 *  - An anonymous learner is a random id (128 bits) in the learner cookie, made
 *    on the first request that asks for a principal. The cookie's value is a
 *    compact JWS (HS256, `jose`) over `{ sub: <learner id>, aud: "lab:learner",
 *    iat, exp }`. A cookie that is forged, edited, expired, signed with another
 *    lab's secret, oversized or not a JWS at all is treated as absent: the
 *    request gets a NEW learner, never another learner's identity and never an
 *    error. A valid cookie older than LEARNER_RENEW_AFTER_MS is re-issued with the
 *    same id, so a learner who keeps coming back keeps their identity.
 *  - New learners are limited per client address (LAB_NEW_LEARNERS_PER_HOUR,
 *    counted per IPv4 address or IPv6 /64): past it principalOf() throws
 *    NewLearnerLimitError (429), so dropping the cookie cannot mint fresh
 *    principals to dodge per-learner caps.
 *  - The admin signs in by exchanging the admin token (LAB_ADMIN_TOKEN, or one
 *    generated at start and shown in the sign-in link) for the admin cookie, a
 *    JWS with `aud: "lab:admin"` valid ADMIN_COOKIE_TTL_MS.
 *  - An instructor (workshops) is signed in with the instructor cookie, a JWS
 *    with `aud: "lab:instructor"` and their id, valid INSTRUCTOR_COOKIE_TTL_MS;
 *    the routes that accept an invite or a password issue it
 *    (signInInstructor). It sits beside the learner cookie like the admin's.
 *
 * Cookies are httpOnly, SameSite=Lax, Path=/; when LAB_PUBLIC_URL is https they
 * are also Secure and named with the `__Host-` prefix, which browsers accept
 * only from this exact https origin (a sibling subdomain cannot plant one).
 *
 * Keys: each cookie has its own HMAC key derived from the lab's secret with HKDF
 * (info names the purpose), so neither cookie verifies as the other or as a
 * session token (tokens.ts signs with the secret itself). The admin key also
 * takes the admin token in, so a new LAB_ADMIN_TOKEN (or a restart with a
 * generated one) signs every admin out.
 *
 * State: the per-address limiter and whether the generated admin token was used
 * live in this process only; a second backend has its own (scale-out moves them
 * to the store).
 */
import { createHash, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { parseCookie, stringifySetCookie } from 'cookie';
import { jwtVerify, SignJWT } from 'jose';
import { NewLearnerLimitError } from '../errors';
import { RateLimiter } from '../ratelimit';
import { addressKey, ClientAddress, type TrustProxy } from './address';
import type { LearnerPrincipal, Principal } from './principal';

export const LEARNER_COOKIE_TTL_MS = 365 * 24 * 60 * 60_000;
export const LEARNER_RENEW_AFTER_MS = 30 * 24 * 60 * 60_000;
export const ADMIN_COOKIE_TTL_MS = 12 * 60 * 60_000;
export const INSTRUCTOR_COOKIE_TTL_MS = 12 * 60 * 60_000;
/** A longer cookie value is not read at all (ours are about 200 characters). */
const MAX_COOKIE_CHARS = 1024;
const MAX_ADMIN_TOKEN_CHARS = 256;
const ISSUER = 'container-internals-lab';
const LEARNER_AUDIENCE = 'lab:learner';
const ADMIN_AUDIENCE = 'lab:admin';
const INSTRUCTOR_AUDIENCE = 'lab:instructor';
const LEARNER_ID = /^[A-Za-z0-9_-]{22}$/;
/** What an instructor id looks like (newInstructorId). */
export const INSTRUCTOR_ID = /^[A-Za-z0-9_-]{22}$/;

/** A new random instructor id (128 bits). */
export function newInstructorId(): string {
  return randomBytes(16).toString('base64url');
}

export interface IdentityConfig {
  /** The lab's secret (config.secret); the cookie keys are derived from it. */
  secret: string;
  /** LAB_PUBLIC_URL: https makes the cookies Secure. */
  publicUrl: string | null;
  trustProxy: TrustProxy;
  /** LAB_ADMIN_TOKEN, or null to generate one at start-up. */
  adminToken: string | null;
  newLearnersPerAddressPerHour: number;
}

/** What principalOf() reads of a request (an IncomingMessage has it). */
export interface RequestLike {
  headers: IncomingHttpHeaders;
  socket: { remoteAddress?: string };
}

export interface Identified {
  principal: Principal;
  /** The client address (after LAB_TRUST_PROXY), for per-address limits. */
  address: string;
  /** A Set-Cookie header value to send with the response: a new or renewed learner cookie. */
  setCookie?: string;
  /** True when this request made a new learner. */
  created: boolean;
}

export type AdminSignIn = { ok: true; setCookie: string } | { ok: false; reason: 'wrong_token' | 'used'; message: string };

function deriveKey(secret: string, purpose: string, salt = ''): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', secret, salt, `${ISSUER} identity: ${purpose} v1`, 32));
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();

export class Identity {
  /** True when the admin token was generated here (and is single-use); false for LAB_ADMIN_TOKEN. */
  readonly adminTokenGenerated: boolean;
  private readonly adminToken: string;
  private generatedTokenUsed = false;
  private readonly learnerKey: Uint8Array;
  private readonly adminKey: Uint8Array;
  private readonly instructorKey: Uint8Array;
  private readonly secure: boolean;
  private readonly names: { learner: string; admin: string; instructor: string };
  private readonly addresses: ClientAddress;
  private readonly newLearners: RateLimiter;

  constructor(
    config: IdentityConfig,
    private readonly now: () => number = Date.now,
  ) {
    this.adminTokenGenerated = config.adminToken === null;
    this.adminToken = config.adminToken ?? randomBytes(32).toString('base64url');
    this.learnerKey = deriveKey(config.secret, 'learner cookie');
    this.adminKey = deriveKey(config.secret, 'admin cookie', sha256(this.adminToken).toString('hex'));
    this.instructorKey = deriveKey(config.secret, 'instructor cookie');
    this.secure = !!config.publicUrl?.startsWith('https:');
    const prefix = this.secure ? '__Host-' : '';
    this.names = { learner: `${prefix}lab_learner`, admin: `${prefix}lab_admin`, instructor: `${prefix}lab_instructor` };
    this.addresses = new ClientAddress(config.trustProxy);
    this.newLearners = new RateLimiter(Math.max(1, config.newLearnersPerAddressPerHour), 60 * 60_000, now);
  }

  /** The client address of a request, by LAB_TRUST_PROXY (see address.ts). */
  clientAddress(req: RequestLike): string {
    return this.addresses.of(req.socket.remoteAddress, req.headers['x-forwarded-for']);
  }

  /**
   * The principal of a request: the admin with a valid admin cookie, else the
   * learner of a valid learner cookie, else a new learner (with `setCookie` to
   * send). Throws NewLearnerLimitError only when a new learner would be made
   * and the address is over its limit. Reads nothing but the request's headers
   * and socket address; never fails on bad cookies.
   */
  async principalOf(req: RequestLike, opts: { learnerOnly?: boolean } = {}): Promise<Identified> {
    const address = this.clientAddress(req);
    const cookies = this.cookiesOf(req);
    if (!opts.learnerOnly && (await this.verify(cookies[this.names.admin], this.adminKey, ADMIN_AUDIENCE))) {
      return { principal: { kind: 'admin' }, address, created: false };
    }
    const known = await this.verify(cookies[this.names.learner], this.learnerKey, LEARNER_AUDIENCE);
    if (known?.sub && LEARNER_ID.test(known.sub)) {
      const principal: LearnerPrincipal = { kind: 'learner', learnerId: known.sub };
      const renew = this.now() - known.iatMs > LEARNER_RENEW_AFTER_MS;
      return { principal, address, created: false, ...(renew ? { setCookie: await this.learnerCookie(known.sub) } : {}) };
    }
    const wait = this.newLearners.take(addressKey(address));
    if (wait > 0) throw new NewLearnerLimitError(wait);
    const learnerId = randomBytes(16).toString('base64url');
    return { principal: { kind: 'learner', learnerId }, address, created: true, setCookie: await this.learnerCookie(learnerId) };
  }

  /**
   * The principal a request's cookies prove, or null when they prove none
   * (`learnerOnly`: the learner cookie alone, as principalOf's).
   * Unlike principalOf() it never makes a learner or renews a cookie: for
   * reads (progress, the socket) that must not mint identities.
   */
  async knownPrincipalOf(req: RequestLike, opts: { learnerOnly?: boolean } = {}): Promise<Principal | null> {
    const cookies = this.cookiesOf(req);
    if (!opts.learnerOnly && (await this.verify(cookies[this.names.admin], this.adminKey, ADMIN_AUDIENCE))) return { kind: 'admin' };
    const known = await this.verify(cookies[this.names.learner], this.learnerKey, LEARNER_AUDIENCE);
    return known?.sub && LEARNER_ID.test(known.sub) ? { kind: 'learner', learnerId: known.sub } : null;
  }

  /**
   * The Set-Cookie value that signs this browser in as learner `learnerId`
   * (a redeemed device-transfer code). Only for ids this lab made: anything
   * else is refused, so a store record cannot smuggle in a different shape.
   */
  async signInLearner(learnerId: string): Promise<string> {
    if (!LEARNER_ID.test(learnerId)) throw new Error(`not a learner id this lab makes: ${JSON.stringify(learnerId).slice(0, 40)}`);
    return this.learnerCookie(learnerId);
  }

  /**
   * The admin sign-in link, `<baseUrl>/admin/sign-in?token=…` (baseUrl: the
   * lab's public origin, or the address `npm start` prints). It carries the
   * admin token itself: print it only where the operator alone reads it.
   */
  adminSignInUrl(baseUrl: string): string {
    const url = new URL('/admin/sign-in', baseUrl);
    url.searchParams.set('token', this.adminToken);
    return url.toString();
  }

  /**
   * Exchanges an admin token for the admin cookie. The comparison is constant
   * time (of SHA-256 digests, so the token's length does not show either).
   *
   * "One-time": a generated token works once; after that it is refused
   * ('used') until the next start, which generates and prints a new one. An
   * operator-set LAB_ADMIN_TOKEN is a standing credential the operator keeps:
   * it may be exchanged any number of times (another browser, after the cookie
   * expires, after a restart), and changing it revokes every admin cookie.
   */
  async signInAdmin(token: unknown): Promise<AdminSignIn> {
    const given = typeof token === 'string' && token.length <= MAX_ADMIN_TOKEN_CHARS ? token : '';
    if (!timingSafeEqual(sha256(given), sha256(this.adminToken)) || !given) {
      return { ok: false, reason: 'wrong_token', message: 'This admin sign-in link or token is not valid.' };
    }
    if (this.adminTokenGenerated) {
      // Marked before the first await, so two sign-ins racing with one link cannot both succeed.
      if (this.generatedTokenUsed) {
        return { ok: false, reason: 'used', message: 'This admin sign-in link was already used. Restart the lab for a new one, or set LAB_ADMIN_TOKEN.' };
      }
      this.generatedTokenUsed = true;
    }
    const value = await this.sign('admin', this.adminKey, ADMIN_AUDIENCE, ADMIN_COOKIE_TTL_MS);
    return { ok: true, setCookie: this.cookie(this.names.admin, value, ADMIN_COOKIE_TTL_MS) };
  }

  /** The Set-Cookie value that signs this browser in as instructor `instructorId` (after their invite or password was checked). */
  async signInInstructor(instructorId: string): Promise<string> {
    if (!INSTRUCTOR_ID.test(instructorId)) throw new Error(`not an instructor id this lab makes: ${JSON.stringify(instructorId).slice(0, 40)}`);
    const value = await this.sign(instructorId, this.instructorKey, INSTRUCTOR_AUDIENCE, INSTRUCTOR_COOKIE_TTL_MS);
    return this.cookie(this.names.instructor, value, INSTRUCTOR_COOKIE_TTL_MS);
  }

  /** The instructor a request's instructor cookie proves, or null. (Whether they still exist is the store's to say.) */
  async instructorOf(req: RequestLike): Promise<string | null> {
    const known = await this.verify(this.cookiesOf(req)[this.names.instructor], this.instructorKey, INSTRUCTOR_AUDIENCE);
    return known?.sub && INSTRUCTOR_ID.test(known.sub) ? known.sub : null;
  }

  /** The Set-Cookie value that signs the instructor out. */
  signOutInstructor(): string {
    return stringifySetCookie({ name: this.names.instructor, value: '', httpOnly: true, sameSite: 'lax', path: '/', secure: this.secure, maxAge: 0 });
  }

  private cookiesOf(req: RequestLike): Record<string, string | undefined> {
    const header = req.headers.cookie;
    return typeof header === 'string' ? parseCookie(header) : {};
  }

  private async learnerCookie(learnerId: string): Promise<string> {
    return this.cookie(this.names.learner, await this.sign(learnerId, this.learnerKey, LEARNER_AUDIENCE, LEARNER_COOKIE_TTL_MS), LEARNER_COOKIE_TTL_MS);
  }

  private cookie(name: string, value: string, ttlMs: number): string {
    return stringifySetCookie({ name, value, httpOnly: true, sameSite: 'lax', path: '/', secure: this.secure, maxAge: Math.floor(ttlMs / 1000) });
  }

  private sign(subject: string, key: Uint8Array, audience: string, ttlMs: number): Promise<string> {
    const nowS = Math.floor(this.now() / 1000);
    return new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(ISSUER)
      .setAudience(audience)
      .setSubject(subject)
      .setIssuedAt(nowS)
      .setExpirationTime(nowS + Math.floor(ttlMs / 1000))
      .sign(key);
  }

  /** The subject and issue time of a valid cookie value, or null for anything else. */
  private async verify(value: string | undefined, key: Uint8Array, audience: string): Promise<{ sub: string; iatMs: number } | null> {
    if (!value || value.length > MAX_COOKIE_CHARS) return null;
    try {
      const { payload } = await jwtVerify(value, key, {
        algorithms: ['HS256'],
        issuer: ISSUER,
        audience,
        requiredClaims: ['sub', 'iat', 'exp'],
        currentDate: new Date(this.now()),
      });
      return typeof payload.sub === 'string' && typeof payload.iat === 'number' ? { sub: payload.sub, iatMs: payload.iat * 1000 } : null;
    } catch {
      return null;
    }
  }
}
