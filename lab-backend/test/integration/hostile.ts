/**
 * The hostile-sandbox suite: a learner who is root and means harm. Registered
 * inside each learner-facing runtime's describe() (gvisor, microvm), it acts
 * from inside a real sandbox and asserts from the HOST: the sandbox's host
 * cgroup holds the configured limits and the attack moved the counter it
 * should (pids.events, memory failcnt, CPU throttling); the host and a
 * neighbouring sandbox are unaffected; stop() leaves nothing behind. Where a
 * limit lives inside a microVM's own kernel, the guest's counter is read too. (runc is development-only and shares the
 * host kernel, so it is deliberately not held to this suite.)
 */
import { createHash, randomBytes } from 'node:crypto';
import { promises as fs, readFileSync, readdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import os from 'node:os';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Driver, Sandbox, SandboxLimits, SandboxSpec } from '../../src/sandbox/driver';
import { cgroupLayout, readSandboxCgroup, type CgroupReading } from '../../src/sandbox/cgroups';
import { SessionManager, policyFrom } from '../../src/sessions';
import { loadConfig } from '../../src/config';
import type { Lesson } from '../../src/content';
import { collect, specFor } from './helpers';
import { run } from '../../src/sandbox/host';
import { toolboxDir, verifyToolbox } from '../../src/sandbox/toolbox';
import { hangGuard } from '../hang-guard';
import { learner, memoryStore } from '../learners';

export interface HostileTarget {
  driver: Driver;
  rootfs: () => Promise<string>;
  /** Everything the driver could have left on the host; every array must be empty after stop. */
  leftovers: () => Promise<Record<string, unknown[]>>;
  /** Host filesystem that holds the driver's per-sandbox disk state. */
  stateDir: string;
  /** Bytes of host disk one sandbox may use at most (its fixed disk size, 0 if writes stay in memory). */
  diskBoundBytes: number;
  image: string;
  /** The driver's cgroup parent: the sandbox's host cgroup is <parent>/<id> (cgroups.ts). */
  cgroupParent: string;
  /** The host cgroup limits a sandbox with `limits` must have. */
  hostLimits: (limits: SandboxLimits) => { memoryLimitBytes: number; pidsMax: number; cpuQuotaUs: number; cpuPeriodUs: number };
  /**
   * Where the pids and memory limits act: on the host's cgroup (gVisor: the
   * sentry's threads and memory), or in the guest kernel (microVM: QEMU's
   * cgroup only bounds QEMU; the guest's own cgroup and OOM killer act first).
   */
  limitsActIn: 'host' | 'guest';
  /** The sandbox has a kernel of its own that can load modules (microVM), or none (gVisor). */
  loadsModules: boolean;
  /** The runtime refuses a check whose toolbox a mount covers (the microVM agent does; gVisor has nothing of ours inside to notice). */
  guardsToolboxMounts: boolean;
}

const LIMITS = { memoryLimitBytes: 256 * 1024 * 1024, pidsLimit: 512, cpuQuotaMillicores: 1000 };
/** How far a memory cgroup's peak may pass its limit: one charge batch (MEMCG_CHARGE_BATCH, 64 pages). */
const MEMCG_CHARGE_BATCH_BYTES = 64 * 4096;
/** Bound on a neighbour's answer: a hang guard, not a speed claim. */
const HANG_GUARD_MS = 90_000;
const diskFree = (dir: string) => {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
};

/** Run `script` in the sandbox for at most `seconds`, then kill it. */
async function attempt(driver: Driver, sb: Sandbox, script: string, seconds: number) {
  const p = await driver.exec(sb, ['/bin/bash', '-c', script], { tty: false });
  const chunks: Buffer[] = [];
  let size = 0;
  p.onData((c) => {
    if (size < 65536) {
      chunks.push(c);
      size += c.length;
    }
  });
  const timer = setTimeout(() => void p.kill('SIGKILL'), seconds * 1000);
  const exit = await p.exited;
  clearTimeout(timer);
  return { code: exit.code, out: Buffer.concat(chunks).toString('utf8') };
}

export function hostileSuite(target: () => HostileTarget) {
  let t: HostileTarget;
  let rootfs: string;
  let neighbour: Sandbox;
  const spec = (over: Partial<SandboxSpec> = {}) => specFor(rootfs, { limits: LIMITS, ...over });

  /** The neighbour still answers an exec (bounded only by a hang guard). */
  async function assertNeighbourResponsive() {
    const r = await hangGuard("the neighbour's answer to an exec", t.driver.exec(neighbour, ['/bin/echo', 'still-here'], { tty: false }).then(collect), HANG_GUARD_MS);
    expect(r.out).toBe('still-here\n');
  }

  /** The sandbox's host cgroup, as the kernel reports it. */
  const hostCgroup = async (sb: Sandbox): Promise<CgroupReading> => readSandboxCgroup(await cgroupLayout(), t.cgroupParent, sb.id);
  /** A `key value` counter from a file inside the sandbox (the guest kernel's own view, for microVM limits). */
  async function guestCounter(sb: Sandbox, file: string, key: string): Promise<number> {
    const r = await collect(await t.driver.exec(sb, ['/bin/sh', '-c', `cat ${file}`], { tty: false }));
    const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(r.out);
    expect(m, `${key} in the sandbox's ${file}: ${r.out}`).not.toBeNull();
    return Number(m![1]);
  }

  /** Start a sandbox, let `act` do its worst inside, then stop it and require a clean host. */
  async function withVictim(act: (sb: Sandbox) => Promise<void>, over: Partial<SandboxSpec> = {}) {
    const sb = await t.driver.start(spec(over));
    try {
      await act(sb);
    } finally {
      await t.driver.stop(sb, { now: true });
    }
    const left = await t.leftovers();
    for (const [k, v] of Object.entries(left))
      expect(
        v.filter((x) => String(x).includes(sb.id)),
        `${k} left behind`,
      ).toEqual([]);
  }

  beforeAll(async () => {
    t = target();
    rootfs = await t.rootfs();
    neighbour = await t.driver.start(specFor(rootfs, { limits: LIMITS }));
  });
  afterAll(async () => {
    if (neighbour) await t.driver.stop(neighbour, { now: true });
    const left = await t.leftovers();
    for (const [k, v] of Object.entries(left)) expect(v, `${k} left behind`).toEqual([]);
  });

  it("host limits: the sandbox's host cgroup holds the configured memory, CPU and pids limits", async () => {
    await withVictim(async (sb) => {
      expect(await hostCgroup(sb)).toMatchObject(t.hostLimits(LIMITS));
    });
  });

  // Host-wide figures (process count, MemAvailable) are not asserted: other work on the host moves them too.
  // The sandbox's own host cgroup is what bounds it, and its counters show the limit acting.
  it('fork bomb: the pids limit stops it (its counter moves), neighbour unaffected', async () => {
    await withVictim(async (sb) => {
      const start = await hostCgroup(sb);
      await attempt(t.driver, sb, 'bomb() { bomb | bomb & }; bomb; sleep 20', 12);
      await assertNeighbourResponsive();
      const end = await hostCgroup(sb);
      expect(end.pidsMax).toBe(start.pidsMax);
      if (t.limitsActIn === 'host') expect(end.pidsLimitHits, 'forks refused at the host pids limit').toBeGreaterThan(start.pidsLimitHits);
      else expect(await guestCounter(sb, '/sys/fs/cgroup/sandbox/pids.events', 'max'), "forks refused at the guest's pids limit").toBeGreaterThan(0);
    });
  });

  it('memory hog: the memory limit stops it (its counter moves), its host memory stays under the limit, neighbour unaffected', async () => {
    await withVictim(async (sb) => {
      const start = await hostCgroup(sb);
      const guestOomsBefore = t.limitsActIn === 'guest' ? await guestCounter(sb, '/proc/vmstat', 'oom_kill') : 0;
      // tail keeps the whole endless "line" in memory.
      await attempt(t.driver, sb, 'tail /dev/zero; echo tail-ended', 15);
      await assertNeighbourResponsive();
      const end = await hostCgroup(sb);
      expect(end.memoryPeakBytes, 'the host cgroup reports its peak memory use').not.toBeNull();
      // The kernel charges memory in batches of up to 64 pages, so its high-water mark can pass the limit by that much.
      expect(end.memoryPeakBytes!).toBeLessThanOrEqual(end.memoryLimitBytes + MEMCG_CHARGE_BATCH_BYTES);
      if (t.limitsActIn === 'host') expect(end.memoryLimitHits, 'times the host memory limit was reached').toBeGreaterThan(start.memoryLimitHits);
      else expect(await guestCounter(sb, '/proc/vmstat', 'oom_kill'), "the guest kernel's OOM kills").toBeGreaterThan(guestOomsBefore);
    });
  });

  it('disk fill of / and /tmp: host disk use stays within the sandbox bound and is freed afterwards', async () => {
    const before = diskFree(t.stateDir);
    let lowest = before;
    await withVictim(async (sb) => {
      const sampler = setInterval(() => {
        lowest = Math.min(lowest, diskFree(t.stateDir));
      }, 200);
      try {
        const r = await attempt(t.driver, sb, 'dd if=/dev/zero of=/root/fill bs=1M count=4096 2>&1 | tail -2; dd if=/dev/zero of=/tmp/fill bs=1M count=4096 2>&1 | tail -2', 45);
        expect(r.out).not.toMatch(/4294967296 bytes/); // never the full 4 GiB
        await assertNeighbourResponsive();
      } finally {
        clearInterval(sampler);
      }
    });
    expect(before - lowest).toBeLessThan(t.diskBoundBytes + 128 * 1024 * 1024);
    expect(before - diskFree(t.stateDir)).toBeLessThan(64 * 1024 * 1024);
  });

  it('CPU spin: the CPU quota throttles it (nr_throttled moves) and a neighbour still answers', async () => {
    const halfCore = { ...LIMITS, cpuQuotaMillicores: 500 };
    await withVictim(
      async (sb) => {
        const start = await hostCgroup(sb);
        expect(start).toMatchObject({ cpuQuotaUs: t.hostLimits(halfCore).cpuQuotaUs });
        await attempt(t.driver, sb, 'for i in 1 2 3 4; do (while :; do :; done) & done; sleep 3; echo spun', 10);
        for (let i = 0; i < 3; i++) await assertNeighbourResponsive();
        expect((await hostCgroup(sb)).nrThrottled, 'periods in which the quota throttled the sandbox').toBeGreaterThan(start.nrThrottled);
      },
      { limits: halfCore },
    );
  });

  it('sysrq and core_pattern: writes change nothing on the host', async () => {
    // (Some hosts have no magic sysrq at all; then only its absence can be compared.)
    const read = (f: string) => {
      try {
        return readFileSync(f, 'utf8');
      } catch {
        return 'absent';
      }
    };
    const corePattern = read('/proc/sys/kernel/core_pattern');
    const sysrq = read('/proc/sys/kernel/sysrq');
    const bootId = read('/proc/sys/kernel/random/boot_id');
    await withVictim(async (sb) => {
      await attempt(t.driver, sb, 'echo "|/bin/sh -c pwned" > /proc/sys/kernel/core_pattern; echo 1 > /proc/sys/kernel/sysrq; echo b > /proc/sysrq-trigger; sleep 2', 10);
      await assertNeighbourResponsive();
    });
    expect(read('/proc/sys/kernel/core_pattern')).toBe(corePattern);
    expect(read('/proc/sys/kernel/sysrq')).toBe(sysrq);
    expect(read('/proc/sys/kernel/random/boot_id')).toBe(bootId);
  });

  it("mknod and mount of the host's block devices: the host disks' bytes are never readable", async () => {
    // A host block device with known bytes (a loop device over random data), plus any disk the host itself can read.
    const img = path.join(os.tmpdir(), `lab-hostile-${process.pid}.img`);
    const secret = randomBytes(1 << 20);
    writeFileSync(img, secret);
    const loop = (await run('losetup', ['-f', '--show', img])).stdout.trim();
    expect(loop, 'losetup could not make a host block device').toMatch(/^\/dev\/loop\d+$/);
    const hostDisks = [{ dev: readFileSync(`/sys/block/${path.basename(loop)}/dev`, 'utf8').trim(), sha: createHash('sha256').update(secret.subarray(0, 4096)).digest('hex') }];
    for (const b of readdirSync('/sys/block').filter((n) => !/^(loop|ram|zram|nbd)/.test(n))) {
      const fh = await fs.open(`/dev/${b}`, 'r').catch(() => null);
      if (!fh) continue;
      const buf = Buffer.alloc(4096);
      await fh.read(buf, 0, 4096, 0);
      await fh.close();
      hostDisks.push({ dev: readFileSync(`/sys/block/${b}/dev`, 'utf8').trim(), sha: createHash('sha256').update(buf).digest('hex') });
    }
    try {
      await withVictim(async (sb) => {
        for (const { dev, sha } of hostDisks) {
          const [major, minor] = dev.split(':');
          const r = await attempt(
            t.driver,
            sb,
            `for c in mknod head sha256sum mount; do command -v $c >/dev/null || echo "MISSING $c"; done; mknod /tmp/d b ${major} ${minor} && { echo MKNOD-OK; head -c 4096 /tmp/d | sha256sum; mkdir -p /mnt/host && mount /tmp/d /mnt/host && ls /mnt/host; }; rm -f /tmp/d; echo ATTEMPTED`,
            20,
          );
          expect(r.out, 'the attack ran with every tool it needs').not.toContain('MISSING');
          expect(r.out).toContain('ATTEMPTED');
          expect(r.out).not.toContain(sha);
        }
      });
    } finally {
      await run('losetup', ['-d', loop]);
      rmSync(img, { force: true });
    }
  });

  it('kernel modules: a module the host lacks, loaded in the sandbox (where it can be), never appears on the host', async () => {
    // /sys/module lists built-in and loaded modules alike (and exists where /proc/modules does not).
    const hostModules = () => new Set(readdirSync('/sys/module'));
    const wanted = ['dummy', 'vfat', 'sctp', 'nilfs2', 'hfsplus'].filter((m) => !hostModules().has(m));
    expect(wanted.length, 'every candidate module is already on this host: the case could not fail').toBeGreaterThan(0);
    await withVictim(
      async (sb) => {
        const r = await attempt(
          t.driver,
          sb,
          `for m in ${wanted.join(' ')}; do modprobe $m >/dev/null 2>&1 || insmod /lib/modules/*/kernel/*/$m.ko* >/dev/null 2>&1; [ -d /sys/module/$m ] && echo "LOADED $m"; done; true`,
          60,
        );
        const loaded = wanted.filter((m) => r.out.includes(`LOADED ${m}`));
        if (t.loadsModules) expect(loaded.length, `the sandbox's own kernel loaded none of ${wanted.join(', ')}: ${r.out}`).toBeGreaterThan(0);
        else expect(loaded).toEqual([]);
      },
      { capabilities: [...spec().capabilities, 'CAP_SYS_MODULE'] },
    ); // as the lessons that load modules grant
    const after = hostModules();
    expect(wanted.filter((m) => after.has(m))).toEqual([]);
  });

  it("no network: only loopback inside, and the host's loopback services (the backend's port too) are unreachable", async () => {
    let connections = 0;
    const server = net.createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((r) => server.listen(0, '0.0.0.0', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      await withVictim(async (sb) => {
        const r = await attempt(
          t.driver,
          sb,
          `ip -o link | awk -F': ' '{print $2}'; for h in 127.0.0.1 localhost; do timeout 3 bash -c "echo hi > /dev/tcp/$h/${port}" 2>/dev/null && echo CONNECTED; done; true`,
          20,
        );
        expect(
          r.out
            .split('\n')
            .filter(Boolean)
            .filter((l) => l !== 'lo')
            .filter((l) => !l.startsWith('lo@')),
        ).toEqual([]);
        expect(r.out).not.toContain('CONNECTED');
      });
      expect(connections).toBe(0);
    } finally {
      server.close();
    }
  });

  it('a process left behind with setsid/nohup dies with the sandbox: nothing of the sandbox is left on the host', async () => {
    const marker = `7${Math.floor(Math.random() * 1e6)}`;
    let id = '';
    await withVictim(async (sb) => {
      id = sb.id;
      const r = await attempt(
        t.driver,
        sb,
        `setsid nohup sleep ${marker} >/dev/null 2>&1 </dev/null & disown; sleep 0.5; pgrep -f "sleep ${marker}" >/dev/null && echo started`,
        10,
      );
      expect(r.out, 'the leftover process must have started').toContain('started');
      expect((await hostCgroup(sb)).pidsCurrent, 'the sandbox has host processes in its cgroup while it runs').toBeGreaterThan(0);
    });
    // withVictim has checked the driver's leftovers by sandbox id; the host's process table is checked here as well.
    const cmdlines = readdirSync('/proc')
      .filter((e) => /^\d+$/.test(e))
      .map((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, 'utf8');
        } catch {
          return '';
        }
      });
    expect(cmdlines.filter((c) => c.includes(`sleep\0${marker}`) || c.includes(id))).toEqual([]);
    await expect(hostCgroup({ id } as Sandbox)).rejects.toThrow(/does not exist/);
  });

  it('checks into a sandbox full of symlinks and floods: output bounded, nothing read on the host', async () => {
    const lesson: Lesson = {
      id: 'hostile/checks',
      module: 'h',
      title: 'h',
      summary: 'h',
      runtime: t.driver.name,
      estimateMinutes: 1,
      dir: '/nonexistent',
      image: t.image,
      capabilities: ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_SETUID', 'CAP_SETGID', 'CAP_KILL', 'CAP_SYS_ADMIN'],
      body: '',
      setupScript: null,
      keep: ['/root'],
      exercises: [{ id: 'result', title: 'r', hint: 'h', timeoutMs: 5000, checkScript: 'cat /root/result.txt; hostname', solutionScript: 'true' }],
    };
    const manager = new SessionManager({
      store: memoryStore(),
      drivers: { [t.driver.name]: t.driver },
      rootfsFor: () => rootfs,
      log: () => {},
      policy: { ...policyFrom(loadConfig({})), checkOutputBytes: 4096, limits: LIMITS },
    });
    const s = await manager.create(lesson, learner('hostile'));
    try {
      await s.ready;
      expect(s.status).toBe('ready');
      // The learner points the file the check reads at the host's files, at an endless device, and replaces a tool with a flood.
      await s.checks.runScript(`ln -sf /etc/hostname /root/result.txt; printf '#!/bin/sh\\nexec yes FLOOD\\n' > /usr/local/bin/hostname; chmod +x /usr/local/bin/hostname`, 10_000);
      const r1 = await s.checks.run('result');
      expect(r1.message).not.toContain(os.hostname());
      expect(r1.truncated).toBe(true);
      expect(r1.message.length).toBeLessThan(4096 + 200);
      await s.checks.runScript('ln -sf /dev/zero /root/result.txt', 10_000);
      const r2 = await s.checks.run('result');
      expect(r2.passed).toBe(false);
      expect(r2.message.length).toBeLessThan(4096 + 200);
    } finally {
      await manager.shutdown();
    }
  });

  it('a replaced shell and replaced tools do not fool a check: checks run the read-only toolbox', async () => {
    const lesson: Lesson = {
      id: 'hostile/toolbox',
      module: 'h',
      title: 'h',
      summary: 'h',
      runtime: t.driver.name,
      estimateMinutes: 1,
      dir: '/nonexistent',
      image: t.image,
      capabilities: ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_SETUID', 'CAP_SETGID', 'CAP_KILL', 'CAP_SYS_ADMIN'],
      body: '',
      setupScript: null,
      keep: ['/root'],
      exercises: [
        {
          id: 'flag',
          title: 'f',
          hint: 'h',
          timeoutMs: 10_000,
          solutionScript: 'true',
          checkScript: 'if grep -qx yes /root/flag 2>/dev/null && [ "$(cat /root/flag)" = yes ]; then echo flag-is-set; exit 0; fi; echo flag-is-missing; exit 1',
        },
      ],
    };
    const manager = new SessionManager({
      store: memoryStore(),
      drivers: { [t.driver.name]: t.driver },
      rootfsFor: () => rootfs,
      log: () => {},
      policy: { ...policyFrom(loadConfig({})), limits: LIMITS },
    });
    const s = await manager.create(lesson, learner('hostile'));
    try {
      await s.ready;
      expect(s.status).toBe('ready');
      // The learner, as root: every shell and every tool the check names now says "passed", wherever it is looked up.
      // (From here on the test acts through the toolbox's shell too: the sandbox's bash is the fake.)
      const fake = `printf '#!/bin/sh\\necho flag-is-set\\nexit 0\\n' > /tmp/fake && chmod 755 /tmp/fake`;
      const tamper = await s.checks.runScript(
        `${fake} && for f in /usr/bin/bash /usr/bin/grep /usr/bin/cat /usr/local/bin/grep /usr/local/bin/cat /usr/local/bin/bash; do rm -f $f && cp /tmp/fake $f || exit 1; done; cmp -s /tmp/fake /usr/bin/bash && echo tampered`,
        10_000,
      );
      expect(tamper.output).toBe('tampered');
      const before = await s.checks.run('flag');
      expect(before).toMatchObject({ passed: false, message: 'flag-is-missing' });

      // The toolbox itself cannot be written, and the host's copy (shared by every sandbox) stays as built.
      const write = await s.checks.runScript(
        `for f in /.lab/toolbox/bin/grep /.lab/toolbox/bin/bash /.lab/toolbox/bin/new; do cp /tmp/fake $f 2>/dev/null && echo "wrote $f"; done; echo done`,
        10_000,
        'toolbox',
      );
      expect(write.output).toBe('done');

      // The real check still works: it passes once the learner really does the task.
      await s.checks.runScript('echo yes > /root/flag', 10_000, 'toolbox');
      expect(await s.checks.run('flag')).toMatchObject({ passed: true, message: 'flag-is-set' });

      // Nor after a remount: the runtime refuses it (gVisor), or the disk is read-only for QEMU itself (microVM).
      const remount = await s.checks.runScript(
        'mount -o remount,rw /.lab/toolbox 2>/dev/null; cp /tmp/fake /.lab/toolbox/bin/grep 2>/dev/null && echo wrote; echo done',
        10_000,
        'toolbox',
      );
      expect(remount.output).toBe('done');
      await expect(verifyToolbox(toolboxDir(rootfs))).resolves.toBeUndefined();

      if (!t.guardsToolboxMounts) return; // README, trust model: in gVisor a mount over the toolbox is not noticed
      // A fake toolbox mounted over the real one.
      await s.checks.runScript('rm /root/flag', 10_000, 'toolbox');
      const cover = await s.checks.runScript(
        'mkdir -p /tmp/fakebox/bin && cp /tmp/fake /tmp/fakebox/bin/bash && mount --bind /tmp/fakebox /.lab/toolbox && echo covered',
        10_000,
        'toolbox',
      );
      const covered = await s.checks.run('flag');
      expect(cover.output).toBe('covered');
      expect(covered.passed).toBe(false);
      expect(covered.message).toMatch(/check toolbox .* has been replaced or covered/);
      // The learner undoes it from their own shell (the sandbox's /bin/sh; bash is the fake now), and checks run again.
      const sh = async (cmd: string) => (await collect(await t.driver.exec(s.sandbox!, ['/bin/sh', '-c', cmd], { tty: false }))).out;
      await sh('umount /.lab/toolbox');
      expect(await s.checks.run('flag')).toMatchObject({ passed: false, message: 'flag-is-missing' });
      // One fake tool mounted over one file inside the real toolbox: refused as well.
      expect(await sh('mount --bind /tmp/fake /.lab/toolbox/bin/grep && echo covered')).toBe('covered\n');
      expect((await s.checks.run('flag')).message).toMatch(/mounted over a file or directory inside the check toolbox/);
      await sh('umount /.lab/toolbox/bin/grep');
      expect(await s.checks.run('flag')).toMatchObject({ passed: false, message: 'flag-is-missing' });
    } finally {
      await manager.shutdown();
    }
  });
}
