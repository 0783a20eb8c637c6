/**
 * Lesson images: root filesystems built from Debian packages with mmdebstrap
 * (no image registry), cached under `imageDir/<name>-<recipe hash>/rootfs`,
 * with the image's check toolbox beside it (`.../toolbox`, sandbox/toolbox.ts).
 * A recipe change (packages, suite, shim source) yields a new hash and a new
 * build; an unchanged recipe is never rebuilt. Builds go to a temporary
 * directory and are renamed into place, so a half-built image is never used.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { AGENT_SOURCE, buildMicrovmArtifacts, MICROVM_IMAGE_SOURCE } from './sandbox/microvm-image';
import { buildToolbox, TOOLBOX_MOUNT, toolboxDir } from './sandbox/toolbox';

export interface ImageRecipe {
  name: string;
  suite: string;
  variant: 'minbase';
  packages: string[];
}

const here = path.dirname(fileURLToPath(import.meta.url));
const SHIM_SOURCE = path.join(here, '..', 'images', 'statx-shim.c');
/** Course tool: runs a command under a seccomp filter denying named syscalls (no libc, static). */
const SECCOMP_DENY_SOURCE = path.join(here, '..', 'images', 'seccomp-deny.c');
const LAZY_COMPLETION_SOURCE = path.join(here, '..', 'images', 'bash-completion-lazy.sh');
/** How the check toolbox is built (sandbox/toolbox.ts) is part of every image's recipe. */
const TOOLBOX_SOURCE = path.join(here, 'sandbox', 'toolbox.ts');

/** What the course needs in every sandbox. */
export const IMAGES: Record<string, ImageRecipe> = {
  base: {
    name: 'base',
    suite: 'bookworm',
    variant: 'minbase',
    packages: [
      'util-linux',
      'iproute2',
      'libcap2-bin',
      'libcap-ng-utils',
      'procps',
      'psmisc',
      'strace',
      'kmod',
      'iptables',
      'busybox',
      'less',
      'vim-tiny',
      'nano',
      'runc',
      'ncurses-bin',
      'bash-completion',
      'iputils-ping',
      // holds a microVM learner's terminal in the guest (the microvm image takes these packages; gVisor and runc hold it on the host: oci.ts)
      'dtach',
    ],
  },
};

/** The `microvm` runtime's image: the base packages plus a guest kernel (see sandbox/microvm-image.ts). */
IMAGES.microvm = {
  name: 'microvm',
  suite: 'bookworm',
  variant: 'minbase',
  packages: [
    ...IMAGES.base.packages,
    'linux-image-cloud-amd64',
    // what the real-kernel lessons use: AppArmor, Btrfs, traffic tools, editing OCI config.json
    'apparmor',
    'btrfs-progs',
    'netcat-openbsd',
    'tcpdump',
    'jq',
    'iptables',
  ].filter((p, i, all) => all.indexOf(p) === i),
};

/** Per-recipe build steps after mmdebstrap; their sources are part of the recipe hash. */
const EXTRA_STEPS: Record<string, { sources: string[]; build: (rootfs: string, onProgress: (line: string) => void) => Promise<void> }> = {
  microvm: { sources: [AGENT_SOURCE, MICROVM_IMAGE_SOURCE], build: buildMicrovmArtifacts },
};

export function recipeHash(recipe: ImageRecipe): string {
  const h = createHash('sha256');
  h.update(JSON.stringify(recipe));
  h.update(readFileSync(SHIM_SOURCE));
  h.update(readFileSync(SECCOMP_DENY_SOURCE));
  h.update(readFileSync(LAZY_COMPLETION_SOURCE));
  h.update(readFileSync(TOOLBOX_SOURCE));
  for (const src of EXTRA_STEPS[recipe.name]?.sources ?? []) h.update(readFileSync(src));
  return h.digest('hex').slice(0, 12);
}

/**
 * Where built images live unless LAB_IMAGE_DIR says otherwise: a machine-wide
 * cache outside any clone (/var/cache/container-internals-lab/images, when we
 * are root), so every clone on the machine reuses an image built once per
 * recipe hash; otherwise `<labDir>/images`.
 */
export function defaultImageDir(env: Record<string, string | undefined> = process.env, labDir = path.resolve('.lab')): string {
  if (env.LAB_IMAGE_DIR) return path.resolve(env.LAB_IMAGE_DIR);
  if (process.getuid?.() === 0) return '/var/cache/container-internals-lab/images';
  return path.join(labDir, 'images');
}

export function imagePath(imageDir: string, name: string): { dir: string; rootfs: string; recipe: ImageRecipe } {
  const recipe = IMAGES[name];
  if (!recipe) throw new Error(`unknown image "${name}" (known: ${Object.keys(IMAGES).join(', ')})`);
  const dir = path.join(imageDir, `${name}-${recipeHash(recipe)}`);
  return { dir, rootfs: path.join(dir, 'rootfs'), recipe };
}

export function imageReady(imageDir: string, name: string): boolean {
  return existsSync(path.join(imagePath(imageDir, name).dir, 'READY'));
}

function runLogged(cmd: string, args: string[], onLine: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let tail: string[] = [];
    const feed = (b: Buffer) => {
      for (const line of b.toString('utf8').split('\n')) {
        if (!line.trim()) continue;
        onLine(line);
        tail = [...tail.slice(-20), line];
      }
    };
    child.stdout.on('data', feed);
    child.stderr.on('data', feed);
    child.on('error', (e) => reject(new Error(`${cmd}: ${e.message}`)));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited with ${code}:\n${tail.join('\n')}`))));
  });
}

/** Build the image unless its recipe's build is already cached. Returns the rootfs path. */
export async function ensureImage(imageDir: string, name: string, onProgress: (line: string) => void = () => {}): Promise<string> {
  const { dir, rootfs, recipe } = imagePath(imageDir, name);
  if (imageReady(imageDir, name)) return rootfs;
  await fs.mkdir(imageDir, { recursive: true });
  const tmp = `${dir}.tmp-${process.pid}`;
  await fs.rm(tmp, { recursive: true, force: true });
  await fs.mkdir(tmp, { recursive: true });
  const started = Date.now();
  try {
    onProgress(`building image "${name}" (${recipe.suite}, ${recipe.packages.length} packages) with mmdebstrap…`);
    await runLogged(
      'mmdebstrap',
      [
        `--variant=${recipe.variant}`,
        `--include=${recipe.packages.join(',')}`,
        '--dpkgopt=path-exclude=/usr/share/doc/*',
        '--dpkgopt=path-exclude=/usr/share/locale/*',
        '--dpkgopt=path-include=/usr/share/doc/*/copyright',
        recipe.suite,
        path.join(tmp, 'rootfs'),
      ],
      (l) => onProgress(`  ${l}`),
    );
    onProgress('compiling the statx shim for gVisor…');
    await runLogged('gcc', ['-O2', '-shared', '-fPIC', '-o', path.join(tmp, 'rootfs/usr/local/lib/lab-statx.so'), SHIM_SOURCE], onProgress);
    await fs.writeFile(path.join(tmp, 'rootfs/etc/ld.so.preload'), '/usr/local/lib/lab-statx.so\n');
    onProgress("compiling seccomp-deny (the seccomp lesson's tool)…");
    await runLogged(
      'gcc',
      [
        '-Os',
        '-static',
        '-nostdlib',
        '-fno-stack-protector',
        '-fno-builtin',
        '-fno-asynchronous-unwind-tables',
        '-fno-pie',
        '-no-pie',
        '-s',
        '-o',
        path.join(tmp, 'rootfs/usr/local/bin/seccomp-deny'),
        SECCOMP_DENY_SOURCE,
      ],
      onProgress,
    );
    await fs.mkdir(path.join(tmp, 'rootfs/usr/local/share/seccomp-deny'), { recursive: true });
    await fs.copyFile(SECCOMP_DENY_SOURCE, path.join(tmp, 'rootfs/usr/local/share/seccomp-deny/seccomp-deny.c'));
    await fs.copyFile(LAZY_COMPLETION_SOURCE, path.join(tmp, 'rootfs/etc/profile.d/bash_completion.sh')); // completion on first Tab, not before the prompt
    await fs.mkdir(path.join(tmp, 'rootfs', TOOLBOX_MOUNT), { recursive: true }); // where every driver shows the toolbox
    await fs.writeFile(path.join(tmp, 'rootfs/etc/hostname'), 'lab\n');
    await fs.writeFile(path.join(tmp, 'rootfs/etc/hosts'), '127.0.0.1\tlocalhost lab\n::1\tlocalhost ip6-localhost\n');
    await buildToolbox(toolboxDir(path.join(tmp, 'rootfs')), onProgress);
    await EXTRA_STEPS[name]?.build(path.join(tmp, 'rootfs'), onProgress);
    await fs.writeFile(path.join(tmp, 'recipe.json'), JSON.stringify(recipe, null, 1));
    await fs.writeFile(path.join(tmp, 'READY'), new Date().toISOString());
    await fs.rm(dir, { recursive: true, force: true });
    await fs.rename(tmp, dir);
    onProgress(`image "${name}" ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return rootfs;
  } catch (err) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw err;
  }
}
