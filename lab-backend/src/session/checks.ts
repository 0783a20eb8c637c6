/**
 * Exercise checks and lesson scripts: each an exec without a PTY in the
 * session's sandbox, bounded in time and output, one check at a time per
 * session, never typed into the terminal. A check's result is recorded
 * (ctx.recordCheck) before it is returned or announced.
 */
import { ChecksBusyError, LabError, UnknownExerciseError } from '../errors';
import { ExecRefusedError, type SandboxProcess } from '../sandbox/driver';
import { CHECK_ENV, checkArgv, sandboxShellArgv } from '../sandbox/toolbox';
import type { CheckResult } from '../wire';
import type { Session } from './session';

/** Checks one session may have running or waiting; beyond it a check is refused as busy. */
export const MAX_QUEUED_CHECKS = 4;

/** Control characters except tab and newline, stripped from a check's output. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL_CHARS = /[\x00-\x08\x0b-\x1f\x7f]/g;

/** Exercise checks: each an exec without a PTY, bounded in time and output, one at a time per session. */
export class SessionChecks {
  private queue: Promise<unknown> = Promise.resolve();
  /** Checks running or waiting in this session. */
  private waiting = 0;
  constructor(private readonly session: Session) {}

  /** Run one exercise's check; at most MAX_QUEUED_CHECKS at a time per session (ChecksBusyError beyond). */
  run(exerciseId: string): Promise<CheckResult> {
    const ex = this.session.lesson.exercises.find((e) => e.id === exerciseId);
    if (!ex) return Promise.reject(new UnknownExerciseError(exerciseId));
    if (this.waiting >= MAX_QUEUED_CHECKS) return Promise.reject(new ChecksBusyError(this.waiting));
    this.session.touch();
    this.waiting++;
    const next = this.queue
      .then(() => this.runOne(exerciseId, ex.checkScript, ex.timeoutMs))
      .finally(() => {
        this.waiting--;
      });
    this.queue = next.catch(() => {});
    return next;
  }

  /**
   * Run a lesson script (check, setup, or a solution in tests and tools)
   * inside the sandbox as its own process, with `shell`'s bash. Callers other
   * than boot wait for `session.ready` first.
   */
  /** `stop`: the script is killed when it fires too (a start given up at its time limit stops its setup script). */
  async runScript(script: string, timeoutMs: number, shell: ScriptShell = 'sandbox', stop?: AbortSignal): Promise<ScriptResult> {
    const s = this.session;
    const ctx = s.ctx;
    if (!s.sandbox || s.ended) throw new LabError('session_expired', 'The sandbox is no longer running.', 410);
    const started = ctx.now();
    // The deadline starts before the sandbox is asked to start the process: a sandbox
    // that never answers (a blocked or replaced agent) cannot hold a check open.
    const deadline = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      deadline.abort();
    }, timeoutMs);
    const onStop = () => deadline.abort();
    stop?.addEventListener('abort', onStop, { once: true });
    if (stop?.aborted) deadline.abort();
    let proc: SandboxProcess;
    try {
      // A check: the toolbox's own shell and tools, not the sandbox's (which the learner, as root, can replace): toolbox.ts.
      const how = shell === 'toolbox' ? { argv: checkArgv(script), env: CHECK_ENV } : { argv: sandboxShellArgv(script), env: [] };
      proc = await s.exec(how.argv, { tty: false, cwd: '/root', env: how.env }, deadline.signal);
    } catch (err) {
      clearTimeout(timer);
      stop?.removeEventListener('abort', onStop);
      if (stop?.aborted) return { code: null, output: '', timedOut: false, truncated: false, durationMs: ctx.now() - started };
      if (timedOut) return { code: null, output: '', timedOut: true, truncated: false, durationMs: ctx.now() - started };
      // Refused on purpose (a covered toolbox): the script fails with the sandbox's reason, and the sandbox lives on.
      if (err instanceof ExecRefusedError) return { code: null, output: err.message, timedOut: false, truncated: false, durationMs: ctx.now() - started };
      throw new LabError('session_expired', `The sandbox could not run the script: ${(err as Error).message}`, 410);
    }
    const limit = ctx.policy.checkOutputBytes;
    const chunks: Buffer[] = [];
    let size = 0;
    let truncated = false;
    proc.onData((chunk) => {
      if (size >= limit) {
        truncated = true;
        return;
      }
      const take = chunk.subarray(0, limit - size);
      if (take.length < chunk.length) truncated = true;
      chunks.push(take);
      size += take.length;
    });
    deadline.signal.addEventListener('abort', () => void proc.kill('SIGKILL'), { once: true });
    if (deadline.signal.aborted) void proc.kill('SIGKILL');
    const exit = await proc.exited;
    clearTimeout(timer);
    stop?.removeEventListener('abort', onStop);
    // Output is untrusted bytes: decode as text, drop control characters except newline and tab.
    const output = Buffer.concat(chunks).toString('utf8').replace(CONTROL_CHARS, '').trim();
    return { code: exit.code, output, timedOut, truncated, durationMs: ctx.now() - started };
  }

  private async runOne(exerciseId: string, script: string, timeoutMs?: number): Promise<CheckResult> {
    await this.session.ready;
    const limitMs = timeoutMs ?? this.session.ctx.policy.checkTimeoutMs;
    const r = await this.runScript(script, limitMs, 'toolbox');
    const passed = !r.timedOut && r.code === 0;
    let message = r.output || silentCheckMessage(passed, r.code);
    if (r.timedOut) message = `The check did not finish within ${Math.round(limitMs / 1000)} s and was stopped.${r.output ? `\n${r.output}` : ''}`;
    if (r.truncated) message += '\n[output truncated]';
    const result: CheckResult = {
      exerciseId,
      passed,
      message,
      durationMs: r.durationMs,
      exitCode: r.code,
      ...(r.timedOut ? { timedOut: true } : {}),
      ...(r.truncated ? { truncated: true } : {}),
    };
    // Recorded before the learner hears of it: a result the store does not hold never reaches the browser.
    const at = await this.session.ctx.recordCheck(this.session, result);
    this.session.emit({ type: 'check', result, at });
    return result;
  }
}

/** The message of a check that printed nothing. */
export function silentCheckMessage(passed: boolean, code: number | null): string {
  return passed ? 'Passed.' : `The check failed (exit status ${code ?? 'killed'}).`;
}

/** Which bash runs a lesson script: the read-only toolbox's (checks) or the sandbox's own, as a learner's commands run (setup, solutions). */
export type ScriptShell = 'toolbox' | 'sandbox';

export interface ScriptResult {
  code: number | null;
  output: string;
  timedOut: boolean;
  truncated: boolean;
  durationMs: number;
}
