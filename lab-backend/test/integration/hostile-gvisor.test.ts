import { describe } from 'vitest';
import { GvisorDriver } from '../../src/sandbox/gvisor';
import { baseRootfs, leftovers, tempStateDir } from './helpers';
import { hostileSuite } from './hostile';

describe('hostile learner in gVisor', () => {
  const stateDir = tempStateDir();
  const driver = new GvisorDriver({ stateDir });
  hostileSuite(() => ({
    driver,
    stateDir,
    image: 'base',
    rootfs: baseRootfs,
    leftovers: () => leftovers(driver, stateDir),
    diskBoundBytes: 0, // writes live in the sandbox's memory overlay
    cgroupParent: driver.cgroupParent,
    // runsc applies the OCI limits to the sandbox's host cgroup as they are.
    hostLimits: (l) => ({ memoryLimitBytes: l.memoryLimitBytes, pidsMax: l.pidsLimit, cpuQuotaUs: (l.cpuQuotaMillicores / 1000) * 100_000, cpuPeriodUs: 100_000 }),
    limitsActIn: 'host',
    loadsModules: false,
    guardsToolboxMounts: false,
  }));
});
