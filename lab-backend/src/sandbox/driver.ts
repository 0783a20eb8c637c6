/**
 * The Driver contract: how the lab starts, enters and destroys a sandbox.
 * Every runtime (gvisor, microvm, runc-dev) implements exactly this; the
 * SessionManager is its only caller.
 *
 * Sandbox states (forward only):
 *
 *     start() ──▶ running ──▶ exited (poll() returns SandboxExit)
 *                   │
 *                   └── stop() ──▶ gone (nothing left on the host)
 *
 * Rules every driver keeps:
 *  - A driver never decides policy: no timeouts, retries, caps or lifetimes.
 *    Callers pass an AbortSignal or call kill()/stop() when their policy says so.
 *  - Everything a sandbox leaves on the host (bundles, overlays, sockets,
 *    cgroups, pid files) is under `stateDir` and named by the sandbox id, so
 *    `reap()` can remove all of it after a crash.
 *  - The contract is transport-agnostic: processes are byte streams with
 *    resize, exit status and kill; no host PIDs or paths leak out, so a remote
 *    driver (a Kubernetes pod with a gVisor or Kata RuntimeClass) fits as well.
 *  - Nothing read from a sandbox is trusted: output is bytes, never a path to
 *    open or a command to run on the host.
 *  - Every byte a driver holds on a sandbox's behalf is bounded or visible to
 *    the caller: output stops being read while paused (held output has a
 *    cap), and input a process has not consumed yet is counted in
 *    `pendingInputBytes`, so the caller can stop feeding it.
 *  - Every call that waits on the sandbox (start, exec) takes an AbortSignal:
 *    the caller sets the deadline, the driver gives up when it fires.
 *
 * What the host can and cannot trust from a sandbox (the learner is root in it):
 *  - It CAN trust what it observes from outside: whether the sandbox's host
 *    processes live, what they cost (cgroups), how many bytes arrive, and, for
 *    gVisor and runc, the exit status of an exec, which the host's runsc/runc
 *    process reports.
 *  - In a microVM, everything arrives over the agent's virtio-serial port,
 *    which guest root can take from the agent (unbind and rebind the port).
 *    The agent proves itself with a per-sandbox key the host hands it at
 *    boot, before any learner process exists: heartbeats and exit statuses
 *    carry it, and a frame that lacks it, a missed heartbeat, or output for
 *    a paused stream beyond a small budget ends the sandbox. A learner whose
 *    lesson grants capabilities that read another process's memory
 *    (CAP_SYS_PTRACE, CAP_SYS_ADMIN with BPF or perf, CAP_SYS_MODULE,
 *    CAP_SYS_RAWIO) could in principle read the key from the agent; output
 *    bytes themselves are never authenticated.
 *  - No driver can make a check's verdict tamper-proof against root inside:
 *    a check runs in the learner's own sandbox and sees what they let it see.
 *    Every driver makes it harder: each sandbox shows the image's check
 *    toolbox (static bash and busybox, toolbox.ts) read-only at
 *    /.lab/toolbox from its very first process on, so a check does not run
 *    the learner's (replaceable) shell and tools.
 */
import type { RuntimeName } from '../wire';

export interface SandboxLimits {
  memoryLimitBytes: number;
  pidsLimit: number;
  /** CPU quota in thousandths of a core (1000 = one core). */
  cpuQuotaMillicores: number;
  /**
   * Size of the writable layer where the runtime has one of its own (runc: a
   * tmpfs upper layer). gVisor keeps writes in memory, so memoryLimitBytes
   * bounds them; a microVM's disk has the fixed size of its image.
   */
  diskLimitBytes?: number;
}

export interface SandboxSpec {
  /** Unique, [a-z0-9-], chosen by the caller; also names the host state. */
  id: string;
  /**
   * Root filesystem of the lesson image (read-only base; the driver adds a
   * discardable writable layer). The image's check toolbox is beside it
   * (toolboxDir(rootfsPath)); the driver shows it read-only at TOOLBOX_MOUNT.
   */
  rootfsPath: string;
  hostname: string;
  /** OCI capability names held by every process in the sandbox. */
  capabilities: string[];
  limits: SandboxLimits;
  /** Environment for every exec, as KEY=value. */
  env: string[];
}

export interface Sandbox {
  readonly id: string;
  readonly runtime: RuntimeName;
  readonly startedAt: number;
}

export interface ExecOptions {
  /** true: a terminal (PTY; output is one stream). false: separate stdout/stderr pipes, stdin closed. */
  tty: boolean;
  cols?: number;
  rows?: number;
  /** Extra KEY=value entries on top of the sandbox's env; one replaces the sandbox's entry for the same KEY (execEnv). */
  env?: string[];
  cwd?: string;
  /**
   * tty only: a held terminal named this ([a-z0-9-]{1,32}). The process and
   * its terminal are kept by a holder that outlives whoever exec'd it (a
   * backend that dies): the next exec with the same name attaches to the
   * same process instead of starting `argv` again. Killing the returned
   * process ends the holder's process too. Where the holder sits is the
   * driver's choice (OCI: Debian's dtach on the host, so the terminal's
   * back-pressure stays on the host PTY; microVM: dtach in the guest).
   */
  hold?: string;
}

/** What a held terminal's name may be (ExecOptions.hold). */
export const HOLD_NAME = /^[a-z0-9-]{1,32}$/;

export interface ExitStatus {
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  signal: string | null;
}

export type StreamName = 'stdout' | 'stderr';

/**
 * A process inside a sandbox. Output is delivered through onData from the
 * moment exec() resolves; listeners added later miss earlier bytes.
 */
export interface SandboxProcess {
  onData(listener: (chunk: Buffer, stream: StreamName) => void): void;
  /**
   * Keystrokes / stdin bytes. Never blocks and never drops: bytes the process
   * has not taken yet wait in the driver and count in pendingInputBytes, which
   * the caller keeps bounded by not reading more input. Ignored after exit.
   */
  write(data: Buffer | string): void;
  /** Bytes accepted by write() that have not reached the process's terminal or stdin yet. */
  readonly pendingInputBytes: number;
  /** Called each time pendingInputBytes goes down (so a caller that stopped feeding can resume). */
  onInputDrain(listener: () => void): void;
  /** Terminal size; a no-op for non-tty processes. */
  resize(cols: number, rows: number): void;
  /** Stop reading output (back-pressure); resume() to continue. The process blocks once its buffers fill. */
  pause(): void;
  resume(): void;
  /** Send a signal (default SIGKILL). Resolves once sent, not when the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Settles once the process has exited and its output has been delivered. Never rejects. */
  readonly exited: Promise<ExitStatus>;
  /**
   * A held terminal only (ExecOptions.hold): end this attachment and leave
   * the held process running, as a backend that dies does; `exited` then
   * settles. Absent where the driver holds nothing.
   */
  detach?(): void;
}

export interface SandboxExit {
  reason: string;
}

export interface Driver {
  readonly name: RuntimeName;
  /**
   * Is this runtime usable on this host? Cheap after the first call. Returns a
   * reason naming the cause (missing binary, failing self-test) when it is not.
   */
  available(): Promise<{ ok: true } | { ok: false; reason: string }>;
  /**
   * Create and boot a sandbox; resolves when exec() can be called. Blocks for
   * the boot time of the runtime. On failure nothing is left on the host and a
   * SandboxStartError names the cause. Aborting the signal aborts the boot.
   */
  start(spec: SandboxSpec, signal?: AbortSignal): Promise<Sandbox>;
  /**
   * Start a process in a running sandbox. Resolves once it is started (not
   * finished). Rejects when the sandbox is gone, or when `signal` fires first
   * (nothing is left running then).
   */
  exec(sandbox: Sandbox, argv: string[], opts: ExecOptions, signal?: AbortSignal): Promise<SandboxProcess>;
  /** null while the sandbox runs; why it ended otherwise (crash, its init exited). Does not block on the sandbox. */
  poll(sandbox: Sandbox): Promise<SandboxExit | null>;
  /**
   * Destroy the sandbox and everything it left on the host. Idempotent.
   * `now` skips any graceful phase. Resolves once nothing is left.
   */
  stop(sandbox: Sandbox, opts?: { now?: boolean }): Promise<void>;
  /**
   * Destroy every sandbox of this driver under its state directory whose id is
   * not in `keep` (left behind by a crashed backend). Returns the ids removed.
   */
  reap(keep: ReadonlySet<string>): Promise<string[]>;
  /**
   * What a later backend needs to re-attach to this running sandbox (a JSON
   * value; JupyterHub's get_state), stored with its session. It holds no
   * secret the learner could use, and it describes, it does not authorise:
   * adopt() checks the host before trusting it.
   */
  describe(sandbox: Sandbox): unknown;
  /** Whether adopt() can succeed at all for this runtime (false: a hand-over ends its sandboxes, after saving the learners' work). */
  readonly adopts: boolean;
  /**
   * Re-attach to a sandbox that a previous backend started under this state
   * directory (JupyterHub's load_state), from its describe(): checks that it
   * still runs as described, takes over its watchdog, and returns a Sandbox
   * that exec(), poll() and stop() accept. AdoptError (naming why) when it is
   * gone, does not match, or this runtime cannot adopt; nothing is changed
   * on the host then (the caller's reap removes what is left). If the new
   * watchdog cannot start, the old one is already gone: the caller reaps the
   * sandbox, as for any sandbox it does not adopt.
   */
  adopt(state: unknown): Promise<Sandbox>;
}

/** A sandbox could not be adopted (gone, not as described, or the runtime cannot). */
export class AdoptError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AdoptError';
  }
}

/**
 * exec() rejects with this when the sandbox runs but refuses to start the
 * process on purpose, for a reason meant for the learner (the microVM agent
 * refuses a check whose toolbox has been covered by another mount). Any other
 * rejection means the sandbox could not run it at all.
 */
export class ExecRefusedError extends Error {}

/** The environment of an exec: the sandbox's env, with `extra` replacing entries of the same KEY. */
export function execEnv(base: readonly string[], extra: readonly string[] = []): string[] {
  const key = (e: string) => (e.includes('=') ? e.slice(0, e.indexOf('=')) : e);
  const replaced = new Set(extra.map(key));
  return [...base.filter((e) => !replaced.has(key(e))), ...extra];
}
