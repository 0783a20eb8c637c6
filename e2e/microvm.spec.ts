/**
 * A lesson that declares `runtime: microvm`: the learner's terminal is a shell
 * in a QEMU microVM running its own Linux kernel, and checks run there too.
 */
import { expect, test } from '@playwright/test';

test('a microvm lesson gives a shell on its own kernel, with checks', async ({ page }) => {
  await page.goto('/lessons/07-runtimes/01-a-kernel-of-your-own');
  await expect(page.getByTestId('runtime-badge').first()).toContainText(/micro ?vm/i);
  const box = page.getByTestId('terminal');
  await expect(box).toHaveAttribute('data-status', 'ready', { timeout: 90_000 });
  await expect(box.locator('.xterm-rows')).toContainText('#', { timeout: 30_000 });
  await box.click();
  await page.keyboard.type('echo kernel=$(uname -r)');
  await page.keyboard.press('Enter');
  await expect(box.locator('.xterm-rows')).toContainText(/kernel=\S+-cloud-amd64/);
  const first = page.locator('[data-testid^="check-result-"], [data-testid^="check-"]').first();
  const id = (await first.getAttribute('data-testid'))!.replace(/^check-/, '');
  await page.getByTestId(`check-${id}`).first().click();
  const result = page.getByTestId(`check-result-${id}`).first();
  await expect(result).toHaveAttribute('data-result', 'fail', { timeout: 30_000 });
  await expect(result).not.toBeEmpty();
});
