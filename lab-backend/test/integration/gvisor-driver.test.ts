import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GvisorDriver } from '../../src/sandbox/gvisor';
import type { Sandbox } from '../../src/sandbox/driver';
import { baseRootfs, collect, leftovers, specFor, tempStateDir } from './helpers';
import { describeAdoption, driverConformance } from './conformance';
import { until } from '../hang-guard';

describe('gvisor driver (real runsc)', () => {
  const stateDir = tempStateDir();
  const driver = new GvisorDriver({ stateDir });
  let rootfs: string;
  let sb: Sandbox;

  beforeAll(async () => {
    rootfs = await baseRootfs();
    sb = await driver.start(specFor(rootfs));
  });
  afterAll(async () => {
    if (sb) await driver.stop(sb, { now: true });
  });

  driverConformance(() => ({ driver, sb }));

  it('runs commands under gVisor, not the host kernel', async () => {
    const r = await collect(await driver.exec(sb, ['/bin/sh', '-c', 'uname -r; dmesg | head -1'], { tty: false }));
    expect(r.code).toBe(0);
    expect(r.out).toContain('Starting gVisor');
    expect(r.out.split('\n')[0]).not.toBe((await import('node:os')).release());
  });

  it("a learner's login shell prompts without loading bash-completion; the first Tab loads it and completes", async () => {
    const p = await driver.exec(sb, ['/bin/bash', '-l'], { tty: true, cols: 120, rows: 30 });
    let out = '';
    p.onData((c) => {
      out += c.toString('utf8');
    });
    const waitFor = (re: RegExp) =>
      until(
        `${re} in the terminal`,
        () => re.test(out),
        60_000,
        () => JSON.stringify(out.slice(-300)),
      );
    try {
      p.write('echo "loaded=${BASH_COMPLETION_VERSINFO:-no}"\n');
      await waitFor(/loaded=no/);
      p.write('ip li\t');
      await waitFor(/ip link/); // bash-completion's completion for ip(8); bash alone would complete file names
      // Ctrl-U clears the line (readline, synchronous), then ask again
      p.write('\x15echo "loaded=${BASH_COMPLETION_VERSINFO:-no}"\n');
      await waitFor(/loaded=\d/);
    } finally {
      await p.kill('SIGKILL');
      await p.exited;
    }
  });

  it('gives every sandbox its own writable root that does not touch the image', async () => {
    const other = await driver.start(specFor(rootfs));
    try {
      await collect(await driver.exec(sb, ['/bin/sh', '-c', 'echo mine > /etc/marker'], { tty: false }));
      const r = await collect(await driver.exec(other, ['/bin/sh', '-c', 'cat /etc/marker 2>&1 || echo absent'], { tty: false }));
      expect(r.out).toContain('absent');
      const { existsSync } = await import('node:fs');
      expect(existsSync(`${rootfs}/etc/marker`)).toBe(false);
    } finally {
      await driver.stop(other, { now: true });
    }
  });

  it('holds the capability set it was given', async () => {
    const narrow = await driver.start(specFor(rootfs, { capabilities: ['CAP_KILL'] }));
    try {
      const r = await collect(await driver.exec(narrow, ['/bin/sh', '-c', 'grep CapEff /proc/self/status'], { tty: false }));
      expect(r.out.trim()).toBe('CapEff:\t0000000000000020');
    } finally {
      await driver.stop(narrow, { now: true });
    }
  });

  it('poll() notices a dead sandbox and stop() leaves nothing on the host', async () => {
    const victim = await driver.start(specFor(rootfs));
    expect(await driver.poll(victim)).toBeNull();
    expect((await leftovers(driver, stateDir)).bundles).toContain(victim.id);
    await driver.stop(victim);
    expect(await driver.poll(victim)).not.toBeNull();
    const left = await leftovers(driver, stateDir);
    expect(left.bundles).not.toContain(victim.id);
    expect(left.cgroups.filter((c) => c.endsWith(victim.id))).toEqual([]);
  });

  it('names the cause when runsc cannot start', async () => {
    const broken = new GvisorDriver({ stateDir: tempStateDir(), binPath: '/nonexistent/runsc' });
    await expect(broken.start(specFor(rootfs))).rejects.toThrow(/runsc was not found/);
    const failing = new GvisorDriver({ stateDir: tempStateDir() });
    await expect(failing.start(specFor('/nonexistent-rootfs'))).rejects.toThrow(/runsc/);
    expect(await leftovers(failing, (failing as unknown as { opts: { stateDir: string } }).opts.stateDir)).toMatchObject({ bundles: [], procs: [], cgroups: [] });
  });
});

describeAdoption('gvisor', (opts) => new GvisorDriver(opts));
