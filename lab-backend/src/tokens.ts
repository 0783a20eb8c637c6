/**
 * Two kinds of signed credential for one session, both HMAC-SHA256 with the
 * backend's secret:
 *
 *  - access token `<sessionId>.<expiresAtMs>.<hmac>`: a short-lived bearer
 *    token (LAB_TOKEN_TTL_MS) for the socket, checks, extend and delete. The
 *    socket hands out fresh ones while it is open (LAB_TOKEN_REFRESH_MS).
 *  - resume credential `resume.<sessionId>.<expiresAtMs>.<hmac>`: lives as long
 *    as the session can (its lifetime plus every extension left), and is good
 *    for one thing only: `POST /lab-api/sessions` with `resume`, which answers
 *    with a fresh access token for that same session while it lives. So a page
 *    reloaded after its access token expired still gets its own sandbox back.
 *
 * The two never stand in for each other: `verify()` refuses a resume
 * credential (four parts) and `verifyResume()` an access token, and their MACs
 * cover different texts (`<id>.<exp>` against `resume.<id>.<exp>`), so neither
 * can be rewritten into the other. Either names the one session it was issued
 * for; callers compare that with the session asked for.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

const MAX_TOKEN_CHARS = 512;
const RESUME_PREFIX = 'resume';

export class TokenSigner {
  constructor(
    private readonly secret: string,
    private readonly ttlMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  issue(sessionId: string): { token: string; expiresAt: number } {
    const expiresAt = this.now() + this.ttlMs;
    const body = `${sessionId}.${expiresAt}`;
    return { token: `${body}.${this.mac(body)}`, expiresAt };
  }

  /** The session id the access token was issued for, or null when forged, malformed, expired or not an access token. */
  verify(token: string | null | undefined): string | null {
    if (typeof token !== 'string' || token.length > MAX_TOKEN_CHARS) return null;
    const parts = token.split('.');
    if (parts.length !== 3) return null;
    const [sessionId, exp, mac] = parts;
    return this.valid(`${sessionId}.${exp}`, exp, mac) ? sessionId : null;
  }

  /** A resume credential for `sessionId`, valid until `expiresAt` (ms since epoch). */
  issueResume(sessionId: string, expiresAt: number): { resumeToken: string; expiresAt: number } {
    const body = `${RESUME_PREFIX}.${sessionId}.${Math.floor(expiresAt)}`;
    return { resumeToken: `${body}.${this.mac(body)}`, expiresAt: Math.floor(expiresAt) };
  }

  /** The session id a resume credential was issued for, or null when forged, malformed, expired or not a resume credential. */
  verifyResume(resumeToken: string | null | undefined): string | null {
    if (typeof resumeToken !== 'string' || resumeToken.length > MAX_TOKEN_CHARS) return null;
    const parts = resumeToken.split('.');
    if (parts.length !== 4 || parts[0] !== RESUME_PREFIX) return null;
    const [, sessionId, exp, mac] = parts;
    return this.valid(`${RESUME_PREFIX}.${sessionId}.${exp}`, exp, mac) ? sessionId : null;
  }

  private valid(body: string, exp: string, mac: string): boolean {
    const expected = Buffer.from(this.mac(body));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return false;
    return /^\d+$/.test(exp) && Number(exp) >= this.now();
  }

  private mac(body: string): string {
    return createHmac('sha256', this.secret).update(body).digest('base64url');
  }
}
