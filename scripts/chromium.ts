/**
 * How every browser of the tests and benchmarks is launched: Debian's
 * chromium (never a downloaded one), headless, without its sandbox (we run as
 * root) and without background traffic. Used by playwright.config.ts and
 * scripts/bench/lib.ts.
 */
export const CHROMIUM_LAUNCH = {
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
};
