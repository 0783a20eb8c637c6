import { ensureImage } from '../../src/images';
import { MicrovmDriver } from '../../src/sandbox/microvm';
import { MICROVM_DISK_BYTES } from '../../src/sandbox/microvm-image';
import { IMAGE_DIR, microvmLeftovers, tempStateDir } from './helpers';
import { hostileSuite } from './hostile';
import { describeMicrovm } from './microvm-expected';

describeMicrovm('hostile learner in a microVM', () => {
  const stateDir = tempStateDir();
  const driver = new MicrovmDriver({ stateDir });
  hostileSuite(() => ({
    driver, stateDir, image: 'microvm',
    rootfs: () => ensureImage(IMAGE_DIR, 'microvm', (l) => console.log(`[images] ${l}`)),
    leftovers: () => microvmLeftovers(driver, stateDir),
    diskBoundBytes: MICROVM_DISK_BYTES, // the copy-on-write overlay can grow to the disk's fixed size at most
    responsiveSeconds: 15, // software emulation
    guardsToolboxMounts: true,
  }));
});
