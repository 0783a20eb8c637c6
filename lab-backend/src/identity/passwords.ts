/**
 * Instructors' passwords (optional: an instructor signs in through their
 * invite link, and may set one). Stored as scrypt (node:crypto, RFC 7914)
 * with a random 16-byte salt and the cost parameters in the record, so they
 * can be raised later without breaking old hashes:
 *     scrypt$<N>$<r>$<p>$<salt base64url>$<hash base64url>
 * Verification takes the same time whether or not the password matches
 * (timingSafeEqual), and a malformed record matches nothing.
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const scrypt = (password: string, salt: Buffer, keylen: number, options: ScryptOptions) =>
  new Promise<Buffer>((resolve, reject) => scryptCb(password, salt, keylen, options, (err, key) => (err ? reject(err) : resolve(key))));

/** N = 2^15, r = 8, p = 1: about 32 MiB and 50-100 ms per hash on this kind of machine (OWASP's scrypt minimum is N = 2^17 with r = 8 at p = 1 for 128 MiB; the lab holds fewer secrets than a bank and runs on 2 cores). */
export const SCRYPT_PARAMS = { N: 1 << 15, r: 8, p: 1 } as const;
const KEY_BYTES = 32;
export const PASSWORD_MIN = 10;
export const PASSWORD_MAX = 200;

/** Why a new password is refused, or null. */
export function passwordProblem(password: unknown): string | null {
  if (typeof password !== 'string') return 'Type a password.';
  if ([...password].length < PASSWORD_MIN) return `A password is at least ${PASSWORD_MIN} characters.`;
  if ([...password].length > PASSWORD_MAX) return `A password is at most ${PASSWORD_MAX} characters.`;
  return null;
}

export async function hashPassword(password: string, params: { N: number; r: number; p: number } = SCRYPT_PARAMS): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password.normalize('NFC'), salt, KEY_BYTES, { ...params, maxmem: 256 * params.N * params.r });
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

export async function verifyPassword(password: string, stored: string | null): Promise<boolean> {
  const m = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/.exec(stored ?? '');
  if (!m || typeof password !== 'string') return false;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  // Bounds: a stored record never makes verification cost more than the lab would ever choose.
  if (!(N >= 2 && N <= 1 << 20 && (N & (N - 1)) === 0 && r >= 1 && r <= 32 && p >= 1 && p <= 4)) return false;
  const want = Buffer.from(m[5], 'base64url');
  if (want.length !== KEY_BYTES) return false;
  const got = await scrypt(password.normalize('NFC'), Buffer.from(m[4], 'base64url'), KEY_BYTES, { N, r, p, maxmem: 256 * N * r });
  return timingSafeEqual(got, want);
}
