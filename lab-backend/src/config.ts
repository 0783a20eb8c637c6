/**
 * Configuration, read once from the environment. Every knob has a default that
 * works on a single host; units are in the names.
 */
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import type { RuntimeName } from './wire';

export interface LabConfig {
  port: number;
  host: string;
  /** Origins allowed to open sockets and call the API; empty = same origin as the Host header. */
  allowedOrigins: string[];
  /** HMAC key for session tokens. Random per process unless LAB_SECRET is set. */
  secret: string;
  tokenTtlMs: number;
  /** All sandbox state lives under here and is reaped at start-up. */
  stateDir: string;
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
  checkTimeoutMs: number;
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

export function loadConfig(env: Record<string, string | undefined> = process.env, root = process.cwd()): LabConfig {
  const runtimes = (env.LAB_RUNTIMES ?? 'gvisor,microvm').split(',').map((s) => s.trim()).filter(Boolean) as RuntimeName[];
  for (const r of runtimes) {
    if (!['gvisor', 'microvm', 'runc'].includes(r)) throw new Error(`LAB_RUNTIMES: unknown runtime "${r}"`);
  }
  if (runtimes.includes('runc') && env.LAB_UNSAFE_RUNC !== '1') {
    throw new Error('LAB_RUNTIMES includes "runc", which shares the host kernel: set LAB_UNSAFE_RUNC=1 to allow it (development only).');
  }
  const labDir = path.resolve(root, env.LAB_DIR ?? '.lab');
  return {
    port: num(env, 'PORT', 3000),
    host: env.HOST ?? '0.0.0.0',
    allowedOrigins: (env.LAB_ALLOWED_ORIGINS ?? '').split(',').map((s) => s.trim()).filter(Boolean),
    secret: env.LAB_SECRET ?? randomBytes(32).toString('hex'),
    tokenTtlMs: num(env, 'LAB_TOKEN_TTL_MS', 5 * 60_000),
    stateDir: path.resolve(root, env.LAB_STATE_DIR ?? path.join(labDir, 'state')),
    imageDir: path.resolve(root, env.LAB_IMAGE_DIR ?? path.join(labDir, 'images')),
    contentDir: path.resolve(root, env.LAB_CONTENT_DIR ?? 'content'),
    runtimes,
    maxSandboxes: num(env, 'LAB_MAX_SANDBOXES', 20),
    maxSandboxesPerClient: num(env, 'LAB_MAX_SANDBOXES_PER_CLIENT', 3),
    sessionsPerClientPerMinute: num(env, 'LAB_SESSIONS_PER_MINUTE', 10),
    idleTimeoutMs: num(env, 'LAB_IDLE_TIMEOUT_MS', 15 * 60_000),
    maxLifetimeMs: num(env, 'LAB_MAX_LIFETIME_MS', 2 * 60 * 60_000),
    warnBeforeEndMs: num(env, 'LAB_WARN_BEFORE_END_MS', 60_000),
    reconnectGraceMs: num(env, 'LAB_RECONNECT_GRACE_MS', 30_000),
    checkTimeoutMs: num(env, 'LAB_CHECK_TIMEOUT_MS', 15_000),
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
