import { defineConfig } from '@playwright/test';
import { CHROMIUM_LAUNCH } from './scripts/chromium';
import { E2E_ADMIN_TOKEN } from './e2e/admin-token';

// E2E in Debian's chromium (never a downloaded browser), against the real lab
// server (site + backend, real gVisor sandboxes) started by `webServer`.
const PORT = Number(process.env.E2E_PORT ?? 3217);

export default defineConfig({
  testDir: 'e2e',
  timeout: 120_000,
  expect: { timeout: 30_000 },
  workers: 1,
  retries: 0,
  reporter: [['list']],
  outputDir: 'test-results/e2e',
  use: {
    baseURL: `http://127.0.0.1:${PORT}`,
    browserName: 'chromium',
    headless: true,
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    launchOptions: CHROMIUM_LAUNCH,
  },
  webServer: {
    // Not the tsx CLI: its parent process SIGKILLs serve.ts when a SIGTERM is not answered within ~60 ms.
    command: 'node --import tsx scripts/serve.ts',
    url: `http://127.0.0.1:${PORT}/lab-api/health`,
    timeout: 120_000,
    reuseExistingServer: false,
    // SIGTERM lets serve.ts end every sandbox (warm ones too) before it exits.
    gracefulShutdown: { signal: 'SIGTERM', timeout: 20_000 },
    stdout: 'pipe',
    env: {
      PORT: String(PORT),
      HOST: '127.0.0.1',
      LAB_STATE_DIR: '.lab/e2e-state',
      // Not the operator's .lab/lab.db: the tests' learners and results stay out of it.
      LAB_DATABASE: '.lab/e2e-lab.db',
      // Every test is a fresh browser context, so a new learner, all from 127.0.0.1.
      LAB_NEW_LEARNERS_PER_HOUR: '10000',
      LAB_MAX_SANDBOXES_PER_ADDRESS: '100',
      // learners.spec signs in as the admin with it.
      LAB_ADMIN_TOKEN: E2E_ADMIN_TOKEN,
      LAB_RECONNECT_GRACE_MS: '20000',
      LAB_SESSIONS_PER_MINUTE: '30',
      // every-lesson.spec opens one lesson after another; each left page keeps its sandbox for the grace period
      LAB_MAX_SANDBOXES_PER_CLIENT: '8',
    },
  },
});
