/**
 * Configuration, read once from the environment. Every knob has a default that
 * works on a single host; units are in the names.
 */
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import type { RuntimeName } from './wire';
import { defaultImageDir } from './images';
import { defaultAllowedHosts, normaliseOrigin } from './http-guard';
import { parseTrustProxy, type TrustProxy } from './identity/address';

export interface LabConfig {
  port: number;
  host: string;
  /** Normalised origins allowed to open sockets and call the API; empty = the lab's own origin (see http-guard.ts). */
  allowedOrigins: string[];
  /** Host names the lab answers to (every request's Host header); see http-guard.ts hostAllowed(). */
  allowedHosts: string[];
  /** The lab's public origin (LAB_PUBLIC_URL, normalised), or null: always an allowed origin and host. */
  publicUrl: string | null;
  /**
   * HMAC key for session tokens: LAB_SECRET, else the key in `<stateDir>/signing.key`
   * (made once, 32 random bytes, mode 0600), so tokens outlive a backend restart.
   */
  secret: string;
  /** LAB_TRUST_PROXY: when X-Forwarded-For is believed for the client address (see identity/address.ts). */
  trustProxy: TrustProxy;
  /** LAB_ADMIN_TOKEN, or null: a single-use token is generated at start-up (see identity/identity.ts). */
  adminToken: string | null;
  /** New anonymous learners one client address (an IPv6 /64) may make per hour (LAB_NEW_LEARNERS_PER_HOUR, at least 1). */
  newLearnersPerAddressPerHour: number;
  /** Lifetime of an access token (the resume credential lives as long as its session can). */
  tokenTtlMs: number;
  /** How often an open socket is sent a fresh token; above 0 and below tokenTtlMs, so a token never lapses while its socket is open. */
  tokenRefreshMs: number;
  /** All sandbox state lives under here and is reaped at start-up. */
  stateDir: string;
  /**
   * The Store's SQLite file (LAB_DATABASE, else `<LAB_DIR>/lab.db`): learners,
   * sessions, check results, saved work. Outside stateDir by default, so
   * nothing that reaps sandbox state comes near it.
   */
  databasePath: string;
  /** Built lesson images (a cache keyed by recipe hash; not reaped). */
  imageDir: string;
  contentDir: string;
  runtimes: RuntimeName[];
  maxSandboxes: number;
  maxSandboxesPerClient: number;
  sessionsPerClientPerMinute: number;
  idleTimeoutMs: number;
  maxLifetimeMs: number;
  /** How long before an idle/lifetime end the learner is warned. */
  warnBeforeEndMs: number;
  /** A session whose last socket closed survives this long, for a reload to reattach. */
  reconnectGraceMs: number;
  /** How long a sandbox outlives a backend killed without shutting down (-9, crash) before its watchdog ends it; a restart within it could adopt it. */
  orphanGraceMs: number;
  checkTimeoutMs: number;
  /**
   * LAB_START_TIMEOUT_MS: how long a learner's sandbox may take from "starting"
   * to ready (boot, setup script, shell); past it the session ends with reason
   * start_timeout and its slot is free. A microVM under TCG on a loaded host
   * takes up to ~30 s, so the default leaves room.
   */
  startTimeoutMs: number;
  /**
   * LAB_MAX_SANDBOXES_PER_ADDRESS: learners' sandboxes one client address
   * (an IPv4 address, an IPv6 /64) may hold, all its learners together, so
   * that dropping cookies cannot take the whole lab from one machine. Raise it
   * for a class behind one NAT address.
   */
  maxSandboxesPerAddress: number;
  /** LAB_SAVED_WORK_BYTES: the largest archive of a learner's files that is saved when a session ends (over it: not saved, and they are told). */
  savedWorkBytes: number;
  checkOutputBytes: number;
  /** Learners who may wait for a free slot when the lab is full; beyond that a new session is refused. */
  maxQueue: number;
  /** What one "extend" adds to a session's lifetime, and how often a session may be extended. */
  extendByMs: number;
  maxExtends: number;
  /**
   * Warm pool: ready-made sandboxes kept per lesson of each runtime (setup
   * done, shell started), so a learner's start is just an attach. They do not
   * count against anyone's lifetime until claimed; together with the learners'
   * sandboxes they stay within maxSandboxes.
   */
  poolSizes: Record<RuntimeName, number>;
  sandbox: {
    memoryLimitBytes: number;
    /**
     * Host pids cgroup limit. Under gVisor (ptrace) it counts runsc's own
     * host threads too, roughly 8–9 per process inside the sandbox, so it
     * must be generous: at the limit runsc cannot make a thread and the
     * sandbox dies (the learner's fork bomb kills only their own sandbox).
     */
    pidsLimit: number;
    cpuQuotaMillicores: number;
    /** runc's writable layer (a tmpfs); see SandboxLimits.diskLimitBytes for the other runtimes. */
    diskLimitBytes: number;
  };
}

function num(env: Record<string, string | undefined>, key: string, dflt: number): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${key} must be a non-negative number, got "${raw}"`);
  return n;
}

/** LAB_PUBLIC_URL: an http(s) origin (the site is served at the root), or null. */
function publicUrlFrom(raw: string | undefined): string | null {
  if (raw === undefined || raw.trim() === '') return null;
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    throw new Error(`LAB_PUBLIC_URL must be an http:// or https:// URL such as https://lab.example.com, got "${raw}"`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`LAB_PUBLIC_URL must be an http:// or https:// URL, got "${raw}"`);
  if (u.username || u.password || u.search || u.hash || (u.pathname !== '/' && u.pathname !== '')) {
    throw new Error(`LAB_PUBLIC_URL must be the lab's origin only (scheme://host[:port], the site is served at its root), got "${raw}"`);
  }
  return u.origin;
}

function originsFrom(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((o) => {
      const n = normaliseOrigin(o);
      if (!n) throw new Error(`LAB_ALLOWED_ORIGINS: "${o}" is not an http(s) origin such as https://lab.example.com`);
      return n;
    });
}

export const SIGNING_KEY_FILE = 'signing.key';
const SIGNING_KEY_BYTES = 32;

/**
 * The token signing key in `<stateDir>/signing.key`, made on first use. Creation
 * is atomic (a fsynced temporary file hard-linked into place, which fails if
 * another process got there first), so two backends starting at once agree on
 * one key and nobody ever reads a half-written one. The drivers' reapers only
 * touch their own subdirectories (`gvisor/`, `runc/`, `microvm/`), never this file.
 */
export function loadSigningKey(stateDir: string): string {
  const file = path.join(stateDir, SIGNING_KEY_FILE);
  const read = () => {
    const st = statSync(file);
    if (st.mode & 0o077)
      throw new Error(
        `${file} is readable by other users (mode ${(st.mode & 0o777).toString(8)}): chmod 600 it, or delete it to make a new key (every open lab session's token becomes invalid)`,
      );
    const key = readFileSync(file);
    if (key.length !== SIGNING_KEY_BYTES)
      throw new Error(
        `${file} holds ${key.length} bytes, not ${SIGNING_KEY_BYTES}: delete it to make a new key (every open lab session's token becomes invalid), or set LAB_SECRET`,
      );
    return key.toString('hex');
  };
  try {
    return read();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  mkdirSync(stateDir, { recursive: true });
  const tmp = `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, randomBytes(SIGNING_KEY_BYTES));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e; // another process made it first: use theirs
  } finally {
    unlinkSync(tmp);
  }
  try {
    const dir = openSync(stateDir, 'r');
    try {
      fsyncSync(dir);
    } finally {
      closeSync(dir);
    }
  } catch {
    /* best effort */
  }
  return read();
}

const MIN_ADMIN_TOKEN_CHARS = 16;

/** LAB_ADMIN_TOKEN: unset or empty = generate one; else at least 16 characters, no white space (it travels in a URL query). */
function adminTokenFrom(raw: string | undefined): string | null {
  if (raw === undefined || raw === '') return null;
  if (raw.length < MIN_ADMIN_TOKEN_CHARS || raw.length > 256 || /\s/.test(raw)) {
    throw new Error(
      `LAB_ADMIN_TOKEN must be ${MIN_ADMIN_TOKEN_CHARS} to 256 characters without white space (e.g. the output of "openssl rand -hex 32"), or unset to have one generated at each start`,
    );
  }
  return raw;
}

function countAtLeastOne(env: Record<string, string | undefined>, key: string, dflt: number): number {
  const n = num(env, key, dflt);
  if (n < 1 || !Number.isInteger(n)) throw new Error(`${key} must be a whole number of at least 1, got "${env[key]}"`);
  return n;
}

/** Largest delay a Node timer takes (a longer one fires at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;

function tokenTimesFrom(env: Record<string, string | undefined>): { tokenTtlMs: number; tokenRefreshMs: number } {
  const tokenTtlMs = num(env, 'LAB_TOKEN_TTL_MS', 5 * 60_000);
  // Unset, it is a minute, or half the TTL when the TTL is a minute or less.
  const tokenRefreshMs = num(env, 'LAB_TOKEN_REFRESH_MS', Math.min(60_000, Math.floor(tokenTtlMs / 2)));
  if (tokenTtlMs <= 0) throw new Error(`LAB_TOKEN_TTL_MS must be above 0, got "${env.LAB_TOKEN_TTL_MS}"`);
  if (tokenRefreshMs <= 0 || tokenRefreshMs >= tokenTtlMs || tokenRefreshMs > MAX_TIMER_MS) {
    throw new Error(
      `LAB_TOKEN_REFRESH_MS (${tokenRefreshMs}) must be above 0 and below LAB_TOKEN_TTL_MS (${tokenTtlMs}), so an open socket gets a fresh token before its current one expires`,
    );
  }
  return { tokenTtlMs, tokenRefreshMs };
}

export function loadConfig(env: Record<string, string | undefined> = process.env, root = process.cwd()): LabConfig {
  const runtimes = (env.LAB_RUNTIMES ?? 'gvisor,microvm')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean) as RuntimeName[];
  for (const r of runtimes) {
    if (!['gvisor', 'microvm', 'runc'].includes(r)) throw new Error(`LAB_RUNTIMES: unknown runtime "${r}"`);
  }
  if (runtimes.includes('runc') && env.LAB_UNSAFE_RUNC !== '1') {
    throw new Error('LAB_RUNTIMES includes "runc", which shares the host kernel: set LAB_UNSAFE_RUNC=1 to allow it (development only).');
  }
  const labDir = path.resolve(root, env.LAB_DIR ?? '.lab');
  const stateDir = path.resolve(root, env.LAB_STATE_DIR ?? path.join(labDir, 'state'));
  const publicUrl = publicUrlFrom(env.LAB_PUBLIC_URL);
  const listedHosts = (env.LAB_ALLOWED_HOSTS ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  return {
    port: num(env, 'PORT', 3000),
    host: env.HOST ?? '0.0.0.0',
    allowedOrigins: originsFrom(env.LAB_ALLOWED_ORIGINS),
    allowedHosts: listedHosts.length ? [...listedHosts, ...(publicUrl ? [new URL(publicUrl).hostname.replace(/^\[|\]$/g, '')] : [])] : defaultAllowedHosts(publicUrl),
    publicUrl,
    secret: env.LAB_SECRET || loadSigningKey(stateDir),
    trustProxy: parseTrustProxy(env.LAB_TRUST_PROXY),
    adminToken: adminTokenFrom(env.LAB_ADMIN_TOKEN),
    newLearnersPerAddressPerHour: countAtLeastOne(env, 'LAB_NEW_LEARNERS_PER_HOUR', 60),
    ...tokenTimesFrom(env),
    stateDir,
    databasePath: path.resolve(root, env.LAB_DATABASE || path.join(labDir, 'lab.db')),
    imageDir: env.LAB_IMAGE_DIR ? path.resolve(root, env.LAB_IMAGE_DIR) : defaultImageDir({}, labDir),
    contentDir: path.resolve(root, env.LAB_CONTENT_DIR ?? 'content'),
    runtimes,
    maxSandboxes: num(env, 'LAB_MAX_SANDBOXES', 20),
    maxSandboxesPerClient: num(env, 'LAB_MAX_SANDBOXES_PER_CLIENT', 3),
    sessionsPerClientPerMinute: num(env, 'LAB_SESSIONS_PER_MINUTE', 10),
    idleTimeoutMs: num(env, 'LAB_IDLE_TIMEOUT_MS', 15 * 60_000),
    maxLifetimeMs: num(env, 'LAB_MAX_LIFETIME_MS', 2 * 60 * 60_000),
    warnBeforeEndMs: num(env, 'LAB_WARN_BEFORE_END_MS', 60_000),
    reconnectGraceMs: num(env, 'LAB_RECONNECT_GRACE_MS', 30_000),
    orphanGraceMs: num(env, 'LAB_ORPHAN_GRACE_MS', 5 * 60_000),
    checkTimeoutMs: num(env, 'LAB_CHECK_TIMEOUT_MS', 15_000),
    startTimeoutMs: num(env, 'LAB_START_TIMEOUT_MS', 180_000),
    maxSandboxesPerAddress: num(env, 'LAB_MAX_SANDBOXES_PER_ADDRESS', 10),
    savedWorkBytes: num(env, 'LAB_SAVED_WORK_BYTES', 32 * 1024 * 1024),
    checkOutputBytes: num(env, 'LAB_CHECK_OUTPUT_BYTES', 8 * 1024),
    maxQueue: num(env, 'LAB_MAX_QUEUE', 50),
    extendByMs: num(env, 'LAB_EXTEND_MS', 30 * 60_000),
    maxExtends: num(env, 'LAB_MAX_EXTENDS', 2),
    poolSizes: {
      gvisor: num(env, 'LAB_POOL_GVISOR', 1),
      microvm: num(env, 'LAB_POOL_MICROVM', 0),
      runc: num(env, 'LAB_POOL_RUNC', 0),
    },
    sandbox: {
      memoryLimitBytes: num(env, 'LAB_SANDBOX_MEMORY_BYTES', 512 * 1024 * 1024),
      pidsLimit: num(env, 'LAB_SANDBOX_PIDS', 1024),
      cpuQuotaMillicores: num(env, 'LAB_SANDBOX_CPU_MILLICORES', 1000),
      diskLimitBytes: num(env, 'LAB_SANDBOX_DISK_BYTES', 1024 * 1024 * 1024),
    },
  };
}
