/**
 * Learners in a real browser: progress is what the server recorded (clearing
 * or forging localStorage changes nothing), a new browser context is another
 * learner, a device-transfer link makes a second context the same learner
 * (once), and the admin signs in with the token's link and sees who owns
 * which session. Real server, real gVisor sandboxes, Debian's chromium.
 */
import { expect, test, type Browser, type Page } from '@playwright/test';
import { terminal } from './terminal';
import { E2E_ADMIN_TOKEN } from './admin-token';

const LESSON = '01-namespaces/01-pid-and-uts';
const LESSON_TITLE = 'PID and UTS namespaces';
const EXERCISE = 'sleep-as-init';

async function passTheExercise(page: Page) {
  await page.goto(`/lessons/${LESSON}`);
  const term = terminal(page);
  await term.ready('root@lab', 60_000);
  await term.type("mkdir -p /tmp/sleeper-proc; unshare --pid --fork sh -c 'mount -t proc proc /tmp/sleeper-proc && exec sleep 3600' &");
  await term.type('sleep 1');
  await page.getByTestId(`check-${EXERCISE}`).first().click();
  await expect(page.getByTestId(`check-result-${EXERCISE}`).first()).toHaveAttribute('data-result', 'pass', { timeout: 30_000 });
}

const catalogEntry = (page: Page) => page.getByRole('link', { name: new RegExp(LESSON_TITLE) }).first();

async function newPage(browser: Browser) {
  const ctx = await browser.newContext();
  return { ctx, page: await ctx.newPage() };
}

test('progress comes from the server: clearing or forging localStorage changes nothing, and another browser is another learner', async ({ browser }) => {
  const { ctx, page } = await newPage(browser);
  await passTheExercise(page);

  await page.evaluate(() => localStorage.clear());
  await page.goto('/');
  await expect(catalogEntry(page)).toContainText('1/3 exercises passed');

  // What older versions kept in localStorage is not truth, and a browser cannot mark exercises passed.
  await page.evaluate((key) => localStorage.setItem(key, JSON.stringify(['private-hostname', 'sleep-as-init', 'stop-the-pool'])), `lab:progress:${LESSON}`);
  await page.reload();
  await expect(catalogEntry(page)).toContainText('1/3 exercises passed');

  await page.goto('/progress');
  const row = page.locator(`[data-testid="progress-exercise"][data-exercise-id="${EXERCISE}"]`);
  await expect(row).toHaveAttribute('data-passed', 'true');
  await expect(row).toContainText(String(new Date().getFullYear())); // when it first passed
  await expect(page.getByTestId('progress-summary')).toHaveAttribute('data-passed', '1');

  const other = await newPage(browser);
  await other.page.goto('/');
  await expect(catalogEntry(other.page)).toContainText('0/3 exercises passed');
  await other.page.goto('/progress');
  await expect(other.page.getByTestId('progress-summary')).toHaveAttribute('data-passed', '0');
  await other.ctx.close();
  await ctx.close();
});

test('a device-transfer link signs a second browser in as the same learner, once', async ({ browser }) => {
  const laptop = await newPage(browser);
  await passTheExercise(laptop.page);
  await laptop.page.goto('/progress');
  await laptop.page.getByRole('button', { name: 'Continue on another device' }).click();
  await expect(laptop.page.getByTestId('device-code')).toHaveText(/^[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}$/);
  const link = (await laptop.page.getByTestId('device-link').getAttribute('href'))!;
  expect(link).toMatch(/\/continue\?code=/);

  const phone = await newPage(browser);
  await phone.page.goto(link);
  // Opening the link alone redeems nothing (a link previewer must not use the code up).
  await expect(phone.page.getByTestId('continue-code')).toHaveValue(/^[A-HJ-NP-Z2-9]{4}-?[A-HJ-NP-Z2-9]{4}$/);
  await phone.page.getByTestId('continue-submit').click();
  await expect(phone.page.getByTestId('continue-done')).toBeVisible();
  await phone.page.goto('/progress');
  await expect(phone.page.locator(`[data-testid="progress-exercise"][data-exercise-id="${EXERCISE}"]`)).toHaveAttribute('data-passed', 'true');
  await phone.page.goto('/');
  await expect(catalogEntry(phone.page)).toContainText('1/3 exercises passed');

  const third = await newPage(browser);
  await third.page.goto(link);
  await third.page.getByTestId('continue-submit').click();
  await expect(third.page.getByTestId('continue-error')).toContainText('already used');
  await third.page.goto('/');
  await expect(catalogEntry(third.page)).toContainText('0/3 exercises passed');
  for (const x of [laptop, phone, third]) await x.ctx.close();
});

test('the admin signs in with the token link and sees every live session and its owner', async ({ browser }) => {
  const learner = await newPage(browser);
  await learner.page.goto(`/lessons/${LESSON}`);
  await terminal(learner.page).ready('root@lab', 60_000);

  const admin = await newPage(browser);
  await admin.page.goto('/admin');
  await expect(admin.page.getByTestId('admin-signin-needed')).toBeVisible();
  const wrong = await admin.page.goto('/admin/sign-in?token=not-the-token');
  expect(wrong?.status()).toBe(403);
  await admin.page.goto(`/admin/sign-in?token=${E2E_ADMIN_TOKEN}`);
  await expect(admin.page).toHaveURL(/\/admin$/);
  const sessionId = await learner.page.evaluate((id) => JSON.parse(sessionStorage.getItem(`lab:session:${id}`) ?? '{}').sessionId as string, LESSON);
  const row = admin.page.locator(`[data-testid="admin-session"][data-session-id="${sessionId}"]`);
  await expect(row).toBeVisible({ timeout: 10_000 });
  await expect(row).toContainText('learner:');
  await expect(row).toContainText(LESSON);
  // The learner's browser is not the admin.
  await learner.page.goto('/admin');
  await expect(learner.page.getByTestId('admin-signin-needed')).toBeVisible();
  for (const x of [learner, admin]) await x.ctx.close();
});
