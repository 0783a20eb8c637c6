/**
 * Terminal throughput through the browser: a command prints N bytes of text
 * (`head -c N /dev/zero | tr '\0' x | fold -w W`) and then a marker; the time
 * runs from the browser's Enter keydown until the marker is in the terminal's
 * DOM, so it covers producing the output, every hop, the lab's end-to-end flow
 * control (the browser acks what xterm.js has rendered) and the rendering.
 *
 * The reference, shellinabox (host bash, same browser, same run), renders
 * only ~10–25 KB/s here and slows down as its 2000-line scrollback fills, so
 * 5 MB would take it many minutes: the like-for-like comparison uses
 * BENCH_THROUGHPUT_COMMON_BYTES (100 KB) in both terminals, and the lab alone
 * also gets the large BENCH_THROUGHPUT_BYTES (5 MB). Each measurement gets a
 * fresh page (the lab: a fresh sandbox) so scrollback does not carry over;
 * the order rotates between runs. Lines are W = 72 characters, narrower than
 * either terminal, so neither wraps.
 *
 * Then, once per run in a fresh lab terminal, a `yes` flood: how long the page
 * takes to give an animation frame while it runs (page clock, BENCH_FLOOD_FRAMES
 * samples), and how long from Ctrl-C until the next command's answer is in the
 * DOM (Node's clock; it includes typing that ~20-character command, which the
 * shell runs only once `yes` is gone). These were once thresholds in
 * e2e/terminal-flood.spec.ts; they are figures here. Writes
 * bench-results/throughput.json.
 */
import { envNum, launchChromium, machineSample, median, printTable, ratio, round, runBench, sleep, startLab, writeResult, type SummaryRow } from './lib';
import {
  openLabTerminal,
  openShellinabox,
  SHELLINABOX_PORT as SIB_PORT,
  startShellinabox,
  TERMINAL_LESSON as LESSON,
  timeKeys,
  waitForPrompt,
  type WebTerminal,
} from './web-terminals';

const BIG_BYTES = envNum('BENCH_THROUGHPUT_BYTES', 5_000_000);
const COMMON_BYTES = envNum('BENCH_THROUGHPUT_COMMON_BYTES', 100_000);
const WIDTH = envNum('BENCH_THROUGHPUT_WIDTH', 72);
const RUNS = envNum('BENCH_THROUGHPUT_RUNS', 2);
const TIMEOUT_MS = envNum('BENCH_THROUGHPUT_TIMEOUT_MS', 180_000);
const FLOOD_FRAMES = envNum('BENCH_FLOOD_FRAMES', 10);

interface Run {
  bytes: number;
  ms: number | null;
  mbPerS: number | null;
}
type Case = 'lab-big' | 'lab-common' | 'shellinabox-common';

/** One timed run in `t`: null ms when the marker did not show within TIMEOUT_MS. */
async function flood(t: WebTerminal, bytes: number, run: number): Promise<Run> {
  const marker = `done${run}_42`;
  // The marker is computed by the shell, so the echoed command line never matches it. fold ends
  // without a newline, so it ends the last line of x's (or stands alone).
  await t.page.keyboard.type(`head -c ${bytes} /dev/zero | tr '\\0' x | fold -w ${WIDTH}; echo done${run}_$((6*7))`);
  // Wait until the whole command line is echoed, so the clock starts with Enter.
  await t.page.waitForFunction((sel) => (document.querySelector(sel)?.textContent ?? '').includes('6*7))'), t.rows, { polling: 20, timeout: 30_000 });
  const k = await timeKeys(t, ['Enter'], { mode: 'endsWith', text: marker, depth: 3 }, TIMEOUT_MS);
  if (!k) {
    await t.page.keyboard.press('Control+c');
    await waitForPrompt(t, 60_000).catch(() => {});
    return { bytes, ms: null, mbPerS: null };
  }
  return { bytes, ms: k.total, mbPerS: bytes / 1e6 / (k.total / 1000) };
}

interface FloodRun {
  frameMs: number[];
  ctrlCMs: number | null;
}

/** A `yes` flood in the lab's terminal: animation-frame delays while it runs, then Ctrl-C → the next command's answer. */
async function floodResponsiveness(t: WebTerminal): Promise<FloodRun> {
  const shows = (text: string, timeout: number) =>
    t.page.waitForFunction(([sel, x]) => (document.querySelector(sel)?.textContent ?? '').includes(x), [t.rows, text] as const, { polling: 20, timeout });
  // Computed by the shell, so the echoed command line never matches.
  await t.page.keyboard.type('yes FLOOD$((6*7))LINE');
  await t.page.keyboard.press('Enter');
  await shows('FLOOD42LINE', 60_000);
  const frameMs: number[] = [];
  for (let i = 0; i < FLOOD_FRAMES; i++) {
    frameMs.push(
      await t.page.evaluate(
        () =>
          new Promise<number>((r) => {
            const t0 = performance.now();
            requestAnimationFrame(() => r(performance.now() - t0));
          }),
      ),
    );
    await sleep(300);
  }
  const t0 = performance.now();
  await t.page.keyboard.press('Control+c');
  await t.page.keyboard.type('echo stopped-$((6*7))');
  await t.page.keyboard.press('Enter');
  const ok = await shows('stopped-42', TIMEOUT_MS).then(
    () => true,
    () => false,
  );
  return { frameMs, ctrlCMs: ok ? performance.now() - t0 : null };
}

async function main() {
  const lab = await startLab('throughput', { LAB_RUNTIMES: 'gvisor', LAB_POOL_GVISOR: '0', LAB_POOL_MICROVM: '0' });
  const sibUrl = await startShellinabox(SIB_PORT);
  const browser = await launchChromium();
  const mid = machineSample();
  const cases: Case[] = ['lab-big', 'lab-common', 'shellinabox-common'];
  const runs: Record<Case, Run[]> = { 'lab-big': [], 'lab-common': [], 'shellinabox-common': [] };
  for (let i = 0; i < RUNS; i++) {
    for (let k = 0; k < cases.length; k++) {
      const which = cases[(k + i) % cases.length];
      const ctx = await browser.newContext();
      const t = which === 'shellinabox-common' ? await openShellinabox(ctx, sibUrl) : await openLabTerminal(ctx, lab.base, LESSON);
      try {
        const r = await flood(t, which === 'lab-big' ? BIG_BYTES : COMMON_BYTES, i);
        runs[which].push(r);
        console.log(
          `${which} run ${i + 1}: ${r.bytes} bytes in ${r.ms === null ? `> ${TIMEOUT_MS / 1000} s (timed out)` : `${Math.round(r.ms)} ms, ${r.mbPerS!.toFixed(3)} MB/s`}`,
        );
      } finally {
        await t.close();
        await ctx.close();
      }
    }
  }

  const floods: FloodRun[] = [];
  for (let i = 0; i < RUNS; i++) {
    const ctx = await browser.newContext();
    const t = await openLabTerminal(ctx, lab.base, LESSON);
    try {
      const f = await floodResponsiveness(t);
      floods.push(f);
      console.log(
        `flood run ${i + 1}: frames ${f.frameMs.map((x) => Math.round(x)).join(', ')} ms; Ctrl-C → next answer ${f.ctrlCMs === null ? `> ${TIMEOUT_MS / 1000} s (timed out)` : `${Math.round(f.ctrlCMs)} ms`}`,
      );
    } finally {
      await t.close();
      await ctx.close();
    }
  }
  const frames = floods.flatMap((f) => f.frameMs);
  const ctrlC = floods.map((f) => f.ctrlCMs);
  const ctrlCMedian = ctrlC.every((x): x is number => x !== null) ? median(ctrlC as number[]) : NaN;

  const med = (rs: Run[]) => {
    const ok = rs.map((r) => r.mbPerS).filter((x): x is number => x !== null);
    return ok.length && ok.length === rs.length ? median(ok) : NaN; // a timed-out run makes the median unknown
  };
  const rate = Object.fromEntries(cases.map((c) => [c, med(runs[c])])) as Record<Case, number>;
  const fmt = (x: number) => (Number.isFinite(x) ? `${x.toFixed(3)} MB/s` : `timed out (> ${TIMEOUT_MS / 1000} s)`);
  const kb = (b: number) => (b >= 1e6 ? `${b / 1e6} MB` : `${b / 1e3} KB`);
  const label: Record<Case, string> = {
    'lab-big': `lab: browser ← backend ← gVisor, ${kb(BIG_BYTES)}`,
    'lab-common': `lab: browser ← backend ← gVisor, ${kb(COMMON_BYTES)}`,
    'shellinabox-common': `shellinabox: browser ← host bash, ${kb(COMMON_BYTES)}`,
  };
  printTable(
    cases.map((c) => ({ terminal: label[c], median_MB_per_s: round(rate[c], 3), runs_ms: runs[c].map((r) => (r.ms === null ? 'timeout' : Math.round(r.ms))).join(', ') })),
  );
  const summary: SummaryRow[] = [
    {
      metric: `terminal throughput, ${kb(COMMON_BYTES)} of text (lab vs shellinabox)`,
      value: fmt(rate['lab-common']),
      baseline: fmt(rate['shellinabox-common']),
      ratio: ratio(rate['lab-common'], rate['shellinabox-common']),
      target: '(none; higher is better)',
      ok: null,
    },
    { metric: `terminal throughput, ${kb(BIG_BYTES)} of text (lab)`, value: fmt(rate['lab-big']), baseline: '', ratio: null, target: '(none)', ok: null },
    {
      metric: 'animation frame during a `yes` flood (lab, median / max)',
      value: `${Math.round(median(frames))} / ${Math.round(Math.max(...frames))} ms`,
      baseline: '',
      ratio: null,
      target: '(none)',
      ok: null,
    },
    {
      metric: "Ctrl-C during a `yes` flood → next command's answer (lab)",
      value: Number.isFinite(ctrlCMedian) ? `${Math.round(ctrlCMedian)} ms` : `timed out (> ${TIMEOUT_MS / 1000} s)`,
      baseline: '',
      ratio: null,
      target: 'immediate (DESIGN.md)',
      ok: null,
    },
  ];
  const file = writeResult('throughput', {
    config: { bigBytes: BIG_BYTES, commonBytes: COMMON_BYTES, width: WIDTH, runs: RUNS, timeoutMs: TIMEOUT_MS, floodFrames: FLOOD_FRAMES, lesson: LESSON },
    mid,
    runs,
    floods,
    summary,
  });
  console.log(`wrote ${file}`);
}

runBench(main);
