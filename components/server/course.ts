/**
 * Server-side access to the course for RSC pages: the backend's loader
 * (lab-backend/src/content.ts) is the one parser. Wrapped in React cache() so a
 * request that needs a lesson twice (metadata + page) reads it once.
 */
import { connection } from 'next/server';
import { cache } from 'react';
import { ContentError, defaultContentDir, loadCourse, loadLesson, type Lesson } from '@/lab-backend/src/content';
import type { LabLesson } from '@/components/lab/LabProvider';
import type { OutlineModule } from '@/components/progress/ProgressView';

export const getCourse = cache(() => loadCourse(defaultContentDir()));

/**
 * The course as a page shows it: its lessons, or the content error (a broken
 * lesson) to show instead. Read at request time (`connection()`): it is the
 * directory the backend serves (LAB_CONTENT_DIR).
 */
export async function readCourse(): Promise<{ lessons: Lesson[]; contentError: string | null }> {
  await connection();
  try {
    return { lessons: await getCourse(), contentError: null };
  } catch (err) {
    if (!(err instanceof ContentError)) throw err;
    return { lessons: [], contentError: err.message };
  }
}
export const getLesson = cache((id: string) => loadLesson(defaultContentDir(), id));

/** What the browser may know about a lesson: no check or solution scripts. */
export function toLabLesson(l: Lesson): LabLesson {
  return {
    id: l.id,
    title: l.title,
    runtime: l.runtime,
    exercises: l.exercises.map((e) => ({ id: e.id, title: e.title, hint: e.hint })),
  };
}

/** `/lessons/<module>/<lesson>` for a lesson id `<module>/<lesson>`. */
export function lessonHref(id: string): string {
  return `/lessons/${id}`;
}

/** "01-namespaces" → "Module 1". */
export function moduleNumber(moduleDir: string): string {
  const n = Number.parseInt(moduleDir, 10);
  return Number.isFinite(n) ? `Module ${n}` : moduleDir;
}

export interface ModuleGroup<L> {
  /** The module's directory, e.g. "01-namespaces". */
  dir: string;
  title: string;
  lessons: L[];
}

/** Lessons in course order, grouped by module (the first part of their id) in the order modules first appear. */
export function groupByModule<L extends { id: string; module: string }>(lessons: L[]): ModuleGroup<L>[] {
  const groups = new Map<string, ModuleGroup<L>>();
  for (const l of lessons) {
    const dir = l.id.split('/')[0];
    let g = groups.get(dir);
    if (!g) {
      g = { dir, title: l.module, lessons: [] };
      groups.set(dir, g);
    }
    g.lessons.push(l);
  }
  return [...groups.values()];
}

/** The course as the progress page needs it: modules, lessons and exercise titles, nothing else. */
export function courseOutline(lessons: Lesson[]): OutlineModule[] {
  return groupByModule(lessons).map((m) => ({
    dir: m.dir,
    label: moduleNumber(m.dir),
    title: m.title,
    lessons: m.lessons.map((l) => ({
      id: l.id,
      title: l.title,
      href: lessonHref(l.id),
      exercises: l.exercises.map((e) => ({ id: e.id, title: e.title })),
    })),
  }));
}
