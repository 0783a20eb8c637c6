/**
 * The two web terminals the terminal benchmarks compare, both driven in the
 * same headless chromium:
 *   lab          a lesson page: xterm.js → WebSocket → backend → PTY → sandbox shell
 *   shellinabox  Debian's shellinaboxd serving `bash --norc` on the host (the reference)
 *
 * Timing happens inside the page, on the page's clock: a capture-phase
 * keydown listener stamps t0 when the browser delivers the key, a
 * MutationObserver on the terminal's line container stamps t1 when the
 * expected text is in the DOM. Both terminals render one element per line
 * (xterm.js's DOM renderer: `.xterm-rows > div`; shellinabox: `#console > div`),
 * so "the last non-blank lines" reads the same way for both. xterm.js writes
 * the DOM in an animation frame, shellinabox as soon as its XHR returns, so
 * "in the DOM" favours shellinabox: its letter is still shown only by the next
 * frame. A second time, t2, is "the frame that shows it" for both: when the
 * text appears during a frame's animation-frame callbacks (xterm.js), that
 * frame (t2 = t1); otherwise the next one (t2 = when the next animation-frame
 * callback runs). The first (t1) is the one compared against the target.
 */
import { spawn } from 'node:child_process';
import type { BrowserContext, Page } from '@playwright/test';
import { deleteSession, envNum, LAB_ROWS, onCleanup, sleep } from './lib';
import type { CreateSessionResponse } from '../../lab-backend/src/wire';

/** The lab lesson whose terminal the terminal benchmarks type into, and shellinabox's port. */
export const TERMINAL_LESSON = process.env.BENCH_TERMINAL_LESSON ?? '00-what-a-container-is/01-a-process-with-walls';
export const SHELLINABOX_PORT = envNum('BENCH_SHELLINABOX_PORT', 4219);

export interface WebTerminal {
  name: 'lab' | 'shellinabox';
  page: Page;
  /** Line container: its children are the terminal's lines. */
  rows: string;
  /** End this terminal's session (the lab's sandbox; shellinabox's shell dies with the page). */
  close(): Promise<void>;
}

/** Page-side state of the probe (see installProbe). */
interface ProbeApi {
  /** Arm for one measurement: done when one of the last `depth` non-blank lines satisfies the test. */
  arm(mode: 'endsWith' | 'equals', text: string, depth: number): void;
  /**
   * Resolves with the page-clock times (ms) or null on timeout. t0: first
   * keydown after arm(); t1: the text is in the DOM; send/recv: the last binary
   * WebSocket frame sent / received in between (lab page only, see wsSpy);
   * t2: the animation frame that shows the text.
   */
  result(timeoutMs: number): Promise<{ t0: number; t1: number; t2: number; send?: number; recv?: number } | null>;
  lastLines(n: number): string[];
}

declare global {
  interface Window {
    __benchProbe?: ProbeApi;
    __benchWs?: { send?: number; recv?: number };
  }
}

/** One timed key (ms). toSend/roundTrip/toDom split `total` where the page's WebSocket is visible. */
export interface KeyTiming {
  total: number;
  toFrame: number;
  toSend?: number;
  roundTrip?: number;
  toDom?: number;
}

/** Install the probe in the page, once per page load (the function runs in the browser). */
async function installProbe(page: Page, rows: string): Promise<void> {
  await page.evaluate((selector) => {
    const root = document.querySelector(selector);
    if (!root) throw new Error(`no ${selector}`);
    const lastLines = (n: number) => {
      const out: string[] = [];
      for (let el = root.lastElementChild; el && out.length < n; el = el.previousElementSibling) {
        const t = (el.textContent ?? '').replace(/\u00a0/g, ' ').trimEnd();
        if (t) out.push(t);
      }
      return out;
    };
    interface Armed {
      mode: 'endsWith' | 'equals';
      text: string;
      depth: number;
      t0?: number;
      t1?: number;
      t2?: number;
      done: () => void;
    }
    let armed: Armed | null = null;
    const nativeRaf = window.requestAnimationFrame.bind(window);
    const check = (inFrame: boolean) => {
      const a = armed;
      if (!a || a.t1 !== undefined) return;
      const hit = lastLines(a.depth).some((l) => (a.mode === 'equals' ? l === a.text : l.endsWith(a.text)));
      if (!hit) return;
      a.t1 = performance.now();
      if (inFrame) {
        a.t2 = a.t1;
        a.done();
      } else
        nativeRaf(() => {
          a.t2 = performance.now();
          a.done();
        });
    };
    // Page code's animation-frame callbacks (xterm.js renders in them) are followed by a check while
    // still inside the frame; a MutationObserver (a microtask, later) catches changes made elsewhere.
    window.requestAnimationFrame = (cb: FrameRequestCallback) =>
      nativeRaf((ts) => {
        try {
          cb(ts);
        } finally {
          check(true);
        }
      });
    new MutationObserver(() => check(false)).observe(root, { childList: true, subtree: true, characterData: true });
    window.addEventListener(
      'keydown',
      () => {
        if (armed && armed.t0 === undefined) armed.t0 = performance.now();
      },
      true,
    );
    let finished: Promise<void> = Promise.resolve();
    window.__benchProbe = {
      arm(mode, text, depth) {
        let done!: () => void;
        finished = new Promise<void>((r) => {
          done = r;
        });
        armed = { mode, text, depth, done };
      },
      async result(timeoutMs) {
        const a = armed;
        if (!a) return null;
        await Promise.race([finished, new Promise((r) => setTimeout(r, timeoutMs))]);
        armed = null;
        if (a.t0 === undefined || a.t1 === undefined || a.t2 === undefined) return null;
        const ws = window.__benchWs;
        const within = (x?: number) => (x !== undefined && x >= a.t0! && x <= a.t1! ? x : undefined);
        return { t0: a.t0, t1: a.t1, t2: a.t2, send: within(ws?.send), recv: within(ws?.recv) };
      },
      lastLines,
    };
  }, rows);
}

/**
 * Press `keys` (Playwright key names, in order) and time from the first
 * keydown until one of the last `depth` lines ends with / equals `text`.
 * Returns ms, or null if it did not appear within timeoutMs.
 */
export async function timeKeys(
  t: WebTerminal,
  keys: string[],
  expect: { mode: 'endsWith' | 'equals'; text: string; depth?: number },
  timeoutMs = 10_000,
): Promise<KeyTiming | null> {
  await t.page.evaluate(([mode, text, depth]) => window.__benchProbe!.arm(mode, text, depth), [expect.mode, expect.text, expect.depth ?? 1] as const);
  for (const k of keys) await t.page.keyboard.press(k);
  const r = await t.page.evaluate((ms) => window.__benchProbe!.result(ms), timeoutMs);
  if (!r) return null;
  const split = r.send !== undefined && r.recv !== undefined && r.recv >= r.send;
  return { total: r.t1 - r.t0, toFrame: r.t2 - r.t0, ...(split ? { toSend: r.send! - r.t0, roundTrip: r.recv! - r.send!, toDom: r.t1 - r.recv! } : {}) };
}

export async function lastLines(t: WebTerminal, n: number): Promise<string[]> {
  return t.page.evaluate((k) => window.__benchProbe!.lastLines(k), n);
}

/** Wait until the last non-blank line is a bare prompt ending in `#`. */
export async function waitForPrompt(t: WebTerminal, timeoutMs = 60_000): Promise<void> {
  await t.page.waitForFunction(
    (sel) => {
      const root = document.querySelector(sel);
      for (let el = root?.lastElementChild; el; el = el.previousElementSibling) {
        const line = (el.textContent ?? '').replace(/\u00a0/g, ' ').trimEnd();
        if (line) return /#$/.test(line);
      }
      return false;
    },
    t.rows,
    { polling: 20, timeout: timeoutMs },
  );
}

/**
 * tsx compiles the benchmarks with esbuild's keepNames, which wraps named
 * functions inside those handed to page.evaluate in calls to a `__name`
 * helper that exists only in Node: pages get a no-op one as an init script.
 */
export const NAME_SHIM = { content: 'globalThis.__name ??= (f) => f;' };

/** A page for page-side benchmark code (the __name shim and the WebSocket spy). */
async function benchPage(ctx: BrowserContext): Promise<Page> {
  const page = await ctx.newPage();
  await page.addInitScript(NAME_SHIM);
  await page.addInitScript(wsSpy);
  return page;
}

/**
 * Runs in the page before its own scripts: notes when the page last sent and
 * received a binary WebSocket frame (terminal bytes; JSON control frames are
 * text), so a key's time splits into keydown → send, send → echo received,
 * and received → in the DOM. Listens only; changes nothing the app sees.
 */
function wsSpy() {
  const Native = window.WebSocket;
  const seen: { send?: number; recv?: number } = {};
  window.__benchWs = seen;
  const send = Native.prototype.send;
  Native.prototype.send = function (this: WebSocket, data: string | ArrayBufferLike | Blob | ArrayBufferView) {
    if (typeof data !== 'string') seen.send = performance.now();
    return send.call(this, data);
  };
  class Spied extends Native {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols);
      this.addEventListener('message', (e: MessageEvent) => {
        if (typeof e.data !== 'string') seen.recv = performance.now();
      });
    }
  }
  window.WebSocket = Spied;
}

/** Open a lesson page, wait for its shell prompt and focus the terminal. */
export async function openLabTerminal(ctx: BrowserContext, base: string, lessonId: string): Promise<WebTerminal> {
  const page = await benchPage(ctx);
  await page.goto(`${base}/lessons/${lessonId}`);
  const t: WebTerminal = {
    name: 'lab',
    page,
    rows: LAB_ROWS,
    async close() {
      const s = await page.evaluate((id) => sessionStorage.getItem(`lab:session:${id}`), lessonId).catch(() => null);
      // The page's learner cookie goes with the delete: only a session's owner may end it.
      const cookie = (await ctx.cookies(base).catch(() => [])).map((c) => `${c.name}=${c.value}`).join('; ');
      await page.close().catch(() => {});
      if (s) await deleteSession(base, { ...(JSON.parse(s) as CreateSessionResponse), cookie });
    },
  };
  try {
    await page.waitForSelector(LAB_ROWS, { timeout: 60_000 });
    await waitForPrompt(t, 120_000);
    await installProbe(page, LAB_ROWS);
    await page.click('[data-testid=terminal]');
    await sleep(300); // the click's own focus handling settles
  } catch (e) {
    await t.close();
    throw e;
  }
  return t;
}

export async function openShellinabox(ctx: BrowserContext, url: string): Promise<WebTerminal> {
  const page = await benchPage(ctx);
  await page.goto(url);
  const t: WebTerminal = { name: 'shellinabox', page, rows: '#console', close: () => page.close().catch(() => {}) };
  try {
    await waitForPrompt(t, 30_000);
    await installProbe(page, '#console');
    await page.click('#console');
    await sleep(300);
  } catch (e) {
    await t.close();
    throw e;
  }
  return t;
}

/**
 * Start Debian's shellinaboxd (bench.sh installs the package) on `port`,
 * serving a root `bash --norc` on the host; killed at clean-up.
 */
export async function startShellinabox(port: number): Promise<string> {
  const url = `http://127.0.0.1:${port}/`;
  try {
    await fetch(url);
    throw new Error(`port ${port} is already in use (set BENCH_SHELLINABOX_PORT)`);
  } catch (e) {
    if ((e as Error).message.includes('already in use')) throw e;
  }
  const child = spawn('shellinaboxd', ['-t', '-p', String(port), '--localhost-only', '--no-beep', '-s', '/:root:root:/root:/bin/bash --norc'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  let err = '';
  child.stderr!.on('data', (b: Buffer) => {
    if (err.length < 4096) err += b.toString();
  });
  let exited = false;
  const gone = new Promise<void>((r) =>
    child.on('exit', () => {
      exited = true;
      r();
    }),
  );
  child.on('error', (e) => {
    err += e.message;
  });
  onCleanup(async () => {
    if (exited) return;
    try {
      process.kill(-child.pid!, 'SIGTERM');
    } catch {
      return;
    }
    if (await Promise.race([gone.then(() => false), sleep(5000).then(() => true)])) {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  });
  for (let i = 0; i < 100; i++) {
    if (exited) throw new Error(`shellinaboxd exited: ${err.trim()}`);
    try {
      if ((await fetch(url)).ok) return url;
    } catch {
      /* not yet */
    }
    await sleep(100);
  }
  throw new Error(`shellinaboxd did not answer on ${url}: ${err.trim()}`);
}
