import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCourse, loadLesson, resolveCapabilities, validateLesson } from '../../src/content';

const FRONT = (extra = '') => `---
title: T
module: M
summary: S
runtime: gvisor
estimateMinutes: 5
exercises:
  - id: one
    title: One
    hint: H
${extra}---
`;

function lessonDir(files: Record<string, string>): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'lab-content-'));
  for (const [rel, text] of Object.entries({ 'checks/one.sh': 'true\n', 'solutions/one.sh': 'true\n', ...files })) {
    const f = path.join(root, '01-m', '01-l', rel);
    mkdirSync(path.dirname(f), { recursive: true });
    writeFileSync(f, text);
  }
  return root;
}

async function problemsOf(files: Record<string, string>): Promise<string[]> {
  const root = lessonDir(files);
  const l = (await loadLesson(root, '01-m/01-l'))!;
  return validateLesson(l, new Set(['01-m/01-l']));
}

describe('the course content', () => {
  it('every lesson parses and validates, and every script is valid bash', async () => {
    const course = await loadCourse();
    expect(course.length).toBeGreaterThan(0);
    const ids = new Set(course.map((l) => l.id));
    for (const l of course) {
      expect(validateLesson(l, ids)).toEqual([]);
      const scripts = [l.setupScript, ...l.exercises.flatMap((e) => [e.checkScript, e.solutionScript])].filter((s): s is string => !!s);
      for (const s of scripts) execFileSync('bash', ['-n'], { input: s });
    }
  });
});

describe('the content validator', () => {
  it('accepts a sound lesson', async () => {
    expect(await problemsOf({ 'index.mdx': `${FRONT()}\n<Exercise id="one">Do it.</Exercise>\n\n\`\`\`sh run\nls\n\`\`\`\n[next](/lessons/01-m/01-l)\n` })).toEqual([]);
  });

  it('rejects an exercise the prose never places, or places twice, and one it does not list', async () => {
    expect(await problemsOf({ 'index.mdx': `${FRONT()}\nno exercise here\n` })).toEqual([expect.stringContaining('exercise "one" must appear exactly once')]);
    expect((await problemsOf({ 'index.mdx': `${FRONT()}\n<Exercise id="one">a</Exercise>\n<Exercise id="two">b</Exercise>\n` }))[0]).toContain('<Exercise id="two"> is not listed');
  });

  it('rejects imports in a lesson', async () => {
    expect(await problemsOf({ 'index.mdx': `${FRONT()}\nimport X from 'y'\n<Exercise id="one">a</Exercise>\n` })).toEqual([expect.stringContaining('lessons import nothing')]);
  });

  it('rejects unknown fence flags, run on a non-shell fence, unclosed fences and dead lesson links', async () => {
    const p = await problemsOf({
      'index.mdx': `${FRONT()}\n<Exercise id="one">a</Exercise>\n\`\`\`sh runn\nx\n\`\`\`\n\`\`\`python run\nx\n\`\`\`\n[x](/lessons/99-no/01-pe)\n\`\`\`sh\nopen`,
    });
    expect(p).toEqual([
      expect.stringContaining('unknown code fence flag "runn"'),
      expect.stringContaining('must be sh or bash, not "python"'),
      expect.stringContaining('never closed'),
      expect.stringContaining('/lessons/99-no/01-pe points at no lesson'),
    ]);
  });

  it('prepends checks/lib.sh to every check of its lesson', async () => {
    const root = lessonDir({ 'index.mdx': `${FRONT()}\n<Exercise id="one">a</Exercise>\n`, 'checks/lib.sh': 'shared() { echo shared; }\n', 'checks/one.sh': 'shared\n' });
    const l = (await loadLesson(root, '01-m/01-l'))!;
    expect(execFileSync('bash', ['-c', l.exercises[0].checkScript]).toString()).toBe('shared\n');
  });

  it('refuses to load a lesson with a missing check, an unknown runtime or a bad capability, naming the file', async () => {
    const root = lessonDir({ 'index.mdx': `${FRONT()}\n` });
    const { rmSync } = await import('node:fs');
    rmSync(path.join(root, '01-m/01-l/checks/one.sh'));
    await expect(loadLesson(root, '01-m/01-l')).rejects.toThrow(/index.mdx: exercise "one" has no checks\/one.sh/);
    await expect(loadLesson(lessonDir({ 'index.mdx': FRONT().replace('gvisor', 'docker') }), '01-m/01-l')).rejects.toThrow(/unknown runtime "docker"/);
    expect(() => resolveCapabilities(['SYS_ADMIN', 'not a cap'], 'x.mdx')).toThrow(/unknown capability "not a cap"/);
    expect(resolveCapabilities(['docker-default', 'SYS_ADMIN'], 'x')).toContain('CAP_SYS_ADMIN');
  });
});
