/**
 * `yes` floods the terminal: the page stays responsive while it runs (flow
 * control holds the sandbox back instead of queueing output in the browser),
 * and Ctrl-C stops it at once.
 */
import { expect, test } from '@playwright/test';
import { terminal } from './terminal';

test('yes floods the terminal; the page stays responsive and Ctrl-C stops it at once', async ({ page }) => {
  await page.goto('/lessons/03-capabilities/01-capability-sets');
  const term = terminal(page);
  const box = term.box;
  await term.ready('root@lab', 60_000);
  await term.type('yes FLOODLINE');
  await expect(box.locator('.xterm-rows')).toContainText('FLOODLINE\nFLOODLINE'.split('\n')[0]);

  // While the flood runs, the page answers script and input promptly.
  for (let i = 0; i < 5; i++) {
    const t0 = Date.now();
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r(null))));
    expect(Date.now() - t0).toBeLessThan(1500);
    await page.waitForTimeout(300);
  }

  const t0 = Date.now();
  await page.keyboard.press('Control+C');
  await page.keyboard.type('echo after-$((40+2))');
  await page.keyboard.press('Enter');
  await expect(box.locator('.xterm-rows')).toContainText('after-42', { timeout: 10_000 });
  expect(Date.now() - t0).toBeLessThan(8000);
  // And the flood has really stopped: the screen no longer changes.
  const snapshot = await box.locator('.xterm-rows').innerText();
  await page.waitForTimeout(1000);
  expect(await box.locator('.xterm-rows').innerText()).toBe(snapshot);
});
