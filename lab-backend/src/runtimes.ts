/** Builds the drivers the operator enabled (LAB_RUNTIMES). */
import path from 'node:path';
import type { LabConfig } from './config';
import { LabError } from './errors';
import { imagePath, imageReady } from './images';
import type { Driver } from './sandbox/driver';
import { GvisorDriver } from './sandbox/gvisor';
import { MicrovmDriver } from './sandbox/microvm';
import { RuncDriver } from './sandbox/runc';
import type { RuntimeName } from './wire';

export function createDrivers(config: LabConfig): Partial<Record<RuntimeName, Driver>> {
  const drivers: Partial<Record<RuntimeName, Driver>> = {};
  for (const r of config.runtimes) {
    if (r === 'gvisor') drivers.gvisor = new GvisorDriver({ stateDir: config.stateDir, orphanGraceMs: config.orphanGraceMs });
    else if (r === 'microvm')
      drivers.microvm = new MicrovmDriver({ stateDir: config.stateDir, orphanGraceMs: config.orphanGraceMs, log: (l) => console.log(`[lab] microvm: ${l}`) });
    else if (r === 'runc') {
      // loadConfig already refused runc without LAB_UNSAFE_RUNC=1.
      console.warn('[lab] WARNING: the runc runtime is enabled: sandboxes share the host kernel with no seccomp or LSM. Development only.');
      drivers.runc = new RuncDriver({ stateDir: config.stateDir, orphanGraceMs: config.orphanGraceMs });
    }
  }
  return drivers;
}

/** Root filesystem of a built image; a clear error when `npm run images` has not built it. */
export function rootfsResolver(config: LabConfig) {
  return (image: string): string => {
    let p: ReturnType<typeof imagePath>;
    try {
      p = imagePath(config.imageDir, image);
    } catch (e) {
      throw new LabError('internal', (e as Error).message, 500);
    }
    if (!imageReady(config.imageDir, image)) {
      throw new LabError(
        'sandbox_start_failed',
        `The lesson image "${image}" has not been built on this server (expected ${path.relative(process.cwd(), p.dir)}); the operator should run "npm start" or "npm run images".`,
        503,
      );
    }
    return p.rootfs;
  };
}
