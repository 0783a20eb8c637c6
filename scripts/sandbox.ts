/**
 * A lesson author's tool: start one real sandbox, run shell scripts in it one
 * after another (each as a check-style exec: no PTY, output captured), print
 * what each printed and its exit status, then end the sandbox.
 *
 *   npx tsx scripts/sandbox.ts --lesson 02-cgroups/01-limits-and-accounting -- 'cat /proc/self/status' ./my-step.sh
 *   npx tsx scripts/sandbox.ts --runtime microvm --image microvm -- 'uname -a'
 *   npx tsx scripts/sandbox.ts --prove 09-networking/01-veth-and-bridges [--exercise id]
 *
 * With --lesson the lesson's runtime, image, capabilities and setup.sh are used.
 * An argument naming an existing file is run as that file's contents; anything
 * else is run as a bash command line. --prove runs the course proof for one
 * lesson (fresh sandbox per exercise: check fails, solution, check passes).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { loadLesson, resolveCapabilities, type Lesson } from '../lab-backend/src/content';
import { SessionManager, policyFrom } from '../lab-backend/src/sessions';
import { loadConfig } from '../lab-backend/src/config';
import { GvisorDriver } from '../lab-backend/src/sandbox/gvisor';
import { MicrovmDriver } from '../lab-backend/src/sandbox/microvm';
import { defaultImageDir, ensureImage, imagePath } from '../lab-backend/src/images';
import type { RuntimeName } from '../lab-backend/src/wire';
import os from 'node:os';
import { mkdtempSync } from 'node:fs';
import { learner, memoryStore } from '../lab-backend/test/learners';

const HELP = `usage: tsx scripts/sandbox.ts [--lesson ID | --runtime gvisor|microvm --image NAME --caps LIST] -- SCRIPT...
       tsx scripts/sandbox.ts --prove LESSON_ID [--exercise ID]`;

function parse(argv: string[]) {
  const o: { lesson?: string; runtime?: RuntimeName; image?: string; caps?: string; prove?: string; exercise?: string; scripts: string[] } = { scripts: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) {
        console.error(`${a} needs a value\n${HELP}`);
        process.exit(2);
      }
      return v;
    };
    if (a === '--') {
      o.scripts.push(...argv.slice(i + 1));
      break;
    } else if (a === '--lesson') o.lesson = val();
    else if (a === '--runtime') o.runtime = val() as RuntimeName;
    else if (a === '--image') o.image = val();
    else if (a === '--caps') o.caps = val();
    else if (a === '--prove') o.prove = val();
    else if (a === '--exercise') o.exercise = val();
    else if (a === '--help' || a === '-h') {
      console.log(HELP);
      process.exit(0);
    } else o.scripts.push(a);
  }
  return o;
}

const opts = parse(process.argv.slice(2));
const contentDir = path.resolve('content');
const imageDir = defaultImageDir();
const stateDir = mkdtempSync(path.join(os.tmpdir(), 'lab-sandbox-'));

async function lessonFor(id: string): Promise<Lesson> {
  const l = await loadLesson(contentDir, id);
  if (!l) {
    console.error(`no lesson "${id}" under ${contentDir}`);
    process.exit(2);
  }
  return l;
}

const lesson: Lesson = opts.prove
  ? await lessonFor(opts.prove)
  : opts.lesson
    ? await lessonFor(opts.lesson)
    : {
        id: 'scratch/sandbox',
        dir: '',
        body: '',
        module: 'scratch',
        title: 'scratch',
        summary: 'scratch',
        runtime: opts.runtime ?? 'gvisor',
        estimateMinutes: 1,
        image: opts.image ?? (opts.runtime === 'microvm' ? 'microvm' : 'base'),
        capabilities: resolveCapabilities((opts.caps ?? 'docker-default,SYS_ADMIN').split(','), '--caps'),
        setupScript: null,
        exercises: [],
        keep: ['/root'],
      };

await ensureImage(imageDir, 'base', (l) => console.error(`[images] ${l}`));
await ensureImage(imageDir, lesson.image, (l) => console.error(`[images] ${l}`));
const manager = new SessionManager({
  store: memoryStore(),
  drivers: { gvisor: new GvisorDriver({ stateDir }), microvm: new MicrovmDriver({ stateDir }) },
  rootfsFor: (image) => imagePath(imageDir, image).rootfs,
  log: (l) => console.error(`[lab] ${l}`),
  policy: {
    ...policyFrom(loadConfig({})),
    maxSandboxes: 4,
    maxSandboxesPerClient: 4,
    sessionsPerClientPerMinute: 1000,
    idleTimeoutMs: 3_600_000,
    maxLifetimeMs: 3_600_000,
    reconnectGraceMs: 3_600_000,
    checkTimeoutMs: 20_000,
    checkOutputBytes: 256 * 1024,
    limits: { memoryLimitBytes: 512 * 1024 * 1024, pidsLimit: 1024, cpuQuotaMillicores: 1000 },
  },
});
process.on('SIGINT', () => {
  void manager.shutdown().then(() => process.exit(130));
});

async function fresh() {
  const s = await manager.create(lesson, learner(`sandbox-tool-${process.pid}`));
  await s.ready;
  if (s.status !== 'ready') throw new Error(`sandbox did not start: ${s.statusMessage}`);
  return s;
}

let failures = 0;
try {
  if (opts.prove) {
    for (const ex of lesson.exercises.filter((e) => !opts.exercise || e.id === opts.exercise)) {
      const s = await fresh();
      try {
        const before = await s.checks.run(ex.id);
        const sol = await s.checks.runScript(ex.solutionScript, 60_000);
        const after = await s.checks.run(ex.id);
        const ok = !before.passed && before.message.length > 0 && sol.code === 0 && after.passed;
        if (!ok) failures++;
        console.log(`${ok ? 'PROVEN' : 'FAILED'} ${lesson.id} › ${ex.id}`);
        console.log(`  check before (${before.passed ? 'passed!' : 'failed'}): ${before.message.replace(/\n/g, '\n    ')}`);
        console.log(`  solution exit ${sol.code}${sol.timedOut ? ' (timed out)' : ''}${sol.output ? `: ${sol.output.replace(/\n/g, '\n    ')}` : ''}`);
        console.log(`  check after (${after.passed ? 'passed' : 'FAILED'}): ${after.message.replace(/\n/g, '\n    ')}`);
      } finally {
        await manager.end(s, 'closed');
      }
    }
  } else {
    const s = await fresh();
    try {
      for (const arg of opts.scripts) {
        const script = existsSync(arg) ? readFileSync(arg, 'utf8') : arg;
        const r = await s.checks.runScript(script, 300_000);
        console.log(
          `$ ${arg}\n${r.output}${r.output.endsWith('\n') || !r.output ? '' : '\n'}[exit ${r.code}${r.timedOut ? ', timed out' : ''}${r.truncated ? ', output truncated' : ''}]`,
        );
        if (r.code !== 0) failures++;
      }
    } finally {
      await manager.end(s, 'closed');
    }
  }
} finally {
  await manager.shutdown();
}
process.exit(failures ? 1 : 0);
