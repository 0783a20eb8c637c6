/**
 * The `runc` driver, for development only (LAB_RUNTIMES=runc needs
 * LAB_UNSAFE_RUNC=1, and it is never a default): plain namespaces and cgroups
 * on the HOST kernel, no seccomp profile, no LSM. A hostile learner is one
 * kernel bug away from the host; use it to try lessons quickly, not to serve them.
 *
 * The root filesystem is an overlay per sandbox: the shared image as the
 * lower layer, and the upper layer on a tmpfs of `limits.diskLimitBytes`
 * under the bundle (so a disk fill stops at that size and vanishes with the
 * sandbox). A terminal exec runs under lab-console-relay (images/tools/
 * console-relay.c, compiled on first use): runc sends the container PTY's
 * master over a console socket, which Node cannot receive, so the relay
 * does and copies bytes and window sizes between it and our PTY.
 */
import { promises as fs, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SandboxSpec } from './driver';
import { OciCliDriver, type OciDriverOptions, type OciSandbox } from './oci';
import { run } from './host';

const DEFAULT_DISK_BYTES = 1024 * 1024 * 1024;
const RELAY_SOURCE = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'images', 'tools', 'console-relay.c');

export class RuncDriver extends OciCliDriver {
  readonly name = 'runc' as const;
  protected readonly bin = 'runc';
  protected readonly debianPackage = 'runc';
  /** runc writes the host pid of the exec'd process. */
  protected readonly execPidFlag = '--pid-file';
  private relay?: Promise<string>;

  constructor(opts: OciDriverOptions) {
    super(opts, 'runc', 'runc');
  }

  /** The console relay binary, compiled from source when missing or older than its source. */
  private relayBinary(): Promise<string> {
    this.relay ??= (async () => {
      const bin = path.join(this.opts.stateDir, 'runc', 'bin', 'lab-console-relay');
      const fresh = (() => {
        try {
          return statSync(bin).mtimeMs >= statSync(RELAY_SOURCE).mtimeMs;
        } catch {
          return false;
        }
      })();
      if (!fresh) {
        await fs.mkdir(path.dirname(bin), { recursive: true });
        const r = await run('gcc', ['-O2', '-Wall', '-o', bin, RELAY_SOURCE], { timeoutMs: 60_000 });
        if (r.code !== 0) throw new Error(`compiling the runc console relay failed: ${r.stderr.trim().slice(-400)}`);
      }
      return bin;
    })();
    this.relay.catch(() => {
      this.relay = undefined;
    });
    return this.relay;
  }

  protected async ptyCommand(execArgs: string[], consoleSocket: string) {
    // runc takes a console socket only when it detaches: the relay adopts the process (see console-relay.c).
    const i = execArgs.indexOf('exec');
    const pidFile = execArgs.find((a) => a.startsWith(`${this.execPidFlag}=`))!.slice(this.execPidFlag.length + 1);
    const args = [...execArgs.slice(0, i + 1), '--detach', '--tty', `--console-socket=${consoleSocket}`, ...execArgs.slice(i + 1)];
    return { file: await this.relayBinary(), args: [consoleSocket, pidFile, '--', this.cli, ...args] };
  }

  protected globalFlags(): string[] {
    return [`--root=${this.root}`];
  }

  protected async prepareRoot(spec: SandboxSpec, bundle: string) {
    const rw = path.join(bundle, 'rw');
    const merged = path.join(bundle, 'rootfs');
    await fs.mkdir(rw, { recursive: true, mode: 0o700 });
    await fs.mkdir(merged, { recursive: true, mode: 0o755 });
    const size = spec.limits.diskLimitBytes ?? DEFAULT_DISK_BYTES;
    const tmpfs = await run('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'lab-runc-rw', rw], { timeoutMs: 10_000 });
    if (tmpfs.code !== 0) throw new Error(`mounting the writable layer failed: ${tmpfs.stderr.trim()}`);
    await fs.mkdir(path.join(rw, 'upper'));
    await fs.mkdir(path.join(rw, 'work'));
    const ov = await run('mount', ['-t', 'overlay', '-o', `lowerdir=${spec.rootfsPath},upperdir=${rw}/upper,workdir=${rw}/work`, 'lab-runc-root', merged], { timeoutMs: 10_000 });
    if (ov.code !== 0) throw new Error(`mounting the overlay root failed: ${ov.stderr.trim()}`);
    return { path: merged, readonly: false };
  }

  protected async releaseRoot(id: string) {
    const bundle = path.join(this.bundles, id);
    for (const m of [path.join(bundle, 'rootfs'), path.join(bundle, 'rw')]) {
      // Lazy: a process that escaped our kill still pins the mount, but it leaves the namespace tree now.
      if (await isMountPoint(m)) await run('umount', ['-l', m], { timeoutMs: 10_000 });
    }
  }

  /** A new network namespace has loopback down; the lab promises loopback. */
  protected async afterStart(sb: OciSandbox) {
    await run(this.cli, [...this.globalFlags(), 'exec', sb.id, 'ip', 'link', 'set', 'lo', 'up'], { timeoutMs: 10_000 });
  }

  protected async killExec(_sb: OciSandbox, pidFile: string, signal: NodeJS.Signals) {
    const pid = Number(await fs.readFile(pidFile, 'utf8').catch(() => ''));
    if (pid > 1) {
      try {
        process.kill(pid, signal);
      } catch {
        /* gone */
      }
    }
  }
}

async function isMountPoint(p: string): Promise<boolean> {
  const info = await fs.readFile('/proc/self/mountinfo', 'utf8').catch(() => '');
  return info.split('\n').some((l) => l.split(' ')[4] === p);
}
