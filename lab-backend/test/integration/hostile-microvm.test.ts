import { ensureImage } from '../../src/images';
import { MicrovmDriver, QEMU_OVERHEAD_BYTES, QEMU_PIDS_MAX } from '../../src/sandbox/microvm';
import { MICROVM_DISK_BYTES } from '../../src/sandbox/microvm-image';
import { IMAGE_DIR, microvmLeftovers, tempStateDir } from './helpers';
import { hostileSuite } from './hostile';
import { describeMicrovm } from './microvm-expected';

describeMicrovm('hostile learner in a microVM', () => {
  const stateDir = tempStateDir();
  const driver = new MicrovmDriver({ stateDir });
  hostileSuite(() => ({
    driver,
    stateDir,
    image: 'microvm',
    rootfs: () => ensureImage(IMAGE_DIR, 'microvm', (l) => console.log(`[images] ${l}`)),
    leftovers: () => microvmLeftovers(driver, stateDir),
    diskBoundBytes: MICROVM_DISK_BYTES, // the copy-on-write overlay can grow to the disk's fixed size at most
    cgroupParent: driver.cgroupParent,
    // QEMU's cgroup: the guest's RAM plus QEMU's own overhead, QEMU's threads, the CPU quota.
    hostLimits: (l) => ({
      memoryLimitBytes: l.memoryLimitBytes + QEMU_OVERHEAD_BYTES,
      pidsMax: QEMU_PIDS_MAX,
      cpuQuotaUs: (l.cpuQuotaMillicores / 1000) * 100_000,
      cpuPeriodUs: 100_000,
    }),
    limitsActIn: 'guest',
    loadsModules: true,
    guardsToolboxMounts: true,
  }));
});
