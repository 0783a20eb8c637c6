import { existsSync, promises as fs, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ensureImage } from '../../src/images';
import { MicrovmDriver } from '../../src/sandbox/microvm';
import type { Sandbox } from '../../src/sandbox/driver';
import { pidsWithCmdline, run } from '../../src/sandbox/host';
import { microvmArtifacts } from '../../src/sandbox/microvm-image';
import { IMAGE_DIR, collect, microvmLeftovers, specFor, tempStateDir as newStateDir } from './helpers';
import { describeAdoption, driverConformance } from './conformance';
import { hangGuard, until } from '../hang-guard';
import { describeMicrovm } from './microvm-expected';

const stateDirs: string[] = [];
const tempStateDir = () => {
  const d = newStateDir();
  stateDirs.push(d);
  return d;
};

const leftovers = microvmLeftovers;

describeMicrovm('microvm driver (real QEMU microvm)', () => {
  const stateDir = tempStateDir();
  const driver = new MicrovmDriver({ stateDir });
  let rootfs: string;
  let sb: Sandbox;

  beforeAll(async () => {
    rootfs = await ensureImage(IMAGE_DIR, 'microvm', (l) => console.log(`[images] ${l}`));
    sb = await driver.start(specFor(rootfs, { hostname: 'labvm' }));
    console.log(`[microvm] boot (start() to agent ready): ${driver.lastBoot?.ms} ms under ${driver.lastBoot?.accel}`);
  }, 300_000); // a first run builds the microvm image (mmdebstrap, 1-2 min)
  afterAll(async () => {
    if (sb) await driver.stop(sb, { now: true });
    for (const d of stateDirs) await fs.rm(d, { recursive: true, force: true });
  });

  driverConformance(() => ({ driver, sb }));

  it('boots the uncompressed kernel directly (PVH), the same kernel the image installed', async () => {
    const art = microvmArtifacts(rootfs);
    expect(art.kernel).toBe(art.vmlinux); // the Debian cloud kernel has CONFIG_PVH; the build unpacked it
    let cmdline: string[] = [];
    for (const pid of await pidsWithCmdline(sb.id)) {
      const argv = (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
      if (path.basename(argv[0]) === 'qemu-system-x86_64') cmdline = argv;
    }
    expect(cmdline).toContain('-kernel');
    expect(cmdline[cmdline.indexOf('-kernel') + 1]).toBe(art.vmlinux);
    const r = await collect(await driver.exec(sb, ['/bin/sh', '-c', 'uname -r; ls /lib/modules'], { tty: false }));
    const [release, modules] = r.out.trim().split('\n');
    expect(release).toBe(modules); // the running kernel is the one whose modules the image has
  });

  it('returns 127 for a command that does not exist', async () => {
    expect((await collect(await driver.exec(sb, ['/nonexistent'], { tty: false }))).code).toBe(127);
  });

  it('runs commands on its own guest kernel (Debian cloud), not the host kernel', async () => {
    const r = await collect(await driver.exec(sb, ['/bin/sh', '-c', 'uname -r; hostname; cat /proc/1/comm'], { tty: false }));
    expect(r.code).toBe(0);
    const [release, hostname, init] = r.out.trim().split('\n');
    expect(release).toMatch(/-cloud-amd64$/);
    expect(release).not.toBe(os.release());
    expect(hostname).toBe('labvm');
    expect(init).toBe('init');
  });

  it('kills a process that would run forever', async () => {
    const p = await driver.exec(sb, ['/bin/sleep', '1000'], { tty: false });
    await p.kill('SIGKILL');
    expect(await hangGuard('the killed process to exit', p.exited, 60_000)).toEqual({ code: null, signal: 'SIGKILL' });
    const ps = await collect(await driver.exec(sb, ['/bin/sh', '-c', 'pgrep -x sleep | wc -l'], { tty: false }));
    expect(Number(ps.out.trim())).toBe(0);
  });

  it('limits the number of processes in the guest', async () => {
    const r = await collect(await driver.exec(sb, ['/bin/sh', '-c', 'cat /proc/self/cgroup /sys/fs/cgroup/sandbox/pids.max'], { tty: false }));
    expect(r.out).toBe('0::/sandbox\n1024\n');
  });

  it('holds the capability set it was given', async () => {
    const r = await collect(await driver.exec(sb, ['/bin/sh', '-c', 'grep CapEff /proc/self/status'], { tty: false }));
    // DOCKER_DEFAULT_CAPS + CAP_SYS_ADMIN
    expect(r.out.trim()).toBe('CapEff:\t00000000a82425fb');
  });

  it('writes land in the sandbox overlay, never in the image disk; poll() notices a dead VM; stop() leaves nothing', async () => {
    const other = await driver.start(specFor(rootfs));
    let stopped = false;
    try {
      await collect(await driver.exec(sb, ['/bin/sh', '-c', 'echo mine > /etc/marker; sync'], { tty: false }));
      const r = await collect(await driver.exec(other, ['/bin/sh', '-c', 'cat /etc/marker 2>&1 || echo absent'], { tty: false }));
      expect(r.out).toContain('absent');
      const inImage = await run('debugfs', ['-R', 'stat /etc/marker', microvmArtifacts(rootfs).disk]);
      expect(inImage.stdout + inImage.stderr).toMatch(/File not found/);
      expect(await driver.poll(other)).toBeNull();
      expect((await leftovers(driver, stateDir)).dirs).toContain(other.id);
      expect((await leftovers(driver, stateDir)).cgroups).toContain(`memory/${other.id}`);
      const inCgroup = await fs.readFile(path.join('/sys/fs/cgroup/memory', driver.cgroupParent, other.id, 'cgroup.procs'), 'utf8');
      expect(inCgroup.trim().split('\n').map(Number)).toEqual(await pidsWithCmdline(`${path.join(stateDir, 'microvm', other.id)}/`));
      // The VM dies under the driver (QEMU killed, as by the OOM killer): poll() says so.
      for (const pid of await pidsWithCmdline(`${path.join(stateDir, 'microvm', other.id)}/`)) process.kill(pid, 'SIGKILL');
      await until('poll() to notice the dead VM', async () => (await driver.poll(other)) !== null, 60_000);
      await driver.stop(other);
      stopped = true;
      const left = await leftovers(driver, stateDir);
      expect(left.dirs).toEqual([sb.id]);
      expect(left.cgroups.filter((c) => c.endsWith(other.id))).toEqual([]);
      expect((await pidsWithCmdline(path.join(stateDir, 'microvm', other.id))).length).toBe(0);
    } finally {
      if (!stopped) await driver.stop(other, { now: true });
    }
    await driver.stop(sb);
    expect(await leftovers(driver, stateDir)).toEqual({ dirs: [], procs: [], cgroups: [] });
  });

  it('aborts a boot when asked, leaving nothing', async () => {
    const dir = tempStateDir();
    // QEMU started with -S: the machine is up (process, cgroups, agent socket) but its CPU never runs, so the
    // boot is in progress for as long as the test likes, however fast boots get.
    const bin = mkdtempSync(path.join(os.tmpdir(), 'lab-qemu-'));
    stateDirs.push(bin);
    const qemuPath = path.join(bin, 'qemu-frozen');
    writeFileSync(qemuPath, '#!/bin/sh\nexec qemu-system-x86_64 -S "$@"\n', { mode: 0o755 });
    const d = new MicrovmDriver({ stateDir: dir, qemuPath, log: () => {} });
    const spec = specFor(rootfs);
    const ac = new AbortController();
    const started = d.start(spec, ac.signal);
    started.then(
      (sb) => d.stop(sb, { now: true }),
      () => {},
    ); // never leak a VM, even when this test fails
    // The event: QEMU is running and has made the agent socket the driver is waiting on.
    const vmDir = path.join(dir, 'microvm', spec.id);
    await until('QEMU to start booting the sandbox', async () => existsSync(path.join(vmDir, 'agent.sock')) && (await pidsWithCmdline(`${vmDir}/`)).length > 0, 120_000);
    ac.abort();
    await expect(hangGuard('start() to give up once aborted', started, 60_000)).rejects.toThrow(/aborted/);
    expect(await leftovers(d, dir)).toEqual({ dirs: [], procs: [], cgroups: [] });
  });

  it('reap() destroys the VMs a crashed backend left behind, and keeps the others', async () => {
    const dir = tempStateDir();
    // Lessons name the `base` image; imageRootfs boots the microvm image instead.
    const crashed = new MicrovmDriver({ stateDir: dir, imageRootfs: rootfs });
    const orphan = await crashed.start(specFor('/images/base/rootfs'));
    const kept = await crashed.start(specFor('/images/base/rootfs'));
    try {
      // A new backend on the same state dir knows nothing of them.
      const fresh = new MicrovmDriver({ stateDir: dir });
      expect(await fresh.reap(new Set([kept.id]))).toEqual([orphan.id]);
      const left = await leftovers(fresh, dir);
      expect(left.dirs).toEqual([kept.id]);
      expect(left.procs.length).toBe(1);
      expect(left.cgroups.every((c) => c.endsWith(kept.id))).toBe(true);
      expect(await crashed.poll(kept)).toBeNull();
      expect(await fresh.reap(new Set())).toEqual([kept.id]);
      expect(await leftovers(fresh, dir)).toEqual({ dirs: [], procs: [], cgroups: [] });
    } finally {
      await crashed.stop(orphan, { now: true });
      await crashed.stop(kept, { now: true });
    }
  });

  it('names the cause when QEMU is missing or the image has no kernel', async () => {
    const broken = new MicrovmDriver({ stateDir: tempStateDir(), qemuPath: '/nonexistent/qemu-system-x86_64' });
    await expect(broken.start(specFor(rootfs))).rejects.toThrow(/qemu-system-x86_64 was not found/);
    const dir = tempStateDir();
    const noKernel = new MicrovmDriver({ stateDir: dir });
    await expect(noKernel.start(specFor('/nonexistent-rootfs'))).rejects.toThrow(/microVM boot files/);
    expect(await leftovers(noKernel, dir)).toEqual({ dirs: [], procs: [], cgroups: [] });
  });
});

describeMicrovm('microvm adoption (real QEMU microvm)', () => {
  describeAdoption('microvm', (opts) => new MicrovmDriver(opts), {
    rootfs: () => ensureImage(IMAGE_DIR, 'microvm', (l) => console.log(`[images] ${l}`)),
    leftovers: microvmLeftovers,
    // A microVM's watchdog names the sandbox by its state directory on QEMU's command line.
    watchdogsOf: async (stateDir, id) => {
      let n = 0;
      for (const pid of await pidsWithCmdline('lab-watchdog')) {
        const args = (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
        if (path.basename(args[0] ?? '').startsWith('lab-watchdog') && args.includes(`${path.join(stateDir, 'microvm', id)}/`)) n++;
      }
      return n;
    },
    letGo: (d, sb) => d.letGo(sb),
    pidField: 'pid',
  });
});
