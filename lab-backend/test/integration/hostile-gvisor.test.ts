import { describe } from 'vitest';
import { GvisorDriver } from '../../src/sandbox/gvisor';
import { baseRootfs, leftovers, tempStateDir } from './helpers';
import { hostileSuite } from './hostile';

describe('hostile learner in gVisor', () => {
  const stateDir = tempStateDir();
  const driver = new GvisorDriver({ stateDir });
  hostileSuite(() => ({
    driver, stateDir, image: 'base', rootfs: baseRootfs,
    leftovers: () => leftovers(driver, stateDir),
    diskBoundBytes: 0, // writes live in the sandbox's memory overlay
    responsiveSeconds: 5,
    guardsToolboxMounts: false,
  }));
});
