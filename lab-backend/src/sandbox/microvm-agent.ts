/**
 * Host side of the microvm guest agent protocol (see images/agent/lab-agent.c).
 * One virtio-serial port carries every exec of a sandbox as frames
 *     [type u8][stream id u32 BE][len u32 BE][payload]
 * Nothing the guest sends is trusted: frame sizes are bounded, unknown ids and
 * types are dropped, payloads are only ever delivered as bytes.
 *
 * Guest root can take the port from the agent (unbind and rebind the
 * virtio-serial device, then open it first), so the connection also checks
 * that it is still talking to the agent it booted:
 *  - on READY the host sends HELLO with a fresh 32-byte key, before any
 *    learner process exists; the agent keeps it in its (non-dumpable) memory;
 *  - every EXIT and every PONG (answer to the host's PING, sent every
 *    `heartbeatMs`) carries the key: a frame without it is a forgery;
 *  - no valid PONG for `deadlineMs`, a forged frame, or more than
 *    PAUSED_BUDGET_BYTES of output for a stream the host paused is a
 *    protocol violation: the connection closes and `violation` says why.
 * Output bytes (DATA) are not authenticated: the learner owns that terminal.
 *
 * Adoption (a restarted backend; MicrovmDriver.adopt): a new connection made
 * with the boot's key (`{ key, adopt: true }`) sends ADOPT with a nonce and
 * drops everything the guest sends until the exact ADOPTED frame carrying that
 * nonce and the key: bytes before it may be the tail of a frame cut short for
 * the old host, and nothing but the agent can write that frame. The agent has
 * then killed the old host's processes, so stream ids start afresh. ADOPT is
 * sent again every ADOPT_RESEND_MS until the answer comes: the guest may get a
 * new host's first bytes before it learns that a host connected, and drop
 * them as the old host's.
 *
 * Input is credit-based: at most INPUT_WINDOW_BYTES of a stream's stdin are in
 * flight to the agent until it acknowledges them (STDIN_ACK, after writing
 * them to the process), so a process that does not read stalls in the host's
 * counted queue (`pendingInput`), never in the port or QEMU.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import net from 'node:net';
import { constants as osConstants } from 'node:os';
import { ExecRefusedError, type ExitStatus } from './driver';

export const F = {
  EXEC: 1,
  STDIN: 2,
  RESIZE: 3,
  SIGNAL: 4,
  PAUSE: 5,
  RESUME: 6,
  HELLO: 7,
  PING: 8,
  ADOPT: 9,
  READY: 0x80,
  STARTED: 0x81,
  DATA: 0x82,
  EXIT: 0x83,
  ERROR: 0x84,
  STDIN_ACK: 0x85,
  PONG: 0x86,
  ADOPTED: 0x87,
} as const;
const MAX_FRAME = 1 << 20;
export const KEY_BYTES = 32;
/** Stdin bytes of one stream that may be on their way to the agent, unacknowledged. */
export const INPUT_WINDOW_BYTES = 128 * 1024;
/** Output the agent may still send for a stream after the host paused it (what was in flight); beyond it: violation. */
export const PAUSED_BUDGET_BYTES = 1024 * 1024;
const STDIN_CHUNK_BYTES = 64 * 1024;
export const ADOPT_RESEND_MS = 250;

export interface AgentLiveness {
  /** How often the host asks the agent to prove it is there. */
  heartbeatMs: number;
  /** No valid answer for this long: the agent is gone or replaced. */
  deadlineMs: number;
}

/** Linux capability numbers, for the bounding-set mask sent with EXEC. */
export const CAP_NUMBERS: Record<string, number> = {
  CAP_CHOWN: 0,
  CAP_DAC_OVERRIDE: 1,
  CAP_DAC_READ_SEARCH: 2,
  CAP_FOWNER: 3,
  CAP_FSETID: 4,
  CAP_KILL: 5,
  CAP_SETGID: 6,
  CAP_SETUID: 7,
  CAP_SETPCAP: 8,
  CAP_LINUX_IMMUTABLE: 9,
  CAP_NET_BIND_SERVICE: 10,
  CAP_NET_BROADCAST: 11,
  CAP_NET_ADMIN: 12,
  CAP_NET_RAW: 13,
  CAP_IPC_LOCK: 14,
  CAP_IPC_OWNER: 15,
  CAP_SYS_MODULE: 16,
  CAP_SYS_RAWIO: 17,
  CAP_SYS_CHROOT: 18,
  CAP_SYS_PTRACE: 19,
  CAP_SYS_PACCT: 20,
  CAP_SYS_ADMIN: 21,
  CAP_SYS_BOOT: 22,
  CAP_SYS_NICE: 23,
  CAP_SYS_RESOURCE: 24,
  CAP_SYS_TIME: 25,
  CAP_SYS_TTY_CONFIG: 26,
  CAP_MKNOD: 27,
  CAP_LEASE: 28,
  CAP_AUDIT_WRITE: 29,
  CAP_AUDIT_CONTROL: 30,
  CAP_SETFCAP: 31,
  CAP_MAC_OVERRIDE: 32,
  CAP_MAC_ADMIN: 33,
  CAP_SYSLOG: 34,
  CAP_WAKE_ALARM: 35,
  CAP_BLOCK_SUSPEND: 36,
  CAP_AUDIT_READ: 37,
  CAP_PERFMON: 38,
  CAP_BPF: 39,
  CAP_CHECKPOINT_RESTORE: 40,
};

export function capMask(caps: readonly string[]): bigint {
  let m = 0n;
  for (const c of caps) {
    const n = CAP_NUMBERS[c];
    if (n !== undefined) m |= 1n << BigInt(n);
  }
  return m;
}

export interface ExecRequest {
  argv: string[];
  env: string[];
  cwd: string;
  tty: boolean;
  cols: number;
  rows: number;
  caps: bigint;
}

export interface AgentStream {
  onData: (chunk: Buffer, stream: 'stdout' | 'stderr') => void;
  onExit: (status: ExitStatus) => void;
  /** Some of this stream's pending input reached the process. */
  onInputDrain?: () => void;
}

interface StreamState {
  stream: AgentStream;
  /** Stdin not yet sent (waiting for window) and sent but unacknowledged. */
  queued: Buffer[];
  queuedBytes: number;
  inFlight: number;
  /** Output bytes received since the host sent PAUSE (null while not paused). */
  pausedBytes: number | null;
}

function frame(type: number, id: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUInt8(type, 0);
  h.writeUInt32BE(id >>> 0, 1);
  h.writeUInt32BE(payload.length, 5);
  return Buffer.concat([h, payload]);
}

const SIGNAL_NAMES = Object.fromEntries(Object.entries(osConstants.signals).map(([k, v]) => [v, k])) as Record<number, string>;

export class AgentConnection {
  private buf: Buffer = Buffer.alloc(0);
  private nextId = 1;
  private readonly streams = new Map<number, StreamState>();
  private readonly pending = new Map<number, { resolve: () => void; reject: (e: Error) => void; state: StreamState }>();
  /** Execs given up before they started (their deadline passed): killed if the agent starts them after all. */
  private readonly abandoned = new Set<number>();
  private readyWaiters: (() => void)[] = [];
  ready = false;
  closed = false;
  /** Why the host stopped trusting the guest (a protocol violation), if it did. */
  violation: string | null = null;
  private closeListeners: (() => void)[] = [];
  private readonly key: Buffer;
  private readonly pings = new Map<string, number>();
  private lastProofAt = 0;
  private heartbeat: NodeJS.Timeout | null = null;
  /** Adopting: the ADOPTED frame still awaited (everything before it is dropped). */
  private awaited: Buffer | null = null;
  private adoptResend: NodeJS.Timeout | null = null;

  constructor(
    private readonly sock: net.Socket,
    private readonly liveness?: AgentLiveness,
    opts: { key?: Buffer; adopt?: boolean } = {},
  ) {
    if (opts.key && opts.key.length !== KEY_BYTES) throw new Error(`an agent key is ${KEY_BYTES} bytes`);
    this.key = opts.key ? Buffer.from(opts.key) : randomBytes(KEY_BYTES);
    if (opts.adopt) {
      const nonce = randomBytes(8);
      this.awaited = frame(F.ADOPTED, 0, Buffer.concat([nonce, this.key]));
      const ask = frame(F.ADOPT, 0, nonce);
      sock.write(ask);
      // Each ADOPT the agent reads ends what runs, and every one is read before this host's first EXEC: harmless to repeat.
      this.adoptResend = setInterval(() => this.sock.write(ask), ADOPT_RESEND_MS);
      this.adoptResend.unref();
    }
    sock.on('data', (b: Buffer) => this.feed(b));
    sock.on('error', () => {
      /* close follows */
    });
    sock.on('close', () => this.onClose());
  }

  /** The key the agent was given at boot (what describe() keeps, so a restarted backend can adopt). */
  get keyHex(): string {
    return this.key.toString('hex');
  }

  /** Resolves on the agent's READY frame (adopting: on its ADOPTED answer). */
  whenReady(): Promise<void> {
    return this.ready ? Promise.resolve() : new Promise((r) => this.readyWaiters.push(r));
  }
  onClosed(l: () => void) {
    if (this.closed) l();
    else this.closeListeners.push(l);
  }

  private stopAdoptResend() {
    if (this.adoptResend) clearInterval(this.adoptResend);
    this.adoptResend = null;
  }

  private onClose() {
    if (this.closed) return;
    this.closed = true;
    this.stopAdoptResend();
    if (this.heartbeat) clearInterval(this.heartbeat);
    const why = this.violation ? `the sandbox was ended: ${this.violation}` : 'the sandbox VM went away';
    for (const [, p] of this.pending) p.reject(new Error(why));
    this.pending.clear();
    for (const [, s] of this.streams) s.stream.onExit({ code: null, signal: 'SIGKILL' });
    this.streams.clear();
    for (const l of this.closeListeners) l();
  }

  /** The guest broke the protocol: stop listening to it at once. */
  private violate(reason: string) {
    if (this.closed) return;
    this.violation ??= reason;
    this.sock.destroy();
    this.onClose();
  }

  private hasKey(b: Buffer): boolean {
    return b.length === KEY_BYTES && timingSafeEqual(b, this.key);
  }

  private startHeartbeat() {
    const l = this.liveness;
    if (!l || this.heartbeat) return;
    this.lastProofAt = Date.now();
    this.heartbeat = setInterval(() => {
      if (Date.now() - this.lastProofAt > l.deadlineMs) {
        this.violate(`its guest agent did not answer for ${Math.round(l.deadlineMs / 1000)} s (it was stopped or replaced)`);
        return;
      }
      const nonce = randomBytes(8);
      this.pings.set(nonce.toString('hex'), Date.now());
      if (this.pings.size > 64) this.pings.delete(this.pings.keys().next().value!);
      this.send(F.PING, 0, nonce);
    }, l.heartbeatMs);
    this.heartbeat.unref();
  }

  private feed(b: Buffer) {
    if (this.closed) return;
    this.buf = this.buf.length ? Buffer.concat([this.buf, b]) : b;
    if (this.awaited) {
      const at = this.buf.indexOf(this.awaited);
      if (at < 0) {
        // Keep only what could still be the start of the awaited frame.
        this.buf = this.buf.subarray(Math.max(0, this.buf.length - (this.awaited.length - 1)));
        return;
      }
      this.buf = this.buf.subarray(at + this.awaited.length);
      this.awaited = null;
      this.stopAdoptResend();
      this.ready = true;
      this.startHeartbeat();
      for (const w of this.readyWaiters.splice(0)) w();
    }
    while (this.buf.length >= 9 && !this.closed) {
      const len = this.buf.readUInt32BE(5);
      if (len > MAX_FRAME + 16) {
        this.violate(`its guest sent a malformed frame (${len} bytes)`);
        return;
      }
      if (this.buf.length < 9 + len) break;
      const type = this.buf.readUInt8(0);
      const id = this.buf.readUInt32BE(1);
      const payload = this.buf.subarray(9, 9 + len);
      this.buf = this.buf.subarray(9 + len);
      this.handle(type, id, payload);
    }
  }

  private handle(type: number, id: number, payload: Buffer) {
    switch (type) {
      case F.READY:
        if (this.ready) break; // only the first one counts
        this.ready = true;
        // The key goes out before anything else can: no learner process exists yet.
        this.send(F.HELLO, 0, this.key);
        this.startHeartbeat();
        for (const w of this.readyWaiters.splice(0)) w();
        break;
      case F.PONG: {
        const nonce = payload.subarray(0, 8).toString('hex');
        if (payload.length !== 8 + KEY_BYTES || !this.hasKey(payload.subarray(8))) {
          this.violate('a process in the guest answered in place of its agent');
          break;
        }
        if (this.pings.delete(nonce)) this.lastProofAt = Date.now();
        break;
      }
      case F.STARTED: {
        if (this.abandoned.delete(id)) {
          this.send(F.SIGNAL, id, Buffer.from([osConstants.signals.SIGKILL]));
          break;
        }
        const p = this.pending.get(id);
        if (!p) break;
        this.pending.delete(id);
        this.streams.set(id, p.state);
        p.resolve();
        break;
      }
      case F.STDIN_ACK: {
        const s = this.streams.get(id);
        if (!s || payload.length < 4) break;
        // Never more than was sent, whatever the guest claims.
        s.inFlight -= Math.min(s.inFlight, payload.readUInt32BE(0));
        this.pumpInput(id, s);
        s.stream.onInputDrain?.();
        break;
      }
      case F.ERROR: {
        this.abandoned.delete(id);
        const p = this.pending.get(id);
        if (!p) break;
        this.pending.delete(id);
        const why = payload.toString('utf8').slice(0, 400);
        // "toolbox:" is the agent refusing on purpose (lab-agent.c, open_toolbox_exec); its text is for the learner.
        p.reject(why.startsWith('toolbox: ') ? new ExecRefusedError(why.slice('toolbox: '.length)) : new Error(`the guest agent could not start the process: ${why}`));
        break;
      }
      case F.DATA: {
        const s = this.streams.get(id);
        if (!s || payload.length < 1) break;
        if (s.pausedBytes !== null) {
          s.pausedBytes += payload.length - 1;
          if (s.pausedBytes > PAUSED_BUDGET_BYTES) {
            this.violate('its guest kept sending output for a paused terminal');
            break;
          }
        }
        s.stream.onData(Buffer.from(payload.subarray(1)), payload[0] === 2 ? 'stderr' : 'stdout');
        break;
      }
      case F.EXIT: {
        const s = this.streams.get(id);
        if (!s) break;
        if (payload.length !== 5 + KEY_BYTES || !this.hasKey(payload.subarray(5))) {
          this.violate('a process in the guest forged an exit status');
          break;
        }
        this.streams.delete(id);
        const code = payload.readInt32BE(0);
        const sig = payload.readUInt8(4);
        s.stream.onExit(sig ? { code: null, signal: SIGNAL_NAMES[sig] ?? `signal ${sig}` } : { code, signal: null });
        break;
      }
      default:
        break;
    }
  }

  /**
   * Start a process; resolves with its stream id once the agent has started it.
   * Rejects when `signal` fires first; a process the agent starts after that is killed.
   */
  exec(req: ExecRequest, stream: AgentStream, signal?: AbortSignal): Promise<number> {
    if (this.closed) return Promise.reject(new Error(this.violation ? `the sandbox was ended: ${this.violation}` : 'the sandbox VM went away'));
    if (signal?.aborted) return Promise.reject(new Error('exec aborted'));
    const id = this.nextId++;
    const head = Buffer.alloc(21);
    head.writeUInt8(req.tty ? 1 : 0, 0);
    head.writeUInt16BE(Math.min(65535, Math.max(1, req.cols | 0)), 1);
    head.writeUInt16BE(Math.min(65535, Math.max(1, req.rows | 0)), 3);
    head.writeBigUInt64BE(req.caps, 5);
    head.writeUInt32BE(req.argv.length, 13);
    head.writeUInt32BE(req.env.length, 17);
    const strs = [req.cwd, ...req.argv, ...req.env].map((s) => Buffer.from(`${s.replace(/\0/g, '')}\0`));
    const payload = Buffer.concat([head, ...strs]);
    if (payload.length > MAX_FRAME) return Promise.reject(new Error('command line too long'));
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        if (!this.pending.delete(id)) return;
        this.abandoned.add(id);
        reject(new Error('exec aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const state: StreamState = { stream, queued: [], queuedBytes: 0, inFlight: 0, pausedBytes: null };
      this.pending.set(id, {
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(id);
        },
        reject: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
        state,
      });
      this.sock.write(frame(F.EXEC, id, payload));
    });
  }

  /** Queue stdin for a stream; it goes out as the agent's acknowledgements open the window. */
  stdin(id: number, data: Buffer) {
    const s = this.streams.get(id);
    if (!s || this.closed) return;
    s.queued.push(Buffer.from(data));
    s.queuedBytes += data.length;
    this.pumpInput(id, s);
  }

  /** Stdin of a stream that the process has not taken yet (queued here or in flight to the agent). */
  pendingInput(id: number): number {
    const s = this.streams.get(id);
    return s ? s.queuedBytes + s.inFlight : 0;
  }

  private pumpInput(id: number, s: StreamState) {
    while (s.queued.length && s.inFlight < INPUT_WINDOW_BYTES && !this.closed) {
      const room = Math.min(INPUT_WINDOW_BYTES - s.inFlight, STDIN_CHUNK_BYTES);
      const head = s.queued[0];
      const part = head.subarray(0, room);
      if (part.length === head.length) s.queued.shift();
      else s.queued[0] = head.subarray(part.length);
      s.queuedBytes -= part.length;
      s.inFlight += part.length;
      this.send(F.STDIN, id, part);
    }
  }

  resize(id: number, cols: number, rows: number) {
    const p = Buffer.alloc(4);
    p.writeUInt16BE(Math.min(65535, Math.max(1, cols | 0)), 0);
    p.writeUInt16BE(Math.min(65535, Math.max(1, rows | 0)), 2);
    this.send(F.RESIZE, id, p);
  }

  signal(id: number, signal: NodeJS.Signals) {
    const n = osConstants.signals[signal];
    if (n) this.send(F.SIGNAL, id, Buffer.from([n]));
  }

  /** Back-pressure for one exec: the agent stops reading its output, so it blocks in the guest. */
  pauseStream(id: number) {
    const s = this.streams.get(id);
    if (s && s.pausedBytes === null) s.pausedBytes = 0;
    this.send(F.PAUSE, id, Buffer.alloc(0));
  }
  resumeStream(id: number) {
    const s = this.streams.get(id);
    if (s) s.pausedBytes = null;
    this.send(F.RESUME, id, Buffer.alloc(0));
  }

  private send(type: number, id: number, payload: Buffer) {
    if (!this.closed) this.sock.write(frame(type, id, payload));
  }

  close() {
    this.stopAdoptResend();
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.sock.destroy();
  }
}
