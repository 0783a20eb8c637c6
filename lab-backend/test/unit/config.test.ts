import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config';
import { hostAllowed } from '../../src/http-guard';
import { TokenSigner } from '../../src/tokens';

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(path.join(os.tmpdir(), 'lab-config-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('token signing key', () => {
  it('is made once in <stateDir>/signing.key (32 bytes, mode 0600) and read again by the next start', () => {
    const stateDir = path.join(tempDir(), 'state'); // does not exist yet
    const first = loadConfig({ LAB_STATE_DIR: stateDir });
    const file = path.join(stateDir, 'signing.key');
    const st = statSync(file);
    expect(st.size).toBe(32);
    expect(st.mode & 0o777).toBe(0o600);
    expect(readdirSync(stateDir)).toEqual(['signing.key']); // no temporary file left
    const second = loadConfig({ LAB_STATE_DIR: stateDir });
    expect(second.secret).toBe(first.secret);
    expect(first.secret).toMatch(/^[0-9a-f]{64}$/);
  });

  it('a token issued before a restart verifies after it', () => {
    const stateDir = tempDir();
    const before = loadConfig({ LAB_STATE_DIR: stateDir });
    const { token } = new TokenSigner(before.secret, before.tokenTtlMs).issue('s123');
    const after = loadConfig({ LAB_STATE_DIR: stateDir }); // a new process: config read again
    expect(new TokenSigner(after.secret, after.tokenTtlMs).verify(token)).toBe('s123');
    // Another state dir is another lab: its key does not verify this one's tokens.
    const other = loadConfig({ LAB_STATE_DIR: tempDir() });
    expect(new TokenSigner(other.secret, other.tokenTtlMs).verify(token)).toBeNull();
  });

  it('LAB_SECRET wins and writes no file', () => {
    const stateDir = tempDir();
    expect(loadConfig({ LAB_STATE_DIR: stateDir, LAB_SECRET: 'operator-secret' }).secret).toBe('operator-secret');
    expect(readdirSync(stateDir)).toEqual([]);
  });

  it('refuses a key file others can read, or one of the wrong size, saying what to do', () => {
    const stateDir = tempDir();
    const file = path.join(stateDir, 'signing.key');
    writeFileSync(file, Buffer.alloc(32, 1), { mode: 0o644 });
    chmodSync(file, 0o644);
    expect(() => loadConfig({ LAB_STATE_DIR: stateDir })).toThrow(/readable by other users.*chmod 600/);
    chmodSync(file, 0o600);
    expect(loadConfig({ LAB_STATE_DIR: stateDir }).secret).toBe('01'.repeat(32));
    writeFileSync(file, 'short');
    expect(() => loadConfig({ LAB_STATE_DIR: stateDir })).toThrow(/5 bytes, not 32: delete it/);
  });
});

describe('hosts and origins', () => {
  const env = (over: Record<string, string>) => ({ LAB_STATE_DIR: tempDir(), ...over });

  it('LAB_PUBLIC_URL must be an http(s) origin; the error names the variable', () => {
    expect(loadConfig(env({ LAB_PUBLIC_URL: 'https://Lab.School.example/' })).publicUrl).toBe('https://lab.school.example');
    for (const bad of ['lab.school.example', 'ftp://lab.school.example', 'https://lab.school.example/lab', 'https://u:p@lab.school.example']) {
      expect(() => loadConfig(env({ LAB_PUBLIC_URL: bad })), bad).toThrow(/LAB_PUBLIC_URL/);
    }
  });

  it("LAB_ALLOWED_HOSTS replaces the default; LAB_PUBLIC_URL's host is always allowed", () => {
    const c = loadConfig(env({ LAB_ALLOWED_HOSTS: 'lab.internal, *.lab.internal', LAB_PUBLIC_URL: 'https://lab.school.example' }));
    expect(hostAllowed('lab.internal:3000', c.allowedHosts)).toBe(true);
    expect(hostAllowed('a.lab.internal', c.allowedHosts)).toBe(true);
    expect(hostAllowed('lab.school.example', c.allowedHosts)).toBe(true);
    expect(hostAllowed('localhost:3000', c.allowedHosts)).toBe(false);
  });

  it("by default allows localhost and this machine's names, not others", () => {
    const c = loadConfig(env({}));
    for (const h of ['localhost:3000', '127.0.0.1:3000', '[::1]:3000', `${os.hostname()}:3000`]) expect(hostAllowed(h, c.allowedHosts), h).toBe(true);
    expect(hostAllowed('evil.example:3000', c.allowedHosts)).toBe(false);
  });

  it('LAB_ALLOWED_ORIGINS are normalised, and a malformed one is an error naming the variable', () => {
    expect(loadConfig(env({ LAB_ALLOWED_ORIGINS: 'HTTPS://School.example:443/, http://b.example:8080' })).allowedOrigins).toEqual([
      'https://school.example',
      'http://b.example:8080',
    ]);
    expect(() => loadConfig(env({ LAB_ALLOWED_ORIGINS: 'school.example' }))).toThrow(/LAB_ALLOWED_ORIGINS/);
  });
});

describe('token lifetimes', () => {
  const env = (over: Record<string, string>) => ({ LAB_STATE_DIR: tempDir(), ...over });

  it('default to a 5-minute token refreshed every minute; both can be set', () => {
    expect(loadConfig(env({}))).toMatchObject({ tokenTtlMs: 300_000, tokenRefreshMs: 60_000 });
    expect(loadConfig(env({ LAB_TOKEN_TTL_MS: '4000', LAB_TOKEN_REFRESH_MS: '1000' }))).toMatchObject({ tokenTtlMs: 4_000, tokenRefreshMs: 1_000 });
    // A TTL of a minute or less, with no refresh interval given: refreshed at half the TTL.
    expect(loadConfig(env({ LAB_TOKEN_TTL_MS: '30000' })).tokenRefreshMs).toBe(15_000);
  });

  it("a refresh interval that would let an open socket's token lapse is an error naming both variables", () => {
    for (const [ttl, refresh] of [
      ['4000', '4000'],
      ['4000', '9000'],
      ['4000', '0'],
      ['300000', '-1'],
      ['300000', 'soon'],
    ]) {
      expect(() => loadConfig(env({ LAB_TOKEN_TTL_MS: ttl, LAB_TOKEN_REFRESH_MS: refresh }))).toThrow(/LAB_TOKEN_REFRESH_MS/);
    }
    expect(() => loadConfig(env({ LAB_TOKEN_REFRESH_MS: '300000' }))).toThrow(/below LAB_TOKEN_TTL_MS \(300000\)/);
    expect(() => loadConfig(env({ LAB_TOKEN_TTL_MS: '0' }))).toThrow(/LAB_TOKEN_TTL_MS must be above 0/);
  });
});

describe('identity', () => {
  const env = (over: Record<string, string>) => ({ LAB_STATE_DIR: tempDir(), ...over });

  it('LAB_TRUST_PROXY is off by default; true, a hop count or a list of proxies; anything else is an error naming it', () => {
    expect(loadConfig(env({})).trustProxy).toEqual({ kind: 'off' });
    expect(loadConfig(env({ LAB_TRUST_PROXY: 'true' })).trustProxy).toEqual({ kind: 'hops', hops: 1 });
    expect(loadConfig(env({ LAB_TRUST_PROXY: '2' })).trustProxy).toEqual({ kind: 'hops', hops: 2 });
    expect(loadConfig(env({ LAB_TRUST_PROXY: '127.0.0.1, 10.0.0.0/8' })).trustProxy).toEqual({ kind: 'list', ranges: ['127.0.0.1', '10.0.0.0/8'] });
    for (const bad of ['yes', 'proxy.internal', '10.0.0.0/40']) expect(() => loadConfig(env({ LAB_TRUST_PROXY: bad })), bad).toThrow(/LAB_TRUST_PROXY/);
  });

  it('LAB_ADMIN_TOKEN: unset means generate one; a short or spaced one is an error naming it', () => {
    expect(loadConfig(env({})).adminToken).toBeNull();
    expect(loadConfig(env({ LAB_ADMIN_TOKEN: '' })).adminToken).toBeNull();
    expect(loadConfig(env({ LAB_ADMIN_TOKEN: 'f'.repeat(64) })).adminToken).toBe('f'.repeat(64));
    for (const bad of ['short', 'has white space in it!', 'x'.repeat(257)]) expect(() => loadConfig(env({ LAB_ADMIN_TOKEN: bad })), bad).toThrow(/LAB_ADMIN_TOKEN/);
  });

  it('LAB_NEW_LEARNERS_PER_HOUR defaults to 60 and must be at least 1', () => {
    expect(loadConfig(env({})).newLearnersPerAddressPerHour).toBe(60);
    expect(loadConfig(env({ LAB_NEW_LEARNERS_PER_HOUR: '5' })).newLearnersPerAddressPerHour).toBe(5);
    for (const bad of ['0', '-3', '2.5', 'many']) expect(() => loadConfig(env({ LAB_NEW_LEARNERS_PER_HOUR: bad })), bad).toThrow(/LAB_NEW_LEARNERS_PER_HOUR/);
  });
});

describe('database path', () => {
  it('is <LAB_DIR>/lab.db by default, outside the reaped state dir; LAB_DATABASE moves it (relative to the root)', () => {
    const root = tempDir();
    const stateDir = path.join(root, 'elsewhere-state');
    expect(loadConfig({ LAB_STATE_DIR: stateDir }, root).databasePath).toBe(path.join(root, '.lab', 'lab.db'));
    expect(loadConfig({ LAB_STATE_DIR: stateDir, LAB_DIR: 'run' }, root).databasePath).toBe(path.join(root, 'run', 'lab.db'));
    expect(loadConfig({ LAB_STATE_DIR: stateDir, LAB_DATABASE: 'data/my.db' }, root).databasePath).toBe(path.join(root, 'data', 'my.db'));
    expect(loadConfig({ LAB_STATE_DIR: stateDir, LAB_DATABASE: '/srv/lab/lab.db' }, root).databasePath).toBe('/srv/lab/lab.db');
    // Empty counts as unset.
    expect(loadConfig({ LAB_STATE_DIR: stateDir, LAB_DATABASE: '' }, root).databasePath).toBe(path.join(root, '.lab', 'lab.db'));
  });
});
