/**
 * The lab panel's error paths, as the learner sees them, in Debian's chromium.
 *
 * Against the main server (playwright.config.ts's webServer): the backend down
 * and back (backoff, "Retry now"), 502/503/504 replies, a dropped socket that
 * reattaches to the same sandbox, a stale resume, and the ended panel.
 * Replies the real backend cannot be made to give are shaped with
 * `page.route('**\/lab-api/**')` / `page.routeWebSocket`; everything else is
 * the real server and real gVisor sandboxes.
 *
 * Against a second lab server this spec starts itself (short token TTL and
 * refresh interval, one sandbox slot, a lifetime warning 6 s after start, gVisor
 * only): token refresh while the socket is open, a reload after the token TTL
 * reattaching to the learner's own sandbox, the expiring panel and Extend, the
 * queue with its positions, and a lesson whose runtime is unavailable.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { expect, test, type Page, type WebSocketRoute } from '@playwright/test';
import type { ServerMessage } from '@/lab-backend/src/wire';
import { terminal } from './terminal';

const LESSON_ID = '01-namespaces/01-pid-and-uts';
const LESSON = `/lessons/${LESSON_ID}`;
const MICROVM_LESSON = '/lessons/01-namespaces/02-mount-ipc-net-and-joining';
const PROMPT = 'root@lab';

interface Stored {
  sessionId: string;
  token: string;
  resumeToken?: string;
}

/** What this tab remembers of its lab session (sessionStorage), or null. */
async function stored(page: Page): Promise<Stored | null> {
  const raw = await page.evaluate((k) => sessionStorage.getItem(k), `lab:session:${LESSON_ID}`);
  return raw ? (JSON.parse(raw) as Stored) : null;
}

/** Expiry (ms since epoch) written into an access token `<id>.<exp>.<mac>`. */
const expiryOf = (token: string) => Number(token.split('.')[1]);

/** End the page's sandbox (as "Start a new sandbox" would) so the next test finds the slots free. */
async function endSandbox(page: Page, base: string) {
  if (!page.url().startsWith(base)) return;
  const s = await stored(page).catch(() => null);
  if (!s) return;
  await page.request.delete(`${base}/lab-api/sessions/${s.sessionId}`, { headers: { authorization: `Bearer ${s.token}`, origin: base } }).catch(() => undefined);
}

const status = (page: Page) => page.getByTestId('sandbox-status');

/** Every lab socket of the page goes through the test, connected to the real server; `latest()` is the open one. */
async function proxySockets(page: Page) {
  const routes: WebSocketRoute[] = [];
  await page.routeWebSocket('**/lab-api/ws**', (ws) => {
    ws.connectToServer(); // forwards both ways, unchanged
    routes.push(ws);
  });
  return {
    latest: () => routes[routes.length - 1],
    count: () => routes.length,
    /** A server message the real backend did not send, delivered to the page as if it had. */
    inject: (msg: ServerMessage) => routes[routes.length - 1].send(JSON.stringify(msg)),
  };
}

test.describe('against the main server', () => {
  let base = '';
  test.beforeEach(({ baseURL }) => {
    base = baseURL!;
  });
  test.afterEach(async ({ page }) => {
    await endSandbox(page, base);
  });

  test('the backend down: backoff doubles, the learner is told, and "Retry now" reconnects at once when it is back', async ({ page }) => {
    let mode: 'down' | 'rate_limited' | 'up' = 'down';
    const downAt: number[] = [];
    await page.route('**/lab-api/sessions', async (route) => {
      if (route.request().method() !== 'POST') return route.fallback();
      if (mode === 'down') {
        downAt.push(Date.now());
        return route.abort('connectionrefused');
      }
      if (mode === 'rate_limited') {
        return route.fulfill({
          status: 429,
          json: { error: { code: 'rate_limited', message: 'Too many new sandboxes from your address; try again in 600 s.', retryAfterMs: 600_000 } },
        });
      }
      return route.fallback();
    });
    await page.goto(LESSON);
    await expect(status(page)).toHaveAttribute('data-status', 'unreachable');
    await expect(status(page)).toContainText(/Lab backend unreachable — retrying in \d+s/);
    await expect(page.getByTestId('retry-now')).toHaveText('Retry now');
    await expect(page.getByTestId('terminal')).toContainText('Waiting for the lab backend…');

    // Three attempts on their own, each waiting at least twice as long as the one before (1 s, 2 s).
    await expect.poll(() => downAt.length, { timeout: 30_000 }).toBeGreaterThanOrEqual(3);
    expect(downAt[1] - downAt[0]).toBeGreaterThanOrEqual(950);
    expect(downAt[2] - downAt[1]).toBeGreaterThanOrEqual(1950);

    // Told to come back in 10 minutes: the panel says so and waits (far beyond this test's timeouts) ...
    mode = 'rate_limited';
    await page.getByTestId('retry-now').click();
    await expect(status(page)).toHaveAttribute('data-status', 'rate_limited');
    await expect(status(page)).toContainText(/try again in 600 s\. — retrying in (600|599)s/);
    // ... unless the learner presses "Retry now": the backend is back, the sandbox starts.
    mode = 'up';
    await page.getByTestId('retry-now').click();
    await terminal(page).ready(PROMPT, 60_000);
    await expect(status(page)).toHaveText('Ready');
    await expect(page.getByTestId('retry-now')).toHaveCount(0);
  });

  test('502, 503 and 504 from a gateway are an outage (retried); a 503 the lab explains is shown as it says', async ({ page }) => {
    type Reply = Parameters<import('@playwright/test').Route['fulfill']>[0];
    const replies: Record<string, Reply> = {
      '502 html': { status: 502, contentType: 'text/html', body: '<html><body><h1>502 Bad Gateway</h1></body></html>' },
      '503 html': { status: 503, contentType: 'text/html', body: '<html><body>Service Unavailable</body></html>' },
      '504 empty': { status: 504, body: '' },
      '502 internal': { status: 502, json: { error: { code: 'internal', message: 'Internal error: upstream' } } },
      '503 lab_full': { status: 503, json: { error: { code: 'lab_full', message: 'The lab is full: 20 sandboxes in use, try again in a moment.', retryAfterMs: 600_000 } } },
      '503 runtime_disabled': {
        status: 503,
        json: { error: { code: 'runtime_disabled', message: 'This lesson needs the "gvisor" runtime, which is not available here: runsc was not found on PATH' } },
      },
    };
    let step: string | null = '502 html';
    const served = new Set<string>();
    await page.route('**/lab-api/sessions', async (route) => {
      if (route.request().method() !== 'POST' || step === null) return route.fallback();
      served.add(step);
      return route.fulfill(replies[step]);
    });
    /** Make `next` the backend's reply, ask again, and wait until it was served. */
    const reply = async (next: string) => {
      step = next;
      await page.getByTestId('retry-now').click();
      await expect.poll(() => served.has(next)).toBe(true);
    };

    await page.goto(LESSON);
    await expect.poll(() => served.has('502 html')).toBe(true);
    for (const gateway of ['502 html', '503 html', '504 empty', '502 internal']) {
      if (gateway !== '502 html') await reply(gateway);
      await expect(status(page), gateway).toHaveAttribute('data-status', 'unreachable');
      await expect(status(page), gateway).toContainText(/^Lab backend unreachable — retrying in \d+s$/);
      await expect(page.getByTestId('retry-now'), gateway).toHaveText('Retry now');
    }

    await reply('503 lab_full');
    await expect(status(page)).toHaveAttribute('data-status', 'lab_full');
    await expect(status(page)).toContainText(/^The lab is full: 20 sandboxes in use, try again in a moment\. — retrying in (600|599)s$/);

    // Not an outage: the lab says this lesson cannot run here. No countdown, an explicit "Try again".
    await reply('503 runtime_disabled');
    await expect(status(page)).toHaveAttribute('data-status', 'error');
    await expect(status(page)).toHaveText('This lesson needs the "gvisor" runtime, which is not available here: runsc was not found on PATH');
    await expect(page.getByTestId('retry-now')).toHaveText('Try again');

    step = null; // the real backend from here on
    await page.getByTestId('retry-now').click();
    await terminal(page).ready(PROMPT, 60_000);
    await expect(status(page)).toHaveText('Ready');
  });

  test('a dropped socket reconnects with backoff and reattaches to the same sandbox, work intact', async ({ page }) => {
    const sockets = await proxySockets(page);
    await page.goto(LESSON);
    const term = terminal(page);
    await term.ready(PROMPT, 60_000);
    const before = (await stored(page))!;
    await term.type('echo drop-$((20+1)) > /root/marker; echo saved-$((1+1))');
    await expect(term.text).toContainText('saved-2');

    sockets.latest().close({ code: 4000, reason: 'network blip' });
    await expect(status(page)).toHaveAttribute('data-status', 'reconnect');
    await expect(status(page)).toContainText(/^Connection to the sandbox lost \(network blip\) — reconnecting in \d+s$/);
    await expect(term.box).toHaveAttribute('data-status', 'ready', { timeout: 60_000 });
    await expect(status(page)).toHaveText('Ready (reattached to your sandbox)');
    expect(sockets.count()).toBe(2);
    expect((await stored(page))!.sessionId).toBe(before.sessionId);
    await term.type('cat /root/marker');
    await expect(term.text).toContainText(/^drop-21$/m, { useInnerText: true });
  });

  test('a stale resume starts a fresh sandbox and tells the learner their earlier one is gone', async ({ page }) => {
    await page.goto(LESSON);
    await terminal(page).ready(PROMPT, 60_000);
    const old = (await stored(page))!;
    // The learner leaves; meanwhile their sandbox ends (here: ended through the API, as a timeout would).
    await page.goto('about:blank');
    const del = await page.request.delete(`${base}/lab-api/sessions/${old.sessionId}`, { headers: { authorization: `Bearer ${old.token}`, origin: base } });
    expect(del.status()).toBe(204);

    await page.goto(LESSON);
    await terminal(page).ready(PROMPT, 60_000);
    const notice = page.getByTestId('resume-notice');
    await expect(notice).toContainText('Your earlier sandbox has ended');
    await expect(notice).toContainText('work done in the earlier one is not here');
    await expect(status(page)).toHaveText('Ready');
    const fresh = (await stored(page))!;
    expect(fresh.sessionId).not.toBe(old.sessionId);
    await page.getByTestId('resume-notice-dismiss').click();
    await expect(notice).toHaveCount(0);

    // Credentials that do not verify (forged, or from another lab): a fresh sandbox, and the learner is told why.
    await page.goto('/'); // the catalog: no socket, so nothing rewrites the session while it is forged
    await page.evaluate(
      ([k, v]) => sessionStorage.setItem(k, v),
      [
        `lab:session:${LESSON_ID}`,
        JSON.stringify({ sessionId: fresh.sessionId, token: `${fresh.sessionId}.1.forged`, resumeToken: `resume.${fresh.sessionId}.9999999999999.forged` }),
      ],
    );
    await page.request.delete(`${base}/lab-api/sessions/${fresh.sessionId}`, { headers: { authorization: `Bearer ${fresh.token}`, origin: base } });
    await page.goto(LESSON);
    await terminal(page).ready(PROMPT, 60_000);
    await expect(notice).toContainText('could not be reattached');
    expect((await stored(page))!.sessionId).not.toBe(fresh.sessionId);
  });

  test('the ended panel: the sandbox is stopped, the terminal closes, "Start a new sandbox" gives a new one', async ({ page }) => {
    await page.goto(LESSON);
    const term = terminal(page);
    await term.ready(PROMPT, 60_000);
    const old = (await stored(page))!;
    // Ended by the server (as an idle or lifetime end is), while the page watches.
    await page.request.delete(`${base}/lab-api/sessions/${old.sessionId}`, { headers: { authorization: `Bearer ${old.token}`, origin: base } });
    await expect(page.getByTestId('ended-banner')).toContainText('You stopped this sandbox.');
    await expect(status(page)).toHaveAttribute('data-status', 'ended');
    await expect(status(page)).toHaveText('Sandbox closed');
    await expect(term.box).toHaveAttribute('data-status', 'closed');
    await expect(page.getByTestId(`check-sleep-as-init`).first()).toBeDisabled();

    await page.getByTestId('new-sandbox').click();
    await term.ready(PROMPT, 60_000);
    await expect(page.getByTestId('ended-banner')).toHaveCount(0);
    await expect(status(page)).toHaveText('Ready');
    expect((await stored(page))!.sessionId).not.toBe(old.sessionId);
  });
});

/** A second lab server, started by this spec with the settings its tests need. */
const SHORT = {
  port: Number(process.env.E2E_PORT ?? 3217) + 1,
  tokenTtlMs: 4_000,
  env: {
    LAB_TOKEN_TTL_MS: '4000',
    LAB_TOKEN_REFRESH_MS: '1000',
    LAB_RUNTIMES: 'gvisor',
    LAB_MAX_SANDBOXES: '1',
    LAB_POOL_GVISOR: '0',
    // Warned about the lifetime 6 s after the sandbox starts; one Extend of a minute.
    LAB_MAX_LIFETIME_MS: '90000',
    LAB_WARN_BEFORE_END_MS: '84000',
    LAB_EXTEND_MS: '60000',
    LAB_MAX_EXTENDS: '1',
    LAB_RECONNECT_GRACE_MS: '30000',
    LAB_SESSIONS_PER_MINUTE: '60',
    LAB_MAX_SANDBOXES_PER_CLIENT: '8',
  },
};

test.describe('against a lab server with short tokens, one slot and early warnings', () => {
  const base = `http://127.0.0.1:${SHORT.port}`;
  let server: ChildProcess | null = null;
  let output = '';

  test.beforeAll(async () => {
    test.setTimeout(120_000);
    server = spawn('node', ['--import', 'tsx', 'scripts/serve.ts'], {
      env: { ...process.env, ...SHORT.env, PORT: String(SHORT.port), HOST: '127.0.0.1', LAB_STATE_DIR: '.lab/e2e-client-state', LAB_DATABASE: '.lab/e2e-client-lab.db' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    server.stdout!.on('data', (c) => {
      output += c;
    });
    server.stderr!.on('data', (c) => {
      output += c;
    });
    await expect
      .poll(
        async () => {
          if (server!.exitCode !== null) throw new Error(`the second lab server exited (${server!.exitCode}):\n${output}`);
          return (await fetch(`${base}/lab-api/health`).catch(() => null))?.status;
        },
        { timeout: 90_000, intervals: [250] },
      )
      .toBe(200);
  });

  test.afterAll(async () => {
    if (!server || server.exitCode !== null) return;
    const exited = new Promise((r) => server!.once('exit', r));
    server.kill('SIGTERM'); // serve.ts ends every sandbox before it exits
    await exited;
  });

  test.afterEach(async ({ page }, info) => {
    await endSandbox(page, base);
    if (info.status !== info.expectedStatus) await info.attach('second-server.log', { body: output });
  });

  test('token refresh: the open socket gets fresh tokens, and a check after the first token expired still runs', async ({ page }) => {
    await page.goto(`${base}${LESSON}`);
    await terminal(page).ready(PROMPT, 60_000);
    const first = (await stored(page))!;
    // The client stores every refreshed token (LAB_TOKEN_REFRESH_MS = 1 s) ...
    await expect.poll(async () => (await stored(page))!.token).not.toBe(first.token);
    // ... and once the first one has expired (TTL 4 s) ...
    await expect.poll(() => Date.now() > expiryOf(first.token) + 250, { timeout: 20_000 }).toBe(true);
    const old = await page.request.post(`${base}/lab-api/sessions/${first.sessionId}/checks/sleep-as-init`, { headers: { authorization: `Bearer ${first.token}`, origin: base } });
    expect(old.status()).toBe(401);
    // ... a check from the page uses the current one: the check runs and fails with its own message.
    await page.getByTestId('check-sleep-as-init').first().click();
    const result = page.getByTestId('check-result-sleep-as-init').first();
    await expect(result).toHaveAttribute('data-result', 'fail');
    await expect(result).not.toHaveAttribute('data-error', 'true');
    await expect(result).toContainText('/tmp/sleeper-proc');
    const now = (await stored(page))!;
    expect(expiryOf(now.token)).toBeGreaterThan(expiryOf(first.token));
    expect(now.resumeToken).toMatch(new RegExp(`^resume\\.${first.sessionId}\\.`));
  });

  test("a reload after the token TTL reattaches to the learner's own sandbox, work intact", async ({ page }) => {
    await page.goto(`${base}${LESSON}`);
    const term = terminal(page);
    await term.ready(PROMPT, 60_000);
    await term.type('echo ttl-$((6*7)) > /root/marker; echo saved-$((1+1))');
    await expect(term.text).toContainText('saved-2');
    // The learner leaves (no socket: no more refreshes) until the token they hold has expired.
    await page.goto(`${base}/`); // the catalog: no lab panel, no socket; same tab, so sessionStorage stays
    const held = (await stored(page))!;
    await expect.poll(() => Date.now() > expiryOf(held.token) + 250, { timeout: 20_000 }).toBe(true);
    const sent: unknown[] = [];
    page.on('request', (r) => {
      if (r.method() === 'POST' && r.url().endsWith('/lab-api/sessions')) sent.push(r.postDataJSON());
    });

    await page.goto(`${base}${LESSON}`);
    await expect(term.box).toHaveAttribute('data-status', 'ready', { timeout: 60_000 });
    await expect(status(page)).toHaveText('Ready (reattached to your sandbox)');
    await expect(page.getByTestId('resume-notice')).toHaveCount(0);
    expect(sent).toEqual([{ lessonId: LESSON_ID, resume: { sessionId: held.sessionId, token: held.token, resumeToken: held.resumeToken } }]);
    expect((await stored(page))!.sessionId).toBe(held.sessionId);
    await term.type('cat /root/marker');
    await expect(term.text).toContainText(/^ttl-42$/m, { useInnerText: true });
  });

  test('the expiring panel: a real lifetime warning, Extend adds time; idle warnings give way to typing; no Extend when none is left', async ({ page }) => {
    const sockets = await proxySockets(page);
    await page.goto(`${base}${LESSON}`);
    const term = terminal(page);
    await term.ready(PROMPT, 60_000);
    const banner = page.getByTestId('expiring-banner');
    // LAB_WARN_BEFORE_END_MS puts the server's lifetime warning 6 s after the start.
    await expect(banner).toContainText(/This sandbox reaches its time limit in 1:[0-2]\d\./, { timeout: 30_000 });
    await expect(page.getByTestId('extend')).toHaveText('Extend (1 left)');
    const extendReply = page.waitForResponse((r) => r.url().includes('/extend') && r.request().method() === 'POST');
    await page.getByTestId('extend').click();
    const r = await extendReply;
    expect(r.status()).toBe(200);
    expect(await r.json()).toMatchObject({ extendsLeft: 0 });
    expect(r.request().postDataJSON()).toEqual({ reason: 'lifetime' });
    await expect(banner).toHaveCount(0);

    // Warnings the server would send later, delivered now.
    sockets.inject({ type: 'expiring', reason: 'lifetime', endsAt: Date.now() + 50_000, extendsLeft: 0 });
    await expect(banner).toContainText(/reaches its time limit in 0:[45]\d/);
    await expect(page.getByTestId('extend')).toHaveCount(0);
    sockets.inject({ type: 'extended', expiresAt: Date.now() + 3_600_000, extendsLeft: 0 });
    await expect(banner).toHaveCount(0);
    sockets.inject({ type: 'expiring', reason: 'idle', endsAt: Date.now() + 60_000, extendsLeft: 0 });
    await expect(banner).toContainText(/Idle sandbox: it stops in (1:00|0:5\d) unless you type something\./);
    await expect(page.getByTestId('extend')).toHaveText('Keep working');
    await term.type('true');
    await expect(banner).toHaveCount(0);
  });

  test('the queue: a learner who finds the lab full sees their place, which moves up, then gets a sandbox', async ({ page, context }) => {
    await page.goto(`${base}${LESSON}`);
    await terminal(page).ready(PROMPT, 60_000); // the only slot
    const second = await context.newPage();
    const third = await context.newPage();
    try {
      await second.goto(`${base}${LESSON}`);
      await expect(status(second)).toHaveAttribute('data-status', 'queued');
      await expect(status(second)).toContainText('You are number 1 in the queue');
      await third.goto(`${base}${LESSON}`);
      await expect(status(third)).toContainText('You are number 2 in the queue');
      await expect(status(third)).toContainText('1 of 1 sandboxes in use');

      await endSandbox(page, base); // the slot frees
      await terminal(second).ready(PROMPT, 60_000);
      await expect(status(second)).toHaveText('Ready');
      await expect(status(third)).toContainText('You are number 1 in the queue');
    } finally {
      for (const p of [second, third]) await endSandbox(p, base);
    }
  });

  test('a lesson whose runtime is not enabled says so, with no countdown, and "Try again" asks again', async ({ page }) => {
    let asked = 0;
    page.on('request', (r) => {
      if (r.method() === 'POST' && r.url().endsWith('/lab-api/sessions')) asked++;
    });
    await page.goto(`${base}${MICROVM_LESSON}`);
    await expect(status(page)).toHaveAttribute('data-status', 'error');
    await expect(status(page)).toHaveText('This lesson needs the "microvm" runtime, which is not available here: the operator has not enabled it (LAB_RUNTIMES).');
    await expect(page.getByTestId('retry-now')).toHaveText('Try again');
    await expect(page.getByTestId('terminal')).toHaveAttribute('data-status', 'closed');
    await expect(page.getByTestId('runtime-badge').first()).toContainText('microVM');
    expect(asked).toBe(1);
    await page.getByTestId('retry-now').click();
    await expect.poll(() => asked).toBe(2);
    await expect(status(page)).toHaveAttribute('data-status', 'error');
    await expect(status(page)).toContainText('"microvm" runtime');
  });
});
