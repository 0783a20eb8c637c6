/** The lesson page's terminal as the e2e tests drive it: wait for a prompt, type a line. */
import { expect, type Page } from '@playwright/test';

export function terminal(page: Page) {
  const box = page.getByTestId('terminal');
  const text = box.locator('.xterm-rows');
  return {
    box,
    text,
    /** The sandbox is up (data-status) and the shell has printed `prompt`. */
    async ready(prompt: string, timeoutMs: number) {
      await expect(box).toHaveAttribute('data-status', 'ready', { timeout: timeoutMs });
      await expect(text).toContainText(prompt, { timeout: 30_000 });
    },
    async type(line: string) {
      await box.click();
      await page.keyboard.type(line);
      await page.keyboard.press('Enter');
    },
  };
}
