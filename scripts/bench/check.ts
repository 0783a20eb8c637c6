/**
 * Check latency: POST /lab-api/sessions/:id/checks/:exercise on a gVisor
 * lesson, wall time as the browser would see it, next to raw `runsc exec`s
 * into the very same sandbox (the driver's --root and flags), in the same run:
 *   raw exec of the same check script  what the check itself costs in gVisor
 *   raw exec of `true`                 the floor: one runsc exec round trip
 * A check is an exec without a PTY (the backend writes a process spec file,
 * runs `runsc exec --process`, collects and bounds output, applies a timeout),
 * so API / raw-same-script is the lab's overhead. The default exercise fails
 * in a fresh sandbox, quickly; pass or fail does not matter here. The three
 * kinds rotate so load hits all alike. Writes bench-results/check.json.
 */
import path from 'node:path';
import { loadLesson } from '../../lab-backend/src/content';
import { run } from '../../lab-backend/src/sandbox/host';
import { CHECK_ENV, checkArgv } from '../../lab-backend/src/sandbox/toolbox';
import type { CheckResult } from '../../lab-backend/src/wire';
import {
  createSession,
  deleteSession,
  sessionHeaders,
  envNum,
  machineSample,
  median,
  onCleanup,
  openTerminal,
  percentile,
  printTable,
  ratio,
  round,
  runBench,
  sleep,
  startLab,
  STATE_DIR,
  writeResult,
  type SummaryRow,
} from './lib';

const RUNS = envNum('BENCH_CHECK_RUNS', 15);
const LESSON = process.env.BENCH_CHECK_LESSON ?? '00-what-a-container-is/01-a-process-with-walls';
const EXERCISE = process.env.BENCH_CHECK_EXERCISE ?? 'survey';

async function main() {
  const lesson = await loadLesson(path.resolve('content'), LESSON);
  const exercise = lesson?.exercises.find((e) => e.id === EXERCISE);
  if (!lesson || !exercise) throw new Error(`no exercise ${EXERCISE} in lesson ${LESSON}`);
  if (lesson.runtime !== 'gvisor') throw new Error(`${LESSON} is not a gVisor lesson`);

  const lab = await startLab('check', { LAB_RUNTIMES: 'gvisor', LAB_POOL_GVISOR: '0', LAB_POOL_MICROVM: '0' });
  const s = await createSession(lab.base, LESSON);
  onCleanup(() => deleteSession(lab.base, s));
  const term = await openTerminal(lab.base, s); // keeps the session attached, and proves it is ready
  onCleanup(() => term.close());
  const id = `s${s.sessionId}`;
  const flags = [`--root=${path.join(STATE_DIR, 'gvisor', 'runsc')}`, '--platform=ptrace', '--network=none', '--overlay2=root:memory'];

  const apiCheck = async () => {
    const t0 = performance.now();
    const r = await fetch(`${lab.base}/lab-api/sessions/${s.sessionId}/checks/${EXERCISE}`, { method: 'POST', headers: sessionHeaders(lab.base, s) });
    if (!r.ok) throw new Error(`check: ${r.status} ${await r.text()}`);
    const body = (await r.json()) as CheckResult;
    return { ms: performance.now() - t0, passed: body.passed, serverMs: body.durationMs };
  };
  const rawExec = async (argv: string[]) => {
    const t0 = performance.now();
    const r = await run('runsc', [...flags, 'exec', '--cwd=/root', ...CHECK_ENV.map((e) => `--env=${e}`), id, ...argv], { timeoutMs: 30_000 });
    const ms = performance.now() - t0;
    if (r.code === null || r.code > 1) throw new Error(`runsc exec ${argv[0]}: exit ${r.code}: ${r.stderr.slice(-300)}`);
    return ms;
  };
  const script = checkArgv(exercise.checkScript); // what the lab execs for a check

  await apiCheck();
  await rawExec(['true']);
  await rawExec(script); // warm-up
  const mid = machineSample();
  const t = { api: [] as number[], apiServer: [] as number[], rawScript: [] as number[], rawTrue: [] as number[] };
  let passed: boolean | null = null;
  const kinds = [
    async () => {
      const r = await apiCheck();
      t.api.push(r.ms);
      t.apiServer.push(r.serverMs);
      passed = r.passed;
    },
    async () => {
      t.rawScript.push(await rawExec(script));
    },
    async () => {
      t.rawTrue.push(await rawExec(['true']));
    },
  ];
  for (let i = 0; i < RUNS; i++) {
    for (let k = 0; k < kinds.length; k++) await kinds[(k + i) % kinds.length]();
    await sleep(100);
  }

  const stat = (xs: number[]) => ({ n: xs.length, median_ms: round(median(xs)), p90_ms: round(percentile(xs, 0.9)) });
  const rows = [
    { what: `lab API: POST …/checks/${EXERCISE}`, ...stat(t.api), vs_raw_script: ratio(median(t.api), median(t.rawScript)) },
    { what: '  of which the backend timed (CheckResult.durationMs)', ...stat(t.apiServer), vs_raw_script: ratio(median(t.apiServer), median(t.rawScript)) },
    { what: 'raw `runsc exec` of the same check script', ...stat(t.rawScript), vs_raw_script: 1 },
    { what: 'raw `runsc exec true` (floor)', ...stat(t.rawTrue), vs_raw_script: ratio(median(t.rawTrue), median(t.rawScript)) },
  ];
  printTable(rows);
  const ms = (x: number) => `${Math.round(x)} ms`;
  const summary: SummaryRow[] = [
    {
      metric: `check latency, gVisor (lab API vs raw runsc exec of the script)`,
      value: ms(median(t.api)),
      baseline: ms(median(t.rawScript)),
      ratio: ratio(median(t.api), median(t.rawScript)),
      target: '(none)',
      ok: null,
    },
    {
      metric: 'check latency, gVisor (lab API vs raw `runsc exec true`)',
      value: ms(median(t.api)),
      baseline: ms(median(t.rawTrue)),
      ratio: ratio(median(t.api), median(t.rawTrue)),
      target: '(none)',
      ok: null,
    },
  ];
  const file = writeResult('check', {
    config: { runs: RUNS, lesson: LESSON, exercise: EXERCISE },
    mid,
    checkPassed: passed,
    samples_ms: Object.fromEntries(Object.entries(t).map(([k, xs]) => [k, xs.map((x) => round(x, 1))])),
    rows,
    summary,
  });
  console.log(`wrote ${file}`);
}

runBench(main);
