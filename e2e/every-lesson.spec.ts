/**
 * The whole course from the browser: the catalog lists every lesson in
 * content/, and each lesson's page gives a shell in the runtime it declares
 * (gVisor's kernel or the microVM's own) and checks an exercise in it. Every
 * exercise's fail → solution → pass is proven by the course proof
 * (integration tests); this proves the learner's path to each lesson works.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import { terminal } from './terminal';

const CONTENT = path.resolve('content');
const lessons = readdirSync(CONTENT, { withFileTypes: true })
  .filter((m) => m.isDirectory() && /^\d\d-/.test(m.name))
  .flatMap((m) =>
    readdirSync(path.join(CONTENT, m.name), { withFileTypes: true })
      .filter((l) => l.isDirectory() && /^\d\d-/.test(l.name))
      .map((l) => {
        const mdx = readFileSync(path.join(CONTENT, m.name, l.name, 'index.mdx'), 'utf8');
        return {
          id: `${m.name}/${l.name}`,
          runtime: /^runtime:\s*(\w+)/m.exec(mdx)?.[1] ?? 'gvisor',
          firstExercise: /^exercises:\s*\n\s*-\s*id:\s*([\w-]+)/m.exec(mdx)?.[1],
        };
      }),
  )
  .sort((a, b) => a.id.localeCompare(b.id));

test('the catalog lists every lesson of the course', async ({ page }) => {
  expect(lessons.length).toBeGreaterThanOrEqual(15);
  await page.goto('/');
  const hrefs = await page.locator('a[href^="/lessons/"]').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  expect([...new Set(hrefs)].sort()).toEqual(lessons.map((l) => `/lessons/${l.id}`));
});

for (const lesson of lessons) {
  test(`${lesson.id}: a ${lesson.runtime} shell and a check from the lesson page`, async ({ page }) => {
    expect(lesson.firstExercise).toBeTruthy();
    await page.goto(`/lessons/${lesson.id}`);
    await expect(page.getByTestId('runtime-badge').first()).toContainText(lesson.runtime === 'microvm' ? 'microVM' : 'gVisor');
    const term = terminal(page);
    await term.ready('#', 90_000);
    await term.type('echo kernel=$(uname -r)');
    // gVisor reports its own fixed release; the microVM runs Debian's cloud kernel.
    await expect(term.text).toContainText(lesson.runtime === 'microvm' ? /kernel=\S+-cloud-amd64/ : 'kernel=4.4.0');
    const id = lesson.firstExercise!;
    await page.getByTestId(`check-${id}`).first().click();
    const result = page.getByTestId(`check-result-${id}`).first();
    await expect(result, 'hang guard: the check never answered').toHaveAttribute('data-result', 'fail', { timeout: 60_000 }); // nothing solved yet
    // It failed cleanly: the check ran (no data-error: the request did not fail) and printed a message of its own,
    // not one of the texts filled in when it prints nothing, exits without a word, or is stopped at its deadline.
    await expect(result).not.toHaveAttribute('data-error');
    const message = (await result.locator('span').nth(1).innerText()).trim();
    expect(message).not.toBe('');
    expect(message).not.toMatch(/^Not yet\.$|^The check failed \(exit status [^)]*\)\.$|did not finish within|\(check timed out\)/);
  });
}
