/**
 * Session tokens: `<sessionId>.<expiresAtMs>.<hmac>`, HMAC-SHA256 with the
 * backend's secret. Bearer tokens for one session, short-lived; the socket
 * hands out fresh ones while it is open so a reload can reattach.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export class TokenSigner {
  constructor(private readonly secret: string, private readonly ttlMs: number, private readonly now: () => number = Date.now) {}

  issue(sessionId: string): { token: string; expiresAt: number } {
    const expiresAt = this.now() + this.ttlMs;
    const body = `${sessionId}.${expiresAt}`;
    return { token: `${body}.${this.mac(body)}`, expiresAt };
  }

  /** The session id the token was issued for, or null when forged, malformed or expired. */
  verify(token: string | null | undefined): string | null {
    if (!token || token.length > 512) return null;
    const parts = token.split('.');
    if (parts.length !== 3) return null;
    const [sessionId, exp, mac] = parts;
    const expected = Buffer.from(this.mac(`${sessionId}.${exp}`));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    if (!/^\d+$/.test(exp) || Number(exp) < this.now()) return null;
    return sessionId;
  }

  private mac(body: string): string {
    return createHmac('sha256', this.secret).update(body).digest('base64url');
  }
}
