/**
 * Keystroke-to-echo latency through the whole path a learner's key takes:
 * headless chromium → xterm.js → WebSocket → lab backend → PTY → `runsc exec`
 * → bash in the gVisor sandbox → and back into the DOM. The reference is
 * shellinabox (Debian) serving bash on the host, in the same browser, in the
 * same run. One key = one letter typed at a bash prompt, timed from the
 * browser's keydown until the letter is in the terminal's DOM (see
 * web-terminals.ts); every BENCH_LINE_CHARS letters, Ctrl-U clears the line.
 *
 * A third, diagnostic row types into a second sandbox over the lab's
 * WebSocket from Node (no browser): it splits the lab's figure into
 * "backend + sandbox" and "browser + xterm.js".
 *
 * Keys go in blocks that rotate between the three, so machine load hits all
 * alike. Writes bench-results/keystroke.json.
 */
import type WebSocket from 'ws';
import {
  createSession,
  deleteSession,
  envNum,
  launchChromium,
  machineSample,
  median,
  onCleanup,
  openTerminal,
  percentile,
  printTable,
  ratio,
  rawText,
  round,
  runBench,
  sleep,
  startLab,
  writeResult,
  type ApiTerminal,
  type SummaryRow,
} from './lib';
import {
  openLabTerminal,
  openShellinabox,
  SHELLINABOX_PORT as SIB_PORT,
  startShellinabox,
  TERMINAL_LESSON as LESSON,
  timeKeys,
  waitForPrompt,
  type KeyTiming,
  type WebTerminal,
} from './web-terminals';

const KEYS = envNum('BENCH_KEYSTROKES', 300);
const WARMUP_KEYS = envNum('BENCH_KEYSTROKE_WARMUP', 10);
const BLOCK = envNum('BENCH_KEYSTROKE_BLOCK', 20);
/** Idle time between keys (plus up to the same again, at random, so keys do not lock onto frame boundaries). */
const GAP_MS = envNum('BENCH_KEYSTROKE_GAP_MS', 30);
const LINE_CHARS = envNum('BENCH_LINE_CHARS', 40);
const LETTERS = 'abcdefghijklmnopqrstuvwxyz';
const ECHO_TIMEOUT_MS = 5_000;

/** Something to type letters into, one at a time. */
interface Typist {
  label: string;
  /** Type one letter; how long until it is echoed, null if not within ECHO_TIMEOUT_MS. */
  type(ch: string, lineSoFar: string): Promise<KeyTiming | null>;
  /** Empty the command line (Ctrl-U) and wait until it is. */
  clearLine(): Promise<void>;
  /** Before a block (bring the page to the front). */
  focus(): Promise<void>;
  typed: string;
  samples: number[];
  /** Keydown until the animation frame that shows the letter (browser terminals only). */
  frameSamples: number[];
  /** Where the page's WebSocket is visible (the lab page): each sample split in three. */
  split: { toSend: number[]; roundTrip: number[]; toDom: number[] };
  misses: number;
}

const newTypist = (label: string, fns: Pick<Typist, 'type' | 'clearLine' | 'focus'>): Typist => ({
  label,
  ...fns,
  typed: '',
  samples: [],
  frameSamples: [],
  split: { toSend: [], roundTrip: [], toDom: [] },
  misses: 0,
});

function browserTypist(label: string, t: WebTerminal): Typist {
  return newTypist(label, {
    type: (ch, line) => timeKeys(t, [ch], { mode: 'endsWith', text: `# ${line}` }, ECHO_TIMEOUT_MS),
    async clearLine() {
      if ((await timeKeys(t, ['Control+u'], { mode: 'endsWith', text: '#' }, ECHO_TIMEOUT_MS)) === null) {
        await t.page.keyboard.press('Control+c');
        await waitForPrompt(t, 10_000);
      }
    },
    focus: () => t.page.bringToFront(),
  });
}

/** Resolves with ms from sending `data` until output containing `until` arrives (null on timeout). */
function wsRoundTrip(ws: WebSocket, data: string, until: (text: string) => boolean): Promise<number | null> {
  return new Promise((resolve) => {
    let seen = '';
    const t0 = performance.now();
    const finish = (v: number | null) => {
      clearTimeout(timer);
      ws.off('message', onMessage);
      resolve(v);
    };
    const onMessage = (d: WebSocket.RawData, binary: boolean) => {
      if (!binary) return;
      seen += rawText(d);
      if (until(seen)) finish(performance.now() - t0);
    };
    const timer = setTimeout(() => finish(null), ECHO_TIMEOUT_MS);
    ws.on('message', onMessage);
    ws.send(Buffer.from(data));
  });
}

function apiTypist(term: ApiTerminal): Typist {
  return newTypist('lab API from Node, no browser (diagnostic)', {
    type: async (ch) => {
      const ms = await wsRoundTrip(term.ws, ch, (s) => s.includes(ch));
      return ms === null ? null : { total: ms, toFrame: NaN };
    },
    async clearLine() {
      // eslint-disable-next-line no-control-regex -- strips the terminal's escape sequences, BEL and BS to find the prompt
      await wsRoundTrip(term.ws, '\x15', (s) => /# $/.test(s.replace(/\x1b\[[0-9;]*[A-Za-z]|[\x07\x08\r]/g, '')));
      await sleep(50);
    },
    focus: async () => {},
  });
}

/** Type `count` letters, one at a time, each timed until it is echoed. */
async function typeBlock(ty: Typist, count: number, record: boolean) {
  await ty.focus();
  for (let i = 0; i < count; i++) {
    if (ty.typed.length >= LINE_CHARS) {
      await ty.clearLine();
      ty.typed = '';
    }
    const ch = LETTERS[ty.typed.length % LETTERS.length];
    ty.typed += ch;
    const k = await ty.type(ch, ty.typed);
    if (k === null) {
      ty.misses++;
      await ty.clearLine(); // resynchronise: whatever arrives late is discarded
      ty.typed = '';
    } else if (record) {
      ty.samples.push(k.total);
      if (Number.isFinite(k.toFrame)) ty.frameSamples.push(k.toFrame);
      if (k.toSend !== undefined) {
        ty.split.toSend.push(k.toSend);
        ty.split.roundTrip.push(k.roundTrip!);
        ty.split.toDom.push(k.toDom!);
      }
    }
    await sleep(GAP_MS + Math.random() * GAP_MS);
  }
}

function stats(ty: Typist) {
  const xs = ty.samples;
  return {
    n: xs.length,
    p50_ms: round(median(xs), 1),
    p95_ms: round(percentile(xs, 0.95), 1),
    p99_ms: round(percentile(xs, 0.99), 1),
    max_ms: round(percentile(xs, 1), 1),
    misses: ty.misses,
  };
}

const details = (ty: Typist) => ({
  label: ty.label,
  ...stats(ty),
  samples: ty.samples.map((x) => round(x, 2)),
  toFrame: { p50_ms: round(median(ty.frameSamples), 1), p99_ms: round(percentile(ty.frameSamples, 0.99), 1), samples: ty.frameSamples.map((x) => round(x, 2)) },
});

async function main() {
  const lab = await startLab('keystroke', { LAB_RUNTIMES: 'gvisor', LAB_POOL_GVISOR: '0', LAB_POOL_MICROVM: '0' });
  const sibUrl = await startShellinabox(SIB_PORT);
  const browser = await launchChromium();
  const labTerm = await openLabTerminal(await browser.newContext(), lab.base, LESSON);
  onCleanup(() => labTerm.close());
  const sibTerm = await openShellinabox(await browser.newContext(), sibUrl);
  onCleanup(() => sibTerm.close());
  const apiSession = await createSession(lab.base, LESSON);
  onCleanup(() => deleteSession(lab.base, apiSession));
  const apiTerm = await openTerminal(lab.base, apiSession);
  onCleanup(() => apiTerm.close());
  const mid = machineSample();

  const labTy = browserTypist('lab: browser → backend → gVisor', labTerm);
  const sibTy = browserTypist('shellinabox: browser → host bash (reference)', sibTerm);
  const apiTy = apiTypist(apiTerm);
  const all = [labTy, sibTy, apiTy];
  for (const ty of all) {
    await ty.clearLine();
    await typeBlock(ty, WARMUP_KEYS, false);
  }
  for (let done = 0, b = 0; done < KEYS; done += BLOCK, b++) {
    const n = Math.min(BLOCK, KEYS - done);
    // Rotate the order so no terminal always follows the same one.
    for (let k = 0; k < all.length; k++) await typeBlock(all[(k + b) % all.length], n, true);
  }

  printTable(all.map((ty) => ({ terminal: ty.label, ...stats(ty) })));
  const split = Object.fromEntries(Object.entries(labTy.split).map(([k, xs]) => [k, { p50_ms: round(median(xs), 1), p99_ms: round(percentile(xs, 0.99), 1) }]));
  if (labTy.split.toSend.length) {
    console.log(
      `lab keystroke, where the time goes (p50 / p99 ms): keydown → WebSocket send ${split.toSend.p50_ms} / ${split.toSend.p99_ms}; ` +
        `send → echo frame received ${split.roundTrip.p50_ms} / ${split.roundTrip.p99_ms}; received → in the DOM ${split.toDom.p50_ms} / ${split.toDom.p99_ms}`,
    );
  }
  const p = (ty: Typist, q: number) => (q === 0.5 ? median(ty.samples) : percentile(ty.samples, q));
  const f = (ty: Typist, q: number) => (q === 0.5 ? median(ty.frameSamples) : percentile(ty.frameSamples, q));
  console.log(
    `keystroke → the animation frame that shows it (p50 / p99 ms): lab ${round(f(labTy, 0.5), 1)} / ${round(f(labTy, 0.99), 1)}, ` +
      `shellinabox ${round(f(sibTy, 0.5), 1)} / ${round(f(sibTy, 0.99), 1)}`,
  );
  const summary: SummaryRow[] = [
    {
      metric: 'keystroke → echo p50 (lab vs shellinabox)',
      value: `${round(p(labTy, 0.5), 1)} ms`,
      baseline: `${round(p(sibTy, 0.5), 1)} ms`,
      ratio: ratio(p(labTy, 0.5), p(sibTy, 0.5)),
      target: '',
      ok: null,
    },
    {
      metric: 'keystroke → echo p99 (lab vs shellinabox)',
      value: `${round(p(labTy, 0.99), 1)} ms`,
      baseline: `${round(p(sibTy, 0.99), 1)} ms`,
      ratio: ratio(p(labTy, 0.99), p(sibTy, 0.99)),
      target: '≤ 1.0 × reference',
      ok: labTy.samples.length && sibTy.samples.length ? p(labTy, 0.99) <= p(sibTy, 0.99) : null,
    },
    {
      metric: 'keystroke → frame showing the echo p99 (lab vs shellinabox)',
      value: `${round(f(labTy, 0.99), 1)} ms`,
      baseline: `${round(f(sibTy, 0.99), 1)} ms`,
      ratio: ratio(f(labTy, 0.99), f(sibTy, 0.99)),
      target: '(diagnostic)',
      ok: null,
    },
    {
      metric: 'keystroke → echo p50, lab API without browser',
      value: `${round(p(apiTy, 0.5), 1)} ms`,
      baseline: `${round(p(sibTy, 0.5), 1)} ms`,
      ratio: ratio(p(apiTy, 0.5), p(sibTy, 0.5)),
      target: '(diagnostic)',
      ok: null,
    },
  ];
  const file = writeResult('keystroke', {
    config: { keys: KEYS, warmupKeys: WARMUP_KEYS, block: BLOCK, gapMs: GAP_MS, lineChars: LINE_CHARS, lesson: LESSON },
    mid,
    labSplit: split,
    results: { lab: details(labTy), shellinabox: details(sibTy), labApi: details(apiTy) },
    summary,
  });
  console.log(`wrote ${file}`);
}

runBench(main);
