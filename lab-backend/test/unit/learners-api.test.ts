/**
 * Identity and server-recorded results through the HTTP and WebSocket surface
 * (server.ts), on a fake driver and a real SQLite store in memory: every
 * session has an owner (the learner cookie), only the owner's browser opens
 * it, caps count per learner, results are in the store before the browser
 * hears of them, progress is read from the store, device-transfer codes sign a
 * second browser in as the same learner once, and the admin signs in with the
 * token's link.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadConfig, type LabConfig } from '../../src/config';
import { StoreError, type Store } from '../../src/store/store';
import type { AdminStatusResponse, CheckResult, CreateSessionResponse, DeviceCodeResponse, ErrorBody, MeResponse, ProgressResponse, ServerMessage } from '../../src/wire';
import { until } from '../hang-guard';
import { InstantDriver } from './fakes';
import { CookieJar } from '../cookie-jar';
import { memoryStore } from '../learners';
import { startLabServer } from '../serve-backend';

const LESSON = '01-fixture/01-basic';
const ADMIN_TOKEN_LINK = /^http:\/\/127\.0\.0\.1:\d+\/admin\/sign-in\?token=[A-Za-z0-9_-]{20,}$/;

function labConfig(over: Partial<LabConfig> = {}): LabConfig {
  return {
    ...loadConfig({ LAB_SECRET: 'unit-test-secret', LAB_STATE_DIR: '/nonexistent-unit-state', LAB_CONTENT_DIR: path.resolve('lab-backend/test/fixtures/content') }),
    maxSandboxes: 20,
    maxSandboxesPerClient: 2,
    maxSandboxesPerAddress: 100,
    sessionsPerClientPerMinute: 100,
    poolSizes: { gvisor: 0, microvm: 0, runc: 0 },
    ...over,
  };
}

/** A lab on a fake driver; `store` defaults to a fresh SQLite store in memory. */
async function lab(over: Partial<LabConfig> = {}, store: Store = memoryStore()) {
  const driver = new InstantDriver();
  const served = await startLabServer({
    config: labConfig(over),
    drivers: { gvisor: driver },
    rootfsFor: () => '/rootfs',
    log: (m) => {
      if (process.env.DEBUG_LAB) console.log(m);
    },
    store,
  });
  const { base } = served;
  /** One browser: its own cookies, same-origin requests. */
  const browser = () => {
    const jar = new CookieJar();
    const call = async <T>(method: string, p: string, body?: unknown, headers: Record<string, string> = {}) => {
      const res = await jar.fetch(`${base}${p}`, {
        method,
        headers: { origin: base, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T & ErrorBody, setCookie: res.headers.getSetCookie() };
    };
    const bearer = (s: CreateSessionResponse) => ({ authorization: `Bearer ${s.token}` });
    return {
      jar,
      call,
      start: () => call<CreateSessionResponse>('POST', '/lab-api/sessions', { lessonId: LESSON }),
      check: (s: CreateSessionResponse, ex = 'make-file') => call<CheckResult>('POST', `/lab-api/sessions/${s.sessionId}/checks/${ex}`, {}, bearer(s)),
      progress: () => call<ProgressResponse>('GET', '/lab-api/progress'),
      socketStatus: (s: CreateSessionResponse) =>
        new Promise<number>((resolve) => {
          const ws = new WebSocket(`${base.replace('http', 'ws')}/lab-api/ws?session=${s.sessionId}&token=${encodeURIComponent(s.token)}`, jar.wsOptions({ origin: base }));
          ws.on('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0));
          ws.on('open', () => {
            ws.close();
            resolve(101);
          });
          ws.on('error', () => undefined);
        }),
    };
  };
  return {
    ...served,
    driver,
    store,
    browser,
    close: async () => {
      await served.backend.close();
      served.server.close();
      await store.close();
    },
  };
}

describe('learners: identity, ownership and recorded results (fake driver, SQLite in memory)', () => {
  let l: Awaited<ReturnType<typeof lab>>;
  beforeAll(async () => {
    l = await lab();
  });
  afterAll(async () => {
    await l?.close();
  });

  it('the first session makes a learner: an httpOnly, SameSite=Lax cookie, and a session the store says they own', async () => {
    const ann = l.browser();
    expect((await ann.call<MeResponse>('GET', '/lab-api/me')).body).toEqual({ kind: 'none', learnerTag: '' });
    const { status, body: s, setCookie } = await ann.start();
    expect(status).toBe(201);
    expect(setCookie).toHaveLength(1);
    expect(setCookie[0]).toMatch(/^lab_learner=[^;]+; Max-Age=\d+; Path=\/; HttpOnly; SameSite=Lax$/);
    const me = (await ann.call<MeResponse>('GET', '/lab-api/me')).body;
    expect(me.kind).toBe('learner');
    expect(me.learnerTag).toMatch(/^[0-9a-f]{8}$/);
    const record = await l.store.getSession(s.sessionId);
    expect(record).toMatchObject({ lessonId: LESSON, runtime: 'gvisor' });
    expect(record!.learnerId).toMatch(/^learner:[A-Za-z0-9_-]{22}$/);
    // The same browser's next session has the same owner, and no new cookie.
    const again = await ann.start();
    expect(again.setCookie).toEqual([]);
    expect((await l.store.getSession(again.body.sessionId))!.learnerId).toBe(record!.learnerId);
  });

  it('a check result is in the store when its answer arrives, and progress is what the store says', async () => {
    const ann = l.browser();
    const { body: s } = await ann.start();
    await l.backend.manager.get(s.sessionId)!.ready; // the lesson's setup script has run (the fake runs it like a check)
    const passes = l.driver.checkBehaviour;
    l.driver.checkBehaviour = (_script, p) => {
      p.emit('not yet\n');
      p.finish({ code: 1, signal: null });
    };
    const failed = await ann.check(s);
    expect(failed.body, JSON.stringify(failed.body)).toMatchObject({ exerciseId: 'make-file', passed: false, message: 'not yet' });
    const owner = (await l.store.getSession(s.sessionId))!.learnerId;
    expect(await l.store.listCheckResults(owner)).toMatchObject([{ exerciseId: 'make-file', passed: false, message: 'not yet', exitCode: 1, sessionId: s.sessionId }]);
    l.driver.checkBehaviour = (_script, p) => {
      p.emit('well done\n');
      p.finish({ code: 0, signal: null });
    };
    const before = Date.now();
    expect((await ann.check(s)).body).toMatchObject({ passed: true });
    expect(await l.store.listCheckResults(owner)).toHaveLength(2);
    const progress = (await ann.progress()).body.exercises;
    expect(progress).toEqual([{ lessonId: LESSON, exerciseId: 'make-file', passed: true, firstPassedAt: expect.any(Number), attempts: 2, lastAttemptAt: expect.any(Number) }]);
    expect(progress[0].firstPassedAt).toBeGreaterThanOrEqual(before);
    // A later failure does not take the pass back.
    l.driver.checkBehaviour = (_script, p) => p.finish({ code: 3, signal: null });
    await ann.check(s);
    expect((await ann.progress()).body.exercises[0]).toMatchObject({ passed: true, attempts: 3 });
    l.driver.checkBehaviour = passes;
  });

  it('progress without a cookie is empty and makes nobody', async () => {
    const nobody = l.browser();
    const r = await nobody.progress();
    expect(r).toMatchObject({ status: 200, body: { exercises: [] }, setCookie: [] });
  });

  it('another browser cannot use a session, even with its token: no check, extend, delete, socket or resume', async () => {
    const ann = l.browser();
    const eve = l.browser();
    const { body: s } = await ann.start();
    await eve.start(); // eve is a learner too, just not this session's
    const token = { authorization: `Bearer ${s.token}` };
    for (const r of [
      await eve.check(s),
      await eve.call('POST', `/lab-api/sessions/${s.sessionId}/extend`, { reason: 'lifetime' }, token),
      await eve.call('DELETE', `/lab-api/sessions/${s.sessionId}`, undefined, token),
    ]) {
      expect(r.status, JSON.stringify(r.body)).toBe(403);
      expect(r.body.error.code).toBe('forbidden');
    }
    expect(await eve.socketStatus(s)).toBe(403);
    const stolen = await eve.call<CreateSessionResponse>('POST', '/lab-api/sessions', {
      lessonId: LESSON,
      resume: { sessionId: s.sessionId, token: s.token, resumeToken: s.resumeToken },
    });
    expect(stolen.status).toBe(201);
    expect(stolen.body.sessionId).not.toBe(s.sessionId);
    expect(stolen.body.resumeRefused?.code).toBe('unauthorized');
    // The owner still has it all.
    expect(await ann.socketStatus(s)).toBe(101);
    expect((await ann.check(s)).status).toBe(200);
    expect(l.backend.manager.get(s.sessionId)?.ended).toBe(false);
  });

  it('a forged or edited cookie is a new learner, never someone else', async () => {
    const ann = l.browser();
    await ann.start();
    const cookie = ann.jar.header();
    const [name, value] = cookie.split('=');
    const [h, p, sig] = value.split('.');
    const otherSub = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), sub: 'AAAAAAAAAAAAAAAAAAAAAA' })).toString('base64url');
    for (const forged of [`${h}.${otherSub}.${sig}`, `${h}.${p}.${sig.slice(0, -2)}xx`, 'garbage', `${value}x`]) {
      const r = await fetch(`${l.base}/lab-api/sessions`, {
        method: 'POST',
        headers: { origin: l.base, 'content-type': 'application/json', cookie: `${name}=${forged}` },
        body: JSON.stringify({ lessonId: LESSON }),
      });
      expect(r.status).toBe(201);
      const s = (await r.json()) as CreateSessionResponse;
      const owner = (await l.store.getSession(s.sessionId))!.learnerId;
      expect(owner).not.toBe('learner:AAAAAAAAAAAAAAAAAAAAAA');
      expect(r.headers.getSetCookie()[0]).toMatch(/^lab_learner=/); // a new one, replacing the bad cookie
      const annOwner = (await l.store.listLiveSessions()).find((x) => x.learnerId !== owner && x.learnerId.startsWith('learner:'));
      expect(annOwner).toBeDefined();
    }
  });
});

describe('caps count per learner, and new learners per address', () => {
  it('one learner is held to maxSandboxesPerClient while another on the same address still starts', async () => {
    const l = await lab({ maxSandboxesPerClient: 2 });
    try {
      const ann = l.browser();
      expect((await ann.start()).status).toBe(201);
      expect((await ann.start()).status).toBe(201);
      const third = await ann.start();
      expect(third.status).toBe(429);
      expect(third.body.error).toMatchObject({ code: 'lab_full', message: expect.stringContaining('per learner') });
      expect((await l.browser().start()).status).toBe(201);
    } finally {
      await l.close();
    }
  });

  it('all learners of one address together are held to LAB_MAX_SANDBOXES_PER_ADDRESS, so new cookies cannot take the whole lab', async () => {
    const l = await lab({ maxSandboxesPerAddress: 3, maxSandboxesPerClient: 1 });
    try {
      for (let i = 0; i < 3; i++) expect((await l.browser().start()).status).toBe(201);
      const refused = await l.browser().start();
      expect(refused.status).toBe(429);
      expect(refused.body.error).toMatchObject({ code: 'lab_full', message: expect.stringContaining('LAB_MAX_SANDBOXES_PER_ADDRESS') });
      expect(await l.store.listLiveSessions()).toHaveLength(3);
    } finally {
      await l.close();
    }
  });

  it('dropping the cookie to dodge the cap runs into LAB_NEW_LEARNERS_PER_HOUR, and the refused request makes nobody', async () => {
    const l = await lab({ newLearnersPerAddressPerHour: 3, maxSandboxesPerClient: 1 });
    try {
      for (let i = 0; i < 3; i++) expect((await l.browser().start()).status).toBe(201);
      const refused = await l.browser().start();
      expect(refused.status).toBe(429);
      expect(refused.setCookie).toEqual([]);
      expect(await l.store.listLiveSessions()).toHaveLength(3);
    } finally {
      await l.close();
    }
  });
});

describe('continue on another device', () => {
  let l: Awaited<ReturnType<typeof lab>>;
  beforeAll(async () => {
    l = await lab();
  });
  afterAll(async () => {
    await l?.close();
  });

  it('a code signs a second browser in as the same learner, once; its results are theirs', async () => {
    const laptop = l.browser();
    const { body: s } = await laptop.start();
    await laptop.check(s);
    const made = await laptop.call<DeviceCodeResponse>('POST', '/lab-api/device-codes', {});
    expect(made.status).toBe(201);
    expect(made.body.code).toMatch(/^[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}$/);
    expect(made.body.url).toBe(`${l.base}/continue?code=${made.body.code}`);
    expect(made.body.expiresAt).toBeGreaterThan(Date.now() + 9 * 60_000);

    const phone = l.browser();
    // Typed in lower case with a space instead of the dash: still the code.
    const typed = made.body.code.toLowerCase().replace('-', ' ');
    const redeemed = await phone.call<MeResponse>('POST', '/lab-api/device-codes/redeem', { code: typed });
    expect(redeemed.status).toBe(200);
    expect(redeemed.body).toEqual((await laptop.call<MeResponse>('GET', '/lab-api/me')).body);
    expect((await phone.progress()).body).toEqual((await laptop.progress()).body);
    expect((await phone.progress()).body.exercises).toHaveLength(1);
    // The phone's own session is the learner's: it counts toward their cap (2) with the laptop's one.
    expect((await phone.start()).status).toBe(201);
    expect((await phone.start()).body.error?.code).toBe('lab_full');

    const again = await l.browser().call('POST', '/lab-api/device-codes/redeem', { code: made.body.code });
    expect(again.status).toBe(410);
    expect(again.body.error).toMatchObject({ code: 'device_code_used', message: expect.stringContaining('already used') });
    expect(again.setCookie).toEqual([]);
  });

  it('an unknown or malformed code says so and signs nobody in', async () => {
    for (const code of ['ABCD-EFGH', 'O0O0-I1I1', '', 'x'.repeat(500), 7]) {
      const r = await l.browser().call('POST', '/lab-api/device-codes/redeem', { code });
      expect(r.status).toBe(404);
      expect(r.body.error.code).toBe('device_code_unknown');
      expect(r.setCookie).toEqual([]);
    }
  });

  it('guessing is rate limited per address', async () => {
    const results: number[] = [];
    for (let i = 0; i < 12; i++) results.push((await l.browser().call('POST', '/lab-api/device-codes/redeem', { code: 'ZZZZ-ZZZZ' })).status);
    expect(results).toContain(429);
  });
});

describe('the admin', () => {
  it('signs in once with the generated link, and only then sees every session and its owner', async () => {
    const l = await lab();
    try {
      const link = l.backend.identity.adminSignInUrl(l.base);
      expect(link).toMatch(ADMIN_TOKEN_LINK);
      const ann = l.browser();
      const { body: s } = await ann.start();
      const admin = l.browser();
      const before = await admin.call('GET', '/lab-api/admin/status');
      expect(before.status).toBe(403);
      expect(before.body.error.code).toBe('admin_required');
      expect((await ann.call('GET', '/lab-api/admin/status')).status).toBe(403);

      const wrong = await admin.jar.fetch(link.replace(/token=.*/, 'token=not-the-token'), { redirect: 'manual' });
      expect(wrong.status).toBe(403);
      expect(await wrong.text()).toContain('not valid');
      const signIn = await admin.jar.fetch(link, { redirect: 'manual' });
      expect(signIn.status).toBe(303);
      expect(signIn.headers.get('location')).toBe('/admin');
      expect(signIn.headers.getSetCookie()[0]).toMatch(/^lab_admin=[^;]+; Max-Age=43200; Path=\/; HttpOnly; SameSite=Lax$/);

      const status = await admin.call<AdminStatusResponse>('GET', '/lab-api/admin/status');
      expect(status.status).toBe(200);
      const owner = (await l.store.getSession(s.sessionId))!.learnerId;
      expect(status.body.sessions).toContainEqual(expect.objectContaining({ sessionId: s.sessionId, owner, lessonId: LESSON, runtime: 'gvisor' }));
      expect(status.body.health.maxSandboxes).toBe(20);

      // Signed in as admin, the operator is still a learner of their own in lessons: their sandbox is theirs, not "admin"'s.
      const own = await admin.start();
      expect(own.status).toBe(201);
      expect((await l.store.getSession(own.body.sessionId))!.learnerId).toMatch(/^learner:/);
      expect(await admin.socketStatus(own.body)).toBe(101);
      expect((await admin.call<AdminStatusResponse>('GET', '/lab-api/admin/status')).status).toBe(200);

      const reused = await l.browser().jar.fetch(link, { redirect: 'manual' });
      expect(reused.status).toBe(403);
      expect(await reused.text()).toContain('already used');
    } finally {
      await l.close();
    }
  });
});

describe('saved work that was offered and not answered', () => {
  it("is kept over this session's files until the learner restores it or chooses to start fresh", async () => {
    const l = await lab();
    try {
      const ARCHIVE = Buffer.from("this session's files");
      const plain = l.driver.checkBehaviour;
      l.driver.checkBehaviour = (script, p) => {
        if (!script.includes('tar -czf')) return plain(script, p);
        p.emit(ARCHIVE);
        p.finish({ code: 0, signal: null });
      };
      const ann = l.browser();
      const first = (await ann.start()).body;
      const owner = (await l.store.getSession(first.sessionId))!.learnerId;
      await l.store.putSavedWork({ learnerId: owner, lessonId: LESSON, createdAt: 5, archive: Buffer.from('earlier files') });
      const bearer = (s: CreateSessionResponse) => ({ authorization: `Bearer ${s.token}` });
      await ann.call('DELETE', `/lab-api/sessions/${first.sessionId}`, undefined, bearer(first)); // nothing typed: nothing saved

      const offered = (await ann.start()).body;
      expect(offered.savedWork).toMatchObject({ savedAt: 5 });
      await l.backend.manager.get(offered.sessionId)!.ready;
      await ann.check(offered); // the learner works, but answers neither Restore nor Start fresh
      await ann.call('DELETE', `/lab-api/sessions/${offered.sessionId}`, undefined, bearer(offered));
      expect((await l.store.getLatestSavedWork(owner, LESSON))?.archive.toString()).toBe('earlier files');

      const fresh = (await ann.start()).body;
      await l.backend.manager.get(fresh.sessionId)!.ready;
      expect((await ann.call('POST', `/lab-api/sessions/${fresh.sessionId}/saved-work/dismiss`, {}, bearer(fresh))).status).toBe(204);
      await ann.check(fresh);
      await ann.call('DELETE', `/lab-api/sessions/${fresh.sessionId}`, undefined, bearer(fresh));
      expect((await l.store.getLatestSavedWork(owner, LESSON))?.archive.equals(ARCHIVE)).toBe(true);
    } finally {
      await l.close();
    }
  });
});

describe('the admin token cannot be guessed fast', () => {
  it('sign-in tries are limited per address, and the right token is refused too once over the limit', async () => {
    const l = await lab();
    try {
      const link = l.backend.identity.adminSignInUrl(l.base);
      const statuses: number[] = [];
      for (let i = 0; i < 11; i++) statuses.push((await fetch(link.replace(/token=.*/, `token=guess-${i}`), { redirect: 'manual' })).status);
      expect(statuses.slice(0, 10).every((s) => s === 403)).toBe(true);
      expect(statuses[10]).toBe(429);
      expect((await fetch(link, { redirect: 'manual' })).status).toBe(429);
    } finally {
      await l.close();
    }
  });
});

describe('when the store refuses', () => {
  /** A real store whose recordCheckResult fails as a full or broken disk does. */
  function storeThatRefusesResults(): Store {
    const real = memoryStore();
    return new Proxy(real, {
      get(target, prop, receiver) {
        if (prop === 'recordCheckResult')
          return async () => {
            throw new StoreError('failed', '/var/lib/lab/lab.db: record check result failed: database or disk is full');
          };
        const v = Reflect.get(target, prop, receiver);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
  }

  it("a check whose result cannot be recorded is not reported as passed; the learner is told why, the log gets the store's words", async () => {
    const logs: string[] = [];
    const store = storeThatRefusesResults();
    const driver = new InstantDriver();
    const served = await startLabServer({ config: labConfig(), drivers: { gvisor: driver }, rootfsFor: () => '/rootfs', log: (m) => logs.push(m), store });
    try {
      const jar = new CookieJar();
      const post = (p: string, headers: Record<string, string> = {}) =>
        jar.fetch(`${served.base}${p}`, {
          method: 'POST',
          headers: { origin: served.base, 'content-type': 'application/json', ...headers },
          body: JSON.stringify({ lessonId: LESSON }),
        });
      const s = (await (await post('/lab-api/sessions')).json()) as CreateSessionResponse;
      const r = await post(`/lab-api/sessions/${s.sessionId}/checks/make-file`, { authorization: `Bearer ${s.token}` });
      expect(r.status).toBe(503);
      const body = (await r.json()) as ErrorBody & { passed?: boolean };
      expect(body.passed).toBeUndefined();
      expect(body.error.code).toBe('store_unavailable');
      expect(body.error.message).not.toContain('lab.db');
      expect(logs.join('\n')).toContain('database or disk is full');
      // The sandbox is fine: the learner can try again.
      expect(served.backend.manager.get(s.sessionId)?.ended).toBe(false);
    } finally {
      await served.backend.close();
      served.server.close();
      await store.close();
    }
  });
});

describe('watching a terminal through the API', () => {
  /** Opens a socket and collects what it gets; `status` is the upgrade's HTTP status (101 when it opened). */
  function open(url: string, jar: CookieJar, origin: string) {
    const got = { status: 0, messages: [] as ServerMessage[], output: '', ws: null as WebSocket | null };
    const opened = new Promise<void>((resolve) => {
      const ws = new WebSocket(url, jar.wsOptions({ origin }));
      got.ws = ws;
      ws.on('unexpected-response', (_q, res) => {
        got.status = res.statusCode ?? 0;
        resolve();
      });
      ws.on('open', () => {
        got.status = 101;
        resolve();
      });
      ws.on('message', (d, binary) => {
        if (binary) got.output += d.toString();
        else got.messages.push(JSON.parse(d.toString()) as ServerMessage);
      });
      ws.on('error', () => resolve());
    });
    return { got, opened };
  }

  it('the admin follows a learner\'s terminal read-only: replay, live output, the owner sees "1 watching", keystrokes dropped', async () => {
    const l = await lab();
    try {
      const ann = l.browser();
      const { body: s } = await ann.start();
      await l.backend.manager.get(s.sessionId)!.ready;
      const ws = l.base.replace('http', 'ws');
      const owner = open(`${ws}/lab-api/ws?session=${s.sessionId}&token=${encodeURIComponent(s.token)}`, ann.jar, l.base);
      await owner.opened;
      await until("the owner's shell", () => l.driver.terminals.length === 1, 5_000);
      const shell = l.driver.terminals[0];
      shell.emit('root@lab:~# echo before\r\nbefore\r\n');

      // Not the admin: no viewer socket, with or without the owner's token.
      const eve = l.browser();
      await eve.start();
      const refused = open(`${ws}/lab-api/ws?session=${s.sessionId}&role=viewer&token=${encodeURIComponent(s.token)}`, eve.jar, l.base);
      await refused.opened;
      expect(refused.got.status).toBe(403);
      const asOwnerToo = open(`${ws}/lab-api/ws?session=${s.sessionId}&role=viewer`, ann.jar, l.base);
      await asOwnerToo.opened;
      expect(asOwnerToo.got.status).toBe(403);

      const admin = l.browser();
      await admin.jar.fetch(l.backend.identity.adminSignInUrl(l.base), { redirect: 'manual' });
      const viewer = open(`${ws}/lab-api/ws?session=${s.sessionId}&role=viewer`, admin.jar, l.base);
      await viewer.opened;
      expect(viewer.got.status).toBe(101);
      await until('the replay', () => viewer.got.output.includes('before'), 5_000);
      expect(viewer.got.messages).toContainEqual({ type: 'role', role: 'viewer' });
      await until('the owner is told', () => owner.got.messages.some((m) => m.type === 'viewers' && m.count === 1), 5_000);
      shell.emit('live\r\n');
      await until('live output', () => viewer.got.output.includes('live'), 5_000);
      viewer.got.ws!.send(Buffer.from('rm -rf /\r'));
      viewer.got.ws!.send(JSON.stringify({ type: 'resize', cols: 20, rows: 5 }));
      owner.got.ws!.send(Buffer.from('ls\r'));
      await until("the owner's keystrokes", () => shell.written.join('').includes('ls'), 5_000);
      expect(shell.written.join('')).toBe('ls\r');
      expect(shell.size).not.toEqual({ cols: 20, rows: 5 });
      // The viewer is never handed the session's credentials.
      expect(viewer.got.messages.some((m) => m.type === 'token')).toBe(false);
      const status = await admin.call<AdminStatusResponse>('GET', '/lab-api/admin/status');
      expect(status.body.sessions.find((x) => x.sessionId === s.sessionId)?.peers).toBe(2);
      viewer.got.ws!.close();
      await until('the owner is told the viewer left', () => owner.got.messages.filter((m) => m.type === 'viewers').at(-1)?.count === 0, 5_000);
      owner.got.ws!.close();
    } finally {
      await l.close();
    }
  });
});
