/**
 * Boot artifacts of the `microvm` image, built once per image next to its
 * rootfs (`<image dir>/microvm/`):
 *   vmlinuz     the Debian cloud kernel installed in the rootfs
 *   initrd.img  a tiny uncompressed initramfs: the guest agent as /init plus
 *               the virtio modules it loads (virtio_mmio, virtio_blk, virtio_console)
 *   disk.raw    the rootfs as a fixed-size ext4 file (read-only base of every sandbox's qcow2 overlay)
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const AGENT_SOURCE = path.join(here, '..', '..', 'images', 'agent', 'lab-agent.c');
export const MICROVM_DISK_BYTES = 2 * 1024 * 1024 * 1024;
const MODULES = ['virtio_ring', 'virtio', 'virtio_mmio', 'virtio_blk', 'virtio_console'];

export function microvmArtifacts(rootfsPath: string) {
  const dir = path.join(path.dirname(rootfsPath), 'microvm');
  return { dir, kernel: path.join(dir, 'vmlinuz'), initrd: path.join(dir, 'initrd.img'), disk: path.join(dir, 'disk.raw') };
}

function runOrThrow(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => { if (err.length < 8192) err += b.toString('utf8'); });
    child.on('error', (e) => reject(new Error(`${cmd}: ${e.message}`)));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited with ${code}: ${err.trim().slice(-800)}`))));
  });
}

/** A newc cpio archive (what the kernel unpacks as initramfs). */
function cpio(entries: { name: string; mode: number; data?: Buffer }[]): Buffer {
  const parts: Buffer[] = [];
  const pad = (n: number) => Buffer.alloc((4 - (n % 4)) % 4);
  let ino = 1;
  const add = (name: string, mode: number, data: Buffer) => {
    const hex = (v: number) => v.toString(16).padStart(8, '0');
    const nameBuf = Buffer.from(`${name}\0`);
    const header = `070701${hex(ino++)}${hex(mode)}${hex(0)}${hex(0)}${hex(1)}${hex(0)}${hex(data.length)}${hex(0)}${hex(0)}${hex(0)}${hex(0)}${hex(nameBuf.length)}${hex(0)}`;
    parts.push(Buffer.from(header), nameBuf, pad(110 + nameBuf.length), data, pad(data.length));
  };
  for (const e of entries) add(e.name, e.mode, e.data ?? Buffer.alloc(0));
  add('TRAILER!!!', 0, Buffer.alloc(0));
  return Buffer.concat(parts);
}

/** Build vmlinuz, initrd.img and disk.raw for a rootfs that has linux-image-cloud-amd64 installed. */
export async function buildMicrovmArtifacts(rootfs: string, onProgress: (line: string) => void = () => {}): Promise<void> {
  const out = microvmArtifacts(rootfs);
  await fs.mkdir(out.dir, { recursive: true });
  const kernels = (await fs.readdir(path.join(rootfs, 'boot'))).filter((f) => f.startsWith('vmlinuz-')).sort();
  if (kernels.length === 0) throw new Error('the image has no kernel in /boot (is linux-image-cloud-amd64 in the recipe?)');
  const version = kernels[kernels.length - 1].slice('vmlinuz-'.length);
  await fs.copyFile(path.join(rootfs, 'boot', `vmlinuz-${version}`), out.kernel);

  onProgress('compiling the microvm guest agent…');
  const agent = path.join(out.dir, 'lab-agent');
  await runOrThrow('gcc', ['-O2', '-static', '-Wall', '-o', agent, AGENT_SOURCE, '-lutil']);

  const modDir = path.join(rootfs, 'lib/modules', version);
  const dep = await fs.readFile(path.join(modDir, 'modules.dep'), 'utf8');
  const entries: { name: string; mode: number; data?: Buffer }[] = [
    { name: 'dev', mode: 0o40755 }, { name: 'modules', mode: 0o40755 }, { name: 'newroot', mode: 0o40755 },
    { name: 'init', mode: 0o100755, data: await fs.readFile(agent) },
    { name: 'lab-initrd', mode: 0o100644, data: Buffer.from('lab microvm initrd\n') },
  ];
  for (const m of MODULES) {
    const rel = dep.split('\n').map((l) => l.split(':')[0]).find((p) => path.basename(p) === `${m}.ko`);
    if (!rel) continue; // built into the kernel
    entries.push({ name: `modules/${m}.ko`, mode: 0o100644, data: await fs.readFile(path.join(modDir, rel)) });
  }
  await fs.writeFile(out.initrd, cpio(entries));
  await fs.rm(agent, { force: true });

  onProgress('making the microvm root disk (ext4)…');
  await fs.rm(out.disk, { force: true });
  await runOrThrow('mkfs.ext4', ['-q', '-F', '-L', 'labroot', '-E', 'root_owner=0:0', '-d', rootfs, out.disk, `${MICROVM_DISK_BYTES / 1024}k`]);
}
