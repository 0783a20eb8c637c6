/**
 * What the `gvisor` and `runc` drivers share: both drive an OCI runtime CLI
 * (`runsc` / `runc`, the same verbs: run --detach, exec --process, state,
 * kill, delete, list) on an OCI bundle per sandbox. Subclasses say how the
 * root filesystem is made writable and how a terminal exec is wired.
 *
 * Host state, all under `<stateDir>/<runtime>/`:
 *   runsc/ or runc/   the CLI's --root (container state files)
 *   bundles/<id>/     OCI bundle: config.json and one process file per exec
 *                     (runc: plus the sandbox's overlay mounts)
 * plus the cgroups `/sys/fs/cgroup/<ctl>/<cgroupParent>/<id>` that the CLI
 * creates for the sandbox, and removes on delete.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import * as pty from 'node-pty';
import { SandboxStartError } from '../errors';
import {
  AdoptError,
  HOLD_NAME,
  execEnv,
  type Driver,
  type ExecOptions,
  type ExitStatus,
  type Sandbox,
  type SandboxExit,
  type SandboxProcess,
  type SandboxSpec,
  type StreamName,
} from './driver';
import { descendantsOf, isAlive, pidsWithCmdline, removeCgroups, run, sleep, which } from './host';
import { FdWriter } from './fd-writer';
import { replaceWatchdog, startWatchdog } from './watchdog';
import { TOOLBOX_MOUNT, toolboxDir, verifiedOnce, verifyToolbox } from './toolbox';

const CPU_PERIOD_US = 100_000;
/** After an exec's CLI process exits, how long its output pipes may stay open (orphans inside). */
const EXIT_DRAIN_MS = 500;
const INIT_ARGV = ['/bin/sh', '-c', 'trap "exit 0" TERM; while :; do sleep 3600 & wait $!; done'];

export interface OciSandbox extends Sandbox {
  readonly spec: SandboxSpec;
  /** Host PID of the sandbox's init as the CLI reports it (driver-internal). */
  hostPid: number;
  execSeq: number;
  children: Set<ChildProcess | pty.IPty>;
}

/** What describe() says of an OCI sandbox (and adopt() checks against the host). */
export interface OciSandboxState {
  v: 1;
  id: string;
  hostPid: number;
  startedAt: number;
  spec: SandboxSpec;
}

export interface OciDriverOptions {
  stateDir: string;
  /** The CLI binary (default: runsc / runc on PATH). */
  binPath?: string;
  /** How long a sandbox may outlive a killed backend before its watchdog ends it (watchdog.ts); unset: no watchdog. */
  orphanGraceMs?: number;
}

export abstract class OciCliDriver implements Driver {
  abstract readonly name: 'gvisor' | 'runc';
  /** Default binary and the Debian package that has it. */
  protected abstract readonly bin: string;
  protected abstract readonly debianPackage: string;
  /** Flag `exec` takes to write the started process's pid to a file. */
  protected abstract readonly execPidFlag: string;
  protected readonly root: string;
  protected readonly bundles: string;
  /** Cgroup parent unique to this state dir and runtime, so two backends on one host never reap each other. */
  readonly cgroupParent: string;
  private availability?: Promise<{ ok: true } | { ok: false; reason: string }>;

  constructor(
    protected readonly opts: OciDriverOptions,
    runtimeDir: string,
    cliName: string,
  ) {
    const base = path.join(opts.stateDir, runtimeDir);
    this.root = path.join(base, cliName);
    this.bundles = path.join(base, 'bundles');
    const tag = runtimeDir === 'gvisor' ? '' : `-${runtimeDir}`;
    this.cgroupParent = `container-lab${tag}-${createHash('sha256').update(path.resolve(opts.stateDir)).digest('hex').slice(0, 8)}`;
  }

  protected get cli(): string {
    return this.opts.binPath ?? this.bin;
  }

  /** Global flags of every CLI call (at least --root). */
  protected abstract globalFlags(): string[];
  /** The sandbox's root filesystem: a path whose writes never reach the shared image. */
  protected abstract prepareRoot(spec: SandboxSpec, bundle: string): Promise<{ path: string; readonly: boolean }>;
  /** Undo prepareRoot (unmount); must work from the id alone, after a crash. */
  protected async releaseRoot(_id: string): Promise<void> {}
  /** Called once the sandbox runs (e.g. bring loopback up). */
  protected async afterStart(_sb: OciSandbox): Promise<void> {}
  /** Kill the exec'd process whose pid file `pidFile` names. */
  protected abstract killExec(sb: OciSandbox, pidFile: string, signal: NodeJS.Signals): Promise<void>;

  available() {
    this.availability ??= (async () => {
      const bin = await which(this.cli);
      if (!bin) return { ok: false as const, reason: `${this.bin} was not found on PATH (install the Debian package "${this.debianPackage}")` };
      const v = await run(bin, ['--version'], { timeoutMs: 10_000 });
      if (v.code !== 0) return { ok: false as const, reason: `"${this.bin} --version" failed: ${(v.stderr || v.stdout).trim().slice(0, 300)}` };
      return { ok: true as const };
    })();
    return this.availability;
  }

  async start(spec: SandboxSpec, signal?: AbortSignal): Promise<Sandbox> {
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(spec.id)) throw new SandboxStartError(`invalid sandbox id "${spec.id}"`);
    const avail = await this.available();
    if (!avail.ok) throw new SandboxStartError(`Cannot start a ${this.name} sandbox: ${avail.reason}`);
    const bundle = path.join(this.bundles, spec.id);
    await fs.mkdir(this.root, { recursive: true, mode: 0o700 });
    await fs.mkdir(bundle, { recursive: true, mode: 0o700 });
    const sb: OciSandbox = { id: spec.id, runtime: this.name, startedAt: Date.now(), spec, hostPid: 0, execSeq: 0, children: new Set() };
    try {
      await verifiedOnce(toolboxDir(spec.rootfsPath), verifyToolbox); // the host copy is as built (a host-side check)
      const root = await this.prepareRoot(spec, bundle);
      await fs.writeFile(path.join(bundle, 'config.json'), JSON.stringify(this.ociConfig(spec, root), null, 1));
      if (signal?.aborted) throw new SandboxStartError('start aborted');
      const pidFile = path.join(bundle, 'init.pid');
      const stderr = await this.runDetached(['run', '--detach', `--pid-file=${pidFile}`, `--bundle=${bundle}`, spec.id], signal);
      // The CLI writes the pid once the sandbox runs; asking `state` instead would cost one more CLI start.
      const pid = Number(await fs.readFile(pidFile, 'utf8').catch(() => ''));
      if (!(pid > 0)) {
        const state = await run(this.cli, [...this.globalFlags(), 'state', spec.id], { timeoutMs: 10_000 });
        throw new SandboxStartError(`${this.bin} did not start the sandbox: ${(stderr || state.stderr || state.stdout).trim().slice(-500) || 'no output'}`);
      }
      sb.hostPid = pid;
      await this.afterStart(sb);
      await startWatchdog(this.opts, { pid, cgroup: `${this.cgroupParent}/${spec.id}`, cmdline: [`--root=${this.root}`], args: [spec.id] });
      return sb;
    } catch (err) {
      await this.stop(sb, { now: true });
      if (err instanceof SandboxStartError) throw err;
      throw new SandboxStartError(`${this.bin} failed: ${(err as Error).message}`);
    }
  }

  /**
   * `run --detach` hands its stdio to the sandbox's init. We read its
   * stderr only until the CLI itself exits, then drop our end, so the sandbox
   * can never write to a host file or pipe that someone still reads.
   */
  private runDetached(args: string[], signal?: AbortSignal): Promise<string> {
    return new Promise((resolve, reject) => {
      // detached: the sandbox (runsc's sandbox and gofer processes) gets a process group and session of its
      // own, so a signal to the lab's group (Ctrl-C in a terminal) never reaches it directly.
      const child = spawn(this.cli, [...this.globalFlags(), ...args], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
      let err = '';
      child.stderr.on('data', (b: Buffer) => {
        if (err.length < 8192) err += b.toString('utf8');
      });
      const onAbort = () => child.kill('SIGKILL');
      signal?.addEventListener('abort', onAbort, { once: true });
      child.on('error', (e) => reject(new SandboxStartError(`could not run ${this.bin}: ${e.message}`)));
      child.on('exit', (code, sig) => {
        signal?.removeEventListener('abort', onAbort);
        child.stderr.destroy();
        if (signal?.aborted) reject(new SandboxStartError('start aborted'));
        else if (code === 0) resolve(err);
        else reject(new SandboxStartError(`${this.bin} ${args[0]} exited with ${code ?? sig}: ${err.trim().slice(-800) || 'no output'}`));
      });
    });
  }

  private ociConfig(spec: SandboxSpec, root: { path: string; readonly: boolean }) {
    return {
      ociVersion: '1.0.2',
      process: this.processSpec(spec, INIT_ARGV, { tty: false }),
      root,
      hostname: spec.hostname,
      mounts: [
        { destination: '/proc', type: 'proc', source: 'proc' },
        { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
        { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'] },
        { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
        { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
        { destination: '/run', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=755'] },
        // The check toolbox, read-only: a host directory no sandbox can write to (toolbox.ts).
        { destination: TOOLBOX_MOUNT, type: 'bind', source: toolboxDir(spec.rootfsPath), options: ['rbind', 'ro', 'nosuid', 'nodev'] },
      ],
      linux: {
        namespaces: ['pid', 'network', 'ipc', 'uts', 'mount'].map((type) => ({ type })),
        cgroupsPath: `/${this.cgroupParent}/${spec.id}`,
        resources: {
          memory: { limit: spec.limits.memoryLimitBytes },
          pids: { limit: spec.limits.pidsLimit },
          cpu: { period: CPU_PERIOD_US, quota: Math.round((spec.limits.cpuQuotaMillicores / 1000) * CPU_PERIOD_US) },
        },
        maskedPaths: ['/proc/kcore', '/proc/keys', '/proc/timer_list', '/sys/firmware'],
        readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
      },
    };
  }

  private processSpec(spec: SandboxSpec, argv: string[], opts: ExecOptions) {
    const caps = spec.capabilities;
    return {
      terminal: opts.tty,
      user: { uid: 0, gid: 0 },
      args: argv,
      env: execEnv(spec.env, opts.env),
      cwd: opts.cwd ?? '/root',
      capabilities: { bounding: caps, effective: caps, permitted: caps, inheritable: caps, ambient: caps },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 4096, soft: 1024 }],
      noNewPrivileges: false,
      ...(opts.tty ? { consoleSize: { width: opts.cols ?? 80, height: opts.rows ?? 24 } } : {}),
    };
  }

  async exec(sandbox: Sandbox, argv: string[], opts: ExecOptions, signal?: AbortSignal): Promise<SandboxProcess> {
    const sb = sandbox as OciSandbox;
    if (argv.length === 0) throw new Error('exec needs a command');
    // The CLI starts at once; nothing below waits on the sandbox, so the signal only matters before.
    if (signal?.aborted) throw new Error('exec aborted');
    const n = ++sb.execSeq;
    const bundle = path.join(this.bundles, sb.id);
    const procFile = path.join(bundle, `exec-${n}.json`);
    const pidFile = path.join(bundle, `exec-${n}.pid`);
    await fs.writeFile(procFile, JSON.stringify(this.processSpec(sb.spec, argv, opts)));
    const args = [...this.globalFlags(), 'exec', `--process=${procFile}`, `${this.execPidFlag}=${pidFile}`, sb.id];
    const cleanup = () => {
      void fs.rm(procFile, { force: true });
      void fs.rm(pidFile, { force: true });
    };
    const killInside = (signal: NodeJS.Signals) => this.killExec(sb, pidFile, signal);
    if (!opts.tty) return this.execPipes(sb, args, cleanup, killInside);
    let cmd = await this.ptyCommand(args, path.join(bundle, `exec-${n}.sock`));
    if (opts.hold !== undefined) {
      if (!HOLD_NAME.test(opts.hold)) throw new Error(`invalid held terminal name "${opts.hold}"`);
      // A held terminal: Debian's dtach on the host holds the PTY and the CLI's exec under it, in a session of its
      // own, so both outlive this backend; `-A` attaches to it when it is there. On the host, not in the sandbox:
      // gVisor's own PTYs (devpts) queue without bound when their reader stops, so no back-pressure may stop there.
      const sock = path.join(bundle, `hold-${opts.hold}.sock`);
      cmd = { file: 'dtach', args: ['-A', sock, '-E', '-z', '-r', 'winch', cmd.file, ...cmd.args] };
      const proc = this.execPty(sb, cmd, opts, cleanup, killInside);
      const kill = proc.kill.bind(proc);
      const holder = (a: string[]) => path.basename(a[0] ?? '') === 'dtach' && a.includes(sock);
      return Object.assign(proc, {
        // Killing a held terminal ends what it holds (the dtach master and the CLI's exec under it), not only our attachment.
        // (SIGKILL of the master hangs up its PTY: the CLI's exec and the shell in the sandbox go with it.)
        kill: async (signal?: NodeJS.Signals) => {
          await this.killHolders(holder);
          await kill(signal);
        },
        // Our dtach client goes (as when this backend dies); the master and the shell stay for the next attach.
        detach: () => {
          try {
            process.kill(proc.pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        },
      });
    }
    return this.execPty(sb, cmd, opts, cleanup, killInside);
  }

  /** What runs under our PTY for a terminal exec (runsc: the exec itself). */
  protected async ptyCommand(execArgs: string[], _consoleSocket: string): Promise<{ file: string; args: string[] }> {
    return { file: this.cli, args: execArgs };
  }

  private execPty(
    sb: OciSandbox,
    cmd: { file: string; args: string[] },
    opts: ExecOptions,
    cleanup: () => void,
    killInside: (s: NodeJS.Signals) => Promise<void>,
  ): SandboxProcess & { pid: number } {
    const term = pty.spawn(cmd.file, cmd.args, {
      name: 'xterm-256color',
      cols: opts.cols ?? 80,
      rows: opts.rows ?? 24,
      cwd: '/',
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      encoding: null,
    } as pty.IPtyForkOptions);
    sb.children.add(term);
    const listeners: ((c: Buffer, s: StreamName) => void)[] = [];
    term.onData((d: string | Buffer) => {
      const b = typeof d === 'string' ? Buffer.from(d) : d;
      for (const l of listeners) l(b, 'stdout');
    });
    // Our own counted write queue on the PTY master instead of node-pty's unbounded one.
    const input = new FdWriter((term as unknown as { fd: number }).fd);
    let alive = true;
    const exited = new Promise<ExitStatus>((resolve) => {
      term.onExit(({ exitCode, signal }) => {
        alive = false;
        input.close();
        sb.children.delete(term);
        cleanup();
        resolve({ code: signal ? null : exitCode, signal: signal ? `signal ${signal}` : null });
      });
    });
    return {
      onData: (l) => {
        listeners.push(l);
      },
      write: (data) => {
        if (alive) input.write(typeof data === 'string' ? Buffer.from(data) : data);
      },
      get pendingInputBytes() {
        return input.pendingBytes;
      },
      onInputDrain: (l) => input.onDrain(l),
      resize: (cols, rows) => {
        if (alive) term.resize(Math.max(1, cols | 0), Math.max(1, rows | 0));
      },
      pause: () => term.pause(),
      resume: () => term.resume(),
      kill: async (signal = 'SIGKILL') => {
        if (!alive) return;
        if (signal === 'SIGKILL') {
          await killInside(signal);
          try {
            term.kill('SIGKILL');
          } catch {
            /* gone */
          }
        } else term.kill(signal);
      },
      exited,
      // Only held terminals offer detach (exec() adds it): here, the host process under our PTY.
      pid: term.pid,
    } as SandboxProcess & { pid: number };
  }

  private execPipes(sb: OciSandbox, args: string[], cleanup: () => void, killInside: (s: NodeJS.Signals) => Promise<void>): SandboxProcess {
    const child = spawn(this.cli, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    sb.children.add(child);
    child.stdin.end();
    child.stdin.on('error', () => {
      /* closed */
    });
    const listeners: ((c: Buffer, s: StreamName) => void)[] = [];
    child.stdout.on('data', (b: Buffer) => {
      for (const l of listeners) l(b, 'stdout');
    });
    child.stderr.on('data', (b: Buffer) => {
      for (const l of listeners) l(b, 'stderr');
    });
    const exited = new Promise<ExitStatus>((resolve) => {
      child.on('error', (e) => {
        for (const l of listeners) l(Buffer.from(`could not run ${this.bin}: ${e.message}\n`), 'stderr');
      });
      child.on('close', (code, signal) => {
        sb.children.delete(child);
        cleanup();
        resolve({ code, signal });
      });
      // The CLI has exited, but a process the exec left behind in the sandbox may still hold
      // our pipes (runsc donates them): stop reading after a grace period so 'close' comes.
      child.on('exit', () =>
        setTimeout(() => {
          child.stdout.destroy();
          child.stderr.destroy();
        }, EXIT_DRAIN_MS).unref(),
      );
    });
    return {
      onData: (l) => {
        listeners.push(l);
      },
      write: () => {
        /* stdin is closed for non-tty execs */
      },
      pendingInputBytes: 0,
      onInputDrain: () => {},
      resize: () => {},
      pause: () => {
        child.stdout.pause();
        child.stderr.pause();
      },
      resume: () => {
        child.stdout.resume();
        child.stderr.resume();
      },
      kill: async (signal = 'SIGKILL') => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        if (signal === 'SIGKILL') await killInside(signal);
        child.kill(signal);
      },
      exited,
    };
  }

  readonly adopts = true;

  describe(sandbox: Sandbox): OciSandboxState {
    const sb = sandbox as OciSandbox;
    return { v: 1, id: sb.id, hostPid: sb.hostPid, startedAt: sb.startedAt, spec: sb.spec };
  }

  /**
   * Re-attach to a sandbox a previous backend of this state dir started: the
   * CLI must report it running with the init pid that was described, and its
   * bundle must be there. Its old watchdog (owned by the dead backend) is
   * replaced by one owned by this process.
   */
  async adopt(state: unknown): Promise<Sandbox> {
    const st = state as Partial<OciSandboxState> | null;
    if (!st || st.v !== 1 || typeof st.id !== 'string' || !/^[a-z0-9][a-z0-9-]{0,62}$/.test(st.id) || !(Number(st.hostPid) > 0) || !st.spec || st.spec.id !== st.id) {
      throw new AdoptError(`not a ${this.name} sandbox description: ${JSON.stringify(state)?.slice(0, 200)}`);
    }
    const id = st.id;
    const r = await run(this.cli, [...this.globalFlags(), 'state', id], { timeoutMs: 10_000 });
    if (r.code !== 0) throw new AdoptError(`${this.bin} does not know sandbox ${id} (${(r.stderr || r.stdout).trim().slice(0, 200)})`);
    let cs: { status?: string; pid?: number };
    try {
      cs = JSON.parse(r.stdout) as { status?: string; pid?: number };
    } catch {
      throw new AdoptError(`${this.bin} state ${id} did not answer JSON`);
    }
    if (cs.status !== 'running') throw new AdoptError(`sandbox ${id} is ${cs.status ?? 'in no known state'}, not running`);
    if (cs.pid !== st.hostPid || !isAlive(st.hostPid!)) throw new AdoptError(`sandbox ${id} runs as pid ${cs.pid}, not the described ${st.hostPid}`);
    const bundle = path.join(this.bundles, id);
    const files = await fs.readdir(bundle).catch(() => null);
    if (!files?.includes('config.json')) throw new AdoptError(`sandbox ${id} has no bundle under ${this.bundles}`);
    // Exec file names go on from the highest one there (a dead backend's last execs may still hold theirs).
    const execSeq = Math.max(0, ...files.map((f) => Number(/^exec-(\d+)\./.exec(f)?.[1] ?? 0)));
    const sb: OciSandbox = { id, runtime: this.name, startedAt: Number(st.startedAt) || Date.now(), spec: st.spec, hostPid: st.hostPid!, execSeq, children: new Set() };
    await replaceWatchdog(this.opts, { pid: sb.hostPid, cgroup: `${this.cgroupParent}/${id}`, cmdline: [`--root=${this.root}`], args: [id] }).catch((e) => {
      throw new AdoptError((e as Error).message);
    });
    return sb;
  }

  async poll(sandbox: Sandbox): Promise<SandboxExit | null> {
    const sb = sandbox as OciSandbox;
    if (sb.hostPid && isAlive(sb.hostPid)) return null;
    return { reason: `the ${this.name} sandbox's init process is gone` };
  }

  async stop(sandbox: Sandbox, opts: { now?: boolean } = {}): Promise<void> {
    const sb = sandbox as OciSandbox;
    for (const c of sb.children ?? []) {
      try {
        c.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
    await this.destroy(sb.id, opts.now ?? false);
  }

  private async destroy(id: string, now: boolean): Promise<void> {
    const flags = this.globalFlags();
    if (!now) await run(this.cli, [...flags, 'kill', id, 'TERM'], { timeoutMs: 5_000 });
    await run(this.cli, [...flags, 'kill', '--all', id, 'KILL'], { timeoutMs: 5_000 });
    await run(this.cli, [...flags, 'delete', '--force', id], { timeoutMs: 15_000 });
    // Anything the CLI lost track of (state file gone after a crash): find it by its id and our root.
    await this.killStrays((args) => args.includes(id));
    await removeCgroups(this.cgroupParent, await this.liveIdsExcept(id));
    await this.releaseRoot(id);
    await fs.rm(path.join(this.bundles, id), { recursive: true, force: true });
    await fs.rm(path.join(this.root, id), { recursive: true, force: true }).catch(() => {});
    // runsc's `<id>_sandbox:<id>.lock`, which a `run` killed mid-boot leaves (delete only removes it with the state file).
    for (const f of await fs.readdir(this.root).catch(() => [] as string[])) if (f.startsWith(`${id}_sandbox:`)) await fs.rm(path.join(this.root, f), { force: true });
  }

  /**
   * SIGKILL the dtach masters `match` selects and everything under them on the
   * host (runc: the console relay and the shell it adopted; gVisor: the CLI's
   * exec, whose end hangs the sandbox's shell up).
   */
  private async killHolders(match: (args: string[]) => boolean): Promise<void> {
    for (const pid of await pidsWithCmdline(`--root=${this.root}`)) {
      const args = (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
      if (!match(args)) continue;
      for (const p of [...(await descendantsOf(pid)), pid]) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
  }

  /** SIGKILL host processes run with our --root whose argv `match` selects. */
  private async killStrays(match: (args: string[]) => boolean): Promise<void> {
    for (const pid of await pidsWithCmdline(`--root=${this.root}`)) {
      const args = (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
      if (match(args)) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
  }

  private async liveIdsExcept(id: string): Promise<Set<string>> {
    const ids = new Set(await fs.readdir(this.bundles).catch(() => [] as string[]));
    ids.delete(id);
    return ids;
  }

  async reap(keep: ReadonlySet<string>): Promise<string[]> {
    const ids = new Set<string>();
    const list = await run(this.cli, [...this.globalFlags(), 'list', '--format=json'], { timeoutMs: 15_000 });
    if (list.code === 0 && list.stdout.trim() && list.stdout.trim() !== 'null') {
      for (const c of JSON.parse(list.stdout) as { id: string }[]) ids.add(c.id);
    }
    for (const d of await fs.readdir(this.bundles).catch(() => [] as string[])) ids.add(d);
    const removed: string[] = [];
    for (const id of ids) {
      if (keep.has(id)) continue;
      await this.destroy(id, true);
      removed.push(id);
    }
    // Processes left with our --root whose state is gone, and stray cgroups. A kept sandbox's processes
    // name it inside a longer argument too (runsc's gofer: `--bundle=…/bundles/<id>`): ids are unique, so any mention keeps.
    await this.killStrays((args) => ![...keep].some((k) => args.some((a) => a.includes(k))));
    await sleep(50);
    for (const id of await removeCgroups(this.cgroupParent, new Set(keep))) if (!removed.includes(id)) removed.push(id);
    return removed;
  }
}
