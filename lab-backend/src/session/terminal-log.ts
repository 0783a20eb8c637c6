/**
 * The tail of a terminal's screen on disk (`<LAB_STATE_DIR>/terminals/<session>.log`),
 * so that a backend started after a crash (`kill -9`) replays it to the
 * learner's page before the shell's live output. The shell itself survives
 * inside the sandbox (dtach); only what it printed needs keeping here.
 *
 * Output is appended in batches at most FLUSH_MS apart (a crash loses at
 * most that much of the replay, never the shell), and the file is rewritten
 * to the in-memory tail whenever it grows past COMPACT_BYTES, so it stays
 * small. Writes are queued one after another; a failed write is logged once
 * and the terminal goes on without its copy.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';

const FLUSH_MS = 200;
const COMPACT_BYTES = 256 * 1024;

export class TerminalLog {
  private pending: Buffer[] = [];
  private timer: NodeJS.Timeout | null = null;
  private chain: Promise<void> = Promise.resolve();
  private size = 0;
  private broken = false;
  private closed = false;

  /** @param tail the terminal's current in-memory tail (what a compaction writes). */
  constructor(
    readonly file: string,
    private readonly tail: () => Buffer[],
    private readonly log: (msg: string) => void,
  ) {}

  /** What an earlier backend left: the last `maxBytes` of the file ([] when none). */
  static async read(file: string, maxBytes: number): Promise<Buffer> {
    const data = await fs.readFile(file).catch(() => Buffer.alloc(0));
    return data.length > maxBytes ? data.subarray(data.length - maxBytes) : data;
  }

  append(chunk: Buffer) {
    if (this.broken || this.closed) return;
    this.pending.push(chunk);
    this.timer ??= setTimeout(() => {
      this.timer = null;
      this.flush();
    }, FLUSH_MS);
    this.timer.unref?.();
  }

  /** Writes what is pending now (queued behind earlier writes). */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const batch = this.pending;
    this.pending = [];
    if (!batch.length || this.broken) return this.chain;
    this.chain = this.chain.then(async () => {
      if (this.broken) return;
      try {
        const bytes = Buffer.concat(batch);
        if (this.size + bytes.length > COMPACT_BYTES) {
          const all = Buffer.concat(this.tail());
          await fs.mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
          await fs.writeFile(`${this.file}.tmp`, all, { mode: 0o600 });
          await fs.rename(`${this.file}.tmp`, this.file);
          this.size = all.length;
        } else {
          await fs.mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
          await fs.appendFile(this.file, bytes, { mode: 0o600 });
          this.size += bytes.length;
        }
      } catch (err) {
        this.broken = true;
        this.log(`terminal log ${this.file}: ${(err as Error).message}; the screen will not be replayed after a crash`);
      }
    });
    return this.chain;
  }

  /** Starts over from `initial` (an adopted terminal's replay). */
  async reset(initial: Buffer): Promise<void> {
    await this.chain;
    this.size = 0;
    await fs.rm(this.file, { force: true }).catch(() => {});
    if (initial.length) this.append(initial);
  }

  /** The session ended: the file goes. */
  async remove(): Promise<void> {
    this.closed = true;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    this.pending = [];
    await this.chain;
    await fs.rm(this.file, { force: true }).catch(() => {});
  }
}
