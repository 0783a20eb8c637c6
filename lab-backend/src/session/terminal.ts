/**
 * The session's shell: one PTY exec that outlives sockets (a reload finds it),
 * followed by any number of peers, each with a role the server enforces:
 *
 *  - the **owner** (at most one; a newer owner socket replaces the older, as a
 *    reload does): its keystrokes and resizes reach the shell, and end-to-end
 *    flow control pauses the shell while the owner's client is behind;
 *  - **viewers** (at most MAX_VIEWERS): they get the replayed screen, then live
 *    output; whatever they send is dropped here. A viewer never slows the
 *    shell: one that stops reading is disconnected once VIEWER_MAX_QUEUED_BYTES
 *    pile up on its socket.
 *
 * Every peer is told its role on attach; everyone is told how many viewers
 * there are (the owner's panel shows "1 watching").
 */
import { SandboxStartError, toLabError } from '../errors';
import type { SandboxProcess } from '../sandbox/driver';
import type { ServerMessage } from '../wire';
import { FLOW_HIGH_WATER_BYTES, FLOW_LOW_WATER_BYTES } from '../wire';
import type { Session } from './session';
import { TerminalLog } from './terminal-log';

/** The socket side of a terminal, as the session sees it (a WebSocket in production). */
export interface TerminalPeer {
  /** Queue output on the socket; the peer calls terminal.outputFlushed() as queued bytes leave. */
  sendOutput(chunk: Buffer): void;
  /** Output bytes queued on the socket that the network has not taken yet. */
  readonly queuedOutputBytes: number;
  send(msg: ServerMessage): void;
  close(code: number, reason: string): void;
  /** Stop reading keystrokes from the socket (the shell is not taking them); resumeInput() to go on. */
  pauseInput(): void;
  resumeInput(): void;
}

export type PeerRole = 'owner' | 'viewer';

const TERMINAL_REPLAY_BYTES = 64 * 1024;
/** Output queued on the owner's socket that the client does not read: pause the shell above, resume below (whatever it acks). */
export const SOCKET_HIGH_WATER_BYTES = 256 * 1024;
export const SOCKET_LOW_WATER_BYTES = 64 * 1024;
/** Keystrokes the shell has not taken yet: stop reading the owner's socket above, read again below. */
export const INPUT_HIGH_WATER_BYTES = 256 * 1024;
export const INPUT_LOW_WATER_BYTES = 64 * 1024;
/** Viewers one terminal serves at once. */
export const MAX_VIEWERS = 8;
/** A viewer whose socket holds more unsent output than this is disconnected (it would otherwise hold memory or stall the shell). */
export const VIEWER_MAX_QUEUED_BYTES = 1024 * 1024;
/** How long the sandbox may take to start the learner's shell. */
const SHELL_START_MS = 60_000;
/**
 * The learner's shell: a held terminal (ExecOptions.hold), so it outlives the
 * backend: when the backend dies, the holder keeps the shell and its
 * terminal; the next backend's exec of the same hold attaches to the same
 * shell. The holder is dtach (on the host for gVisor and runc, in the guest
 * for a microVM), which redraws on attach.
 */
export const SHELL = ['/bin/bash', '-l'];
export const TERMINAL_HOLD = 'terminal';
/** What dtach writes first when it attaches: cursor home, clear the screen. */
const DTACH_CLEAR = Buffer.from('\x1b[H\x1b[J');

export class SessionTerminal {
  private proc: SandboxProcess | null = null;
  private owner: TerminalPeer | null = null;
  private readonly viewerPeers = new Set<TerminalPeer>();
  private replay: Buffer[] = [];
  private replayBytes = 0;
  /** Output sent to the owner, and how much of it the owner acknowledged (never more than was sent). */
  private sent = 0;
  private acked = 0;
  private paused = false;
  private inputPaused = false;
  private cols = 80;
  private rows = 24;
  private spawning: Promise<void> | null = null;
  /** The screen's tail on disk, once the session has an owner and a place for it (terminal-log.ts). */
  private tlog: TerminalLog | null = null;

  constructor(private readonly session: Session) {
    session.events.on((e) => {
      if (e.type === 'status' || e.type === 'expiring' || e.type === 'extended' || e.type === 'viewers') this.sendAll(e);
      else if (e.type === 'ended') this.endPeers({ type: 'ended', reason: e.reason, message: e.message });
    });
  }

  /** The owner has a socket attached. */
  get attached(): boolean {
    return this.owner !== null;
  }
  get viewers(): number {
    return this.viewerPeers.size;
  }
  /** Sockets attached, the owner's and viewers'. */
  get peers(): number {
    return this.viewerPeers.size + (this.owner ? 1 : 0);
  }

  /**
   * A socket arrived. An owner's replaces any previous owner's (a reload);
   * a viewer's joins the others (refused past MAX_VIEWERS). Each gets its
   * role, the status, then the screen so far and live output once ready.
   */
  async attach(peer: TerminalPeer, size?: { cols: number; rows: number }, role: PeerRole = 'owner'): Promise<void> {
    const s = this.session;
    if (s.ended) {
      // Still saving the learner's work: answer with the end as it will be told, files note included.
      await s.endAnnounced;
      peer.send({ type: 'status', status: s.status, ...(s.statusMessage ? { message: s.statusMessage } : {}) });
      peer.send({ type: 'ended', reason: s.endReason ?? 'closed', message: s.statusMessage ?? 'This sandbox has ended.' });
      peer.close(1000, 'session ended');
      return;
    }
    if (role === 'viewer') {
      if (this.viewerPeers.size >= MAX_VIEWERS) {
        peer.send({ type: 'error', code: 'busy', message: `This terminal already has ${MAX_VIEWERS} viewers.` });
        peer.close(1013, 'too many viewers');
        return;
      }
      this.viewerPeers.add(peer);
    } else {
      if (this.owner) this.owner.close(4000, 'replaced by a newer connection');
      this.owner = peer;
      s.detachedAt = null;
      this.sent = 0;
      this.acked = 0;
      this.inputPaused = false;
      if (size) {
        this.cols = size.cols;
        this.rows = size.rows;
      }
    }
    peer.send({ type: 'role', role });
    peer.send({
      type: 'status',
      status: s.status,
      ...(s.statusMessage ? { message: s.statusMessage } : {}),
      ...(s.status === 'queued' ? { queuePosition: s.ctx.queuePosition(s) } : {}),
    });
    if (role === 'viewer') s.emit({ type: 'viewers', count: this.viewerPeers.size });
    else peer.send({ type: 'viewers', count: this.viewerPeers.size });
    await s.ready;
    if (!this.has(peer) || s.ended) return;
    await this.ensureShell();
    if (!this.has(peer)) return;
    for (const chunk of this.replay) peer.sendOutput(chunk);
    if (role === 'owner') {
      this.sent += this.replayBytes;
      this.proc?.resize(this.cols, this.rows);
      this.checkFlow();
    }
  }

  detach(peer: TerminalPeer) {
    if (this.viewerPeers.delete(peer)) {
      this.session.emit({ type: 'viewers', count: this.viewerPeers.size });
      return;
    }
    if (this.owner !== peer) return;
    this.owner = null;
    this.session.detachedAt = this.session.ctx.now();
    this.resumeOutput();
  }

  roleOf(peer: TerminalPeer): PeerRole | null {
    return this.owner === peer ? 'owner' : this.viewerPeers.has(peer) ? 'viewer' : null;
  }

  private has(peer: TerminalPeer): boolean {
    return this.owner === peer || this.viewerPeers.has(peer);
  }

  private sendAll(msg: ServerMessage) {
    this.owner?.send(msg);
    for (const v of this.viewerPeers) v.send(msg);
  }

  /** Keystrokes from `from`: only the owner's reach the shell. When the shell stops taking them, the owner's socket stops being read until it catches up. */
  input(from: TerminalPeer, data: Buffer) {
    if (from !== this.owner || this.session.ended) return;
    this.session.touch();
    const proc = this.proc;
    if (!proc) return;
    proc.write(data);
    if (!this.inputPaused && proc.pendingInputBytes > INPUT_HIGH_WATER_BYTES) {
      this.inputPaused = true;
      this.owner.pauseInput();
    }
  }

  private inputDrained(proc: SandboxProcess) {
    if (this.inputPaused && this.proc === proc && proc.pendingInputBytes <= INPUT_LOW_WATER_BYTES) {
      this.inputPaused = false;
      this.owner?.resumeInput();
    }
  }

  /** The owner's window size; a viewer's is dropped (the screen is the owner's). */
  resize(from: TerminalPeer, cols: number, rows: number) {
    if (from !== this.owner) return;
    this.cols = Math.min(Math.max(cols | 0, 2), 500);
    this.rows = Math.min(Math.max(rows | 0, 2), 200);
    this.proc?.resize(this.cols, this.rows);
  }

  /** The owner's client rendered `bytes` more of the output; an ack never counts for more than was sent. A viewer's acks change nothing. */
  ack(from: TerminalPeer, bytes: number) {
    if (from !== this.owner || !Number.isFinite(bytes) || bytes <= 0) return;
    this.acked = Math.min(this.sent, this.acked + Math.floor(bytes));
    this.checkFlow();
  }

  /** A socket's queue shrank (the network took some output). */
  outputFlushed() {
    this.checkFlow();
  }

  /** The owner's output in flight: what its client has not acknowledged, and what still sits on its socket. */
  get flow(): { unacked: number; queued: number; paused: boolean; inputPaused: boolean; pendingInput: number } {
    return {
      unacked: this.sent - this.acked,
      queued: this.owner?.queuedOutputBytes ?? 0,
      paused: this.paused,
      inputPaused: this.inputPaused,
      pendingInput: this.proc?.pendingInputBytes ?? 0,
    };
  }

  /** Pause the shell's output while either the owner's acks or its socket's queue are behind; resume when both caught up. */
  private checkFlow() {
    const unacked = this.sent - this.acked;
    const queued = this.owner?.queuedOutputBytes ?? 0;
    if (!this.paused && (unacked >= FLOW_HIGH_WATER_BYTES || queued >= SOCKET_HIGH_WATER_BYTES)) {
      this.paused = true;
      this.proc?.pause();
    } else if (this.paused && unacked <= FLOW_LOW_WATER_BYTES && queued <= SOCKET_LOW_WATER_BYTES) {
      this.resumeOutput();
    }
  }

  private resumeOutput() {
    if (this.paused) {
      this.paused = false;
      this.proc?.resume();
    }
  }

  /** Start the shell before anyone is attached (at boot). */
  prewarm(): Promise<void> {
    return this.ensureShell();
  }

  private ensureShell(): Promise<void> {
    if (this.proc) return Promise.resolve();
    this.spawning ??= this.spawnShell().finally(() => {
      this.spawning = null;
    });
    return this.spawning;
  }

  private async spawnShell(): Promise<void> {
    const s = this.session;
    if (!s.sandbox || s.ended) return;
    const deadline = AbortSignal.any([s.bootAbort.signal, AbortSignal.timeout(SHELL_START_MS)]);
    const proc = await s.exec(SHELL, { tty: true, cols: this.cols, rows: this.rows, cwd: '/root', hold: TERMINAL_HOLD }, deadline).catch((err) => {
      throw new SandboxStartError(
        deadline.aborted && !s.ended ? `The sandbox did not start a shell within ${SHELL_START_MS / 1000} s.` : `Could not start a shell: ${(err as Error).message}`,
      );
    });
    if (s.ended) {
      void proc.kill('SIGKILL');
      return;
    }
    this.proc = proc;
    this.paused = false;
    this.inputPaused = false;
    this.owner?.resumeInput();
    // dtach clears the screen as it attaches (ESC[H ESC[J): dropped, so a reattached terminal keeps what it showed.
    let head: Buffer | null = Buffer.alloc(0);
    proc.onData((chunk) => {
      if (head === null) {
        this.output(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      if (head.length < DTACH_CLEAR.length && DTACH_CLEAR.subarray(0, head.length).equals(head)) return; // could still be it
      const rest = head.subarray(0, DTACH_CLEAR.length).equals(DTACH_CLEAR) ? head.subarray(DTACH_CLEAR.length) : head;
      head = null;
      if (rest.length) this.output(rest);
    });
    proc.onInputDrain(() => this.inputDrained(proc));
    void proc.exited.then(() => {
      if (this.proc !== proc) return;
      this.proc = null;
      if (s.ended) return;
      this.output(Buffer.from('\r\n[the shell exited; starting a new one]\r\n'));
      if (this.owner) {
        this.ensureShell().catch((err) => {
          // The sandbox is gone (or its agent): the manager's next tick ends the session and says why.
          s.ctx.log(`session ${s.id}: could not restart the shell: ${toLabError(err).message}`);
        });
      }
    });
  }

  private output(chunk: Buffer) {
    this.replay.push(chunk);
    this.replayBytes += chunk.length;
    while (this.replayBytes > TERMINAL_REPLAY_BYTES && this.replay.length > 1) this.replayBytes -= this.replay.shift()!.length;
    this.keep(chunk);
    for (const v of [...this.viewerPeers]) {
      v.sendOutput(chunk);
      if (v.queuedOutputBytes > VIEWER_MAX_QUEUED_BYTES) {
        v.send({ type: 'error', code: 'busy', message: 'This viewer fell too far behind the terminal and was disconnected. Open it again to catch up.' });
        v.close(4001, 'viewer too slow');
        this.detach(v);
      }
    }
    if (!this.owner) return; // the owner is away: the replay buffer keeps the tail, output keeps flowing
    this.owner.sendOutput(chunk);
    this.sent += chunk.length;
    this.checkFlow();
  }

  /** Copies output to the screen log; the first copy of a session (e.g. a claimed warm sandbox) starts with the whole tail. */
  private keep(chunk: Buffer) {
    if (this.tlog) {
      this.tlog.append(chunk);
      return;
    }
    if (this.session.state === 'ended') return; // late output: the log went with the session
    const file = this.session.ctx.terminalLogPath(this.session);
    if (!file) return;
    this.tlog = new TerminalLog(
      file,
      () => this.replay,
      (m) => this.session.ctx.log(m),
    );
    this.tlog.append(Buffer.concat(this.replay));
  }

  /**
   * An adopted session (a restarted backend): the screen so far is what the
   * previous backend's log kept. The shell is reattached by the next
   * ensureShell() (prewarm or a peer's attach).
   */
  async adoptScreen(): Promise<void> {
    const file = this.session.ctx.terminalLogPath(this.session);
    if (!file) return;
    const kept = await TerminalLog.read(file, TERMINAL_REPLAY_BYTES);
    this.replay = kept.length ? [kept] : [];
    this.replayBytes = kept.length;
    this.tlog = new TerminalLog(
      file,
      () => this.replay,
      (m) => this.session.ctx.log(m),
    );
    await this.tlog.reset(kept);
  }

  /** Writes the screen log now (a hand-over: the next backend replays it). */
  flushScreen(): Promise<void> {
    return this.tlog?.flush() ?? Promise.resolve();
  }

  /** The shell process (the dtach client) ends; the screen log goes with the session. */
  async close() {
    const proc = this.proc;
    this.proc = null;
    await proc?.kill('SIGKILL');
    await this.tlog?.remove();
  }

  /** The session ended: every peer is told why and closed. */
  private endPeers(msg: ServerMessage) {
    const all = [...(this.owner ? [this.owner] : []), ...this.viewerPeers];
    this.owner = null;
    this.viewerPeers.clear();
    for (const p of all) {
      p.send(msg);
      p.close(1000, 'session ended');
    }
  }
}
