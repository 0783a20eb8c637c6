/**
 * A microVM whose host limits cannot be applied must not start: QEMU would
 * otherwise run with no memory, CPU or pids limit at all. The driver is given
 * a fake cgroup root laid out like the host's (v1: memory, cpu, pids) but
 * mounted read-only, so every write to it fails as a kernel refusal would.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ensureImage } from '../../src/images';
import { MicrovmDriver } from '../../src/sandbox/microvm';
import { IMAGE_DIR, microvmLeftovers, specFor, tempStateDir } from './helpers';
import { describeMicrovm } from './microvm-expected';

describeMicrovm('host limits that cannot be applied', () => {
  const fakeRoot = mkdtempSync(path.join(os.tmpdir(), 'lab-fake-cgroup-'));
  beforeAll(() => {
    for (const c of ['memory', 'cpu', 'pids']) {
      mkdirSync(path.join(fakeRoot, c));
      writeFileSync(path.join(fakeRoot, c, 'cgroup.procs'), '');
    }
    execFileSync('mount', ['--bind', fakeRoot, fakeRoot]);
    execFileSync('mount', ['-o', 'remount,bind,ro', fakeRoot]);
  });
  afterAll(() => {
    execFileSync('umount', [fakeRoot]);
    rmSync(fakeRoot, { recursive: true, force: true });
  });

  it('a microVM whose cgroup root refuses writes fails to start with a clear error, and leaves nothing behind', async () => {
    const stateDir = tempStateDir();
    const driver = new MicrovmDriver({ stateDir, accel: 'tcg', cgroupRoot: fakeRoot });
    const rootfs = await ensureImage(IMAGE_DIR, 'microvm', (l) => console.log(`[images] ${l}`));
    const err = await driver.start(specFor(rootfs)).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toMatch(/Cannot apply the sandbox's host limits: cannot create the cgroup .*lab-fake-cgroup-/);
    expect(await microvmLeftovers(driver, stateDir)).toEqual({ dirs: [], procs: [], cgroups: [] });
  });
});
