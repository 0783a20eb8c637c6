/**
 * `yes` floods the terminal: the page stays responsive while it runs (flow
 * control holds the sandbox back instead of queueing output in the browser),
 * and Ctrl-C stops it. Every wait is for an event (a line only the command's
 * result can produce, an animation frame); the timeouts are hang guards. How
 * fast frames and Ctrl-C are is measured by `npm run bench` (throughput.ts).
 */
import { expect, test } from '@playwright/test';
import { terminal } from './terminal';

test('yes floods the terminal; the page stays responsive and Ctrl-C stops it', async ({ page }) => {
  await page.goto('/lessons/03-capabilities/01-capability-sets');
  const term = terminal(page);
  const rows = term.text;
  await term.ready('root@lab', 60_000);
  // The typed line shows `FLOOD$((6*7))LINE`; only yes's output reads FLOOD42LINE.
  await term.type('yes FLOOD$((6*7))LINE');
  await expect(rows, "hang guard: the flood's output never appeared").toContainText('FLOOD42LINE', { timeout: 60_000 });

  // While the flood runs, the page keeps rendering frames and running script.
  for (let i = 0; i < 5; i++) {
    const frame = page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r('frame'))));
    const guard = new Promise((_, reject) => setTimeout(() => reject(new Error('hang guard: no animation frame within 30 s while the flood ran')), 30_000));
    expect(await Promise.race([frame, guard])).toBe('frame');
  }

  await page.keyboard.press('Control+C');
  // The shell runs this only once `yes` is gone; the typed line shows `after-$((40+2))`, only its result reads after-42.
  await page.keyboard.type('echo after-$((40+2))');
  await page.keyboard.press('Enter');
  await expect(rows, 'hang guard: the shell never ran the command typed after Ctrl-C').toContainText('after-42', { timeout: 60_000 });
  // And the flood has really stopped: once the next command has answered too, no flood line follows the first answer.
  await page.keyboard.type('echo still-$((40+3))');
  await page.keyboard.press('Enter');
  await expect(rows, 'hang guard: the second command never answered').toContainText('still-43', { timeout: 60_000 });
  const screen = await rows.innerText();
  expect(screen.slice(screen.indexOf('after-42'))).not.toContain('FLOOD42LINE');
});
