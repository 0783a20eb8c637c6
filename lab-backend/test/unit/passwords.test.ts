/** Instructors' passwords: scrypt records that verify, refuse a wrong password, and refuse malformed or costly records. */
import { describe, expect, it } from 'vitest';
import { PASSWORD_MIN, hashPassword, passwordProblem, verifyPassword } from '../../src/identity/passwords';

const FAST = { N: 1 << 10, r: 8, p: 1 }; // the same code path at a test's cost

describe('instructor passwords (scrypt)', () => {
  it('a hash verifies its password only, and two hashes of one password differ (salted)', async () => {
    const a = await hashPassword('correct horse battery', FAST);
    const b = await hashPassword('correct horse battery', FAST);
    expect(a).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword('correct horse battery', a)).toBe(true);
    expect(await verifyPassword('correct horse batterY', a)).toBe(false);
    expect(await verifyPassword('', a)).toBe(false);
    // Unicode forms of one password are one password.
    expect(await verifyPassword('cafe\u0301 au lait!', await hashPassword('café au lait!', FAST))).toBe(true);
  });

  it('the default cost is the one stored', async () => {
    expect(await hashPassword('a long enough one')).toMatch(/^scrypt\$32768\$8\$1\$/);
  });

  it('a missing, malformed or too costly record matches nothing', async () => {
    const good = await hashPassword('correct horse battery', FAST);
    const parts = good.split('$');
    for (const bad of [
      null,
      '',
      'plain',
      good.replace('scrypt', 'bcrypt'),
      [...parts.slice(0, 1), String(1 << 24), ...parts.slice(2)].join('$'),
      [...parts.slice(0, 1), '1000', ...parts.slice(2)].join('$'),
      `${good}x$`,
      parts.slice(0, 5).join('$') + '$AAAA',
    ]) {
      expect(await verifyPassword('correct horse battery', bad), String(bad)).toBe(false);
    }
  });

  it('a new password is refused when too short, too long or not text', () => {
    expect(passwordProblem('x'.repeat(PASSWORD_MIN))).toBeNull();
    expect(passwordProblem('x'.repeat(PASSWORD_MIN - 1))).toMatch(/at least/);
    expect(passwordProblem('x'.repeat(201))).toMatch(/at most/);
    expect(passwordProblem(42)).toMatch(/Type a password/);
  });
});
