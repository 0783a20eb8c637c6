/**
 * The `microvm` driver (Kata's architecture): one sandbox = one QEMU `microvm`
 * machine with its own Linux kernel (Debian's cloud kernel from the image), no
 * network device, a discardable qcow2 overlay over the image's ext4 disk, and
 * a guest agent (images/agent/lab-agent.c, PID 1 in the guest) that runs
 * execs over one virtio-serial port (protocol in microvm-agent.ts).
 *
 * Acceleration: KVM is tried once per process; if the guest does not come up
 * under it (this host's KVM fails guests with "KVM internal error" / MSR
 * errors) the driver falls back to TCG for good and logs which it uses.
 *
 * Host state, all under `<stateDir>/microvm/<id>/`:
 *   overlay.qcow2   the sandbox's writable disk (backing file: the image's disk.raw)
 *   agent.sock      QEMU's unix socket for the agent port
 *   console.sock    QEMU's unix socket for the guest's serial console
 *   qemu.pid        QEMU's pid file
 * The backend reads the console socket into a small ring buffer in memory (the
 * last CONSOLE_TAIL_BYTES, for boot error messages). While no backend is
 * connected QEMU drops what the guest prints, so nothing the guest prints
 * reaches the host's disk, and QEMU owes nothing to the backend's stdio: it
 * outlives a killed backend, and the next one adopts it (adopt()).
 * plus the cgroups `/sys/fs/cgroup/{memory,pids,cpu}/<cgroupParent>/<id>` (cgroup v1; v2:
 * `/sys/fs/cgroup/<cgroupParent>/<id>`) holding QEMU, with the sandbox's limits (cgroups.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
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
import { isAlive, pidsWithCmdline, removeCgroups, run, sleep, which } from './host';
import { AgentConnection, capMask, type AgentLiveness } from './microvm-agent';
import { microvmArtifacts } from './microvm-image';
import { replaceWatchdog, startWatchdog } from './watchdog';
import { TOOLBOX_MOUNT, verifiedOnce, verifyDigest } from './toolbox';
import { cgroupLayout, createSandboxCgroup, joinSandboxCgroup, type CgroupLayout } from './cgroups';

const CPU_PERIOD_US = 100_000;
/** QEMU's own memory on top of the guest's RAM, for the host memory cgroup. */
export const QEMU_OVERHEAD_BYTES = 256 * 1024 * 1024;
/** QEMU's own threads, not the guest's processes (the guest kernel bounds those: lab.pids). */
export const QEMU_PIDS_MAX = 256;
/** How long a KVM boot may take before KVM is declared unusable on this host. */
const KVM_PROBE_MS = 15_000;
/** How long a SIGKILLed exec may take to report its exit before we settle it ourselves (a wedged guest never will). */
const KILL_SETTLE_MS = 5_000;
/** How much of the guest's serial console is kept (in memory), for boot error messages. */
export const CONSOLE_TAIL_BYTES = 16 * 1024;
const DEFAULT_LIVENESS: AgentLiveness = { heartbeatMs: 2_000, deadlineMs: 20_000 };

/** The last `cap` bytes written to it. */
export class TailBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  /** Every byte ever written (what a file would have grown to). */
  total = 0;
  constructor(private readonly cap: number) {}
  write(b: Buffer) {
    this.total += b.length;
    if (b.length >= this.cap) {
      this.chunks = [Buffer.from(b.subarray(b.length - this.cap))];
      this.size = this.cap;
      return;
    }
    this.chunks.push(Buffer.from(b));
    this.size += b.length;
    while (this.size - this.chunks[0].length >= this.cap) this.size -= this.chunks.shift()!.length;
    if (this.size > this.cap) {
      // cut the oldest chunk so exactly `cap` bytes remain
      this.chunks[0] = this.chunks[0].subarray(this.size - this.cap);
      this.size = this.cap;
    }
  }
  get bytes(): number {
    return this.size;
  }
  toString(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

export type Accel = 'kvm' | 'tcg';
/** Per process: null = not tried yet. */
let accelDecision: Promise<Accel> | null = null;

/** What describe() says of a microVM (and adopt() checks against the host). */
interface MicrovmSandboxState {
  v: 1;
  id: string;
  /** QEMU's pid. */
  pid: number;
  /** The guest agent's key (hex), given at boot: only the agent can answer with it. */
  key: string;
  accel: Accel;
  startedAt: number;
  spec: SandboxSpec;
}

/** How long an adopted guest's agent may take to answer ADOPT (it notices a vanished host within a second or so). */
const ADOPT_ANSWER_MS = 15_000;

interface MicrovmSandbox extends Sandbox {
  readonly spec: SandboxSpec;
  /** QEMU, when this backend started it; null once killed, and for an adopted sandbox (see pid). */
  qemu: ChildProcess | null;
  /** QEMU's pid (0 until spawned). */
  pid: number;
  consoleSock: net.Socket | null;
  agent: AgentConnection | null;
  exitReason: string | null;
  accel: Accel;
  bootMs: number;
  /** The guest's serial console, last CONSOLE_TAIL_BYTES only. */
  console: TailBuffer;
}

export interface MicrovmOptions {
  stateDir: string;
  qemuPath?: string;
  qemuImgPath?: string;
  /**
   * Boot every sandbox from this image's rootfs (its `microvm/` boot files) instead of
   * `spec.rootfsPath`: lessons name `base`, and the `microvm` image is base plus a kernel.
   */
  imageRootfs?: string;
  /** Force an accelerator instead of probing (tests, hosts known to lack KVM). */
  accel?: Accel;
  /**
   * How often the host asks the guest agent to prove it is still the agent, and
   * how long it may go unanswered before the sandbox is ended (the caller's
   * policy; defaults: every 2 s, 20 s).
   */
  agentLiveness?: AgentLiveness;
  /** How long a sandbox may outlive a killed backend before its watchdog ends it (watchdog.ts); unset: no watchdog. */
  orphanGraceMs?: number;
  /** Where the host's cgroup hierarchies are (default /sys/fs/cgroup; tests pass a fake one that refuses writes). */
  cgroupRoot?: string;
  log?: (line: string) => void;
}

function hostTscKhz(): number {
  try {
    const m = /cpu MHz\s*:\s*([\d.]+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) return Math.round(Number(m[1]) * 1000);
  } catch {
    /* default */
  }
  return 2_000_000;
}

/**
 * QEMU's command line for one microVM: its files live in `dir` (overlay.qcow2,
 * agent.sock, console.sock, qemu.pid). The driver and the benchmark's raw
 * baseline (scripts/bench/prompt.ts) boot with exactly this.
 */
export function qemuArgs(o: {
  name: string;
  dir: string;
  art: ReturnType<typeof microvmArtifacts>;
  accel: Accel;
  memoryBytes: number;
  hostname: string;
  pidsLimit: number;
}): string[] {
  const { dir, art, accel } = o;
  const memMiB = Math.max(128, Math.floor(o.memoryBytes / (1024 * 1024)));
  const cmdline = [
    // reboot=t: a guest reboot (sysrq b, panic) is a triple fault at once, which -no-reboot turns into QEMU exiting
    // (microvm has no keyboard controller or ACPI reset, so the kernel's default methods only time out).
    'console=ttyS0',
    'quiet',
    'panic=1',
    'reboot=t',
    `lab.hostname=${o.hostname}`,
    `lab.pids=${Math.max(16, o.pidsLimit | 0)}`,
    // TCG: microvm has no port 0x61/HPET to calibrate the TSC against; tell the kernel its frequency.
    ...(accel === 'tcg' ? [`tsc_early_khz=${hostTscKhz()}`, 'tsc=reliable', 'no_timer_check'] : []),
  ].join(' ');
  return [
    '-name',
    o.name,
    '-M',
    accel === 'tcg' ? 'microvm,pit=on,pic=on,rtc=on' : 'microvm',
    // TCG's translation cache defaults to 1 GiB and grows into the host memory
    // cgroup until QEMU is OOM-killed; 64 MiB keeps a whole lesson's worth of
    // work under the limit (peak RSS ~350 MB for a 512 MiB guest).
    '-accel',
    accel === 'tcg' ? 'tcg,tb-size=64' : accel,
    '-cpu',
    accel === 'kvm' ? 'host' : 'max',
    '-m',
    `${memMiB}M`,
    '-smp',
    '1',
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-nic',
    'none',
    '-no-reboot',
    '-kernel',
    art.kernel,
    '-initrd',
    art.initrd,
    '-append',
    cmdline,
    // The console is a socket the driver reads into a bounded ring (never a file); unconnected, QEMU drops it.
    '-chardev',
    `socket,id=console,path=${path.join(dir, 'console.sock')},server=on,wait=off`,
    '-serial',
    'chardev:console',
    '-drive',
    `id=root,file=${path.join(dir, 'overlay.qcow2')},format=qcow2,if=none,cache=unsafe`,
    '-device',
    'virtio-blk-device,drive=root',
    // The check toolbox: read-only for QEMU itself, so no guest remount can write to it (the guest's /dev/vdb).
    '-drive',
    `id=toolbox,file=${art.toolbox},format=raw,if=none,readonly=on`,
    '-device',
    'virtio-blk-device,drive=toolbox',
    '-device',
    'virtio-serial-device',
    '-chardev',
    `socket,id=agent,path=${path.join(dir, 'agent.sock')},server=on,wait=off`,
    '-device',
    'virtserialport,chardev=agent,name=lab.agent',
    '-pidfile',
    path.join(dir, 'qemu.pid'),
  ];
}

export class MicrovmDriver implements Driver {
  readonly name = 'microvm' as const;
  private readonly base: string;
  /** Cgroup parent unique to this state dir, so two backends on one host never reap each other. */
  readonly cgroupParent: string;
  private availability?: Promise<{ ok: true } | { ok: false; reason: string }>;
  /** Boot time (start() to agent READY) of the last sandbox, in ms, and its accelerator. */
  lastBoot: { ms: number; accel: Accel } | null = null;

  constructor(private readonly opts: MicrovmOptions) {
    this.base = path.join(opts.stateDir, 'microvm');
    this.cgroupParent = `container-lab-vm-${createHash('sha256').update(path.resolve(opts.stateDir)).digest('hex').slice(0, 8)}`;
  }

  private get qemu(): string {
    return this.opts.qemuPath ?? 'qemu-system-x86_64';
  }
  private get qemuImg(): string {
    return this.opts.qemuImgPath ?? 'qemu-img';
  }
  private log(line: string) {
    (this.opts.log ?? ((l: string) => console.log(`[microvm] ${l}`)))(line);
  }

  available() {
    this.availability ??= (async () => {
      const bin = await which(this.qemu);
      if (!bin) return { ok: false as const, reason: `${this.qemu} was not found on PATH (install the Debian package "qemu-system-x86")` };
      if (!(await which(this.qemuImg))) return { ok: false as const, reason: `qemu-img was not found on PATH (install the Debian package "qemu-utils")` };
      const v = await run(bin, ['-machine', 'help'], { timeoutMs: 10_000 });
      if (v.code !== 0) return { ok: false as const, reason: `"${this.qemu} -machine help" failed: ${(v.stderr || v.stdout).trim().slice(0, 300)}` };
      if (!/^microvm\b/m.test(v.stdout)) return { ok: false as const, reason: `${this.qemu} has no "microvm" machine type` };
      if (this.opts.imageRootfs && !existsSync(microvmArtifacts(this.opts.imageRootfs).disk)) {
        return { ok: false as const, reason: `the "microvm" image has not been built (no ${microvmArtifacts(this.opts.imageRootfs).disk})` };
      }
      return { ok: true as const };
    })();
    return this.availability;
  }

  async start(spec: SandboxSpec, signal?: AbortSignal): Promise<Sandbox> {
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(spec.id)) throw new SandboxStartError(`invalid sandbox id "${spec.id}"`);
    if (!/^[a-zA-Z0-9][a-zA-Z0-9.-]{0,62}$/.test(spec.hostname)) throw new SandboxStartError(`invalid hostname "${spec.hostname}"`);
    const avail = await this.available();
    if (!avail.ok) throw new SandboxStartError(`Cannot start a microVM sandbox: ${avail.reason}`);
    const art = microvmArtifacts(this.opts.imageRootfs ?? spec.rootfsPath);
    for (const f of [art.kernel, art.initrd, art.disk, art.toolbox]) {
      if (!existsSync(f)) throw new SandboxStartError(`the image has no microVM boot files (${f} is missing; build the "microvm" image)`);
    }
    try {
      await verifiedOnce(art.toolbox, verifyDigest);
    } catch (e) {
      throw new SandboxStartError((e as Error).message);
    }
    if (Buffer.byteLength(path.join(this.base, spec.id, 'console.sock')) > 107) {
      throw new SandboxStartError(`the state directory path is too long for QEMU's unix sockets (${path.join(this.base, spec.id, 'console.sock')})`);
    }
    const t0 = Date.now();
    const sb: MicrovmSandbox = {
      id: spec.id,
      runtime: 'microvm',
      startedAt: t0,
      spec,
      qemu: null,
      pid: 0,
      consoleSock: null,
      agent: null,
      exitReason: null,
      accel: 'tcg',
      bootMs: 0,
      console: new TailBuffer(CONSOLE_TAIL_BYTES),
    };
    const dir = path.join(this.base, spec.id);
    try {
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      const ov = await run(this.qemuImg, ['create', '-q', '-f', 'qcow2', '-b', art.disk, '-F', 'raw', path.join(dir, 'overlay.qcow2')], { timeoutMs: 30_000 });
      if (ov.code !== 0) throw new SandboxStartError(`qemu-img could not create the overlay: ${(ov.stderr || ov.stdout).trim().slice(-500)}`);
      await this.makeCgroups(spec);

      let accel: Accel;
      if (this.opts.accel) accel = this.opts.accel;
      else if (accelDecision) accel = await accelDecision;
      else if (!existsSync('/dev/kvm')) {
        accel = 'tcg';
        accelDecision = Promise.resolve('tcg');
        this.log('no /dev/kvm: using TCG (software emulation)');
      } else {
        // First boot of this process decides: try KVM once.
        let decide!: (a: Accel) => void;
        accelDecision = new Promise((r) => {
          decide = r;
        });
        try {
          await this.boot(sb, art, 'kvm', signal, KVM_PROBE_MS);
          decide('kvm');
          this.log('KVM works: using KVM');
        } catch (err) {
          if (signal?.aborted) {
            accelDecision = null;
            decide('tcg');
            throw err;
          }
          decide('tcg');
          this.log(`KVM is not usable here (${(err as Error).message.slice(0, 200)}): using TCG (software emulation)`);
          await this.killQemu(sb);
          await fs.rm(path.join(dir, 'overlay.qcow2'), { force: true });
          const again = await run(this.qemuImg, ['create', '-q', '-f', 'qcow2', '-b', art.disk, '-F', 'raw', path.join(dir, 'overlay.qcow2')], { timeoutMs: 30_000 });
          if (again.code !== 0) throw new SandboxStartError(`qemu-img could not create the overlay: ${(again.stderr || again.stdout).trim().slice(-500)}`);
        }
        accel = await accelDecision;
        if (accel === 'kvm') {
          this.finishBoot(sb, t0);
          return sb;
        }
      }
      await this.boot(sb, art, accel, signal, 0);
      this.finishBoot(sb, t0);
      return sb;
    } catch (err) {
      await this.stop(sb, { now: true });
      if (err instanceof SandboxStartError) throw err;
      throw new SandboxStartError(`the microVM did not start: ${(err as Error).message}`);
    }
  }

  private finishBoot(sb: MicrovmSandbox, t0: number) {
    sb.bootMs = Date.now() - t0;
    this.lastBoot = { ms: sb.bootMs, accel: sb.accel };
    this.log(`sandbox ${sb.id} ready in ${(sb.bootMs / 1000).toFixed(1)} s (${sb.accel})`);
  }

  private qemuArgs(sb: MicrovmSandbox, art: ReturnType<typeof microvmArtifacts>, accel: Accel): string[] {
    return qemuArgs({
      name: `lab-${sb.id}`,
      dir: path.join(this.base, sb.id),
      art,
      accel,
      memoryBytes: sb.spec.limits.memoryLimitBytes,
      hostname: sb.spec.hostname,
      pidsLimit: sb.spec.limits.pidsLimit,
    });
  }

  /** Spawn QEMU and wait for the agent's READY. timeoutMs 0: no timeout (callers abort via signal). */
  private async boot(sb: MicrovmSandbox, art: ReturnType<typeof microvmArtifacts>, accel: Accel, signal: AbortSignal | undefined, timeoutMs: number): Promise<void> {
    sb.accel = accel;
    sb.exitReason = null;
    const dir = path.join(this.base, sb.id);
    // detached: QEMU gets its own process group, out of reach of a signal to the lab's group.
    const child = spawn(this.qemu, this.qemuArgs(sb, art, accel), { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    sb.qemu = child;
    sb.pid = child.pid ?? 0;
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => {
      if (stderr.length < 8192) stderr += b.toString('utf8');
    });
    const exited = new Promise<string>((resolve) => {
      const ended = (reason: string) => {
        if (sb.qemu === child) sb.exitReason ??= reason;
        resolve(reason);
      };
      child.on('error', (e) => ended(`could not run ${this.qemu}: ${e.message}`));
      child.on('exit', (code, sig) => ended(`QEMU exited (${code ?? sig})${stderr.trim() ? `: ${stderr.trim().slice(-300)}` : ''}`));
    });
    await this.placeInCgroups(sb, child.pid);

    let abortListener: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    const failure = new Promise<never>((_, reject) => {
      void exited.then((r) => reject(new SandboxStartError(`the microVM did not boot: ${r}${this.consoleTail(sb)}`)));
      abortListener = () => reject(new SandboxStartError('start aborted'));
      if (signal?.aborted) abortListener();
      signal?.addEventListener('abort', abortListener, { once: true });
      if (timeoutMs) timer = setTimeout(() => reject(new SandboxStartError(`the guest agent did not answer within ${timeoutMs / 1000} s${this.consoleTail(sb)}`)), timeoutMs);
    });
    try {
      this.readConsole(sb, await Promise.race([this.connect(path.join(dir, 'console.sock'), exited), failure]));
      const agent = new AgentConnection(await Promise.race([this.connect(path.join(dir, 'agent.sock'), exited), failure]), this.opts.agentLiveness ?? DEFAULT_LIVENESS);
      this.useAgent(sb, agent);
      await Promise.race([agent.whenReady(), failure]);
      await startWatchdog(this.opts, { pid: sb.pid, cgroup: `${this.cgroupParent}/${sb.id}`, cmdline: [`${dir}/`], args: [] });
    } finally {
      if (timer) clearTimeout(timer);
      if (abortListener) signal?.removeEventListener('abort', abortListener);
    }
  }

  private useAgent(sb: MicrovmSandbox, agent: AgentConnection) {
    sb.agent = agent;
    agent.onClosed(() => {
      if (sb.agent !== agent) return;
      sb.exitReason ??= agent.violation ? `the sandbox was ended because ${agent.violation}` : 'the guest agent connection closed';
      if (agent.violation) this.log(`sandbox ${sb.id}: protocol violation: ${agent.violation}`);
    });
  }

  private readConsole(sb: MicrovmSandbox, sock: net.Socket) {
    sb.consoleSock = sock;
    sock.on('data', (b: Buffer) => sb.console.write(b));
    sock.on('error', () => {
      /* QEMU went: poll() says so */
    });
  }

  private consoleTail(sb: MicrovmSandbox): string {
    const t = sb.console.toString().trim().split('\n').slice(-5).join(' | ');
    return t ? ` (console: ${t.slice(-600)})` : '';
  }

  /** Bytes of the guest's console held in memory for a sandbox, and how many it wrote in all (tests). */
  consoleStats(sandbox: Sandbox): { held: number; total: number } {
    const c = (sandbox as MicrovmSandbox).console;
    return { held: c.bytes, total: c.total };
  }

  /** Connect to one of QEMU's sockets as soon as QEMU has created it. */
  private async connect(sockPath: string, exited: Promise<string>): Promise<net.Socket> {
    let gone = false;
    void exited.then(() => {
      gone = true;
    });
    for (;;) {
      if (gone) throw new Error('QEMU exited');
      const sock = await new Promise<net.Socket | null>((resolve) => {
        const s = net.createConnection(sockPath);
        s.once('connect', () => resolve(s));
        s.once('error', () => {
          s.destroy();
          resolve(null);
        });
      });
      if (sock) return sock;
      await sleep(20);
    }
  }

  // ---- host cgroups around the QEMU process (cgroups.ts: v1 or v2) ---------------------------

  private layout?: Promise<CgroupLayout>;

  /** The sandbox's host limits, or a SandboxStartError: a microVM never runs with them missing. */
  private async makeCgroups(spec: SandboxSpec): Promise<void> {
    try {
      this.layout ??= cgroupLayout(this.opts.cgroupRoot).catch((e) => {
        this.layout = undefined;
        throw e;
      });
      await createSandboxCgroup(await this.layout, this.cgroupParent, spec.id, {
        memoryBytes: spec.limits.memoryLimitBytes + QEMU_OVERHEAD_BYTES,
        cpuPeriodUs: CPU_PERIOD_US,
        cpuQuotaUs: Math.round((spec.limits.cpuQuotaMillicores / 1000) * CPU_PERIOD_US),
        pidsMax: QEMU_PIDS_MAX,
      });
    } catch (e) {
      throw new SandboxStartError(`Cannot apply the sandbox's host limits: ${(e as Error).message}`);
    }
  }

  private async placeInCgroups(sb: MicrovmSandbox, pid: number | undefined): Promise<void> {
    if (!pid) return; // QEMU could not be run at all: the boot fails with spawn's own error
    try {
      await joinSandboxCgroup(await this.layout!, this.cgroupParent, sb.id, pid);
    } catch (e) {
      throw new SandboxStartError(`Cannot put QEMU under the sandbox's host limits: ${(e as Error).message}`);
    }
  }

  readonly adopts = true;

  describe(sandbox: Sandbox): MicrovmSandboxState {
    const sb = sandbox as MicrovmSandbox;
    return { v: 1, id: sb.id, pid: sb.pid, key: sb.agent?.keyHex ?? '', accel: sb.accel, startedAt: sb.startedAt, spec: sb.spec };
  }

  /**
   * Re-attach to a microVM a previous backend of this state dir started: its
   * QEMU must still run as the described pid with this sandbox's files on its
   * command line, and its guest agent must answer ADOPT with the boot's key
   * (a guest whose agent was replaced cannot). The agent then has ended the
   * old backend's execs; held terminals live on in the guest's dtach. The old
   * watchdog is replaced by one owned by this process. A refusal leaves QEMU
   * running, for the caller's reaper.
   */
  async adopt(state: unknown): Promise<Sandbox> {
    const st = state as Partial<MicrovmSandboxState> | null;
    if (
      !st ||
      st.v !== 1 ||
      typeof st.id !== 'string' ||
      !/^[a-z0-9][a-z0-9-]{0,62}$/.test(st.id) ||
      !(Number(st.pid) > 0) ||
      typeof st.key !== 'string' ||
      !/^[0-9a-f]{64}$/.test(st.key) ||
      (st.accel !== 'kvm' && st.accel !== 'tcg') ||
      !st.spec ||
      st.spec.id !== st.id
    ) {
      throw new AdoptError(`not a microvm sandbox description: ${JSON.stringify(state)?.slice(0, 200)}`);
    }
    const id = st.id;
    const pid = st.pid!;
    const dir = path.join(this.base, id);
    const recorded = Number(await fs.readFile(path.join(dir, 'qemu.pid'), 'utf8').catch(() => ''));
    if (recorded !== pid) throw new AdoptError(`sandbox ${id} has no QEMU recorded as pid ${pid} (${recorded ? `its pid file says ${recorded}` : 'no pid file'})`);
    const cmd = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (!isAlive(pid) || !cmd.includes(`${dir}/`)) throw new AdoptError(`sandbox ${id}'s QEMU (pid ${pid}) is not running`);
    const sb: MicrovmSandbox = {
      id,
      runtime: 'microvm',
      startedAt: Number(st.startedAt) || Date.now(),
      spec: st.spec,
      qemu: null,
      pid,
      consoleSock: null,
      agent: null,
      exitReason: null,
      accel: st.accel,
      bootMs: 0,
      console: new TailBuffer(CONSOLE_TAIL_BYTES),
    };
    // Giving up (the time limit, a refusal) also ends a connect still waiting for QEMU's sockets.
    let giveUp!: (why: string) => void;
    const gone = new Promise<string>((r) => (giveUp = r));
    const attach = async (): Promise<void> => {
      this.readConsole(sb, await this.connect(path.join(dir, 'console.sock'), gone));
      const agent = new AgentConnection(await this.connect(path.join(dir, 'agent.sock'), gone), this.opts.agentLiveness ?? DEFAULT_LIVENESS, {
        key: Buffer.from(st.key!, 'hex'),
        adopt: true,
      });
      this.useAgent(sb, agent);
      const closed = new Promise<never>((_, reject) => agent.onClosed(() => reject(new Error(agent.violation ?? 'QEMU closed the agent socket'))));
      await Promise.race([agent.whenReady(), closed]);
    };
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        attach(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`its guest agent did not answer with the boot's key within ${ADOPT_ANSWER_MS / 1000} s`)), ADOPT_ANSWER_MS);
        }),
      ]);
    } catch (e) {
      giveUp('gave up');
      this.letGo(sb);
      throw new AdoptError(`sandbox ${id} cannot be adopted: ${(e as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
    try {
      await replaceWatchdog(this.opts, { pid, cgroup: `${this.cgroupParent}/${id}`, cmdline: [`${dir}/`], args: [] });
    } catch (e) {
      this.letGo(sb);
      throw new AdoptError((e as Error).message);
    }
    return sb;
  }

  /**
   * Drop this backend's connections to the sandbox and nothing else, as a
   * backend that dies does: QEMU, the guest and its watchdog go on (tests of
   * adoption, which run both backends in one process).
   */
  letGo(sandbox: Sandbox): void {
    const sb = sandbox as MicrovmSandbox;
    const agent = sb.agent;
    sb.agent = null;
    agent?.close();
    sb.consoleSock?.destroy();
    sb.consoleSock = null;
    sb.exitReason ??= 'let go';
  }

  // ---- processes ------------------------------------------------------------------------------

  async exec(sandbox: Sandbox, argv: string[], opts: ExecOptions, signal?: AbortSignal): Promise<SandboxProcess> {
    const sb = sandbox as MicrovmSandbox;
    if (argv.length === 0) throw new Error('exec needs a command');
    const agent = sb.agent;
    if (!agent || agent.closed || sb.exitReason) throw new Error(`the sandbox is not running${sb.exitReason ? `: ${sb.exitReason}` : ''}`);
    const listeners: ((c: Buffer, s: StreamName) => void)[] = [];
    const held: [Buffer, StreamName][] = [];
    let paused = false;
    let alive = true;
    let resolveExit!: (s: ExitStatus) => void;
    const exited = new Promise<ExitStatus>((r) => {
      resolveExit = r;
    });
    const deliver = (c: Buffer, s: StreamName) => {
      for (const l of listeners) l(c, s);
    };
    const drainListeners: (() => void)[] = [];
    // What arrives between pause() and the agent seeing PAUSE is held here; the agent
    // connection ends the sandbox if that exceeds its budget (PAUSED_BUDGET_BYTES).
    if (opts.hold !== undefined && !HOLD_NAME.test(opts.hold)) throw new Error(`invalid held terminal name "${opts.hold}"`);
    // A held terminal: dtach in the guest (a real Linux kernel) holds it; the guest's /run is its own.
    const holder = opts.tty && opts.hold !== undefined ? `dtach -A /run/lab-hold-${opts.hold}.sock` : null;
    if (holder) {
      argv = ['/bin/sh', '-c', `if command -v dtach >/dev/null 2>&1; then exec ${holder} -E -z -r winch "$@"; else exec "$@"; fi`, 'lab-hold', ...argv];
    }
    const id = await agent.exec(
      {
        argv,
        env: execEnv(sb.spec.env, opts.env),
        cwd: opts.cwd ?? '/root',
        tty: opts.tty,
        cols: opts.cols ?? 80,
        rows: opts.rows ?? 24,
        caps: capMask(sb.spec.capabilities),
      },
      {
        onData: (c, s) => {
          if (paused) held.push([c, s]);
          else deliver(c, s);
        },
        onExit: (status) => {
          alive = false;
          // Output held by pause() is delivered before the exit settles.
          const flush = () => {
            if (paused) {
              setTimeout(flush, 50);
              return;
            }
            resolveExit(status);
          };
          flush();
        },
        onInputDrain: () => {
          for (const l of drainListeners) l();
        },
      },
      signal,
    );
    const killClient = (signal: NodeJS.Signals) => {
      if (!alive) return;
      agent.signal(id, signal);
      // A wedged guest never answers: after a SIGKILL, settle the exit ourselves so callers' timeouts hold.
      if (signal === 'SIGKILL')
        setTimeout(() => {
          if (alive) {
            alive = false;
            paused = false;
            resolveExit({ code: null, signal: 'SIGKILL' });
          }
        }, KILL_SETTLE_MS).unref();
    };
    // The dtach master (a session of its own: out of reach of the client's group) goes too, and its terminal hangs up
    // on the shell. Found by its command line (the client's, NULs dropped), with the toolbox's bash alone: no pkill there.
    const killHolder = async () => {
      const script = `exec 2>/dev/null; for d in /proc/[0-9]*; do c=$(<"$d/cmdline"); [[ $c == "$1"* ]] && kill -9 "\${d#/proc/}"; done; true`;
      const argv = [`${TOOLBOX_MOUNT}/bin/bash`, '--noprofile', '--norc', '-c', script, 'lab-unhold', holder!.replace(/ /g, '')];
      const p = await this.exec(sb, argv, { tty: false }).catch(() => null);
      if (p) await Promise.race([p.exited, sleep(KILL_SETTLE_MS)]);
    };
    return {
      ...(holder ? { detach: () => killClient('SIGKILL') } : {}),
      onData: (l) => {
        listeners.push(l);
      },
      write: (data) => {
        if (alive && opts.tty) agent.stdin(id, typeof data === 'string' ? Buffer.from(data) : data);
      },
      get pendingInputBytes() {
        return agent.pendingInput(id);
      },
      onInputDrain: (l) => {
        drainListeners.push(l);
      },
      resize: (cols, rows) => {
        if (alive && opts.tty) agent.resize(id, cols, rows);
      },
      // The agent stops reading this exec's output (the process then blocks in the guest);
      // what was already in flight on the shared port is held here until resume().
      pause: () => {
        if (!paused) {
          paused = true;
          if (alive) agent.pauseStream(id);
        }
      },
      resume: () => {
        if (!paused) return;
        paused = false;
        if (alive) agent.resumeStream(id);
        for (const [c, s] of held.splice(0)) deliver(c, s);
      },
      kill: async (signal = 'SIGKILL') => {
        if (!alive) return;
        if (holder) await killHolder();
        killClient(signal);
      },
      exited,
    };
  }

  async poll(sandbox: Sandbox): Promise<SandboxExit | null> {
    const sb = sandbox as MicrovmSandbox;
    if (sb.exitReason) return { reason: sb.exitReason };
    if (sb.qemu ? sb.qemu.exitCode !== null || sb.qemu.signalCode !== null : !sb.agent) return { reason: 'the microVM is gone' };
    if (!sb.pid || !isAlive(sb.pid)) return { reason: 'the microVM is gone' };
    return null;
  }

  private async killQemu(sb: MicrovmSandbox): Promise<void> {
    sb.agent?.close();
    sb.agent = null;
    sb.consoleSock?.destroy();
    sb.consoleSock = null;
    const child = sb.qemu;
    sb.qemu = null;
    if (!child) {
      // Adopted: not our child, so its end is seen in /proc (destroy() also kills by command line).
      if (sb.pid && isAlive(sb.pid)) {
        try {
          process.kill(sb.pid, 'SIGKILL');
        } catch {
          /* gone */
        }
        for (let i = 0; i < 100 && isAlive(sb.pid); i++) await sleep(50);
      }
      return;
    }
    if (child.exitCode !== null || child.signalCode !== null) return;
    const done = new Promise<void>((r) => child.once('exit', () => r()));
    try {
      child.kill('SIGKILL');
    } catch {
      /* gone */
    }
    await Promise.race([done, sleep(5000)]);
  }

  async stop(sandbox: Sandbox, _opts: { now?: boolean } = {}): Promise<void> {
    // Nothing in the guest needs a graceful shutdown: its disk is discarded.
    const sb = sandbox as MicrovmSandbox;
    sb.exitReason ??= 'stopped';
    await this.killQemu(sb);
    await this.destroy(sb.id);
  }

  private async destroy(id: string): Promise<void> {
    const dir = path.join(this.base, id);
    // QEMUs this process lost track of (a crashed backend): found by their state dir on the command line.
    for (const pid of await pidsWithCmdline(`${dir}/`)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    for (let i = 0; i < 100 && (await pidsWithCmdline(`${dir}/`)).length; i++) await sleep(50);
    await removeCgroups(this.cgroupParent, await this.liveIdsExcept(id));
    await fs.rm(dir, { recursive: true, force: true });
  }

  private async liveIdsExcept(id: string): Promise<Set<string>> {
    const ids = new Set(await fs.readdir(this.base).catch(() => [] as string[]));
    ids.delete(id);
    return ids;
  }

  async reap(keep: ReadonlySet<string>): Promise<string[]> {
    const removed: string[] = [];
    for (const id of await fs.readdir(this.base).catch(() => [] as string[])) {
      if (keep.has(id)) continue;
      await this.destroy(id);
      removed.push(id);
    }
    // QEMUs whose state dir is gone, and stray cgroups.
    for (const pid of await pidsWithCmdline(`${this.base}/`)) {
      const cmd = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      if (![...keep].some((k) => cmd.includes(`${path.join(this.base, k)}/`))) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    await sleep(50);
    for (const id of await removeCgroups(this.cgroupParent, new Set(keep))) if (!removed.includes(id)) removed.push(id);
    return removed;
  }
}
