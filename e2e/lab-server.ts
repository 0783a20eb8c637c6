/**
 * A lab server of a spec's own (scripts/serve.ts, the site and the backend on
 * one port), for tests that need other settings than playwright.config.ts's
 * server, or need to kill it and start it again on the same state.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { expect } from '@playwright/test';

export interface SpecServer {
  readonly base: string;
  /** Everything every process of this server printed so far. */
  output(): string;
  /** Starts the process (again, after kill9 or stop) and resolves once it serves. */
  start(): Promise<void>;
  /** kill -9: nothing of it runs on (its sandboxes do, for the next start to adopt). */
  kill9(): Promise<void>;
  /** SIGTERM: it ends every sandbox, then exits. */
  stop(): Promise<void>;
}

export function specServer(name: string, port: number, env: Record<string, string>): SpecServer {
  const base = `http://127.0.0.1:${port}`;
  let proc: ChildProcess | null = null;
  let out = '';
  const exited = (p: ChildProcess) => (p.exitCode !== null || p.signalCode !== null ? Promise.resolve() : new Promise<void>((r) => p.once('exit', () => r())));
  return {
    base,
    output: () => out,
    async start() {
      const p = spawn('node', ['--import', 'tsx', 'scripts/serve.ts'], {
        env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', LAB_STATE_DIR: `.lab/e2e-${name}-state`, LAB_DATABASE: `.lab/e2e-${name}-lab.db`, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      proc = p;
      p.stdout!.on('data', (c) => {
        out += c;
      });
      p.stderr!.on('data', (c) => {
        out += c;
      });
      await expect
        .poll(
          async () => {
            if (p.exitCode !== null) throw new Error(`the ${name} lab server exited (${p.exitCode}):\n${out}`);
            return (await fetch(`${base}/lab-api/health`).catch(() => null))?.status;
          },
          { timeout: 90_000, intervals: [250] },
        )
        .toBe(200);
    },
    async kill9() {
      if (!proc) return;
      proc.kill('SIGKILL');
      await exited(proc);
    },
    async stop() {
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
      const p = proc;
      p.kill('SIGTERM'); // serve.ts ends every sandbox before it exits
      await exited(p);
    },
  };
}
