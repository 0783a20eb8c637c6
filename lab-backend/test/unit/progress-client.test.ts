import { describe, expect, it } from 'vitest';
import { createProgressStore } from '../../../components/lab/progress';
import type { ErrorBody, ExerciseProgressEntry, ProgressResponse } from '../../src/wire';

/** A backend whose every GET /lab-api/progress waits until the test answers it. */
class SlowBackend {
  readonly calls: string[] = [];
  private pending: ((r: Response) => void)[] = [];
  readonly fetch = ((url: string | URL | Request) => {
    this.calls.push(String(url));
    return new Promise<Response>((resolve) => this.pending.push(resolve));
  }) as typeof fetch;
  get waiting() {
    return this.pending.length;
  }
  /** Answer the oldest waiting request. */
  answer(status: number, body: ProgressResponse | ErrorBody | string) {
    const r = this.pending.shift();
    if (!r) throw new Error('no request is waiting');
    r(new Response(typeof body === 'string' ? body : JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } }));
  }
}

const entry = (lessonId: string, exerciseId: string, passed: boolean): ExerciseProgressEntry => ({
  lessonId,
  exerciseId,
  passed,
  firstPassedAt: passed ? 1_700_000_000_000 : null,
  attempts: passed ? 2 : 1,
  lastAttemptAt: 1_700_000_000_000,
});
const A = 'a/lesson-a';
const B = 'b/lesson-b';
const flush = () => new Promise((r) => setTimeout(r, 0));

describe('the progress store (components/lab/progress.ts)', () => {
  it('is loading until the first fetch answered, and keeps one snapshot object until the data changes', async () => {
    const be = new SlowBackend();
    const store = createProgressStore({ fetchImpl: be.fetch });
    const first = store.getSnapshot();
    expect(first.status).toBe('loading');
    expect(store.getSnapshot()).toBe(first);
    expect(store.getServerSnapshot()).toBe(first);

    let notified = 0;
    store.subscribe(() => notified++);
    expect(be.calls).toEqual(['/lab-api/progress']);
    be.answer(200, { exercises: [entry(A, 'one', true)] });
    await flush();
    const ready = store.getSnapshot();
    expect(ready.status).toBe('ready');
    expect(ready).not.toBe(first);
    expect(notified).toBe(1);
    expect(store.getSnapshot()).toBe(ready);

    // The same answer again: nothing changed, nobody is told.
    const again = store.refresh();
    be.answer(200, { exercises: [entry(A, 'one', true)] });
    expect(await again).toBe(ready);
    expect(store.getSnapshot()).toBe(ready);
    expect(notified).toBe(1);

    const changed = store.refresh();
    be.answer(200, { exercises: [entry(A, 'one', true), entry(A, 'two', true)] });
    expect((await changed).exercises).toHaveLength(2);
    expect(store.getSnapshot()).not.toBe(ready);
    expect(notified).toBe(2);
  });

  it('refresh() shares fetches: callers during a fetch get one follow-up fetch that started after they asked', async () => {
    const be = new SlowBackend();
    const store = createProgressStore({ fetchImpl: be.fetch });
    const r1 = store.refresh();
    const r2 = store.refresh();
    const r3 = store.refresh();
    expect(r3).toBe(r2);
    expect(be.calls).toHaveLength(1);
    // More subscribers and a strict-mode resubscribe start nothing while fetches are pending.
    const off = store.subscribe(() => {});
    off();
    store.subscribe(() => {});
    expect(be.calls).toHaveLength(1);

    be.answer(200, { exercises: [] }); // answered before the check was recorded
    expect((await r1).exercises).toEqual([]);
    await flush();
    expect(be.waiting).toBe(1); // the follow-up
    be.answer(200, { exercises: [entry(A, 'one', true)] });
    expect((await r2).exercises).toHaveLength(1);
    expect(be.calls).toHaveLength(2);

    // Nothing in flight: a call fetches at once.
    const r4 = store.refresh();
    expect(be.calls).toHaveLength(3);
    be.answer(200, { exercises: [entry(A, 'one', true)] });
    await r4;
  });

  it('passedIn(lesson) holds only that lesson’s passed exercises, the same Set until the snapshot changes', async () => {
    const be = new SlowBackend();
    const store = createProgressStore({ fetchImpl: be.fetch });
    expect([...store.passedIn(A)]).toEqual([]);
    const r = store.refresh();
    be.answer(200, { exercises: [entry(A, 'one', true), entry(A, 'two', false), entry(B, 'one', true)] });
    await r;
    const a = store.passedIn(A);
    expect([...a]).toEqual(['one']);
    expect([...store.passedIn(B)]).toEqual(['one']);
    expect([...store.passedIn('c/none')]).toEqual([]);
    expect(store.passedIn(A)).toBe(a);

    const r2 = store.refresh();
    be.answer(200, { exercises: [entry(A, 'one', true), entry(A, 'two', true), entry(B, 'one', true)] });
    await r2;
    expect(store.passedIn(A)).not.toBe(a);
    expect([...store.passedIn(A)].sort()).toEqual(['one', 'two']);
  });

  it('a failed fetch is an error state with a message to show, keeps the last exercises, and a later fetch recovers', async () => {
    const be = new SlowBackend();
    const store = createProgressStore({ fetchImpl: be.fetch });

    const r0 = store.refresh();
    be.answer(503, 'upstream down'); // not the lab protocol: the backend is unreachable
    expect(await r0).toMatchObject({ status: 'error', error: 'The lab did not answer.', exercises: [] });

    const r1 = store.refresh();
    be.answer(200, { exercises: [entry(A, 'one', true)] });
    expect((await r1).status).toBe('ready');

    const r2 = store.refresh();
    be.answer(503, { error: { code: 'store_unavailable', message: 'Progress cannot be read right now.' } });
    const failed = await r2;
    expect(failed).toMatchObject({ status: 'error', error: 'Progress cannot be read right now.' });
    expect(failed.exercises).toHaveLength(1);
    expect([...store.passedIn(A)]).toEqual(['one']);

    const r3 = store.refresh();
    be.answer(200, { hello: 'world' } as unknown as ProgressResponse);
    expect(await r3).toMatchObject({ status: 'error', error: expect.stringMatching(/not progress/) });

    const broken = createProgressStore({ fetchImpl: (() => Promise.reject(new TypeError('Failed to fetch'))) as typeof fetch });
    expect(await broken.refresh()).toMatchObject({ status: 'error', error: 'The lab did not answer.' });

    const r4 = store.refresh();
    be.answer(200, { exercises: [entry(A, 'one', true)] });
    expect(await r4).toMatchObject({ status: 'ready', error: null });
  });

  it('runs onFirstUse once, on the first subscribe', () => {
    const be = new SlowBackend();
    let used = 0;
    const store = createProgressStore({ fetchImpl: be.fetch, onFirstUse: () => used++ });
    expect(used).toBe(0);
    const off = store.subscribe(() => {});
    store.subscribe(() => {});
    off();
    store.subscribe(() => {});
    expect(used).toBe(1);
  });
});
