/** Crash safety: a backend killed with -9 leaves sandboxes; the next one's start-up reaping removes all of it. */
import { spawn } from 'node:child_process';
import { expect, it } from 'vitest';
import { GvisorDriver } from '../../src/sandbox/gvisor';
import { baseRootfs, leftovers, tempStateDir } from './helpers';

it('reaps every runsc process, cgroup and file a killed backend left behind', async () => {
  const rootfs = await baseRootfs();
  const stateDir = tempStateDir();
  const child = spawn('npx', ['tsx', 'lab-backend/test/fixtures/start-and-hang.ts', stateDir, rootfs], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (b: Buffer) => { if (b.toString().includes('READY')) resolve(); });
    child.on('exit', (code) => reject(new Error(`helper exited ${code}`)));
  });
  // The helper's own node process (npx → tsx → node): kill the whole chain hard.
  spawn('pkill', ['-KILL', '-f', 'start-and-hang.ts']);
  await new Promise((r) => setTimeout(r, 500));

  const restarted = new GvisorDriver({ stateDir });
  const before = await leftovers(restarted, stateDir);
  expect(before.bundles.sort()).toEqual(['crash-a', 'crash-b']);
  expect(before.procs.length).toBeGreaterThan(0);
  expect(before.cgroups.length).toBeGreaterThan(0);

  const removed = await restarted.reap(new Set());
  expect(removed.sort()).toEqual(['crash-a', 'crash-b']);
  expect(await leftovers(restarted, stateDir)).toEqual({ bundles: [], runscState: [], procs: [], cgroups: [] });
});
