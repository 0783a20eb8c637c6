/**
 * Saved work: the learner's files (`/root` plus the lesson's `keep:` paths)
 * as a gzipped tar, taken out of a sandbox when its session ends and put back
 * into a new one when the learner asks.
 *
 * Both directions run the read-only toolbox's busybox (toolbox.ts), never the
 * sandbox's own tar: the learner is root in there and may have replaced it.
 * What comes out is untrusted bytes, bounded by the cap while it streams.
 *
 * Restoring needs the archive on a process's stdin. Non-terminal execs have
 * their stdin closed by contract (driver.ts), so the restore runs in a
 * terminal exec: echo off, then the archive as base64 lines (canonical mode,
 * 76 characters a line, well under the line limit), then ^D at a line start
 * for the end of input. That works the same under every driver.
 */
import { TOOLBOX_MOUNT, checkArgv, CHECK_ENV } from '../sandbox/toolbox';
import type { SandboxProcess } from '../sandbox/driver';
import type { Session } from './session';

const BUSYBOX = `${TOOLBOX_MOUNT}/bin/busybox`;
/** How long taking the archive may take: it is on the way out of every session that ends, and within the 15 s a SIGTERM gives every sandbox. */
export const SAVE_TIMEOUT_MS = 10_000;
export const RESTORE_TIMEOUT_MS = 60_000;
const READY = 'LAB-RESTORE-READY';
const DONE = 'LAB-RESTORE-DONE';
const STDERR_KEEP_BYTES = 2048;

export type SaveOutcome = { ok: true; archive: Buffer } | { ok: false; reason: 'too_large' | 'failed' | 'nothing'; detail: string };

/** The shell script that writes the archive of `paths` (absolute, validated by content.ts) to stdout; exit 3 when none exists. */
export function archiveScript(paths: readonly string[]): string {
  const rel = paths.map((p) => p.replace(/^\/+/, '')).join(' ');
  return [
    'cd / || exit 1',
    'set --',
    `for p in ${rel}; do if [ -e "$p" ] || [ -L "$p" ]; then set -- "$@" "$p"; fi; done`,
    '[ $# -gt 0 ] || exit 3',
    `exec ${BUSYBOX} tar -czf - "$@"`,
  ].join('\n');
}

/** The learner's files of `session`'s lesson, as an archive of at most `capBytes`. */
export async function takeWork(session: Session, capBytes: number, timeoutMs = SAVE_TIMEOUT_MS): Promise<SaveOutcome> {
  const deadline = AbortSignal.timeout(timeoutMs);
  let proc: SandboxProcess;
  try {
    proc = await session.exec(checkArgv(archiveScript(session.lesson.keep)), { tty: false, cwd: '/', env: CHECK_ENV }, deadline);
  } catch (err) {
    return { ok: false, reason: 'failed', detail: `could not start the archive: ${(err as Error).message}` };
  }
  const out: Buffer[] = [];
  let size = 0;
  let stderr = '';
  let tooLarge = false;
  proc.onData((chunk, stream) => {
    if (stream === 'stderr') {
      if (stderr.length < STDERR_KEEP_BYTES) stderr += chunk.toString('utf8').slice(0, STDERR_KEEP_BYTES);
      return;
    }
    if (tooLarge) return;
    size += chunk.length;
    if (size > capBytes) {
      tooLarge = true;
      out.length = 0;
      void proc.kill('SIGKILL');
      return;
    }
    out.push(chunk);
  });
  const onAbort = () => void proc.kill('SIGKILL');
  deadline.addEventListener('abort', onAbort, { once: true });
  const exit = await proc.exited;
  deadline.removeEventListener('abort', onAbort);
  if (tooLarge) return { ok: false, reason: 'too_large', detail: `over ${capBytes} bytes` };
  if (deadline.aborted) return { ok: false, reason: 'failed', detail: `the archive took longer than ${timeoutMs / 1000} s` };
  if (exit.code === 3) return { ok: false, reason: 'nothing', detail: 'none of the paths exists' };
  if (exit.code !== 0) return { ok: false, reason: 'failed', detail: `tar exited with ${exit.code ?? exit.signal}: ${stderr.trim()}` };
  return { ok: true, archive: Buffer.concat(out) };
}

/** Puts `archive` back into `session`'s sandbox (over what is there); resolves with why not, or null when it worked. */
export async function restoreWork(session: Session, archive: Buffer, timeoutMs = RESTORE_TIMEOUT_MS): Promise<string | null> {
  const deadline = AbortSignal.timeout(timeoutMs);
  const script = `${BUSYBOX} stty -echo && echo ${READY} && ${BUSYBOX} base64 -d | ${BUSYBOX} tar -xzf - -C / && echo ${DONE}`;
  let proc: SandboxProcess;
  try {
    proc = await session.exec(checkArgv(script), { tty: true, cols: 200, rows: 24, cwd: '/', env: CHECK_ENV }, deadline);
  } catch (err) {
    return `the sandbox could not start the restore: ${(err as Error).message}`;
  }
  let text = '';
  let sent = false;
  const send = () => {
    sent = true;
    const b64 = archive.toString('base64');
    for (let i = 0; i < b64.length; i += 76 * 512) {
      const block = b64.slice(i, i + 76 * 512);
      proc.write(block.replace(/.{1,76}/g, '$&\n'));
    }
    proc.write('\x04');
  };
  proc.onData((chunk) => {
    if (text.length < 64 * 1024) text += chunk.toString('utf8');
    if (!sent && text.includes(READY)) send();
  });
  const onAbort = () => void proc.kill('SIGKILL');
  deadline.addEventListener('abort', onAbort, { once: true });
  const exit = await proc.exited;
  deadline.removeEventListener('abort', onAbort);
  if (deadline.aborted) return `the restore took longer than ${timeoutMs / 1000} s`;
  if (exit.code !== 0 || !text.includes(DONE)) {
    const said = text.replace(READY, '').replace(/\r/g, '').trim().split('\n').filter(Boolean).slice(-3).join(' ');
    return `tar exited with ${exit.code ?? exit.signal}${said ? `: ${said}` : ''}`;
  }
  return null;
}
