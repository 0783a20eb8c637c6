/**
 * Host side of the microvm guest agent protocol (see images/agent/lab-agent.c).
 * One virtio-serial port carries every exec of a sandbox as frames
 *     [type u8][stream id u32 BE][len u32 BE][payload]
 * Nothing the guest sends is trusted: frame sizes are bounded, unknown ids and
 * types are dropped, payloads are only ever delivered as bytes.
 */
import net from 'node:net';
import { constants as osConstants } from 'node:os';
import type { ExitStatus } from './driver';

export const F = { EXEC: 1, STDIN: 2, RESIZE: 3, SIGNAL: 4, PAUSE: 5, RESUME: 6, READY: 0x80, STARTED: 0x81, DATA: 0x82, EXIT: 0x83, ERROR: 0x84 } as const;
const MAX_FRAME = 1 << 20;

/** Linux capability numbers, for the bounding-set mask sent with EXEC. */
export const CAP_NUMBERS: Record<string, number> = {
  CAP_CHOWN: 0, CAP_DAC_OVERRIDE: 1, CAP_DAC_READ_SEARCH: 2, CAP_FOWNER: 3, CAP_FSETID: 4, CAP_KILL: 5, CAP_SETGID: 6,
  CAP_SETUID: 7, CAP_SETPCAP: 8, CAP_LINUX_IMMUTABLE: 9, CAP_NET_BIND_SERVICE: 10, CAP_NET_BROADCAST: 11, CAP_NET_ADMIN: 12,
  CAP_NET_RAW: 13, CAP_IPC_LOCK: 14, CAP_IPC_OWNER: 15, CAP_SYS_MODULE: 16, CAP_SYS_RAWIO: 17, CAP_SYS_CHROOT: 18,
  CAP_SYS_PTRACE: 19, CAP_SYS_PACCT: 20, CAP_SYS_ADMIN: 21, CAP_SYS_BOOT: 22, CAP_SYS_NICE: 23, CAP_SYS_RESOURCE: 24,
  CAP_SYS_TIME: 25, CAP_SYS_TTY_CONFIG: 26, CAP_MKNOD: 27, CAP_LEASE: 28, CAP_AUDIT_WRITE: 29, CAP_AUDIT_CONTROL: 30,
  CAP_SETFCAP: 31, CAP_MAC_OVERRIDE: 32, CAP_MAC_ADMIN: 33, CAP_SYSLOG: 34, CAP_WAKE_ALARM: 35, CAP_BLOCK_SUSPEND: 36,
  CAP_AUDIT_READ: 37, CAP_PERFMON: 38, CAP_BPF: 39, CAP_CHECKPOINT_RESTORE: 40,
};

export function capMask(caps: readonly string[]): bigint {
  let m = 0n;
  for (const c of caps) { const n = CAP_NUMBERS[c]; if (n !== undefined) m |= 1n << BigInt(n); }
  return m;
}

export interface ExecRequest { argv: string[]; env: string[]; cwd: string; tty: boolean; cols: number; rows: number; caps: bigint }

export interface AgentStream {
  onData: (chunk: Buffer, stream: 'stdout' | 'stderr') => void;
  onExit: (status: ExitStatus) => void;
}

function frame(type: number, id: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUInt8(type, 0); h.writeUInt32BE(id >>> 0, 1); h.writeUInt32BE(payload.length, 5);
  return Buffer.concat([h, payload]);
}

const SIGNAL_NAMES = Object.fromEntries(Object.entries(osConstants.signals).map(([k, v]) => [v, k])) as Record<number, string>;

export class AgentConnection {
  private buf: Buffer = Buffer.alloc(0);
  private nextId = 1;
  private readonly streams = new Map<number, AgentStream>();
  private readonly pending = new Map<number, { resolve: () => void; reject: (e: Error) => void; stream: AgentStream }>();
  private readyWaiters: (() => void)[] = [];
  ready = false;
  closed = false;
  private closeListeners: (() => void)[] = [];

  constructor(private readonly sock: net.Socket) {
    sock.on('data', (b: Buffer) => this.feed(b));
    sock.on('error', () => { /* close follows */ });
    sock.on('close', () => this.onClose());
  }

  /** Resolves on the agent's READY frame. */
  whenReady(): Promise<void> { return this.ready ? Promise.resolve() : new Promise((r) => this.readyWaiters.push(r)); }
  onClosed(l: () => void) { if (this.closed) l(); else this.closeListeners.push(l); }

  private onClose() {
    if (this.closed) return;
    this.closed = true;
    for (const [, p] of this.pending) p.reject(new Error('the sandbox VM went away'));
    this.pending.clear();
    for (const [, s] of this.streams) s.onExit({ code: null, signal: 'SIGKILL' });
    this.streams.clear();
    for (const l of this.closeListeners) l();
  }

  private feed(b: Buffer) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, b]) : b;
    while (this.buf.length >= 9) {
      const len = this.buf.readUInt32BE(5);
      if (len > MAX_FRAME + 16) { this.sock.destroy(); return; }
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
        this.ready = true;
        for (const w of this.readyWaiters.splice(0)) w();
        break;
      case F.STARTED: {
        const p = this.pending.get(id);
        if (!p) break;
        this.pending.delete(id);
        this.streams.set(id, p.stream);
        p.resolve();
        break;
      }
      case F.ERROR: {
        const p = this.pending.get(id);
        if (!p) break;
        this.pending.delete(id);
        p.reject(new Error(`the guest agent could not start the process: ${payload.toString('utf8').slice(0, 300)}`));
        break;
      }
      case F.DATA: {
        const s = this.streams.get(id);
        if (!s || payload.length < 1) break;
        s.onData(Buffer.from(payload.subarray(1)), payload[0] === 2 ? 'stderr' : 'stdout');
        break;
      }
      case F.EXIT: {
        const s = this.streams.get(id);
        if (!s || payload.length < 5) break;
        this.streams.delete(id);
        const code = payload.readInt32BE(0);
        const sig = payload.readUInt8(4);
        s.onExit(sig ? { code: null, signal: SIGNAL_NAMES[sig] ?? `signal ${sig}` } : { code, signal: null });
        break;
      }
      default: break;
    }
  }

  /** Start a process; resolves with its stream id once the agent has started it. */
  exec(req: ExecRequest, stream: AgentStream): Promise<number> {
    if (this.closed) return Promise.reject(new Error('the sandbox VM went away'));
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
      this.pending.set(id, { resolve: () => resolve(id), reject, stream });
      this.sock.write(frame(F.EXEC, id, payload));
    });
  }

  stdin(id: number, data: Buffer) {
    for (let o = 0; o < data.length; o += 65536) this.send(F.STDIN, id, data.subarray(o, o + 65536));
  }

  resize(id: number, cols: number, rows: number) {
    const p = Buffer.alloc(4);
    p.writeUInt16BE(Math.min(65535, Math.max(1, cols | 0)), 0); p.writeUInt16BE(Math.min(65535, Math.max(1, rows | 0)), 2);
    this.send(F.RESIZE, id, p);
  }

  signal(id: number, signal: NodeJS.Signals) {
    const n = osConstants.signals[signal];
    if (n) this.send(F.SIGNAL, id, Buffer.from([n]));
  }

  pause() { this.sock.pause(); }
  resume() { this.sock.resume(); }

  /** Back-pressure for one exec: the agent stops reading its output, so it blocks in the guest. */
  pauseStream(id: number) { this.send(F.PAUSE, id, Buffer.alloc(0)); }
  resumeStream(id: number) { this.send(F.RESUME, id, Buffer.alloc(0)); }

  private send(type: number, id: number, payload: Buffer) { if (!this.closed) this.sock.write(frame(type, id, payload)); }

  close() { this.sock.destroy(); }
}
