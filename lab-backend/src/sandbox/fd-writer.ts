/**
 * Writes a terminal's input to a non-blocking file descriptor (a PTY master)
 * in order, counting what is still queued. It replaces node-pty's own write
 * queue, which neither says how much it holds (a shell that stops reading made
 * it grow without bound) nor waits for the descriptor to become writable (it
 * retries EAGAIN in a setImmediate loop) and logs an error for every write
 * after the terminal closed.
 *
 * On EAGAIN it retries after a short, growing delay (node has no "writable"
 * event for a raw descriptor); after close() or any other error, queued and
 * later bytes are dropped silently: the process is gone.
 */
import { write as fsWrite } from 'node:fs';

const RETRY_MIN_MS = 2;
const RETRY_MAX_MS = 50;

export class FdWriter {
  private readonly queue: Buffer[] = [];
  private offset = 0;
  private queued = 0;
  private writing = false;
  private closed = false;
  private retryMs = RETRY_MIN_MS;
  private timer: NodeJS.Timeout | null = null;
  private readonly drainListeners: (() => void)[] = [];

  constructor(private readonly fd: number) {}

  /** Bytes accepted by write() that the descriptor has not taken yet. */
  get pendingBytes(): number {
    return this.queued;
  }

  onDrain(listener: () => void) {
    this.drainListeners.push(listener);
  }

  write(data: Buffer) {
    if (this.closed || data.length === 0) return;
    this.queue.push(Buffer.from(data));
    this.queued += data.length;
    if (!this.writing && !this.timer) this.next();
  }

  close() {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.queue.length = 0;
    this.queued = 0;
  }

  private next() {
    if (this.closed || this.queue.length === 0) return;
    const head = this.queue[0];
    this.writing = true;
    fsWrite(this.fd, head, this.offset, head.length - this.offset, null, (err, written) => {
      this.writing = false;
      if (this.closed) return;
      if (err) {
        if (err.code === 'EAGAIN' || err.code === 'EINTR') {
          this.timer = setTimeout(() => {
            this.timer = null;
            this.next();
          }, this.retryMs);
          this.retryMs = Math.min(RETRY_MAX_MS, this.retryMs * 2);
          return;
        }
        this.close(); // EBADF, EIO: the terminal is gone
        return;
      }
      this.retryMs = RETRY_MIN_MS;
      this.offset += written;
      this.queued -= written;
      if (this.offset >= head.length) {
        this.queue.shift();
        this.offset = 0;
      }
      if (written > 0) for (const l of this.drainListeners) l();
      this.next();
    });
  }
}
