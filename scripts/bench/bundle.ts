/**
 * Lesson page first-load JS, gzipped: the chunks Next.js itself lists as the
 * route's first load (.next/diagnostics/route-bundle-stats.json, written by
 * `next build`), each gzipped here at zlib's default level as a server would
 * send it. Lazily loaded chunks (xterm.js, the editor) are not part of the
 * first load and are reported separately as the rest of .next/static/chunks.
 * An absolute target (DESIGN.md: ≤ 200 KB), so no baseline; the home page is
 * listed for comparison. Writes bench-results/bundle.json.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { printTable, round, runBench, writeResult, type SummaryRow } from './lib';

const TARGET_KB = 200;
const STATS = path.resolve('.next/diagnostics/route-bundle-stats.json');

interface RouteStats {
  route: string;
  firstLoadUncompressedJsBytes: number;
  firstLoadChunkPaths: string[];
}

const gzBytes = (file: string) => gzipSync(readFileSync(path.resolve(file))).length;

async function main() {
  let routes: RouteStats[];
  try {
    routes = JSON.parse(readFileSync(STATS, 'utf8'));
  } catch (e) {
    throw new Error(`cannot read ${STATS} (run \`next build\` first): ${(e as Error).message}`);
  }
  const lesson = routes.find((r) => r.route === '/lessons/[module]/[lesson]');
  if (!lesson) throw new Error(`${STATS} lists no lesson route (routes: ${routes.map((r) => r.route).join(', ')})`);

  const rows = routes.map((r) => ({
    route: r.route,
    chunks: r.firstLoadChunkPaths.length,
    rawKB: round(r.firstLoadUncompressedJsBytes / 1024, 1),
    gzipKB: round(r.firstLoadChunkPaths.reduce((n, f) => n + gzBytes(f), 0) / 1024, 1),
  }));
  const firstLoad = new Set(routes.flatMap((r) => r.firstLoadChunkPaths.map((f) => path.resolve(f))));
  const chunkDir = path.resolve('.next/static/chunks');
  const lazy = readdirSync(chunkDir)
    .map((f) => path.join(chunkDir, f))
    .filter((f) => f.endsWith('.js') && statSync(f).isFile() && !firstLoad.has(f));
  const lazyGzKB = round(lazy.reduce((n, f) => n + gzBytes(f), 0) / 1024, 1);
  printTable([...rows, { route: '(lazily loaded chunks, all routes)', chunks: lazy.length, rawKB: null, gzipKB: lazyGzKB }]);

  const lessonGzKB = rows.find((r) => r.route === lesson.route)!.gzipKB!;
  const summary: SummaryRow[] = [
    {
      metric: 'lesson page first-load JS (gzip)',
      value: `${lessonGzKB} KB`,
      baseline: '',
      ratio: null,
      target: `≤ ${TARGET_KB} KB`,
      ok: lessonGzKB <= TARGET_KB,
    },
  ];
  writeResult('bundle', { config: { stats: STATS }, routes: rows, lazyChunks: lazy.length, lazyGzKB, summary });
}

runBench(main);
