/**
 * Behaviour-named fakes for unit tests of the SessionManager's policy. They
 * model a runtime's observable behaviour (boot delay, crash, hang, output),
 * never the real thing.
 */
import { SandboxStartError } from '../../src/errors';
import {
  AdoptError,
  ExecRefusedError,
  type Driver,
  type ExecOptions,
  type ExitStatus,
  type Sandbox,
  type SandboxExit,
  type SandboxProcess,
  type SandboxSpec,
  type StreamName,
} from '../../src/sandbox/driver';
import type { Lesson } from '../../src/content';
import { SessionManager, type SessionManagerDeps, type SessionPolicy, type TerminalPeer } from '../../src/sessions';
import type { ServerMessage } from '../../src/wire';
import { memoryStore } from '../learners';

/** The script of a `<shell> [options] -c <script> ...` argv (what SessionManager runs checks and setup with). */
export const scriptOf = (argv: string[]) => (argv.includes('-c') ? (argv[argv.indexOf('-c') + 1] ?? '') : '');

export class ScriptedProcess implements SandboxProcess {
  private listeners: ((c: Buffer, s: StreamName) => void)[] = [];
  private resolveExit!: (s: ExitStatus) => void;
  readonly exited = new Promise<ExitStatus>((r) => {
    this.resolveExit = r;
  });
  readonly written: string[] = [];
  size = { cols: 0, rows: 0 };
  paused = false;
  done = false;
  /** Input written but not taken: a process that reads nothing until `take()` (the fake's terminal). */
  pendingInputBytes = 0;
  holdsInput = false;
  private drainListeners: (() => void)[] = [];
  constructor(
    readonly argv: string[],
    readonly opts: ExecOptions,
  ) {
    this.size = { cols: opts.cols ?? 80, rows: opts.rows ?? 24 };
  }
  onData(l: (c: Buffer, s: StreamName) => void) {
    this.listeners.push(l);
  }
  emit(text: string | Buffer, stream: StreamName = 'stdout') {
    for (const l of this.listeners) l(Buffer.from(text), stream);
  }
  write(d: Buffer | string) {
    this.written.push(d.toString());
    if (this.holdsInput) this.pendingInputBytes += Buffer.byteLength(d);
  }
  onInputDrain(l: () => void) {
    this.drainListeners.push(l);
  }
  /** The process reads `bytes` of its pending input. */
  take(bytes: number) {
    this.pendingInputBytes = Math.max(0, this.pendingInputBytes - bytes);
    for (const l of this.drainListeners) l();
  }
  resize(cols: number, rows: number) {
    this.size = { cols, rows };
  }
  pause() {
    this.paused = true;
  }
  resume() {
    this.paused = false;
  }
  async kill() {
    this.finish({ code: null, signal: 'SIGKILL' });
  }
  finish(s: ExitStatus) {
    if (!this.done) {
      this.done = true;
      this.resolveExit(s);
    }
  }
}

/** Boots instantly; checks run `behaviour(script)`; remembers what is running like a host would. */
export class InstantDriver implements Driver {
  readonly name = 'gvisor' as const;
  /** Sandboxes present on the "host", including ones a previous run left. */
  readonly onHost = new Set<string>();
  readonly processes: ScriptedProcess[] = [];
  dead = new Set<string>();
  checkBehaviour: (script: string, p: ScriptedProcess) => void = (_s, p) => {
    p.emit('ok\n');
    p.finish({ code: 0, signal: null });
  };
  async available(): Promise<{ ok: true } | { ok: false; reason: string }> {
    return { ok: true };
  }
  async start(spec: SandboxSpec): Promise<Sandbox> {
    this.onHost.add(spec.id);
    return { id: spec.id, runtime: 'gvisor', startedAt: Date.now() };
  }
  async exec(_sb: Sandbox, argv: string[], opts: ExecOptions): Promise<SandboxProcess> {
    const p = new ScriptedProcess(argv, opts);
    this.processes.push(p);
    if (!opts.tty) setTimeout(() => this.checkBehaviour(scriptOf(argv), p), 0);
    return p;
  }
  async poll(sb: Sandbox): Promise<SandboxExit | null> {
    return this.dead.has(sb.id) ? { reason: 'crashed' } : null;
  }
  async stop(sb: Sandbox) {
    this.onHost.delete(sb.id);
  }
  async reap(keep: ReadonlySet<string>) {
    const gone = [...this.onHost].filter((id) => !keep.has(id));
    gone.forEach((id) => this.onHost.delete(id));
    return gone;
  }
  get terminals() {
    return this.processes.filter((p) => p.opts.tty);
  }
  adopts = true;
  describe(sb: Sandbox) {
    return { id: sb.id };
  }
  /** Adopts what is still on the "host". */
  async adopt(state: unknown): Promise<Sandbox> {
    const id = (state as { id?: string } | null)?.id;
    if (!id || !this.onHost.has(id) || this.dead.has(id)) throw new AdoptError(`no sandbox ${id} on the host`);
    return { id, runtime: 'gvisor', startedAt: Date.now() };
  }
}

/**
 * Boots only when `release()` is called, and cannot be interrupted (it ignores
 * the abort signal, as a runtime stuck in one CLI call does). The sandbox is on
 * the host from the moment its start begins: a real runtime's bundle, disk and
 * processes exist while it boots.
 */
export class SlowDriver extends InstantDriver {
  private gates: (() => void)[] = [];
  async start(spec: SandboxSpec): Promise<Sandbox> {
    this.onHost.add(spec.id);
    await new Promise<void>((r) => this.gates.push(r));
    return super.start(spec);
  }
  get booting() {
    return this.gates.length;
  }
  release() {
    this.gates.splice(0).forEach((g) => g());
  }
}

/**
 * Boots only when `release()` is called, or gives up when its start is aborted,
 * removing what it had put on the host (as MicrovmDriver kills a booting QEMU).
 */
export class AbortableSlowDriver extends InstantDriver {
  private gates: (() => void)[] = [];
  aborted = 0;
  async start(spec: SandboxSpec, signal?: AbortSignal): Promise<Sandbox> {
    this.onHost.add(spec.id);
    await new Promise<void>((resolve, reject) => {
      this.gates.push(resolve);
      const abort = () => {
        this.aborted++;
        this.onHost.delete(spec.id);
        reject(new SandboxStartError('start aborted'));
      };
      if (signal?.aborted) abort();
      else signal?.addEventListener('abort', abort, { once: true });
    });
    return super.start(spec);
  }
  release() {
    this.gates.splice(0).forEach((g) => g());
  }
}

/** Every start fails the way a broken runsc does. */
export class CrashingDriver extends InstantDriver {
  async start(): Promise<Sandbox> {
    throw new SandboxStartError('runsc exited with 1: loading spec: cannot open rootfs');
  }
}

/** The runtime is not installed on this host. */
export class MissingRuntimeDriver extends InstantDriver {
  async available(): Promise<{ ok: true } | { ok: false; reason: string }> {
    return { ok: false, reason: 'runsc was not found on PATH' };
  }
}

export const POLICY: SessionPolicy = {
  maxSandboxes: 3,
  maxSandboxesPerClient: 2,
  sessionsPerClientPerMinute: 5,
  idleTimeoutMs: 10 * 60_000,
  maxLifetimeMs: 60 * 60_000,
  warnBeforeEndMs: 60_000,
  reconnectGraceMs: 30_000,
  checkTimeoutMs: 5_000,
  checkOutputBytes: 100,
  startTimeoutMs: 180_000,
  maxSandboxesPerAddress: 100,
  savedWorkBytes: 1024 * 1024,
  maxQueue: 2,
  extendByMs: 30 * 60_000,
  maxExtends: 2,
  limits: { memoryLimitBytes: 1, pidsLimit: 1, cpuQuotaMillicores: 1 },
};

export function lesson(over: Partial<Lesson> = {}): Lesson {
  return {
    id: '01-mod/01-les',
    module: 'Mod',
    title: 'T',
    summary: 'S',
    runtime: 'gvisor',
    estimateMinutes: 5,
    dir: '/nowhere',
    image: 'base',
    capabilities: ['CAP_KILL'],
    setupScript: null,
    body: '',
    keep: ['/root'],
    exercises: [{ id: 'ex', title: 'Ex', hint: 'h', checkScript: 'check-script', solutionScript: 'sol' }],
    ...over,
  };
}

export class FakeClock {
  t = 1_000_000;
  now = () => this.t;
  advance(ms: number) {
    this.t += ms;
  }
}

/** A SessionManager on a fake clock, with its log captured, recording into a real SQLite store in memory (or `extra.store`). */
export function setup(driver = new InstantDriver(), policy = POLICY, extra: Partial<SessionManagerDeps> = {}) {
  const clock = new FakeClock();
  const logs: string[] = [];
  const store = extra.store ?? memoryStore();
  const m = new SessionManager({ drivers: { gvisor: driver }, policy, rootfsFor: () => '/rootfs', now: clock.now, log: (l) => logs.push(l), ...extra, store });
  return { m, clock, driver, logs, store };
}

/** A socket that remembers what it was sent; `stalled` models a client that stops reading (output piles up queued). */
export class RecordingPeer implements TerminalPeer {
  output: Buffer[] = [];
  messages: ServerMessage[] = [];
  closed: { code: number; reason: string } | null = null;
  stalled = false;
  queuedOutputBytes = 0;
  inputPaused = false;
  sendOutput(c: Buffer) {
    this.output.push(c);
    if (this.stalled) this.queuedOutputBytes += c.length;
  }
  pauseInput() {
    this.inputPaused = true;
  }
  resumeInput() {
    this.inputPaused = false;
  }
  send(m: ServerMessage) {
    this.messages.push(m);
  }
  close(code: number, reason: string) {
    this.closed = { code, reason };
  }
  of<T extends ServerMessage['type']>(type: T) {
    return this.messages.filter((m) => m.type === type) as Extract<ServerMessage, { type: T }>[];
  }
}

/** A sandbox that never answers an exec (a blocked or replaced microVM agent): exec settles only when aborted. */
export class NeverExecDriver extends InstantDriver {
  execCalls = 0;
  abortedExecs = 0;
  async exec(sb: Sandbox, argv: string[], opts: ExecOptions, signal?: AbortSignal): Promise<SandboxProcess> {
    if (opts.tty) return super.exec(sb, argv, opts);
    this.execCalls++;
    return new Promise((_, reject) =>
      signal?.addEventListener(
        'abort',
        () => {
          this.abortedExecs++;
          reject(new Error('exec aborted'));
        },
        { once: true },
      ),
    );
  }
}

/** A sandbox that refuses every non-terminal exec on purpose after `refuseAfter` of them (a microVM whose check toolbox is covered). */
export class RefusingDriver extends InstantDriver {
  refuseAfter = 0;
  private execs = 0;
  async exec(sb: Sandbox, argv: string[], opts: ExecOptions): Promise<SandboxProcess> {
    if (!opts.tty && this.execs++ >= this.refuseAfter) throw new ExecRefusedError('the check toolbox has been covered');
    return super.exec(sb, argv, opts);
  }
}

/** stop() takes until `release()`: a sandbox whose teardown is slow (runsc delete under load). */
export class SlowStopDriver extends InstantDriver {
  private gates: (() => void)[] = [];
  async stop(sb: Sandbox) {
    await new Promise<void>((r) => this.gates.push(r));
    return super.stop(sb);
  }
  get stopping() {
    return this.gates.length;
  }
  release() {
    this.gates.splice(0).forEach((g) => g());
  }
}

/**
 * A runtime whose start never finishes and ignores being aborted (a runsc or
 * QEMU stuck in one call). `arrive()` lets the start finish late, as a stuck
 * call sometimes does, so a test can see what becomes of that sandbox.
 */
export class NeverDriver extends InstantDriver {
  private late: (() => void)[] = [];
  starts = 0;
  /** Starts that finished (late). */
  arrived = 0;
  async start(spec: SandboxSpec): Promise<Sandbox> {
    this.starts++;
    await new Promise<void>((r) => this.late.push(r));
    const sb = await super.start(spec);
    this.arrived++;
    return sb;
  }
  arrive() {
    this.late.splice(0).forEach((r) => r());
  }
}
