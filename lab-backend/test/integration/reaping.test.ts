/**
 * Crash safety: a backend killed with -9 leaves sandboxes of every runtime
 * behind; the next one's start-up reaping removes all of it: processes
 * (runsc, gofer, QEMU, runc containers), cgroups, mounts and files.
 */
import { spawn } from 'node:child_process';
import { expect, it } from 'vitest';
import { ensureImage } from '../../src/images';
import { GvisorDriver } from '../../src/sandbox/gvisor';
import { MicrovmDriver } from '../../src/sandbox/microvm';
import { RuncDriver } from '../../src/sandbox/runc';
import { SessionManager, policyFrom } from '../../src/sessions';
import { loadConfig } from '../../src/config';
import { IMAGE_DIR, baseRootfs, leftovers, microvmLeftovers, tempStateDir } from './helpers';
import { until } from '../hang-guard';
import { memoryStore } from '../learners';

it('reaps every process, cgroup, mount and file a killed backend left behind, for every runtime', { timeout: 300_000 }, async () => {
  const rootfs = await baseRootfs();
  const vmRootfs = await ensureImage(IMAGE_DIR, 'microvm', (l) => console.log(`[images] ${l}`));
  const stateDir = tempStateDir();
  // detached: the helper chain (npx → tsx → node) gets a process group of its own, to be killed as one (its sandboxes run in groups of their own).
  const child = spawn('npx', ['tsx', 'lab-backend/test/fixtures/start-and-hang.ts', stateDir, rootfs, vmRootfs], { stdio: ['ignore', 'pipe', 'inherit'], detached: true });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (b: Buffer) => {
      if (b.toString().includes('READY')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`helper exited ${code}`)));
  });
  // The helper's own node process (npx → tsx → node): kill the whole chain hard, by its process group
  // (never by name: another run's helper on this machine is not ours), and wait until none of it is left.
  const exited = new Promise((r) => child.once('exit', r));
  process.kill(-child.pid!, 'SIGKILL');
  await exited;
  const groupLeft = () => {
    try {
      process.kill(-child.pid!, 0);
      return true;
    } catch {
      return false;
    }
  };
  await until('the killed helper chain to be gone', () => !groupLeft(), 60_000);

  const drivers = { gvisor: new GvisorDriver({ stateDir }), microvm: new MicrovmDriver({ stateDir }), runc: new RuncDriver({ stateDir }) };
  const before = {
    gvisor: await leftovers(drivers.gvisor, stateDir),
    runc: await leftovers(drivers.runc, stateDir),
    microvm: await microvmLeftovers(drivers.microvm, stateDir),
  };
  expect(before.gvisor.bundles.sort()).toEqual(['crash-a', 'crash-b']);
  expect(before.gvisor.procs.length).toBeGreaterThan(0);
  expect(before.gvisor.cgroups.length).toBeGreaterThan(0);
  expect(before.runc.bundles).toEqual(['crash-runc']);
  expect(before.runc.mounts.length).toBe(2);
  expect(before.runc.procs.length + before.runc.cgroups.length).toBeGreaterThan(0);
  expect(before.microvm.dirs).toContain('crash-vm');
  expect(before.microvm.procs.length).toBeGreaterThan(0);

  // A new backend starts: its SessionManager reaps before it serves anyone.
  const logs: string[] = [];
  const manager = new SessionManager({ store: memoryStore(), drivers, rootfsFor: () => rootfs, log: (l) => logs.push(l), policy: policyFrom(loadConfig({})) });
  await manager.start(60_000);
  await manager.shutdown();
  expect(logs.join('\n')).toMatch(/reaped 2 gvisor sandbox/);
  expect(await leftovers(drivers.gvisor, stateDir)).toEqual({ bundles: [], runscState: [], procs: [], cgroups: [], mounts: [] });
  expect(await leftovers(drivers.runc, stateDir)).toEqual({ bundles: [], runscState: [], procs: [], cgroups: [], mounts: [] });
  const vm = await microvmLeftovers(drivers.microvm, stateDir);
  expect({ procs: vm.procs, cgroups: vm.cgroups, dirs: vm.dirs.filter((d) => d.startsWith('crash')) }).toEqual({ procs: [], cgroups: [], dirs: [] });
});
