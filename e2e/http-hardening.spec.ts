/**
 * The real lab server (scripts/serve.ts: Next + the backend) under its security
 * headers: a lesson page works under the Content-Security-Policy with no
 * violation reported (scripts, styles, the terminal's socket, checks), every
 * response of the page load carries the headers, and a DNS-rebinding Host is
 * refused on pages and the API before Next or the backend handles it.
 */
import http from 'node:http';
import { expect, test } from '@playwright/test';
import { terminal } from './terminal';

const LESSON = '/lessons/01-namespaces/01-pid-and-uts';

test('a lesson page works under the CSP: no violations, headers on every response', async ({ page, baseURL }) => {
  const violations: string[] = [];
  page.on('console', (m) => {
    if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
  });
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => console.error(`Refused to load (CSP): ${e.violatedDirective} ${e.blockedURI}`));
  });
  const missing: string[] = [];
  page.on('response', (r) => {
    if (!r.url().startsWith(baseURL!)) return;
    const h = r.headers();
    if (
      !h['content-security-policy']?.includes("frame-ancestors 'self'") ||
      h['x-content-type-options'] !== 'nosniff' ||
      h['x-frame-options'] !== 'SAMEORIGIN' ||
      !h['referrer-policy']
    )
      missing.push(`${r.status()} ${r.url()}`);
  });

  const doc = await page.goto(LESSON);
  expect(doc?.status()).toBe(200);
  const term = terminal(page);
  await term.ready('root@lab', 60_000); // the WebSocket (connect-src) and xterm.js's styles work
  await term.type('echo csp-$((6*7))');
  await expect(term.text).toContainText('csp-42');
  await page.getByTestId('check-sleep-as-init').first().click(); // fetch to /lab-api/ (connect-src)
  await expect(page.getByTestId('check-result-sleep-as-init').first()).toHaveAttribute('data-result', 'fail');
  // Client-side navigation (Next's router, RSC fetches) and back.
  await page.goto('/');
  await expect(page.getByRole('heading', { level: 1 })).toBeVisible();

  expect(violations).toEqual([]);
  expect(missing).toEqual([]);
  // A page that is not ours cannot frame the lab.
  expect(doc!.headers()['content-security-policy']).toMatch(/frame-ancestors 'self'/);
});

function get(baseURL: string, path: string, host: string, method = 'GET', body?: string): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  const u = new URL(baseURL);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path, method, headers: { host, origin: `http://${host}`, 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.on('data', (c) => {
        text += c;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('a DNS-rebinding Host is refused on pages and on the API, naming LAB_ALLOWED_HOSTS', async ({ baseURL }) => {
  const port = new URL(baseURL!).port;
  const evil = `evil.example:${port}`;
  const page = await get(baseURL!, LESSON, evil);
  expect(page.status).toBe(421);
  expect(page.headers['content-type']).toMatch(/^text\/plain/);
  expect(page.body).toContain('LAB_ALLOWED_HOSTS');
  expect(page.headers['x-content-type-options']).toBe('nosniff');
  const api = await get(baseURL!, '/lab-api/sessions', evil, 'POST', JSON.stringify({ lessonId: '01-namespaces/01-pid-and-uts' }));
  expect(api.status).toBe(421);
  expect(JSON.parse(api.body).error.code).toBe('forbidden_host');
  // The same requests with the lab's own Host are served.
  expect((await get(baseURL!, LESSON, new URL(baseURL!).host)).status).toBe(200);
});
