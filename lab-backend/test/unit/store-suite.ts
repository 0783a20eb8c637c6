/**
 * The Store suite: what every Store implementation must do, through the
 * interface only. An implementation's test file calls storeSuite() with a
 * factory that makes a new, empty store (store-sqlite.test.ts).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { StoreError, type NewCheckResult, type Store, type StoreErrorCode } from '../../src/store/store';

/** Resolves to the StoreError `p` rejects with; fails if it resolves or rejects with anything else. */
export async function storeErrorOf(p: Promise<unknown>, code: StoreErrorCode): Promise<StoreError> {
  const e = await p.then(
    () => {
      throw new Error(`expected a StoreError '${code}', but the call succeeded`);
    },
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(StoreError);
  expect((e as StoreError).code, (e as Error).message).toBe(code);
  return e as StoreError;
}

export function storeSuite(name: string, makeStore: () => Promise<Store>) {
  describe(`Store suite: ${name}`, () => {
    const open: Store[] = [];
    const fresh = async () => {
      const s = await makeStore();
      open.push(s);
      return s;
    };
    afterEach(async () => {
      for (const s of open.splice(0)) await s.close();
    });

    /** A store with learner `ann` (and `bob`) and a session `s1` of ann's on lesson `ns` (created at 100). */
    const withSession = async () => {
      const store = await fresh();
      await store.createLearner({ id: 'ann', kind: 'anonymous', createdAt: 10 });
      await store.createLearner({ id: 'bob', kind: 'anonymous', createdAt: 11 });
      await store.createSession({ id: 's1', learnerId: 'ann', lessonId: 'ns', runtime: 'gvisor', createdAt: 100 });
      return store;
    };
    const result = (over: Partial<NewCheckResult> = {}): NewCheckResult => ({
      sessionId: 's1',
      exerciseId: 'e1',
      passed: false,
      message: 'Not yet.',
      durationMs: 12,
      exitCode: 1,
      at: 1_000,
      ...over,
    });

    describe('learners', () => {
      it('are stored as given and read back; an unknown id is null', async () => {
        const store = await fresh();
        expect(await store.createLearner({ id: 'ann', kind: 'anonymous', createdAt: 5 })).toEqual({ id: 'ann', kind: 'anonymous', createdAt: 5, lastSeenAt: 5, external: null });
        await store.createLearner({ id: 'lti-1', kind: 'embedded', createdAt: 6, external: { issuer: 'lms.example', subject: 'u42' } });
        expect(await store.getLearner('ann')).toEqual({ id: 'ann', kind: 'anonymous', createdAt: 5, lastSeenAt: 5, external: null });
        expect(await store.getLearner('lti-1')).toMatchObject({ kind: 'embedded', external: { issuer: 'lms.example', subject: 'u42' } });
        expect(await store.getLearner('nobody')).toBeNull();
      });

      it('touch moves lastSeenAt forward only; an unknown learner is false', async () => {
        const store = await fresh();
        await store.createLearner({ id: 'ann', kind: 'anonymous', createdAt: 5 });
        expect(await store.touchLearner('ann', 50)).toBe(true);
        expect(await store.touchLearner('ann', 20)).toBe(true); // an older time (a slow request) does not move it back
        expect((await store.getLearner('ann'))?.lastSeenAt).toBe(50);
        expect(await store.touchLearner('nobody', 60)).toBe(false);
      });

      it('one id is one learner, and one outside identity is one learner', async () => {
        const store = await fresh();
        await store.createLearner({ id: 'ann', kind: 'anonymous', createdAt: 5 });
        await storeErrorOf(store.createLearner({ id: 'ann', kind: 'admin', createdAt: 6 }), 'conflict');
        expect((await store.getLearner('ann'))?.kind).toBe('anonymous');
        await store.createLearner({ id: 'p1', kind: 'participant', createdAt: 7, external: { issuer: 'workshop:w1', subject: 'seat-3' } });
        await storeErrorOf(store.createLearner({ id: 'p2', kind: 'participant', createdAt: 8, external: { issuer: 'workshop:w1', subject: 'seat-3' } }), 'conflict');
        await store.createLearner({ id: 'p3', kind: 'participant', createdAt: 9, external: { issuer: 'workshop:w1', subject: 'seat-4' } });
        expect((await store.findLearnerByExternal('workshop:w1', 'seat-3'))?.id).toBe('p1');
        expect(await store.findLearnerByExternal('workshop:w2', 'seat-3')).toBeNull();
        expect(await store.getLearner('p2')).toBeNull();
      });

      it('ensureLearner makes a missing learner once and returns an existing one as it is', async () => {
        const store = await fresh();
        expect(await store.ensureLearner({ id: 'ann', kind: 'anonymous', createdAt: 5 })).toEqual({ id: 'ann', kind: 'anonymous', createdAt: 5, lastSeenAt: 5, external: null });
        await store.touchLearner('ann', 9);
        expect(await store.ensureLearner({ id: 'ann', kind: 'admin', createdAt: 7 })).toEqual({ id: 'ann', kind: 'anonymous', createdAt: 5, lastSeenAt: 9, external: null });
        await store.ensureLearner({ id: 'p1', kind: 'embedded', createdAt: 8, external: { issuer: 'lti', subject: 'u1' } });
        await storeErrorOf(store.ensureLearner({ id: 'p2', kind: 'embedded', createdAt: 8, external: { issuer: 'lti', subject: 'u1' } }), 'conflict');
        expect(await store.getLearner('p2')).toBeNull();
      });
    });

    describe('sessions', () => {
      it('go through their life: created, a sandbox and its driver state, ready, ended (first end wins)', async () => {
        const store = await withSession();
        expect(await store.getSession('s1')).toEqual({
          id: 's1',
          learnerId: 'ann',
          lessonId: 'ns',
          runtime: 'gvisor',
          sandboxId: null,
          driverState: null,
          state: 'starting',
          createdAt: 100,
          startedAt: null,
          expiresAt: null,
          extendsUsed: 0,
          endedAt: null,
          endReason: null,
        });
        const driverState = { pid: 4242, socket: 'agent.sock', nested: { ok: true, list: [1, 'two', null] } };
        await store.updateSession('s1', { sandboxId: 'lab-s1', driverState });
        const ready = await store.updateSession('s1', { state: 'ready', startedAt: 150, expiresAt: 7_350 });
        expect(ready).toMatchObject({ state: 'ready', sandboxId: 'lab-s1', driverState, startedAt: 150, expiresAt: 7_350 });
        expect(await store.getSession('s1')).toEqual(ready);
        expect(await store.updateSession('s1', { extendsUsed: 1 })).toMatchObject({ expiresAt: 7_350, extendsUsed: 1, state: 'ready' });
        expect((await store.listLiveSessions()).map((s) => s.id)).toEqual(['s1']);

        const first = await store.endSession('s1', 'idle', 900);
        expect(first).toMatchObject({ ended: true, session: { state: 'ended', endReason: 'idle', endedAt: 900, sandboxId: 'lab-s1' } });
        const again = await store.endSession('s1', 'shutdown', 950);
        expect(again).toMatchObject({ ended: false, session: { state: 'ended', endReason: 'idle', endedAt: 900 } });
        expect(await store.listLiveSessions()).toEqual([]);
        await storeErrorOf(store.updateSession('s1', { expiresAt: 9_999 }), 'conflict');
        expect((await store.getSession('s1'))?.expiresAt).toBe(7_350);
      });

      it('their state only moves forward; a refused update changes nothing', async () => {
        const store = await withSession();
        await store.createSession({ id: 'q1', learnerId: 'bob', lessonId: 'ns', runtime: 'microvm', createdAt: 101, state: 'queued' });
        await store.updateSession('q1', { state: 'ready', sandboxId: 'lab-q1' }); // skipping starting is allowed
        await storeErrorOf(store.updateSession('q1', { state: 'starting', sandboxId: 'other' }), 'conflict');
        expect(await store.getSession('q1')).toMatchObject({ state: 'ready', sandboxId: 'lab-q1' });
        await store.updateSession('q1', { state: 'ready', driverState: null }); // the same state again is not backwards
        expect((await store.getSession('q1'))?.state).toBe('ready');
      });

      it('belong to a learner that exists; an id is used once; unknown ids are null', async () => {
        const store = await withSession();
        await storeErrorOf(store.createSession({ id: 's2', learnerId: 'nobody', lessonId: 'ns', runtime: 'gvisor', createdAt: 1 }), 'not_found');
        await storeErrorOf(store.createSession({ id: 's1', learnerId: 'bob', lessonId: 'ns', runtime: 'gvisor', createdAt: 1 }), 'conflict');
        expect((await store.getSession('s1'))?.learnerId).toBe('ann');
        expect(await store.getSession('s2')).toBeNull();
        expect(await store.updateSession('s2', { state: 'ready' })).toBeNull();
        expect(await store.endSession('s2', 'closed', 5)).toBeNull();
      });

      it("listLiveSessions is every learner's unended sessions, oldest first", async () => {
        const store = await withSession();
        await store.createSession({ id: 's3', learnerId: 'bob', lessonId: 'cg', runtime: 'microvm', createdAt: 300 });
        await store.createSession({ id: 's2', learnerId: 'bob', lessonId: 'ns', runtime: 'gvisor', createdAt: 200, state: 'queued' });
        await store.createSession({ id: 's4', learnerId: 'ann', lessonId: 'cg', runtime: 'gvisor', createdAt: 400 });
        await store.endSession('s4', 'closed', 450);
        expect((await store.listLiveSessions()).map((s) => [s.id, s.state])).toEqual([
          ['s1', 'starting'],
          ['s2', 'queued'],
          ['s3', 'starting'],
        ]);
      });
    });

    describe('check results and progress', () => {
      it("a result is recorded with the session's learner and lesson, and read back in order", async () => {
        const store = await withSession();
        await store.createSession({ id: 's2', learnerId: 'ann', lessonId: 'cg', runtime: 'microvm', createdAt: 200 });
        const rec = await store.recordCheckResult(result({ message: 'ünïcode ✓\nline 2', exitCode: null, at: 2_000 }));
        expect(rec).toEqual({ ...result({ message: 'ünïcode ✓\nline 2', exitCode: null, at: 2_000 }), learnerId: 'ann', lessonId: 'ns' });
        await store.recordCheckResult(result({ at: 1_500, passed: true, exitCode: 0, message: 'Passed' }));
        await store.recordCheckResult(result({ sessionId: 's2', exerciseId: 'mem', at: 1_700 }));
        expect((await store.listCheckResults('ann')).map((r) => [r.lessonId, r.at])).toEqual([
          ['ns', 1_500],
          ['cg', 1_700],
          ['ns', 2_000],
        ]);
        expect(await store.listCheckResults('ann', 'ns')).toEqual([
          { ...result({ at: 1_500, passed: true, exitCode: 0, message: 'Passed' }), learnerId: 'ann', lessonId: 'ns' },
          rec,
        ]);
        expect(await store.listCheckResults('bob')).toEqual([]);
      });

      it('progress per exercise: passed once stays passed, first passed at the earliest passing result, every attempt counted', async () => {
        const store = await withSession();
        await store.createSession({ id: 's2', learnerId: 'ann', lessonId: 'cg', runtime: 'microvm', createdAt: 200 });
        await store.createSession({ id: 'b1', learnerId: 'bob', lessonId: 'ns', runtime: 'gvisor', createdAt: 300 });
        for (const [at, passed] of [
          [10, false],
          [20, false],
          [50, true],
          [40, false],
          [30, true],
        ] as const) {
          await store.recordCheckResult(result({ at, passed })); // 30 arrives after 50: the earliest passing time wins, not the first recorded
        }
        await store.recordCheckResult(result({ exerciseId: 'e2', at: 60 }));
        await store.recordCheckResult(result({ sessionId: 's2', exerciseId: 'mem', at: 70, passed: true }));
        await store.recordCheckResult(result({ sessionId: 'b1', exerciseId: 'e2', at: 80, passed: true }));

        expect(await store.getProgress('ann')).toEqual([
          { lessonId: 'cg', exerciseId: 'mem', passed: true, firstPassedAt: 70, attempts: 1, lastAttemptAt: 70 },
          { lessonId: 'ns', exerciseId: 'e1', passed: true, firstPassedAt: 30, attempts: 5, lastAttemptAt: 50 },
          { lessonId: 'ns', exerciseId: 'e2', passed: false, firstPassedAt: null, attempts: 1, lastAttemptAt: 60 },
        ]);
        expect((await store.getProgress('ann', 'cg')).map((p) => p.exerciseId)).toEqual(['mem']);
        expect(await store.getProgress('bob')).toEqual([{ lessonId: 'ns', exerciseId: 'e2', passed: true, firstPassedAt: 80, attempts: 1, lastAttemptAt: 80 }]);
        expect(await store.getProgress('nobody')).toEqual([]);
      });

      it('progress is what the recorded results say, for any sequence of them', async () => {
        const store = await withSession();
        let seed = 7;
        const rand = (n: number) => {
          seed = (seed * 1103515245 + 12345) % 2 ** 31;
          return seed % n;
        };
        for (let i = 0; i < 200; i++) {
          await store.recordCheckResult(result({ exerciseId: `e${rand(4)}`, at: rand(10_000), passed: rand(5) === 0 }));
        }
        const expected = new Map<string, { passed: boolean; firstPassedAt: number | null; attempts: number; lastAttemptAt: number }>();
        for (const r of await store.listCheckResults('ann')) {
          const p = expected.get(r.exerciseId) ?? { passed: false, firstPassedAt: null, attempts: 0, lastAttemptAt: -1 };
          p.attempts++;
          p.lastAttemptAt = Math.max(p.lastAttemptAt, r.at);
          if (r.passed) {
            p.passed = true;
            p.firstPassedAt = Math.min(p.firstPassedAt ?? Infinity, r.at);
          }
          expected.set(r.exerciseId, p);
        }
        expect([...expected.values()].reduce((n, p) => n + p.attempts, 0)).toBe(200);
        expect(await store.getProgress('ann')).toEqual([...expected.keys()].sort().map((e) => ({ lessonId: 'ns', exerciseId: e, ...expected.get(e) })));
      });

      it('a result for an unknown session is refused and leaves nothing; an ended session still takes one', async () => {
        const store = await withSession();
        await storeErrorOf(store.recordCheckResult(result({ sessionId: 'gone' })), 'not_found');
        expect(await store.listCheckResults('ann')).toEqual([]);
        expect(await store.getProgress('ann')).toEqual([]);
        await store.endSession('s1', 'lifetime', 500);
        await store.recordCheckResult(result({ passed: true, at: 501 })); // the check finished as its session ended
        expect((await store.getProgress('ann'))[0]).toMatchObject({ passed: true, attempts: 1 });
      });
    });

    describe('saved work', () => {
      it('put, read the latest back byte for byte, replace, delete', async () => {
        const store = await withSession();
        expect(await store.getLatestSavedWorkInfo('ann', 'ns')).toBeNull();
        expect(await store.getLatestSavedWork('ann', 'ns')).toBeNull();
        const archive = Buffer.alloc(1024 * 1024 + 3);
        for (let i = 0; i < archive.length; i++) archive[i] = (i * 31 + (i >> 8)) & 0xff; // every byte value, zeros included
        expect(await store.putSavedWork({ learnerId: 'ann', lessonId: 'ns', createdAt: 1_000, archive })).toEqual({
          learnerId: 'ann',
          lessonId: 'ns',
          createdAt: 1_000,
          sizeBytes: archive.length,
        });
        expect(await store.getLatestSavedWorkInfo('ann', 'ns')).toEqual({ learnerId: 'ann', lessonId: 'ns', createdAt: 1_000, sizeBytes: archive.length });
        const got = await store.getLatestSavedWork('ann', 'ns');
        expect(got?.archive.equals(archive)).toBe(true);

        await store.putSavedWork({ learnerId: 'ann', lessonId: 'cg', createdAt: 1_500, archive: Buffer.from('other lesson') });
        await store.putSavedWork({ learnerId: 'ann', lessonId: 'ns', createdAt: 2_000, archive: Buffer.from('newer') });
        expect(await store.getLatestSavedWork('ann', 'ns')).toEqual({ learnerId: 'ann', lessonId: 'ns', createdAt: 2_000, sizeBytes: 5, archive: Buffer.from('newer') });
        expect((await store.getLatestSavedWork('ann', 'cg'))?.archive.toString()).toBe('other lesson');
        expect(await store.getLatestSavedWork('bob', 'ns')).toBeNull();

        expect(await store.deleteSavedWork('ann', 'ns')).toBe(true);
        expect(await store.deleteSavedWork('ann', 'ns')).toBe(false);
        expect(await store.getLatestSavedWorkInfo('ann', 'ns')).toBeNull();
        expect(await store.getLatestSavedWorkInfo('ann', 'cg')).not.toBeNull();
      });

      it("an empty archive is work too; an unknown learner's is refused", async () => {
        const store = await withSession();
        await store.putSavedWork({ learnerId: 'ann', lessonId: 'ns', createdAt: 1, archive: Buffer.alloc(0) });
        expect(await store.getLatestSavedWork('ann', 'ns')).toMatchObject({ sizeBytes: 0, archive: Buffer.alloc(0) });
        await storeErrorOf(store.putSavedWork({ learnerId: 'nobody', lessonId: 'ns', createdAt: 1, archive: Buffer.from('x') }), 'not_found');
      });
    });

    describe('device-transfer codes', () => {
      it('sign in once before they expire; again says used, at or after expiry says expired, an unknown one unknown', async () => {
        const store = await withSession();
        await store.createDeviceCode({ codeHash: 'h-once', learnerId: 'ann', createdAt: 100, expiresAt: 700 });
        await store.createDeviceCode({ codeHash: 'h-late', learnerId: 'ann', createdAt: 100, expiresAt: 700 });
        await store.createDeviceCode({ codeHash: 'h-edge', learnerId: 'bob', createdAt: 100, expiresAt: 700 });
        expect(await store.consumeDeviceCode('h-once', 699)).toEqual({ ok: true, learnerId: 'ann' });
        expect(await store.consumeDeviceCode('h-once', 699)).toEqual({ ok: false, reason: 'used' });
        expect(await store.consumeDeviceCode('h-once', 800)).toEqual({ ok: false, reason: 'used' }); // used wins over expired
        expect(await store.consumeDeviceCode('h-late', 700)).toEqual({ ok: false, reason: 'expired' });
        expect(await store.consumeDeviceCode('h-late', 650)).toEqual({ ok: true, learnerId: 'ann' }); // an expired attempt did not use it up
        expect(await store.consumeDeviceCode('h-edge', 1_000)).toEqual({ ok: false, reason: 'expired' });
        expect(await store.consumeDeviceCode('h-never', 100)).toEqual({ ok: false, reason: 'unknown' });
      });

      it('two devices racing for one code: exactly one signs in', async () => {
        const store = await withSession();
        await store.createDeviceCode({ codeHash: 'h', learnerId: 'bob', createdAt: 1, expiresAt: 1_000 });
        const results = await Promise.all([1, 2, 3].map(() => store.consumeDeviceCode('h', 10)));
        expect(results.filter((r) => r.ok)).toEqual([{ ok: true, learnerId: 'bob' }]);
        expect(results.filter((r) => !r.ok)).toEqual([
          { ok: false, reason: 'used' },
          { ok: false, reason: 'used' },
        ]);
      });

      it('a hash is stored once, and only for a learner that exists', async () => {
        const store = await withSession();
        await store.createDeviceCode({ codeHash: 'h', learnerId: 'ann', createdAt: 1, expiresAt: 1_000 });
        await storeErrorOf(store.createDeviceCode({ codeHash: 'h', learnerId: 'bob', createdAt: 2, expiresAt: 2_000 }), 'conflict');
        expect(await store.consumeDeviceCode('h', 10)).toEqual({ ok: true, learnerId: 'ann' });
        await storeErrorOf(store.createDeviceCode({ codeHash: 'h2', learnerId: 'nobody', createdAt: 1, expiresAt: 1_000 }), 'not_found');
        expect(await store.consumeDeviceCode('h2', 10)).toEqual({ ok: false, reason: 'unknown' });
      });
    });

    describe('instructors and workshops', () => {
      const WS = {
        instructorId: 'i1',
        title: 'Containers from scratch',
        lessonIds: ['l1', 'l2'],
        startsAt: 1_000,
        endsAt: 9_000,
        seats: 2,
        pace: 'instructor' as const,
        createdAt: 500,
      };
      /** A store with instructor i1 (through an invite), workshop w1 (code ABCDEF) and participants p1..p3. */
      const withWorkshop = async () => {
        const store = await fresh();
        await store.createInstructorInvite({ tokenHash: 't1', name: 'Ines', createdAt: 1, expiresAt: 1_000 });
        expect(await store.acceptInstructorInvite('t1', { id: 'i1', createdAt: 2 }, 2)).toMatchObject({ ok: true });
        await store.createWorkshop({ ...WS, id: 'w1', joinCode: 'ABCDEF' });
        for (const id of ['p1', 'p2', 'p3']) await store.createLearner({ id, kind: 'participant', createdAt: 600, external: { issuer: 'workshop:w1', subject: id } });
        return store;
      };
      const seat = (learnerId: string, name: string, joinedAt = 1_100) => ({ workshopId: 'w1', learnerId, displayName: name, nameKey: name.toLowerCase(), joinedAt });

      it('an invite makes its instructor once, before it expires; two at once: one wins', async () => {
        const store = await fresh();
        await store.createInstructorInvite({ tokenHash: 't1', name: 'Ines', createdAt: 1, expiresAt: 1_000 });
        await store.createInstructorInvite({ tokenHash: 't2', name: 'Old', createdAt: 1, expiresAt: 10 });
        await storeErrorOf(store.createInstructorInvite({ tokenHash: 't1', name: 'Again', createdAt: 1, expiresAt: 1_000 }), 'conflict');
        const results = await Promise.all([1, 2, 3].map((n) => store.acceptInstructorInvite('t1', { id: `i${n}`, createdAt: 5 }, 5)));
        expect(results.filter((r) => r.ok)).toHaveLength(1);
        expect(results.filter((r) => !r.ok)).toEqual([
          { ok: false, reason: 'used' },
          { ok: false, reason: 'used' },
        ]);
        const won = results.find((r) => r.ok)!;
        expect(won).toEqual({ ok: true, instructor: { id: expect.stringMatching(/^i[123]$/), name: 'Ines', passwordHash: null, createdAt: 5 } });
        expect(await store.acceptInstructorInvite('t2', { id: 'late', createdAt: 10 }, 10)).toEqual({ ok: false, reason: 'expired' });
        expect(await store.acceptInstructorInvite('nope', { id: 'x', createdAt: 10 }, 10)).toEqual({ ok: false, reason: 'unknown' });
        expect(await store.getInstructor('late')).toBeNull();
        const id = won.ok ? won.instructor.id : '';
        expect(await store.setInstructorPassword(id, 'scrypt$hash')).toBe(true);
        expect(await store.getInstructor(id)).toMatchObject({ name: 'Ines', passwordHash: 'scrypt$hash' });
        expect(await store.setInstructorPassword('nobody', 'x')).toBe(false);
      });

      it('a workshop keeps its lessons in order, is found by its code, and is listed for its instructor (all for the admin)', async () => {
        const store = await withWorkshop();
        await store.createInstructorInvite({ tokenHash: 't2', name: 'Jo', createdAt: 1, expiresAt: 1_000 });
        await store.acceptInstructorInvite('t2', { id: 'i2', createdAt: 3 }, 3);
        await store.createWorkshop({ ...WS, id: 'w2', instructorId: 'i2', joinCode: 'GHJKLM', lessonIds: ['l2', 'l1'], startsAt: 2_000 });
        expect(await store.getWorkshop('w1')).toEqual({ ...WS, id: 'w1', joinCode: 'ABCDEF', unlocked: 1, endedAt: null });
        expect((await store.findWorkshopByCode('GHJKLM'))?.lessonIds).toEqual(['l2', 'l1']);
        expect(await store.findWorkshopByCode('ZZZZZZ')).toBeNull();
        expect((await store.listWorkshops('i1')).map((w) => w.id)).toEqual(['w1']);
        expect((await store.listWorkshops()).map((w) => w.id)).toEqual(['w2', 'w1']);
        await storeErrorOf(store.createWorkshop({ ...WS, id: 'w3', joinCode: 'ABCDEF' }), 'conflict');
        await storeErrorOf(store.createWorkshop({ ...WS, id: 'w1', joinCode: 'NPQRST' }), 'conflict');
        await storeErrorOf(store.createWorkshop({ ...WS, id: 'w4', instructorId: 'nobody', joinCode: 'NPQRSU' }), 'not_found');
        expect(await store.updateWorkshop('w1', { unlocked: 2 })).toMatchObject({ unlocked: 2, endedAt: null });
        expect(await store.updateWorkshop('w1', { endedAt: 9_000 })).toMatchObject({ endedAt: 9_000 });
        expect(await store.updateWorkshop('w1', { endedAt: 9_500 })).toMatchObject({ endedAt: 9_000 }); // the first end wins
        expect(await store.updateWorkshop('nope', { unlocked: 2 })).toBeNull();
      });

      it('seats: a name once per workshop in any case, no more seats than planned, the same seat back on a rejoin, none after removal', async () => {
        const store = await withWorkshop();
        expect(await store.takeSeat(seat('p1', 'Ann'))).toMatchObject({ ok: true, rejoined: false, seat: { displayName: 'Ann', removedAt: null } });
        expect(await store.takeSeat(seat('p2', 'ANN'))).toEqual({ ok: false, reason: 'name_taken' });
        expect(await store.takeSeat(seat('p2', 'Bob', 1_200))).toMatchObject({ ok: true });
        expect(await store.takeSeat(seat('p3', 'Cy'))).toEqual({ ok: false, reason: 'full' });
        expect(await store.takeSeat(seat('p1', 'Another name', 1_300))).toMatchObject({ ok: true, rejoined: true, seat: { displayName: 'Ann', joinedAt: 1_100 } });
        expect((await store.listSeats('w1')).map((s) => s.learnerId)).toEqual(['p1', 'p2']);
        expect(await store.removeSeat('w1', 'p2', 2_000)).toBe(true);
        expect(await store.removeSeat('w1', 'p2', 3_000)).toBe(true);
        expect(await store.getSeat('w1', 'p2')).toMatchObject({ removedAt: 2_000 });
        expect(await store.takeSeat(seat('p2', 'Bob'))).toEqual({ ok: false, reason: 'removed' });
        expect(await store.takeSeat(seat('p3', 'Cy'))).toMatchObject({ ok: true }); // the removed seat is free again
        expect(await store.removeSeat('w1', 'nobody', 1)).toBe(false);
        await storeErrorOf(store.takeSeat({ ...seat('p3', 'Dee'), workshopId: 'nope' }), 'not_found');
      });

      it('two learners taking the last seat at once: exactly one gets it', async () => {
        const store = await withWorkshop();
        await store.takeSeat(seat('p1', 'Ann'));
        const results = await Promise.all([store.takeSeat(seat('p2', 'Bob')), store.takeSeat(seat('p3', 'Cy'))]);
        expect(results.filter((r) => r.ok)).toHaveLength(1);
        expect(results.filter((r) => !r.ok)).toEqual([{ ok: false, reason: 'full' }]);
      });

      it('the log keeps what instructors did, in order, for its workshop only', async () => {
        const store = await withWorkshop();
        await store.appendWorkshopLog({ workshopId: 'w1', at: 1_500, actor: 'i1', action: 'shadow', learnerId: 'p1' });
        await store.appendWorkshopLog({ workshopId: 'w1', at: 1_600, actor: 'admin', action: 'broadcast', detail: 'Break: 10 minutes' });
        expect(await store.listWorkshopLog('w1')).toEqual([
          { workshopId: 'w1', at: 1_500, actor: 'i1', action: 'shadow', learnerId: 'p1', detail: '' },
          { workshopId: 'w1', at: 1_600, actor: 'admin', action: 'broadcast', learnerId: null, detail: 'Break: 10 minutes' },
        ]);
        expect(await store.listWorkshopLog('other')).toEqual([]);
        await storeErrorOf(store.appendWorkshopLog({ workshopId: 'nope', at: 1, actor: 'i1', action: 'x' }), 'not_found');
      });
    });

    it('after close every call is refused as closed, and closing again is harmless', async () => {
      const store = await makeStore();
      await store.createLearner({ id: 'ann', kind: 'anonymous', createdAt: 1 });
      await store.close();
      await store.close();
      await storeErrorOf(store.getLearner('ann'), 'closed');
      await storeErrorOf(store.recordCheckResult(result()), 'closed');
    });
  });
}
