/**
 * The `gvisor` driver: one sandbox = one `runsc` container (platform ptrace,
 * no network) whose root is the shared, read-only lesson image wrapped in an
 * in-memory overlay (`--overlay2=root:memory`): every write lands in the
 * sandbox's own memory, is bounded by its memory cgroup, and disappears with it.
 * The OCI mechanics (bundle, exec, reaping) are shared with runc in oci.ts.
 */
import { promises as fs } from 'node:fs';
import type { SandboxSpec } from './driver';
import { OciCliDriver, type OciDriverOptions, type OciSandbox } from './oci';
import { run } from './host';

export type GvisorOptions = OciDriverOptions;

export class GvisorDriver extends OciCliDriver {
  readonly name = 'gvisor' as const;
  protected readonly bin = 'runsc';
  protected readonly debianPackage = 'runsc';
  /** runsc reports the pid inside the sandbox, which `runsc kill --pid` takes. */
  protected readonly execPidFlag = '--internal-pid-file';

  constructor(opts: GvisorOptions) {
    super(opts, 'gvisor', 'runsc');
  }

  protected globalFlags(): string[] {
    return [`--root=${this.root}`, '--platform=ptrace', '--network=none', '--overlay2=root:memory'];
  }

  protected async prepareRoot(spec: SandboxSpec) {
    return { path: spec.rootfsPath, readonly: false }; // runsc's memory overlay keeps the image untouched
  }

  protected async killExec(sb: OciSandbox, pidFile: string, signal: NodeJS.Signals) {
    const internal = Number(await fs.readFile(pidFile, 'utf8').catch(() => ''));
    if (internal <= 0) return;
    await run(this.cli, [...this.globalFlags(), 'kill', `--pid=${internal}`, sb.id, signal.replace(/^SIG/, '')], { timeoutMs: 10_000 });
    // runsc signals one process; every exec is its own session inside, so take its children too
    // (a check's `cat /dev/zero` would otherwise flood on). Runs inside the sandbox only.
    if (signal === 'SIGKILL') {
      await run(this.cli, [...this.globalFlags(), 'exec', sb.id, '/bin/sh', '-c', `kill -KILL -- -${internal} 2>/dev/null; pkill -KILL -s ${internal} 2>/dev/null; true`], {
        timeoutMs: 10_000,
      });
    }
  }
}
