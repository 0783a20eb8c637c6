/** Shared set-up for integration tests: the real base image and a throwaway state dir. */
import { mkdtempSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defaultImageDir, ensureImage } from '../../src/images';
import type { OciCliDriver } from '../../src/sandbox/oci';
import type { MicrovmDriver } from '../../src/sandbox/microvm';
import type { SandboxSpec } from '../../src/sandbox/driver';
import { DOCKER_DEFAULT_CAPS } from '../../src/content';
import { cgroupHierarchies, pidsWithCmdline } from '../../src/sandbox/host';

export const IMAGE_DIR = defaultImageDir();

export async function baseRootfs(): Promise<string> {
  return ensureImage(IMAGE_DIR, 'base', (l) => console.log(`[images] ${l}`));
}

export function tempStateDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'lab-it-'));
}

let seq = 0;
export function specFor(rootfsPath: string, over: Partial<SandboxSpec> = {}): SandboxSpec {
  return {
    id: `it-${process.pid}-${++seq}`,
    rootfsPath,
    hostname: 'lab',
    capabilities: [...DOCKER_DEFAULT_CAPS, 'CAP_SYS_ADMIN'],
    limits: { memoryLimitBytes: 256 * 1024 * 1024, pidsLimit: 1024, cpuQuotaMillicores: 1000 },
    env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm-256color', 'HOME=/root'],
    ...over,
  };
}

/**
 * Host processes whose command line contains `needle`, as "<pid> <command line>"
 * (so a leftover can be matched by the sandbox id or state path it names),
 * plus "<pid> cgroup <path>" for any process in a cgroup whose path names it.
 */
export async function processesWith(needle: string): Promise<string[]> {
  const out: string[] = [];
  for (const pid of await pidsWithCmdline(needle)) {
    const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    const cgroup = await fs.readFile(`/proc/${pid}/cgroup`, 'utf8').catch(() => '');
    out.push(`${pid} ${cmdline.replace(/\0/g, ' ').trim()} cgroup ${cgroup.replace(/\n/g, ' ').trim()}`);
  }
  return out;
}

/** Everything an OCI-CLI driver (gvisor, runc) could have left on the host for its state dir. */
export async function leftovers(driver: OciCliDriver, stateDir: string) {
  const base = path.join(stateDir, driver.name);
  const cliRoot = path.join(base, driver.name === 'gvisor' ? 'runsc' : 'runc');
  const bundles = await fs.readdir(path.join(base, 'bundles')).catch(() => []);
  const runscState = (await fs.readdir(cliRoot).catch(() => [] as string[])).filter((f) => !f.startsWith('runsc.'));
  const procs = await processesWith(`--root=${cliRoot}`);
  const cgroups = await cgroupsUnder(driver.cgroupParent);
  const mounts = (await fs.readFile('/proc/self/mountinfo', 'utf8'))
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((m) => m?.startsWith(base));
  return { bundles, runscState, procs, cgroups, mounts };
}

/** Everything a microvm driver could have left on the host for its state dir. */
export async function microvmLeftovers(driver: MicrovmDriver, stateDir: string) {
  const base = path.join(stateDir, 'microvm');
  const dirs = await fs.readdir(base).catch(() => [] as string[]);
  const procs = await processesWith(`${base}/`);
  const cgroups = await cgroupsUnder(driver.cgroupParent);
  return { dirs, procs, cgroups };
}

/** Sandbox cgroups `<hierarchy>/<id>` under `parent`, in every mounted hierarchy (v1 controllers, systemd, v2). */
export async function cgroupsUnder(parent: string): Promise<string[]> {
  const cgroups: string[] = [];
  for (const h of await cgroupHierarchies()) {
    for (const d of await fs.readdir(path.join(h.path, parent), { withFileTypes: true }).catch(() => [])) {
      if (d.isDirectory()) cgroups.push(`${h.name}/${d.name}`);
    }
  }
  return cgroups;
}

/** Hierarchies in which the cgroup parent itself still exists (a driver with no sandboxes left should leave none). */
export async function cgroupParentsLeft(parent: string): Promise<string[]> {
  const left: string[] = [];
  for (const h of await cgroupHierarchies()) {
    if (
      await fs.stat(path.join(h.path, parent)).then(
        () => true,
        () => false,
      )
    )
      left.push(`${h.name}/${parent}`);
  }
  return left;
}

export async function collect(proc: { onData(l: (c: Buffer) => void): void; exited: Promise<{ code: number | null }> }) {
  const chunks: Buffer[] = [];
  proc.onData((c) => chunks.push(c));
  const exit = await proc.exited;
  return { code: exit.code, out: Buffer.concat(chunks).toString('utf8') };
}

/** Watchdogs (images/tools/lab-watchdog.c) on the host that watch sandbox `id`. */
export async function watchdogsOf(id: string): Promise<number> {
  let n = 0;
  for (const pid of await pidsWithCmdline('lab-watchdog')) {
    const args = (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (path.basename(args[0] ?? '').startsWith('lab-watchdog') && args.includes(id)) n++;
  }
  return n;
}
