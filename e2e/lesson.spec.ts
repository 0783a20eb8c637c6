/**
 * A learner's first lesson, end to end: catalog → lesson → live gVisor shell →
 * click-to-run → Check (fail, then pass) → reload reattaches to the same
 * sandbox → progress shows in the catalog. Real server, real sandboxes.
 */
import { expect, test } from '@playwright/test';
import { terminal } from './terminal';

const LESSON_TITLE = 'PID and UTS namespaces';

test('a learner works through the first lesson in a gVisor sandbox', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByRole('heading', { name: 'How containers really work', level: 1 })).toBeVisible();
  await expect(page.getByRole('link', { name: new RegExp(LESSON_TITLE) })).toContainText('0/3 exercises passed');
  await page
    .getByRole('link', { name: new RegExp(LESSON_TITLE) })
    .first()
    .click();
  await expect(page).toHaveURL(/\/lessons\/01-namespaces\/01-pid-and-uts/);
  await expect(page.getByRole('heading', { name: LESSON_TITLE, level: 1 })).toBeVisible();

  const term = terminal(page);
  await term.ready('root@lab', 60_000);

  // Proof that the shell is inside gVisor, not on the host kernel.
  await term.type('dmesg | head -1');
  await expect(term.text).toContainText('Starting gVisor');

  // A runnable command from the lesson: its button types and runs it.
  const runButton = page.getByTestId('run-command').first();
  const command = (await runButton.getAttribute('data-command')) ?? '';
  expect(command.length).toBeGreaterThan(0);
  await runButton.click();
  await expect(term.text).toContainText(command.split('\n')[0].slice(0, 30));

  // Check before solving: fail with the check's message.
  await page.getByTestId('check-sleep-as-init').first().click();
  const result = page.getByTestId('check-result-sleep-as-init').first();
  await expect(result).toHaveAttribute('data-result', 'fail');
  await expect(result).toContainText('/tmp/sleeper-proc');

  // Solve it the way a learner would, in the terminal.
  await term.type("mkdir -p /tmp/sleeper-proc; unshare --pid --fork sh -c 'mount -t proc proc /tmp/sleeper-proc && exec sleep 3600' &");
  await term.type('echo e2e-marker > /root/marker; sleep 1');
  await page.getByTestId('check-sleep-as-init').first().click();
  await expect(result).toHaveAttribute('data-result', 'pass');
  await expect(result).toContainText('PID 1');

  // Reload within the grace period: same sandbox, the work is still there.
  const before = await page.evaluate(() => Object.entries(sessionStorage).find(([k]) => k.startsWith('lab:session:'))?.[1]);
  await page.reload();
  await expect(term.box).toHaveAttribute('data-status', 'ready', { timeout: 60_000 });
  const after = await page.evaluate(() => Object.entries(sessionStorage).find(([k]) => k.startsWith('lab:session:'))?.[1]);
  expect(JSON.parse(after!).sessionId).toBe(JSON.parse(before!).sessionId);
  await term.type('cat /root/marker');
  await expect(term.text).toContainText(/^e2e-marker$/m, { useInnerText: true });

  // The passed exercise is remembered in the catalog.
  await page.goto('/');
  await expect(page.getByRole('link', { name: new RegExp(LESSON_TITLE) })).toContainText('1/3 exercises passed');
});

test('an unknown lesson is a 404 page', async ({ page }) => {
  const res = await page.goto('/lessons/99-nope/01-missing');
  expect(res?.status()).toBe(404);
  await expect(page.getByText(/doesn.t exist/)).toBeVisible();
  await expect(page.getByRole('link', { name: 'Back to all lessons' })).toBeVisible();
});
