import os from 'node:os';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuncDriver } from '../../src/sandbox/runc';
import type { Sandbox } from '../../src/sandbox/driver';
import { loadConfig } from '../../src/config';
import { baseRootfs, collect, leftovers, specFor, tempStateDir } from './helpers';
import { describeAdoption, driverConformance } from './conformance';

describe('runc driver (development only, real runc)', () => {
  const stateDir = tempStateDir();
  const driver = new RuncDriver({ stateDir });
  let rootfs: string;
  let sb: Sandbox;

  beforeAll(async () => {
    rootfs = await baseRootfs();
    sb = await driver.start(specFor(rootfs));
  });
  afterAll(async () => {
    if (sb) await driver.stop(sb, { now: true });
    expect(await leftovers(driver, stateDir)).toMatchObject({ bundles: [], procs: [], cgroups: [], mounts: [] });
  });

  driverConformance(() => ({ driver, sb }));

  it('is refused unless the operator says LAB_UNSAFE_RUNC=1, and is never a default', () => {
    expect(() => loadConfig({ LAB_RUNTIMES: 'gvisor,runc' })).toThrow(/LAB_UNSAFE_RUNC=1/);
    expect(loadConfig({ LAB_RUNTIMES: 'runc', LAB_UNSAFE_RUNC: '1' }).runtimes).toEqual(['runc']);
    expect(loadConfig({}).runtimes).not.toContain('runc');
  });

  it('shares the host kernel (which is why it is development only), with loopback up and nothing else', async () => {
    const r = await collect(await driver.exec(sb, ['/bin/sh', '-c', 'uname -r; ip -o link | cut -d: -f2; ping -c1 -W1 127.0.0.1 >/dev/null && echo lo-ok'], { tty: false }));
    expect(r.out.split('\n')[0]).toBe(os.release());
    expect(r.out).toContain('lo-ok');
    expect(
      r.out
        .split('\n')
        .slice(1)
        .map((l) => l.trim())
        .filter((l) => l && l !== 'lo-ok'),
    ).toEqual(['lo']);
  });

  it('writes land in a per-sandbox layer bounded by the disk limit, never in the image', async () => {
    const small = await driver.start(specFor(rootfs, { limits: { memoryLimitBytes: 256 << 20, pidsLimit: 256, cpuQuotaMillicores: 1000, diskLimitBytes: 16 << 20 } }));
    try {
      const r = await collect(await driver.exec(small, ['/bin/sh', '-c', 'echo mine > /etc/marker; dd if=/dev/zero of=/big bs=1M count=64 2>&1; ls -l /big'], { tty: false }));
      expect(r.out).toMatch(/No space left on device/);
      expect(existsSync(`${rootfs}/etc/marker`)).toBe(false);
      const other = await collect(await driver.exec(sb, ['/bin/sh', '-c', 'cat /etc/marker 2>&1 || echo absent'], { tty: false }));
      expect(other.out).toContain('absent');
    } finally {
      await driver.stop(small, { now: true });
    }
  });

  it('reaps what a crashed backend left: processes, cgroups, overlay mounts, bundles', async () => {
    const dir = tempStateDir();
    const first = new RuncDriver({ stateDir: dir });
    const orphan = await first.start(specFor(rootfs));
    expect((await leftovers(first, dir)).mounts.length).toBe(2);
    const second = new RuncDriver({ stateDir: dir });
    expect(await second.reap(new Set())).toContain(orphan.id);
    expect(await leftovers(second, dir)).toMatchObject({ bundles: [], procs: [], cgroups: [], mounts: [] });
  });
});

describeAdoption('runc', (opts) => new RuncDriver(opts));
