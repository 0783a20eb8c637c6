/**
 * Server-side access to the course for RSC pages: the backend's loader
 * (lab-backend/src/content.ts) is the one parser. Wrapped in React cache() so a
 * request that needs a lesson twice (metadata + page) reads it once.
 */
import { cache } from 'react';
import { defaultContentDir, loadCourse, loadLesson, type Lesson } from '@/lab-backend/src/content';
import type { LabLesson } from '@/components/lab/LabProvider';

export const getCourse = cache(() => loadCourse(defaultContentDir()));
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
