/**
 * Boot artifacts of the `microvm` image, built once per image next to its
 * rootfs (`<image dir>/microvm/`):
 *   vmlinuz     the Debian cloud kernel installed in the rootfs
 *   vmlinux     the same kernel uncompressed, when it can be booted directly
 *               (its ELF has the PVH entry note): QEMU then jumps straight
 *               into it, which under TCG saves the ~0.4 s the kernel spends
 *               decompressing itself. Booted in preference to vmlinuz.
 *   initrd.img  a tiny uncompressed initramfs: the guest agent as /init plus
 *               the virtio modules it loads (virtio_mmio, virtio_blk, virtio_console)
 *   disk.raw    the rootfs as a fixed-size ext4 file (read-only base of every sandbox's qcow2 overlay)
 *   toolbox.ext4  the image's check toolbox (toolbox.ts) as a small ext4 file,
 *               attached read-only to every microVM as its second disk, with
 *               toolbox.ext4.sha256 beside it
 */
import { spawn } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { toolboxDir, writeDigest } from './toolbox';

const here = path.dirname(fileURLToPath(import.meta.url));
export const AGENT_SOURCE = path.join(here, '..', '..', 'images', 'agent', 'lab-agent.c');
/** This file: how the artifacts are built is part of the image's recipe hash. */
export const MICROVM_IMAGE_SOURCE = fileURLToPath(import.meta.url);
export const MICROVM_DISK_BYTES = 2 * 1024 * 1024 * 1024;
const TOOLBOX_DISK_BYTES = 16 * 1024 * 1024;
const MODULES = ['virtio_ring', 'virtio', 'virtio_mmio', 'virtio_blk', 'virtio_console'];

export function microvmArtifacts(rootfsPath: string) {
  const dir = path.join(path.dirname(rootfsPath), 'microvm');
  const vmlinuz = path.join(dir, 'vmlinuz');
  const vmlinux = path.join(dir, 'vmlinux');
  return {
    dir,
    vmlinuz,
    vmlinux,
    kernel: existsSync(vmlinux) ? vmlinux : vmlinuz,
    initrd: path.join(dir, 'initrd.img'),
    disk: path.join(dir, 'disk.raw'),
    toolbox: path.join(dir, 'toolbox.ext4'),
  };
}

/** Decompressors for a bzImage payload, by the payload's first bytes (the kernel's CONFIG_KERNEL_* choice). */
const DECOMPRESSORS: { magic: string; name: string; cmd: string; args: string[] }[] = [
  { magic: '1f8b', name: 'gzip', cmd: 'gzip', args: ['-dc'] },
  { magic: '02214c18', name: 'lz4', cmd: 'lz4', args: ['-dc'] },
  { magic: '28b52ffd', name: 'zstd', cmd: 'zstd', args: ['-dc'] },
  { magic: 'fd377a585a00', name: 'xz', cmd: 'xz', args: ['-dc'] },
];

function pipeThrough(cmd: string, args: string[], input: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => {
      if (err.length < 4096) err += b.toString('utf8');
    });
    child.on('error', (e) => reject(new Error(`${cmd}: ${e.message}`)));
    // Judged by its output, not its exit status: lz4 exits 1 on the size the kernel build appends to the payload.
    child.on('close', (code) => (out.length ? resolve(Buffer.concat(out)) : reject(new Error(`${cmd} exited with ${code}: ${err.trim()}`))));
    child.stdin.on('error', () => {
      /* reported through close */
    });
    child.stdin.end(input);
  });
}

/** True when an ELF64 image carries the Xen PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY), which QEMU boots directly. */
export function hasPvhNote(elf: Buffer): boolean {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1) return false;
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (ph + 56 > elf.length || elf.readUInt32LE(ph) !== 4 /* PT_NOTE */) continue;
    const off = Number(elf.readBigUInt64LE(ph + 8));
    const end = Math.min(elf.length, off + Number(elf.readBigUInt64LE(ph + 32)));
    for (let n = off; n + 12 <= end;) {
      const namesz = elf.readUInt32LE(n);
      const descsz = elf.readUInt32LE(n + 4);
      const type = elf.readUInt32LE(n + 8);
      const name = elf
        .subarray(n + 12, n + 12 + namesz)
        .toString('latin1')
        .replace(/\0+$/, '');
      if (name === 'Xen' && type === 18) return true;
      n += 12 + Math.ceil(namesz / 4) * 4 + Math.ceil(descsz / 4) * 4;
    }
  }
  return false;
}

/**
 * The uncompressed kernel inside a bzImage, if it can be booted through PVH;
 * otherwise why not (the caller then boots the bzImage, which always works).
 * The boot protocol header gives the payload: setup_sects at 0x1f1,
 * payload_offset/payload_length at 0x248/0x24c (from the protected-mode part).
 */
export async function extractPvhKernel(bzImage: Buffer): Promise<{ elf: Buffer } | { reason: string }> {
  if (bzImage.length < 0x250 || bzImage.toString('latin1', 0x202, 0x206) !== 'HdrS') return { reason: 'not a bzImage' };
  if (bzImage.readUInt16LE(0x206) < 0x208) return { reason: 'boot protocol older than 2.08 (no payload fields)' };
  const setupSects = bzImage[0x1f1] || 4;
  const start = (setupSects + 1) * 512 + bzImage.readUInt32LE(0x248);
  const payload = bzImage.subarray(start, start + bzImage.readUInt32LE(0x24c));
  const d = DECOMPRESSORS.find((x) => payload.subarray(0, x.magic.length / 2).toString('hex') === x.magic);
  if (!d) return { reason: `unknown payload compression (starts ${payload.subarray(0, 6).toString('hex')})` };
  let elf: Buffer;
  try {
    elf = await pipeThrough(d.cmd, d.args, payload);
  } catch (e) {
    return { reason: `cannot decompress the ${d.name} payload: ${(e as Error).message}` };
  }
  const expected = payload.readUInt32LE(payload.length - 4); // the kernel build appends the uncompressed size
  if (elf.length !== expected) return { reason: `the ${d.name} payload unpacked to ${elf.length} bytes, not the ${expected} its trailer says` };
  if (!hasPvhNote(elf)) return { reason: 'the kernel has no PVH entry point (CONFIG_PVH is off)' };
  return { elf };
}

function runOrThrow(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (b: Buffer) => {
      if (err.length < 8192) err += b.toString('utf8');
    });
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

/** Build vmlinuz (and vmlinux), initrd.img and disk.raw for a rootfs that has linux-image-cloud-amd64 installed. */
export async function buildMicrovmArtifacts(rootfs: string, onProgress: (line: string) => void = () => {}): Promise<void> {
  const out = microvmArtifacts(rootfs);
  await fs.mkdir(out.dir, { recursive: true });
  const kernels = (await fs.readdir(path.join(rootfs, 'boot'))).filter((f) => f.startsWith('vmlinuz-')).sort();
  if (kernels.length === 0) throw new Error('the image has no kernel in /boot (is linux-image-cloud-amd64 in the recipe?)');
  const version = kernels[kernels.length - 1].slice('vmlinuz-'.length);
  await fs.copyFile(path.join(rootfs, 'boot', `vmlinuz-${version}`), out.vmlinuz);
  await fs.rm(out.vmlinux, { force: true });
  const pvh = await extractPvhKernel(await fs.readFile(out.vmlinuz));
  if ('elf' in pvh) {
    await fs.writeFile(out.vmlinux, pvh.elf);
    onProgress(`uncompressed kernel for direct (PVH) boot: ${(pvh.elf.length / 2 ** 20).toFixed(0)} MiB`);
  } else onProgress(`booting the compressed kernel: ${pvh.reason}`);

  onProgress('compiling the microvm guest agent…');
  const agent = path.join(out.dir, 'lab-agent');
  await runOrThrow('gcc', ['-O2', '-static', '-Wall', '-o', agent, AGENT_SOURCE, '-lutil']);

  const modDir = path.join(rootfs, 'lib/modules', version);
  const dep = await fs.readFile(path.join(modDir, 'modules.dep'), 'utf8');
  const entries: { name: string; mode: number; data?: Buffer }[] = [
    { name: 'dev', mode: 0o40755 },
    { name: 'modules', mode: 0o40755 },
    { name: 'newroot', mode: 0o40755 },
    { name: 'init', mode: 0o100755, data: await fs.readFile(agent) },
    { name: 'lab-initrd', mode: 0o100644, data: Buffer.from('lab microvm initrd\n') },
  ];
  for (const m of MODULES) {
    const rel = dep
      .split('\n')
      .map((l) => l.split(':')[0])
      .find((p) => path.basename(p) === `${m}.ko`);
    if (!rel) continue; // built into the kernel
    entries.push({ name: `modules/${m}.ko`, mode: 0o100644, data: await fs.readFile(path.join(modDir, rel)) });
  }
  await fs.writeFile(out.initrd, cpio(entries));
  await fs.rm(agent, { force: true });

  onProgress('making the microvm root disk (ext4)…');
  await fs.rm(out.disk, { force: true });
  await runOrThrow('mkfs.ext4', ['-q', '-F', '-L', 'labroot', '-E', 'root_owner=0:0', '-d', rootfs, out.disk, `${MICROVM_DISK_BYTES / 1024}k`]);

  onProgress('making the microvm check toolbox disk (ext4, attached read-only)…');
  await fs.rm(out.toolbox, { force: true });
  await runOrThrow('mkfs.ext4', [
    '-q',
    '-F',
    '-L',
    'labtoolbox',
    '-O',
    '^has_journal',
    '-m',
    '0',
    '-E',
    'root_owner=0:0',
    '-d',
    toolboxDir(rootfs),
    out.toolbox,
    `${TOOLBOX_DISK_BYTES / 1024}k`,
  ]);
  await writeDigest(out.toolbox);
}
