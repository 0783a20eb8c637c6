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
import { specServer } from './lab-server';

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

/** A lab server of this spec's own, whose sandboxes go idle after 20 s. */
const idle = specServer('idle', Number(process.env.E2E_PORT ?? 3217) + 2, {
  LAB_RUNTIMES: 'gvisor',
  LAB_POOL_GVISOR: '0',
  LAB_MAX_SANDBOXES: '2',
  LAB_IDLE_TIMEOUT_MS: '20000',
  LAB_WARN_BEFORE_END_MS: '5000',
  LAB_NEW_LEARNERS_PER_HOUR: '1000',
});

test.describe('saved work, on a lab whose sandboxes go idle after 20 s', () => {
  test.beforeAll(async () => {
    test.setTimeout(120_000);
    await idle.start();
  });
  test.afterAll(async () => {
    await idle.stop();
  });

  test('after an idle end, reopening the lesson offers "Restore your work", and the file is back', async ({ page }, info) => {
    test.setTimeout(150_000);
    try {
      await page.goto(`${idle.base}/lessons/${LESSON}`);
      const term = terminal(page);
      await term.ready('root@lab', 60_000);
      await term.type('echo "my work $((6*7))" > /root/notes.txt; echo written');
      await expect(term.text).toContainText('written');
      // Nothing more is typed: the idle end comes, and the learner is told the files were saved.
      const ended = page.getByTestId('ended-banner');
      await expect(ended).toContainText('were saved', { timeout: 60_000 });

      await page.reload();
      await term.ready('root@lab', 60_000);
      const offer = page.getByTestId('saved-work');
      await expect(offer).toHaveAttribute('data-state', 'offered');
      await expect(page.getByTestId('restore-work')).toContainText('Restore your work from');
      await term.type('cat /root/notes.txt 2>&1 | head -1');
      await expect(term.text).toContainText('No such file');
      await page.getByTestId('restore-work').click();
      await expect(offer).toHaveAttribute('data-state', 'restored');
      await term.type('cat /root/notes.txt');
      await expect(term.text).toContainText('my work 42');
    } catch (err) {
      await info.attach('idle-server.log', { body: idle.output() });
      throw err;
    }
  });
});

/** A lab server this spec kills with -9 and starts again on the same state dir and database. */
const crashing = specServer('restart', Number(process.env.E2E_PORT ?? 3217) + 3, {
  LAB_RUNTIMES: 'gvisor',
  LAB_POOL_GVISOR: '0',
  LAB_MAX_SANDBOXES: '2',
  LAB_NEW_LEARNERS_PER_HOUR: '1000',
});

test.describe('the lab restarts under an open page', () => {
  test.beforeAll(async () => {
    test.setTimeout(120_000);
    await crashing.start();
  });
  test.afterAll(async () => {
    await crashing.stop();
  });

  test('the backend is killed with -9 and started again: the same shell comes back without a click', async ({ page }, info) => {
    test.setTimeout(180_000);
    try {
      await page.goto(`${crashing.base}/lessons/${LESSON}`);
      const term = terminal(page);
      await term.ready('root@lab', 60_000);
      await term.type('H=kept-$((6*7)); sleep 3600 & echo "typed-$((1+1))"');
      await expect(term.text).toContainText('typed-2');
      await page.waitForTimeout(500); // the screen log is written every 200 ms

      const killedAt = Date.now();
      await crashing.kill9();
      await expect(term.box).not.toHaveAttribute('data-status', 'ready', { timeout: 30_000 });
      await crashing.start();
      // No click: the page reconnects by itself, to the same sandbox, its screen replayed.
      await expect(term.box).toHaveAttribute('data-status', 'ready', { timeout: 60_000 });
      await expect(term.text).toContainText('typed-2', { timeout: 30_000 });
      const backAfter = (Date.now() - killedAt) / 1000;
      await term.type('echo "back:$H:$(jobs | wc -l)"');
      await expect(term.text).toContainText('back:kept-42:1');
      console.log(`[restart] kill -9 of the lab → the page's same shell back in ${backAfter.toFixed(1)} s`);
      await info.attach('restart-seconds', { body: backAfter.toFixed(1) });
    } catch (err) {
      await info.attach('restart-server.log', { body: crashing.output() });
      if (process.env.E2E_DEBUG) console.log(crashing.output());
      throw err;
    }
  });
});
