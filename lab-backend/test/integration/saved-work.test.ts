/**
 * Saved work in real sandboxes (gVisor and a microVM), with a real SQLite
 * store: a learner writes files in /root and in a `keep:` path and leaves a
 * session to its idle end; the files are saved (with their modes) before the
 * sandbox goes; the next session of the lesson restores them after its
 * setup; a restore the sandbox cannot take (a damaged archive) is reported
 * and the sandbox goes on working; work over the cap is not saved.
 */
import { afterAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import { SessionManager, policyFrom, type Session } from '../../src/sessions';
import { loadConfig } from '../../src/config';
import type { Lesson } from '../../src/content';
import { GvisorDriver } from '../../src/sandbox/gvisor';
import { MicrovmDriver } from '../../src/sandbox/microvm';
import { imagePath } from '../../src/images';
import type { Driver } from '../../src/sandbox/driver';
import type { RuntimeName } from '../../src/wire';
import { baseRootfs, IMAGE_DIR, tempStateDir } from './helpers';
import { describeMicrovm } from './microvm-expected';
import { learner, openSqliteStore } from '../learners';
import { RecordingPeer } from '../unit/fakes';

const stateDir = tempStateDir();
const store = await openSqliteStore(path.join(tempStateDir(), 'lab.db'));
await baseRootfs();
const drivers: Partial<Record<RuntimeName, Driver>> = { gvisor: new GvisorDriver({ stateDir }), microvm: new MicrovmDriver({ stateDir }) };
const logs: string[] = [];
const manager = new SessionManager({
  store,
  drivers,
  rootfsFor: (image) => imagePath(IMAGE_DIR, image).rootfs,
  log: (l) => logs.push(l),
  policy: { ...policyFrom(loadConfig({})), maxSandboxes: 6, maxSandboxesPerClient: 6, sessionsPerClientPerMinute: 1000, savedWorkBytes: 256 * 1024 },
});

afterAll(async () => {
  await manager.shutdown();
  await store.close();
});

function lessonOn(runtime: RuntimeName, id: string): Lesson {
  return {
    id,
    module: 'Saved work',
    title: 'Saved work',
    summary: 's',
    runtime,
    estimateMinutes: 1,
    dir: '/nowhere',
    image: runtime === 'microvm' ? 'microvm' : 'base',
    capabilities: ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_SETUID', 'CAP_SETGID'],
    setupScript: 'mkdir -p /srv/app && echo from-setup > /srv/app/setup.txt',
    body: '',
    keep: ['/root', '/srv/app'],
    exercises: [],
  };
}

async function sh(s: Session, script: string): Promise<string> {
  const r = await s.checks.runScript(script, 30_000);
  expect(r.code, `${script}: ${r.output}`).toBe(0);
  return r.output;
}

/** A session of `lesson` for `who`, ready, with its owner's socket attached (as the learner's page would be). */
async function open(lesson: Lesson, who: string) {
  const s = await manager.create(lesson, learner(who));
  const peer = new RecordingPeer();
  await s.terminal.attach(peer);
  await s.ready;
  expect(s.status, s.statusMessage).toBe('ready');
  return { s, peer };
}

function savedWorkSuite(runtime: RuntimeName) {
  const lesson = lessonOn(runtime, `99-saved/${runtime}`);

  it('files written in /root and a keep path survive an idle end and come back on restore, after the setup', async () => {
    const { s, peer } = await open(lesson, `ann-${runtime}`);
    await sh(
      s,
      'echo "my notes" > /root/notes.txt && mkdir -p /root/proj && printf "#!/bin/sh\\necho run\\n" > /root/proj/run.sh && chmod 750 /root/proj/run.sh && echo edited > /srv/app/setup.txt && echo mine > /srv/app/config',
    );
    s.terminal.input(peer, Buffer.from('\r')); // the learner typed: there is work to save
    await manager.end(s, 'idle');
    expect(peer.of('ended')[0].message).toContain('were saved');
    const info = await store.getLatestSavedWorkInfo(`learner:ann-${runtime}`, lesson.id);
    expect(info?.sizeBytes).toBeGreaterThan(0);

    const { s: next } = await open(lesson, `ann-${runtime}`);
    expect(await sh(next, 'cat /srv/app/setup.txt; ls /root/notes.txt 2>&1 || true')).toMatch(/^from-setup\n.*No such file/s);
    expect(await manager.restore(next)).toEqual({ savedAt: info!.createdAt, sizeBytes: info!.sizeBytes });
    expect(await sh(next, 'cat /root/notes.txt /srv/app/setup.txt /srv/app/config; stat -c %a /root/proj/run.sh; /root/proj/run.sh')).toBe('my notes\nedited\nmine\n750\nrun');
    await manager.end(next, 'closed');
  });

  it('a restore the sandbox cannot take is reported, the saved work is kept, and the sandbox still works', async () => {
    const who = `bob-${runtime}`;
    await store.ensureLearner({ id: `learner:${who}`, kind: 'anonymous', createdAt: Date.now() });
    await store.putSavedWork({ learnerId: `learner:${who}`, lessonId: lesson.id, createdAt: Date.now(), archive: Buffer.from('this is not a gzip archive') });
    const { s } = await open(lesson, who);
    await expect(manager.restore(s)).rejects.toMatchObject({ code: 'restore_failed', message: expect.stringContaining('works as before') });
    expect(logs.some((l) => l.includes(`session ${s.id}: restore failed`))).toBe(true);
    expect(await sh(s, 'echo still here')).toBe('still here');
    expect(await store.getLatestSavedWorkInfo(`learner:${who}`, lesson.id)).not.toBeNull();
    await manager.end(s, 'closed');
  });

  it('work over the cap is not saved, and the learner is told', async () => {
    const { s, peer } = await open(lesson, `cat-${runtime}`);
    await sh(s, 'head -c 2000000 /dev/urandom > /root/big.bin');
    s.terminal.input(peer, Buffer.from('\r'));
    await manager.end(s, 'idle');
    expect(peer.of('ended')[0].message).toContain('over the 256 KiB limit');
    expect(await store.getLatestSavedWorkInfo(`learner:cat-${runtime}`, lesson.id)).toBeNull();
  });
}

describe('saved work (gvisor)', () => savedWorkSuite('gvisor'));
describeMicrovm('saved work (microvm)', () => savedWorkSuite('microvm'));
