import { defineConfig } from 'vitest/config';
import path from 'node:path';

// unit: logic only, behaviour-named fakes, no root needed.
// integration: real runsc sandboxes (needs root, runsc and a built base image).
export default defineConfig({
  resolve: { alias: { '@': path.resolve(import.meta.dirname) } },
  test: {
    projects: [
      { extends: true, test: { name: 'unit', include: ['lab-backend/test/unit/**/*.test.ts'], environment: 'node' } },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['lab-backend/test/integration/**/*.test.ts'],
          environment: 'node',
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
          // The hostile tests measure what the backend holds after a full GC (global.gc).
          execArgv: ['--expose-gc'],
        },
      },
    ],
  },
});
