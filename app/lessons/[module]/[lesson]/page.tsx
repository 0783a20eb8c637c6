import type { Metadata } from 'next';
import Link from 'next/link';
import { notFound } from 'next/navigation';
import { connection } from 'next/server';
import { compileMDX } from 'next-mdx-remote/rsc';
import type { Lesson } from '@/lab-backend/src/content';
import { mdxComponents, remarkCodeMeta } from '@/components/mdx';
import { LabProvider } from '@/components/lab/LabProvider';
import { LabPanel } from '@/components/lab/LabPanel';
import { RuntimeBadge } from '@/components/lab/RuntimeBadge';
import { ClockIcon } from '@/components/lab/ClockIcon';
import { getCourse, getLesson, lessonHref, moduleNumber, toLabLesson } from '@/components/server/course';

type Params = { module: string; lesson: string };

export async function generateMetadata({ params }: { params: Promise<Params> }): Promise<Metadata> {
  const { module, lesson: slug } = await params;
  const lesson = await getLesson(`${module}/${slug}`);
  return lesson ? { title: lesson.title, description: lesson.summary } : { title: 'Lesson not found' };
}

/** Previous/next lesson in course order; a broken sibling lesson only costs the navigation. */
async function neighbours(id: string): Promise<{ prev?: Lesson; next?: Lesson }> {
  try {
    const all = await getCourse();
    const i = all.findIndex((l) => l.id === id);
    return i < 0 ? {} : { prev: all[i - 1], next: all[i + 1] };
  } catch {
    return {};
  }
}

export default async function LessonPage({ params }: { params: Promise<Params> }) {
  // Lessons are read at request time from the directory the backend serves.
  await connection();
  const { module, lesson: slug } = await params;
  const lesson = await getLesson(`${module}/${slug}`);
  if (!lesson) notFound();

  const { content } = await compileMDX({
    source: lesson.body,
    components: mdxComponents,
    options: { mdxOptions: { remarkPlugins: [remarkCodeMeta] } },
  });
  const { prev, next } = await neighbours(lesson.id);
  const moduleDir = lesson.id.split('/')[0];

  return (
    <LabProvider lesson={toLabLesson(lesson)}>
      <div className="mx-auto grid max-w-[1800px] gap-6 px-4 py-6 lg:grid-cols-[minmax(0,1fr)_minmax(0,1.1fr)] lg:px-6">
        <article className="min-w-0" data-testid="lesson">
          <div className="mx-auto max-w-[72ch]">
            <nav aria-label="Breadcrumb" className="text-sm text-slate-500">
              <Link href="/" className="hover:text-indigo-700">
                Lessons
              </Link>
              <span className="mx-1.5">/</span>
              <span>
                {moduleNumber(moduleDir)} · {lesson.module}
              </span>
            </nav>
            <h1 className="mt-2 text-3xl font-bold tracking-tight text-slate-900">{lesson.title}</h1>
            <p className="mt-2 text-lg text-slate-600">{lesson.summary}</p>
            <div className="mt-3 flex flex-wrap items-center gap-3 text-sm text-slate-500">
              <span className="inline-flex items-center gap-1">
                <ClockIcon className="h-4 w-4" /> {lesson.estimateMinutes} min
              </span>
              <span>
                {lesson.exercises.length} {lesson.exercises.length === 1 ? 'exercise' : 'exercises'}
              </span>
              <RuntimeBadge runtime={lesson.runtime} />
            </div>
            <hr className="my-6 border-slate-200" />
            <div className="prose prose-slate max-w-none prose-headings:scroll-mt-20 prose-code:before:content-none prose-code:after:content-none prose-code:rounded prose-code:bg-slate-100 prose-code:px-1 prose-code:py-0.5 prose-code:font-normal">
              {content}
            </div>
            <nav aria-label="Lesson navigation" className="mt-12 flex gap-4 border-t border-slate-200 pt-6 text-sm">
              {prev && (
                <Link href={lessonHref(prev.id)} className="group mr-auto max-w-[48%]">
                  <span className="block text-slate-500">← Previous</span>
                  <span className="font-medium text-slate-800 group-hover:text-indigo-700">{prev.title}</span>
                </Link>
              )}
              {next && (
                <Link href={lessonHref(next.id)} className="group ml-auto max-w-[48%] text-right">
                  <span className="block text-slate-500">Next →</span>
                  <span className="font-medium text-slate-800 group-hover:text-indigo-700">{next.title}</span>
                </Link>
              )}
            </nav>
          </div>
        </article>
        <aside aria-label="Lab panel" className="h-[85dvh] min-h-[28rem] lg:sticky lg:top-[4.5rem] lg:h-[calc(100dvh-5.5rem)] lg:self-start">
          <LabPanel />
        </aside>
      </div>
    </LabProvider>
  );
}
