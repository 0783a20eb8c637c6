/**
 * The last thing `npm run bench` prints: one table of every benchmark's
 * summary rows (bench-results/<name>.json), with the machine's load average
 * over the run, and the same as bench-results/summary.json. A result file
 * from an earlier run (its benchmark failed this time) is marked stale.
 *   npx tsx scripts/bench/summary.ts [name…]
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { printTable, RESULTS_DIR, writeResult, type SummaryRow } from './lib';

const DEFAULT_ORDER = ['prompt', 'keystroke', 'throughput', 'memory', 'check', 'bundle'];

interface Result {
  bench: string;
  runId: string | null;
  start: { at: string; loadavg: number[] };
  end: { at: string; loadavg: number[] };
  summary: SummaryRow[];
}

function main() {
  const names = process.argv.slice(2).length ? process.argv.slice(2) : DEFAULT_ORDER;
  const runId = process.env.BENCH_RUN_ID ?? null;
  const results: (Result & { stale: boolean })[] = [];
  const missing: string[] = [];
  for (const name of names) {
    const file = path.join(RESULTS_DIR, `${name}.json`);
    if (!existsSync(file)) {
      missing.push(name);
      continue;
    }
    const r = JSON.parse(readFileSync(file, 'utf8')) as Result;
    results.push({ ...r, stale: runId !== null && r.runId !== runId });
  }
  const rows = results.flatMap((r) =>
    r.summary.map((s) => ({
      bench: r.stale ? `${r.bench} (STALE: ${r.end.at})` : r.bench,
      metric: s.metric,
      lab: s.value,
      baseline: s.baseline || '—',
      ratio: s.ratio,
      target: s.target || '—',
      met: s.ok,
    })),
  );
  const loads = results.filter((r) => !r.stale).flatMap((r) => [r.start.loadavg[0], r.end.loadavg[0]]);
  console.log('\n==> benchmark summary (ratios are lab / baseline measured in the same run)');
  if (loads.length)
    console.log(
      `1-min load average during the run: ${Math.min(...loads)} – ${Math.max(...loads)} (per bench: ${results
        .filter((r) => !r.stale)
        .map((r) => `${r.bench} ${r.start.loadavg[0]}→${r.end.loadavg[0]}`)
        .join(', ')})`,
    );
  printTable(rows);
  if (missing.length) console.log(`no results for: ${missing.join(', ')}`);
  const stale = results.filter((r) => r.stale).map((r) => r.bench);
  if (stale.length) console.log(`stale (from an earlier run; this run's failed): ${stale.join(', ')}`);
  writeResult('summary', { config: { benches: names }, rows, stale, missing, summary: [] });
}

main();
