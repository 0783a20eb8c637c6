/**
 * The check toolbox: the tools a check runs with, out of the learner's reach.
 *
 * A check runs inside the learner's sandbox, where the learner is root. If it
 * ran the sandbox's own /bin/bash, grep and sed, a learner could make it pass
 * by replacing one of them, by writing /etc/ld.so.preload (every dynamic
 * binary loads it), or with an alias, a function or BASH_ENV. So every sandbox
 * also sees this toolbox, read-only, at TOOLBOX_MOUNT:
 *   bin/bash        Debian's bash-static (a static binary: no loader, no preload)
 *   bin/busybox     Debian's busybox-static, and a link per applet in TOOLBOX_APPLETS
 *   lib/prelude.sh  sourced by every check's shell (BASH_ENV): each applet as a
 *                   shell function that runs the toolbox's busybox
 *   SHA256SUMS      of the three files, written when the toolbox is built
 * Checks run as `TOOLBOX_MOUNT/bin/bash --noprofile --norc -c` (checkArgv,
 * CHECK_ENV). The applets are functions, not PATH entries: the check's own
 * `grep` is the toolbox's, while a learner's script that the check starts runs
 * with the sandbox's PATH and tools, as it would in the learner's shell (the
 * functions are not exported, and the prelude unsets BASH_ENV). Tools that
 * are not in the toolbox (ip, jq, runc, capsh, timeout, ps, ...) come from
 * the sandbox: their output formats or exit codes differ in busybox.
 * Setup scripts and solutions run with the sandbox's own bash, as a learner's
 * commands do (nothing has been tampered with before setup).
 *
 * Where it lives: built with each image, next to its rootfs (toolboxDir).
 * gVisor and runc bind-mount that host directory read-only. The microVM gets
 * it as a second disk that QEMU opens read-only (microvm-image.ts), which the
 * guest agent mounts before the learner's first process exists and guards
 * (lab-agent.c: a check's shell runs only from that very mount). Drivers
 * verify the host copy against its digests before they use it. What this does
 * and does not prove is in the README ("What a passed check proves").
 */
import { createHash } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { run } from './host';

export const TOOLBOX_MOUNT = '/.lab/toolbox';
export const TOOLBOX_PACKAGES = ['bash-static', 'busybox-static'];
/** busybox applets that behave like their GNU counterparts for what checks ask of them. */
export const TOOLBOX_APPLETS = [
  'awk',
  'basename',
  'cat',
  'cmp',
  'cut',
  'diff',
  'dirname',
  'egrep',
  'env',
  'expr',
  'fgrep',
  'find',
  'grep',
  'head',
  'id',
  'ls',
  'md5sum',
  'mkdir',
  'mktemp',
  'nproc',
  'od',
  'readlink',
  'realpath',
  'rm',
  'rmdir',
  'sed',
  'seq',
  'sha256sum',
  'sleep',
  'sort',
  'stat',
  'tail',
  'tee',
  'touch',
  'tr',
  'uniq',
  'wc',
  'xargs',
];
const PRELUDE = 'lib/prelude.sh';
/** Extra environment of a check: its shell sources the prelude first. */
export const CHECK_ENV = [`BASH_ENV=${TOOLBOX_MOUNT}/${PRELUDE}`];

/** argv that runs a check with the toolbox's shell. `$0` is `lab-check`. */
export function checkArgv(script: string): string[] {
  return [`${TOOLBOX_MOUNT}/bin/bash`, '--noprofile', '--norc', '-c', script, 'lab-check'];
}

/** argv that runs a setup script or a solution with the sandbox's own bash, as the learner's commands run. */
export function sandboxShellArgv(script: string): string[] {
  return ['/bin/bash', '-c', script, 'lab-check'];
}

/** The prelude: applets as functions (not exported, so what the check starts never sees them). */
export function preludeText(): string {
  return [
    "# Sourced through BASH_ENV by every check's shell (lab-backend/src/sandbox/toolbox.ts).",
    "# The check's own commands below run the toolbox's busybox; programs it starts see the sandbox's.",
    'unset BASH_ENV',
    ...TOOLBOX_APPLETS.map((a) => `${a}() { ${TOOLBOX_MOUNT}/bin/busybox ${a} "$@"; }`),
    '',
  ].join('\n');
}

/** The host directory holding an image's toolbox. */
export function toolboxDir(rootfsPath: string): string {
  return path.join(path.dirname(rootfsPath), 'toolbox');
}

/** True when an ELF file has no PT_INTERP program header (it needs no dynamic loader). */
export function isStaticElf(elf: Buffer): boolean {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) return false;
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  for (let i = 0; i < elf.readUInt16LE(0x38); i++) {
    const ph = phoff + i * phentsize;
    if (ph + 4 <= elf.length && elf.readUInt32LE(ph) === 3 /* PT_INTERP */) return false;
  }
  return true;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * Build the toolbox into `dir` from Debian's packages (apt-get download, so the
 * host needs none of them installed). Refreshes apt's lists once if the
 * packages are unknown to it.
 */
export async function buildToolbox(dir: string, onProgress: (line: string) => void = () => {}): Promise<void> {
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'lab-toolbox-'));
  try {
    onProgress(`fetching the check toolbox (${TOOLBOX_PACKAGES.join(', ')})…`);
    const download = () => run('apt-get', ['-o', 'APT::Sandbox::User=root', 'download', ...TOOLBOX_PACKAGES], { cwd: work, timeoutMs: 300_000 });
    let r = await download();
    if (r.code !== 0) {
      onProgress('  apt-get download failed; refreshing the package lists once');
      await run('apt-get', ['update'], { timeoutMs: 300_000 });
      r = await download();
      if (r.code !== 0) throw new Error(`apt-get download ${TOOLBOX_PACKAGES.join(' ')} failed:\n${(r.stderr || r.stdout).trim().slice(-800)}`);
    }
    for (const deb of (await fs.readdir(work)).filter((f) => f.endsWith('.deb'))) {
      const x = await run('dpkg-deb', ['-x', deb, 'root'], { cwd: work, timeoutMs: 60_000 });
      if (x.code !== 0) throw new Error(`dpkg-deb -x ${deb}: ${(x.stderr || x.stdout).trim()}`);
    }
    const bin = path.join(dir, 'bin');
    await fs.rm(dir, { recursive: true, force: true });
    await fs.mkdir(bin, { recursive: true });
    const sums: string[] = [];
    for (const [from, to] of [
      ['bin/bash-static', 'bash'],
      ['bin/busybox', 'busybox'],
    ]) {
      const data = await fs.readFile(path.join(work, 'root', from));
      if (!isStaticElf(data)) throw new Error(`${from} from ${TOOLBOX_PACKAGES.join('/')} is not a static binary`);
      await fs.writeFile(path.join(bin, to), data, { mode: 0o555 });
      sums.push(`${sha256(data)}  bin/${to}`);
    }
    for (const applet of TOOLBOX_APPLETS) await fs.symlink('busybox', path.join(bin, applet));
    const prelude = Buffer.from(preludeText());
    await fs.mkdir(path.join(dir, 'lib'));
    await fs.writeFile(path.join(dir, PRELUDE), prelude, { mode: 0o444 });
    sums.push(`${sha256(prelude)}  ${PRELUDE}`);
    await fs.writeFile(path.join(dir, 'SHA256SUMS'), `${sums.join('\n')}\n`, { mode: 0o444 });
    for (const d of [bin, path.join(dir, 'lib'), dir]) await fs.chmod(d, 0o555);
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}

/**
 * Throws unless the toolbox in `dir` is whole and unchanged since it was built
 * (the binaries match SHA256SUMS). Drivers call it before they start a sandbox
 * with it: a host-side check that no sandbox can influence.
 */
export async function verifyToolbox(dir: string): Promise<void> {
  const sumsFile = path.join(dir, 'SHA256SUMS');
  if (!existsSync(sumsFile)) throw new Error(`the check toolbox is missing at ${dir} (rebuild the image: npm run images)`);
  for (const line of (await fs.readFile(sumsFile, 'utf8')).split('\n').filter(Boolean)) {
    const [want, rel] = line.split(/\s+/);
    const got = sha256(await fs.readFile(path.join(dir, rel)).catch(() => Buffer.alloc(0)));
    if (got !== want) throw new Error(`the check toolbox at ${dir} has been changed (${rel} does not match SHA256SUMS)`);
  }
}

/** Record a file's SHA-256 in `<file>.sha256` (the microVM's toolbox disk). */
export async function writeDigest(file: string): Promise<void> {
  await fs.writeFile(`${file}.sha256`, `${sha256(await fs.readFile(file))}\n`, { mode: 0o444 });
}

/** Throws unless `file` still matches the digest writeDigest recorded for it. */
export async function verifyDigest(file: string): Promise<void> {
  const want = (await fs.readFile(`${file}.sha256`, 'utf8').catch(() => '')).trim();
  if (!want) throw new Error(`${file}.sha256 is missing (rebuild the image: npm run images)`);
  if (sha256(await fs.readFile(file).catch(() => Buffer.alloc(0))) !== want) throw new Error(`${file} has been changed since it was built (it does not match ${file}.sha256)`);
}

const verified = new Map<string, Promise<void>>();
/**
 * `verify(p)` (verifyToolbox or verifyDigest) once per path and process:
 * sandboxes start without rehashing, and a failure is tried again next time.
 */
export function verifiedOnce(p: string, verify: (p: string) => Promise<void>): Promise<void> {
  let v = verified.get(p);
  if (!v) {
    v = verify(p).catch((err: unknown) => {
      verified.delete(p);
      throw err;
    });
    verified.set(p, v);
  }
  return v;
}
