/**
 * The course on disk. A lesson is `content/<NN-module>/<NN-lesson>/index.mdx`
 * with YAML frontmatter (see LessonFrontmatter) and its lab files beside it:
 *   checks/<exercise>.sh     run as an exec without a PTY; exit 0 = passed,
 *                            what it prints is shown to the learner
 *   checks/lib.sh            optional: shell functions the lesson's checks share,
 *                            prepended to every check (a check runs as one
 *                            `bash -c`, so it cannot source files of its own)
 *   solutions/<exercise>.sh  what a learner could type; used by the proof in CI
 *   setup.sh                 optional, run once when the sandbox starts
 * Both the site (catalog, lesson pages) and the backend (checks, setup) read
 * lessons through this module, so there is one parser and one validator.
 */
import { promises as fs, existsSync } from 'node:fs';
import path from 'node:path';
import matter from 'gray-matter';
import type { LessonSummary, RuntimeName } from './wire';

export const RUNTIMES: readonly RuntimeName[] = ['gvisor', 'microvm', 'runc'];

/** Docker's default capability set (moby's oci/caps/defaults.go). */
export const DOCKER_DEFAULT_CAPS = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
] as const;

const CAP_NAME = /^CAP_[A-Z_]+$/;
const ID = /^[a-z0-9][a-z0-9-]*$/;

export interface Exercise {
  id: string;
  title: string;
  hint: string;
  /** Check timeout; the SessionManager's default when absent. */
  timeoutMs?: number;
  checkScript: string;
  solutionScript: string;
}

export interface Lesson extends LessonSummary {
  dir: string;
  image: string;
  /** Capabilities the learner's processes hold, as OCI names (CAP_…). */
  capabilities: string[];
  setupScript: string | null;
  exercises: Exercise[];
  /**
   * What is saved of the learner's work when a session ends and offered back
   * next time: `/root` plus the frontmatter's `keep: [...]` (absolute paths,
   * letters, digits and `._-/` only, at most KEEP_MAX_PATHS), deduplicated.
   */
  keep: string[];
  /** The MDX body without frontmatter. */
  body: string;
}

export class ContentError extends Error {
  constructor(
    public readonly file: string,
    message: string,
  ) {
    super(`${file}: ${message}`);
    this.name = 'ContentError';
  }
}

export function defaultContentDir(): string {
  return process.env.LAB_CONTENT_DIR ?? path.join(process.cwd(), 'content');
}

/** Expands `docker-default` and bare names (`SYS_ADMIN`) into OCI capability names. */
export function resolveCapabilities(list: unknown, file: string): string[] {
  if (list === undefined) return [...DOCKER_DEFAULT_CAPS];
  if (!Array.isArray(list)) throw new ContentError(file, 'capabilities must be a list');
  const out = new Set<string>();
  for (const item of list) {
    if (item === 'docker-default') {
      DOCKER_DEFAULT_CAPS.forEach((c) => out.add(c));
      continue;
    }
    const name = typeof item === 'string' ? (item.startsWith('CAP_') ? item : `CAP_${item}`).toUpperCase() : '';
    if (!CAP_NAME.test(name)) throw new ContentError(file, `unknown capability ${JSON.stringify(item)}`);
    out.add(name);
  }
  return [...out];
}

export const KEEP_MAX_PATHS = 16;
const KEEP_PATH = /^\/(?:[A-Za-z0-9._-]+\/?)+$/;

/** `/root` plus the lesson's `keep:` paths (ContentError for anything but absolute, plain paths). */
export function resolveKeep(list: unknown, file: string): string[] {
  if (list === undefined) return ['/root'];
  if (!Array.isArray(list)) throw new ContentError(file, 'keep must be a list of absolute paths');
  if (list.length > KEEP_MAX_PATHS) throw new ContentError(file, `keep lists ${list.length} paths; at most ${KEEP_MAX_PATHS}`);
  const out = new Set(['/root']);
  for (const item of list) {
    const p = typeof item === 'string' ? item.replace(/\/+$/, '') : '';
    if (!KEEP_PATH.test(item as string) || p.split('/').some((part) => part === '..' || part === '.') || p === '' || p.startsWith('/.lab')) {
      throw new ContentError(file, `keep path ${JSON.stringify(item)} must be absolute, made of letters, digits and ._-/ only, with no . or .. parts, and not under /.lab`);
    }
    out.add(p);
  }
  return [...out];
}

async function readOptional(file: string): Promise<string | null> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch {
    return null;
  }
}

export async function loadLesson(contentDir: string, id: string): Promise<Lesson | null> {
  const parts = id.split('/');
  if (parts.length !== 2 || !parts.every((p) => ID.test(p))) return null;
  const dir = path.join(contentDir, ...parts);
  const file = path.join(dir, 'index.mdx');
  const raw = await readOptional(file);
  if (raw === null) return null;
  return parseLesson(id, dir, file, raw);
}

async function parseLesson(id: string, dir: string, file: string, raw: string): Promise<Lesson> {
  const { data, content } = matter(raw);
  const str = (k: string) => {
    const v = data[k];
    if (typeof v !== 'string' || !v.trim()) throw new ContentError(file, `frontmatter needs a non-empty "${k}"`);
    return v.trim();
  };
  const runtime = str('runtime') as RuntimeName;
  if (!RUNTIMES.includes(runtime)) throw new ContentError(file, `unknown runtime "${runtime}" (known: ${RUNTIMES.join(', ')})`);
  const estimateMinutes = Number(data.estimateMinutes);
  if (!Number.isFinite(estimateMinutes) || estimateMinutes <= 0) throw new ContentError(file, 'frontmatter needs a positive "estimateMinutes"');
  if (!Array.isArray(data.exercises)) throw new ContentError(file, 'frontmatter needs an "exercises" list');
  const exercises: Exercise[] = [];
  const checkLib = await readOptional(path.join(dir, 'checks', 'lib.sh'));
  for (const ex of data.exercises as Record<string, unknown>[]) {
    const exId = String(ex?.id ?? '');
    if (!ID.test(exId)) throw new ContentError(file, `exercise id ${JSON.stringify(ex?.id)} must match ${ID}`);
    if (exercises.some((e) => e.id === exId)) throw new ContentError(file, `exercise "${exId}" is listed twice`);
    if (exId === 'lib') throw new ContentError(file, 'exercise id "lib" is reserved for checks/lib.sh');
    const ownCheck = await readOptional(path.join(dir, 'checks', `${exId}.sh`));
    if (ownCheck === null) throw new ContentError(file, `exercise "${exId}" has no checks/${exId}.sh`);
    const checkScript = checkLib === null ? ownCheck : `${checkLib}\n# --- checks/${exId}.sh ---\n${ownCheck}`;
    const solutionScript = await readOptional(path.join(dir, 'solutions', `${exId}.sh`));
    if (solutionScript === null) throw new ContentError(file, `exercise "${exId}" has no solutions/${exId}.sh`);
    if (typeof ex.title !== 'string' || typeof ex.hint !== 'string') throw new ContentError(file, `exercise "${exId}" needs a title and a hint`);
    const timeoutSeconds = ex.timeoutSeconds === undefined ? undefined : Number(ex.timeoutSeconds);
    exercises.push({
      id: exId,
      title: ex.title,
      hint: ex.hint,
      checkScript,
      solutionScript,
      timeoutMs: timeoutSeconds && timeoutSeconds > 0 ? timeoutSeconds * 1000 : undefined,
    });
  }
  const capabilities = resolveCapabilities(data.capabilities, file);
  return {
    id,
    dir,
    body: content,
    module: str('module'),
    title: str('title'),
    summary: str('summary'),
    runtime,
    estimateMinutes,
    image: typeof data.image === 'string' ? data.image : 'base',
    capabilities,
    setupScript: await readOptional(path.join(dir, 'setup.sh')),
    exercises,
    keep: resolveKeep(data.keep, file),
  };
}

/** Every lesson in course order (directory names sort as NN-…). Throws ContentError on a broken lesson. */
export async function loadCourse(contentDir = defaultContentDir()): Promise<Lesson[]> {
  if (!existsSync(contentDir)) return [];
  const lessons: Lesson[] = [];
  for (const mod of (await fs.readdir(contentDir)).sort()) {
    const modDir = path.join(contentDir, mod);
    if (!ID.test(mod) || !(await fs.stat(modDir)).isDirectory()) continue;
    for (const les of (await fs.readdir(modDir)).sort()) {
      if (!ID.test(les) || !existsSync(path.join(modDir, les, 'index.mdx'))) continue;
      const lesson = await loadLesson(contentDir, `${mod}/${les}`);
      if (lesson) lessons.push(lesson);
    }
  }
  return lessons;
}

export function summarize(l: Lesson): LessonSummary {
  return {
    id: l.id,
    module: l.module,
    title: l.title,
    summary: l.summary,
    runtime: l.runtime,
    estimateMinutes: l.estimateMinutes,
    exercises: l.exercises.map((e) => ({ id: e.id, title: e.title })),
  };
}

const FENCE = /^(`{3,}|~{3,})([^\n`]*)$/gm;
const KNOWN_FENCE_FLAGS = new Set(['run']);
const RUNNABLE_LANGS = new Set(['sh', 'bash', 'shell']);

/**
 * Problems a lesson has beyond what parsing already rejects: exercises the
 * prose does not place (or places twice), `<Exercise>` ids the frontmatter
 * does not list, unknown fence flags, `run` on a non-shell fence, and links to
 * lessons that do not exist. Empty when the lesson is sound.
 */
export function validateLesson(lesson: Lesson, allIds: ReadonlySet<string>): string[] {
  const where = `${lesson.id}/index.mdx`;
  const problems: string[] = [];
  const placed = [...lesson.body.matchAll(/<Exercise\s+id="([^"]*)"/g)].map((m) => m[1]);
  for (const ex of lesson.exercises) {
    const n = placed.filter((id) => id === ex.id).length;
    if (n !== 1) problems.push(`${where}: exercise "${ex.id}" must appear exactly once as <Exercise id="${ex.id}"> (found ${n})`);
  }
  for (const id of placed) {
    if (!lesson.exercises.some((e) => e.id === id)) problems.push(`${where}: <Exercise id="${id}"> is not listed in the frontmatter's exercises`);
  }
  if (lesson.runtime === 'microvm' && lesson.image !== 'microvm') {
    problems.push(`${where}: a microvm lesson must use "image: microvm" (the image that carries a kernel)`);
  }
  let open = false;
  for (const m of lesson.body.matchAll(FENCE)) {
    if (open) {
      open = false;
      continue;
    }
    open = true;
    const [lang = '', ...flags] = m[2].trim().split(/\s+/);
    for (const f of flags) {
      if (!KNOWN_FENCE_FLAGS.has(f)) problems.push(`${where}: unknown code fence flag "${f}" (known: ${[...KNOWN_FENCE_FLAGS].join(', ')})`);
    }
    if (flags.includes('run') && !RUNNABLE_LANGS.has(lang)) problems.push(`${where}: a "run" fence must be sh or bash, not "${lang || 'plain'}"`);
  }
  if (open) problems.push(`${where}: a code fence is never closed`);
  if (/^(import|export)\s/m.test(lesson.body.replace(/^(`{3,}|~{3,})[\s\S]*?^\1/gm, ''))) {
    problems.push(`${where}: lessons import nothing; use the components the site provides`);
  }
  for (const m of lesson.body.matchAll(/\]\((\/lessons\/[^)#\s]+)/g)) {
    const target = m[1].replace(/^\/lessons\//, '').replace(/\/$/, '');
    if (!allIds.has(target)) problems.push(`${where}: link to ${m[1]} points at no lesson`);
  }
  return problems;
}
