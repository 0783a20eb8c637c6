import { describe, expect, it } from 'vitest';
import { FLOW_HIGH_WATER_BYTES } from '../../src/wire';
import {
  AbortableSlowDriver,
  CrashingDriver,
  InstantDriver,
  MissingRuntimeDriver,
  NeverDriver,
  NeverExecDriver,
  POLICY,
  RecordingPeer,
  RefusingDriver,
  SlowDriver,
  SlowStopDriver,
  FakeClock,
  lesson,
  setup,
  scriptOf,
} from './fakes';
import { learner, memoryStore } from '../learners';
import { execEnv } from '../../src/sandbox/driver';
import { hangGuard, until } from '../hang-guard';
import type { Lesson } from '../../src/content';
import {
  SessionManager,
  INPUT_HIGH_WATER_BYTES,
  INPUT_LOW_WATER_BYTES,
  MAX_QUEUED_CHECKS,
  MAX_VIEWERS,
  SOCKET_HIGH_WATER_BYTES,
  VIEWER_MAX_QUEUED_BYTES,
} from '../../src/sessions';

const settle = () => new Promise((r) => setTimeout(r, 0));

describe('SessionManager lifetimes', () => {
  it('warns before the idle timeout, then ends the session and destroys its sandbox', async () => {
    const { m, clock, driver } = setup();
    const s = await m.create(lesson(), learner('a'));
    const peer = new RecordingPeer();
    await s.terminal.attach(peer);
    expect(driver.onHost.size).toBe(1);
    clock.advance(POLICY.idleTimeoutMs - POLICY.warnBeforeEndMs);
    await m.tick();
    expect(peer.of('expiring')).toEqual([{ type: 'expiring', reason: 'idle', endsAt: s.lastActivityAt + POLICY.idleTimeoutMs, extendsLeft: POLICY.maxExtends }]);
    expect(s.ended).toBe(false);
    clock.advance(POLICY.warnBeforeEndMs);
    await m.tick();
    expect(s.ended).toBe(true);
    expect(peer.of('ended')[0]?.reason).toBe('idle');
    expect(driver.onHost.size).toBe(0);
  });

  it('keystrokes push the idle deadline back', async () => {
    const { m, clock } = setup();
    const s = await m.create(lesson(), learner('a'));
    const peer = new RecordingPeer();
    await s.terminal.attach(peer);
    clock.advance(POLICY.idleTimeoutMs - 1000);
    s.terminal.input(peer, Buffer.from('ls\r'));
    clock.advance(5000);
    await m.tick();
    expect(s.ended).toBe(false);
  });

  it('ends even a busy session at its max lifetime', async () => {
    const { m, clock } = setup();
    const s = await m.create(lesson(), learner('a'));
    const peer = new RecordingPeer();
    await s.terminal.attach(peer);
    for (let t = 0; t < POLICY.maxLifetimeMs; t += 30_000) {
      s.terminal.input(peer, Buffer.from('x'));
      clock.advance(30_000);
      await m.tick();
    }
    expect(peer.of('expiring').some((e) => e.reason === 'lifetime')).toBe(true);
    expect(s.ended).toBe(true);
    expect(peer.of('ended')[0]?.reason).toBe('lifetime');
  });

  it('keeps a session whose socket closed for the grace period, so a reload reattaches to the same shell', async () => {
    const { m, clock, driver } = setup();
    const s = await m.create(lesson(), learner('a'));
    const first = new RecordingPeer();
    await s.terminal.attach(first);
    driver.terminals[0].emit('root@lab:~# ');
    s.terminal.detach(first);
    clock.advance(POLICY.reconnectGraceMs - 1);
    await m.tick();
    const second = new RecordingPeer();
    await s.terminal.attach(second);
    expect(Buffer.concat(second.output).toString()).toContain('root@lab:~# ');
    expect(driver.terminals).toHaveLength(1);
    expect(s.ended).toBe(false);
  });

  it('ends a session nobody reattached to after the grace period', async () => {
    const { m, clock, driver } = setup();
    const s = await m.create(lesson(), learner('a'));
    const peer = new RecordingPeer();
    await s.terminal.attach(peer);
    s.terminal.detach(peer);
    clock.advance(POLICY.reconnectGraceMs);
    await m.tick();
    expect(s.endReason).toBe('closed');
    expect(driver.onHost.size).toBe(0);
  });

  it('a second socket replaces the first one', async () => {
    const { m } = setup();
    const s = await m.create(lesson(), learner('a'));
    const a = new RecordingPeer();
    const b = new RecordingPeer();
    await s.terminal.attach(a);
    await s.terminal.attach(b);
    expect(a.closed?.code).toBe(4000);
    expect(b.closed).toBeNull();
  });

  it('ends the session when its sandbox dies', async () => {
    const { m, driver } = setup();
    const s = await m.create(lesson(), learner('a'));
    await s.terminal.attach(new RecordingPeer());
    driver.dead.add(s.sandbox!.id);
    await m.tick();
    expect(s.endReason).toBe('sandbox_exited');
  });

  it('shutdown ends every session and leaves no sandbox', async () => {
    const { m, driver } = setup();
    await m.create(lesson(), learner('a'));
    await m.create(lesson(), learner('b'));
    await settle();
    await m.shutdown();
    expect(driver.onHost.size).toBe(0);
    expect(m.inUse).toBe(0);
  });
});

describe('SessionManager caps and admission', () => {
  it('refuses a new session when the lab and its queue are full, saying how many are in use', async () => {
    const { m } = setup();
    for (const c of ['a', 'b', 'c', 'q1', 'q2']) await m.create(lesson(), learner(c));
    expect(m.queued).toBe(POLICY.maxQueue);
    await expect(m.create(lesson(), learner('d'))).rejects.toMatchObject({ code: 'lab_full', message: expect.stringContaining('3 sandboxes in use') });
  });

  it('caps sandboxes per client', async () => {
    const { m } = setup();
    await m.create(lesson(), learner('a'));
    await m.create(lesson(), learner('a'));
    await expect(m.create(lesson(), learner('a'))).rejects.toMatchObject({ code: 'lab_full', message: expect.stringContaining('per learner') });
    await expect(m.create(lesson(), learner('b'))).resolves.toBeDefined();
  });

  it('rate-limits session creation per client, and the window moves on', async () => {
    const { m, clock } = setup(new InstantDriver(), { ...POLICY, maxSandboxesPerClient: 100, maxSandboxes: 100 });
    for (let i = 0; i < POLICY.sessionsPerClientPerMinute; i++) await m.create(lesson(), learner('a'));
    await expect(m.create(lesson(), learner('a'))).rejects.toMatchObject({ code: 'rate_limited' });
    await expect(m.create(lesson(), learner('b'))).resolves.toBeDefined();
    clock.advance(60_001);
    await expect(m.create(lesson(), learner('a'))).resolves.toBeDefined();
  });

  it('a slow boot counts against the cap and reports starting until ready', async () => {
    const driver = new SlowDriver();
    const { m } = setup(driver);
    const s = await m.create(lesson(), learner('a'));
    expect(s.status).toBe('starting');
    expect(m.inUse).toBe(1);
    driver.release();
    await s.ready;
    expect(s.status).toBe('ready');
  });

  it('a session ended while its sandbox is still starting destroys that sandbox on the host once the start returns', async () => {
    const driver = new SlowDriver();
    const { m } = setup(driver);
    const s = await m.create(lesson({ setupScript: 'setup!' }), learner('a'));
    await settle();
    expect(driver.booting).toBe(1);
    expect([...driver.onHost]).toEqual([`s${s.id}`]); // booting, and already on the host
    let ended = false;
    const end = m.end(s, 'closed').then(() => {
      ended = true;
    });
    await settle();
    expect(ended).toBe(false); // this start cannot be interrupted: end() waits for it
    driver.release();
    await hangGuard('end() to finish once the start returned', end, 3_000);
    expect(driver.onHost.size).toBe(0);
    expect(driver.processes).toEqual([]); // no setup script and no shell in a sandbox nobody will use
    expect(s.status).toBe('ended');
    expect(m.inUse).toBe(0);
  });

  it('a session ended while its sandbox is still starting aborts a start that can be aborted, leaving nothing on the host', async () => {
    const driver = new AbortableSlowDriver();
    const { m } = setup(driver);
    const s = await m.create(lesson(), learner('a'));
    await settle();
    expect([...driver.onHost]).toEqual([`s${s.id}`]);
    // Never released: only the abort can end this start.
    await hangGuard('end() to abort the start and finish', m.end(s, 'closed'), 3_000);
    expect(driver.aborted).toBe(1);
    expect(driver.onHost.size).toBe(0);
    expect(driver.processes).toEqual([]);
    expect(s.status).toBe('ended');
    expect(s.endReason).toBe('closed');
    expect(m.inUse).toBe(0);
  });

  it('a crashing runtime ends the session with the cause, logged and shown, and frees its slot', async () => {
    const { m, logs } = setup(new CrashingDriver());
    const s = await m.create(lesson(), learner('a'));
    await s.ready;
    await s.ending;
    expect(s.status).toBe('error');
    // runsc's words go to the log, never to the learner, who is told what to do.
    expect(logs.some((l) => l.includes('cannot open rootfs'))).toBe(true);
    expect(s.statusMessage).not.toContain('rootfs');
    expect(s.statusMessage).toContain(`Your sandbox could not start. The lab's log has the details (session ${s.id})`);
    expect(m.inUse).toBe(0);
    const late = new RecordingPeer();
    await s.terminal.attach(late);
    expect(late.of('ended')[0]?.message).toBe(s.statusMessage);
  });

  it('a missing runtime is refused at once, naming the cause', async () => {
    const { m } = setup(new MissingRuntimeDriver());
    await expect(m.create(lesson(), learner('a'))).rejects.toMatchObject({ code: 'sandbox_start_failed', message: expect.stringContaining('runsc was not found') });
    expect(m.inUse).toBe(0);
  });

  it('a lesson whose runtime is not enabled says so', async () => {
    const { m } = setup();
    await expect(m.create(lesson({ runtime: 'microvm' }), learner('a'))).rejects.toMatchObject({ code: 'runtime_disabled', message: expect.stringContaining('microvm') });
  });

  it('reaps sandboxes a previous run left behind at start-up', async () => {
    const driver = new InstantDriver();
    driver.onHost.add('sleftover1');
    driver.onHost.add('sleftover2');
    const { m, logs } = setup(driver);
    await m.start(60_000);
    expect(driver.onHost.size).toBe(0);
    expect(logs.join('\n')).toContain('reaped 2');
    await m.shutdown();
  });
});

describe('SessionManager checks', () => {
  it('runs a check as its own exec (never through the terminal) and reports pass with its message', async () => {
    const { m, driver } = setup();
    const s = await m.create(lesson(), learner('a'));
    await s.terminal.attach(new RecordingPeer());
    const r = await s.checks.run('ex');
    expect(r).toMatchObject({ exerciseId: 'ex', passed: true, message: 'ok' });
    expect(driver.terminals[0].written).toEqual([]);
    // with the read-only toolbox's shell, which sources the toolbox's prelude (its tools as functions), not the sandbox's own
    const check = driver.processes.find((p) => !p.opts.tty);
    expect(check?.argv).toEqual(['/.lab/toolbox/bin/bash', '--noprofile', '--norc', '-c', 'check-script', 'lab-check']);
    expect(check?.opts.env).toEqual(['BASH_ENV=/.lab/toolbox/lib/prelude.sh']);
  });

  it("a check the sandbox refuses to start fails with the sandbox's reason, and the session lives on", async () => {
    const driver = new RefusingDriver();
    const { m } = setup(driver);
    const s = await m.create(lesson(), learner('a'));
    await s.ready;
    const r = await s.checks.run('ex');
    expect(r).toMatchObject({ passed: false, message: 'the check toolbox has been covered' });
    expect(s.status).toBe('ready');
    driver.refuseAfter = Infinity;
    expect(await s.checks.run('ex')).toMatchObject({ passed: true });
  });

  it('kills a hanging check after its timeout and reports it as failed with that reason', async () => {
    const driver = new InstantDriver();
    driver.checkBehaviour = () => {
      /* never finishes */
    };
    const { m } = setup(driver, { ...POLICY, checkTimeoutMs: 50 });
    const s = await m.create(lesson(), learner('a'));
    const r = await s.checks.run('ex');
    expect(r.passed).toBe(false);
    expect(r.timedOut).toBe(true);
    expect(r.message).toMatch(/did not finish within/);
    expect(driver.processes.find((p) => !p.opts.tty)?.done).toBe(true);
  });

  it('truncates check output and strips terminal control sequences', async () => {
    const driver = new InstantDriver();
    driver.checkBehaviour = (_s, p) => {
      p.emit(`\x1b[31mred\x07 ${'x'.repeat(500)}`);
      p.finish({ code: 1, signal: null });
    };
    const { m } = setup(driver);
    const s = await m.create(lesson(), learner('a'));
    const r = await s.checks.run('ex');
    expect(r.passed).toBe(false);
    expect(r.truncated).toBe(true);
    // eslint-disable-next-line no-control-regex -- asserts that ESC and BEL were stripped
    expect(r.message).not.toMatch(/[\x1b\x07]/);
    expect(r.message.length).toBeLessThan(140);
  });

  it('rejects an exercise the lesson does not have', async () => {
    const { m } = setup();
    const s = await m.create(lesson(), learner('a'));
    await expect(s.checks.run('nope')).rejects.toMatchObject({ code: 'unknown_exercise' });
  });

  it('a failing setup script fails the start and says why', async () => {
    const driver = new InstantDriver();
    driver.checkBehaviour = (script, p) => {
      p.emit(script === 'setup!' ? 'no such file' : 'ok');
      p.finish({ code: script === 'setup!' ? 2 : 0, signal: null });
    };
    const { m } = setup(driver);
    const s = await m.create(lesson({ setupScript: 'setup!' }), learner('a'));
    await s.ready;
    expect(s.status).toBe('error');
    expect(s.statusMessage).toContain('setup script failed');
  });
});

describe('terminal flow control', () => {
  it('pauses the shell when the browser falls behind and resumes once it acks', async () => {
    const { m, driver } = setup();
    const s = await m.create(lesson(), learner('a'));
    const peer = new RecordingPeer();
    await s.terminal.attach(peer);
    const sh = driver.terminals[0];
    sh.emit(Buffer.alloc(FLOW_HIGH_WATER_BYTES, 'y'));
    expect(sh.paused).toBe(true);
    s.terminal.ack(peer, FLOW_HIGH_WATER_BYTES / 2);
    expect(sh.paused).toBe(true);
    s.terminal.ack(peer, FLOW_HIGH_WATER_BYTES / 2);
    expect(sh.paused).toBe(false);
  });

  it('keeps the shell paused while output sits unread on the socket, whatever the client acks', async () => {
    const { m, driver } = setup();
    const s = await m.create(lesson(), learner('a'));
    const peer = new RecordingPeer();
    await s.terminal.attach(peer);
    peer.stalled = true; // the client stopped reading its socket
    const sh = driver.terminals[0];
    for (let i = 0; i < 40; i++) {
      s.terminal.ack(peer, 2147483647); // and lies that it rendered everything
      if (!sh.paused) sh.emit(Buffer.alloc(16 * 1024, 'y'));
    }
    expect(sh.paused).toBe(true);
    expect(peer.queuedOutputBytes).toBeLessThanOrEqual(SOCKET_HIGH_WATER_BYTES + 16 * 1024);
    expect(s.terminal.flow.unacked).toBe(0); // acks were capped at what was sent, never below zero
    peer.stalled = false;
    peer.queuedOutputBytes = 0; // the network took it
    s.terminal.outputFlushed();
    expect(sh.paused).toBe(false);
  });

  it('an ack sent before any output never pre-pays for output to come', async () => {
    const { m, driver } = setup();
    const s = await m.create(lesson(), learner('a'));
    const peer = new RecordingPeer();
    await s.terminal.attach(peer);
    s.terminal.ack(peer, 2147483647);
    driver.terminals[0].emit(Buffer.alloc(FLOW_HIGH_WATER_BYTES, 'y'));
    expect(driver.terminals[0].paused).toBe(true);
  });

  it('stops reading keystrokes while the shell is not taking them, and reads again once it catches up', async () => {
    const { m, driver } = setup();
    const s = await m.create(lesson(), learner('a'));
    const peer = new RecordingPeer();
    await s.terminal.attach(peer);
    const sh = driver.terminals[0];
    sh.holdsInput = true; // a shell that runs `sleep` and reads nothing
    const frame = Buffer.alloc(64 * 1024, 'k');
    let sent = 0;
    while (!peer.inputPaused && sent < 100) {
      s.terminal.input(peer, frame);
      sent++;
    }
    expect(peer.inputPaused).toBe(true);
    expect(sh.pendingInputBytes).toBeLessThanOrEqual(INPUT_HIGH_WATER_BYTES + frame.length);
    sh.take(sh.pendingInputBytes - INPUT_LOW_WATER_BYTES - 1);
    expect(peer.inputPaused).toBe(true);
    sh.take(2);
    expect(peer.inputPaused).toBe(false);
  });

  it('clamps resize to sane bounds', async () => {
    const { m, driver } = setup();
    const s = await m.create(lesson(), learner('a'));
    const peer = new RecordingPeer();
    await s.terminal.attach(peer);
    s.terminal.resize(peer, 100000, -5);
    expect(driver.terminals[0].size).toEqual({ cols: 500, rows: 2 });
  });
});

describe('check deadlines and queue', () => {
  it('a check answers within its deadline even when the sandbox never starts the process', async () => {
    const driver = new NeverExecDriver();
    // The lab's own check timeout is an hour: only the exercise's 50 ms deadline can answer within the hang guard.
    const { m } = setup(driver, { ...POLICY, checkTimeoutMs: 60 * 60_000 });
    const s = await m.create(lesson({ exercises: [{ id: 'ex', title: 'Ex', hint: 'h', checkScript: 'c', solutionScript: 's', timeoutMs: 50 }] }), learner('a'));
    await s.ready;
    const r = await hangGuard('the check to answer at its 50 ms deadline', s.checks.run('ex'), 4_000);
    expect(r).toMatchObject({ passed: false, timedOut: true });
    expect(driver.abortedExecs).toBe(1);
    // The queue is not stuck: the next check runs (and times out) too.
    expect((await hangGuard('a second check to answer at its deadline', s.checks.run('ex'), 4_000)).timedOut).toBe(true);
  });

  it('answers busy beyond MAX_QUEUED_CHECKS running or waiting checks', async () => {
    const driver = new InstantDriver();
    driver.checkBehaviour = () => {
      /* never finishes until killed */
    };
    const { m } = setup(driver);
    const s = await m.create(lesson({ exercises: [{ id: 'ex', title: 'Ex', hint: 'h', checkScript: 'c', solutionScript: 's', timeoutMs: 200 }] }), learner('a'));
    await s.ready;
    const accepted = Array.from({ length: MAX_QUEUED_CHECKS }, () => s.checks.run('ex'));
    await expect(s.checks.run('ex')).rejects.toMatchObject({ code: 'busy', httpStatus: 429 });
    const results = await Promise.all(accepted);
    expect(results.every((r) => r.timedOut)).toBe(true);
    // Room again once they are done.
    await expect(s.checks.run('ex')).resolves.toMatchObject({ timedOut: true });
  });
});

describe('shutdown', () => {
  it('waits for an end that was already under way (a DELETE just before SIGTERM)', async () => {
    const driver = new SlowStopDriver();
    const { m } = setup(driver);
    const s = await m.create(lesson(), learner('a'));
    await s.ready;
    void m.end(s, 'closed');
    let done = false;
    const shut = m.shutdown().then(() => {
      done = true;
    });
    await settle();
    await settle();
    expect(driver.stopping).toBe(1);
    expect(done).toBe(false);
    expect(driver.onHost.size).toBe(1);
    driver.release();
    await shut;
    expect(driver.onHost.size).toBe(0);
  });
});

describe('execEnv', () => {
  it("replaces the sandbox's entry of the same key and keeps the rest in order", () => {
    expect(execEnv(['PATH=/bin', 'HOME=/root', 'TERM=xterm'], ['PATH=/.lab/toolbox/bin:/bin', 'LANG=C'])).toEqual([
      'HOME=/root',
      'TERM=xterm',
      'PATH=/.lab/toolbox/bin:/bin',
      'LANG=C',
    ]);
    expect(execEnv(['A=1'])).toEqual(['A=1']);
  });
});

describe('session.events and the store', () => {
  it('events come in order: starting → ready, the check (after the store has it), extended, ended; the store follows', async () => {
    const { m, store } = setup();
    const s = await m.create(lesson(), learner('ann'));
    const seen: string[] = [];
    s.events.on((e) => seen.push(e.type === 'status' ? `status:${e.status}` : e.type));
    const recordedAtEvent: number[] = [];
    s.events.on((e) => {
      if (e.type === 'check') void store.listCheckResults('learner:ann').then((r) => recordedAtEvent.push(r.length));
    });
    await s.ready;
    await s.checks.run('ex');
    s.extend('lifetime');
    await m.end(s, 'idle');
    await m.shutdown();
    expect(seen).toEqual(['status:ready', 'check', 'extended', 'ended', 'status:ended']);
    expect(recordedAtEvent).toEqual([1]);
    expect(await store.getSession(s.id)).toMatchObject({ learnerId: 'learner:ann', state: 'ended', endReason: 'idle', sandboxId: `s${s.id}`, expiresAt: s.expiresAt });
  });

  it('a listener that throws is logged and the others still hear the event', async () => {
    const { m, logs } = setup();
    const s = await m.create(lesson(), learner('ann'));
    const heard: string[] = [];
    s.events.on(() => {
      throw new Error('listener broke');
    });
    s.events.on((e) => heard.push(e.type));
    s.extend('idle');
    expect(heard).toEqual(['extended']);
    expect(logs.join('\n')).toContain('listener broke');
  });

  it('a session the store cannot record is refused and leaves no sandbox behind', async () => {
    const store = memoryStore();
    const driver = new InstantDriver();
    const { m, logs } = setup(driver, POLICY, {
      store: new Proxy(store, {
        get: (t, p) =>
          p === 'createSession'
            ? async () => {
                throw new Error('disk I/O error');
              }
            : (Reflect.get(t, p) as (...a: unknown[]) => unknown).bind(t),
      }),
    });
    await expect(m.create(lesson(), learner('ann'))).rejects.toMatchObject({ code: 'store_unavailable' });
    await settle();
    expect(driver.onHost.size).toBe(0);
    expect(m.inUse).toBe(0);
    expect(logs.join('\n')).toContain('disk I/O error');
  });
});

describe('the start time limit (LAB_START_TIMEOUT_MS)', () => {
  it('a sandbox that never starts is ended with its own reason, its slot is free at once, and if it turns up late it is stopped', async () => {
    const driver = new NeverDriver();
    const { m, store } = setup(driver, { ...POLICY, startTimeoutMs: 50, maxSandboxes: 1 });
    const stuck = await m.create(lesson(), learner('ann'));
    const peer = new RecordingPeer();
    void stuck.terminal.attach(peer);
    const waiting = await m.create(lesson(), learner('bob'));
    expect(waiting.status).toBe('queued');
    await until('the start time limit', () => stuck.ending !== null, 5_000);
    await hangGuard('the end of the stuck session', stuck.ending!, 5_000);
    expect(stuck.endReason).toBe('start_timeout');
    expect(stuck.status).toBe('error');
    expect(peer.of('ended')).toEqual([{ type: 'ended', reason: 'start_timeout', message: expect.stringContaining('did not start within') }]);
    // The slot went to the learner who was waiting.
    expect(waiting.status).toBe('starting');
    expect(driver.starts).toBe(2);
    await m.shutdown().catch(() => {});
    expect(await store.getSession(stuck.id)).toMatchObject({ state: 'ended', endReason: 'start_timeout' });
    // The stuck start finishes after all: that sandbox is stopped as it arrives.
    driver.arrive();
    await until(
      'the late sandboxes arrive and are stopped',
      () => driver.arrived === 2 && driver.onHost.size === 0,
      2_000,
      () => `arrived ${driver.arrived}, on the host ${driver.onHost.size}`,
    );
    expect(driver.onHost.size).toBe(0);
  });
});

describe('the start time limit and a setup script that hangs', () => {
  it("the limit stops the setup script too: the session ends at the limit, not at the script's own (2 × the check timeout)", async () => {
    const driver = new InstantDriver();
    // The setup script never finishes by itself; everything else answers at once.
    driver.checkBehaviour = (script, p) => {
      if (script === 'setup-hangs') return;
      p.emit('ok\n');
      p.finish({ code: 0, signal: null });
    };
    const { m } = setup(driver, { ...POLICY, startTimeoutMs: 50, checkTimeoutMs: 60_000 });
    const s = await m.create(lesson({ setupScript: 'setup-hangs' }), learner('ann'));
    await until('the start time limit', () => s.ending !== null, 5_000);
    await hangGuard('the end of the session', s.ending!, 5_000);
    expect(s.endReason).toBe('start_timeout');
    const setupRun = driver.processes.find((p) => !p.opts.tty && scriptOf(p.argv) === 'setup-hangs');
    expect(setupRun?.done, 'the setup script was killed').toBe(true);
    await m.shutdown();
  });
});

describe('viewers of a terminal', () => {
  async function watched() {
    const { m, driver, clock } = setup();
    const s = await m.create(lesson(), learner('ann'));
    const owner = new RecordingPeer();
    await s.terminal.attach(owner);
    const sh = driver.terminals[0];
    sh.emit('root@lab:~# ls\r\nfile\r\n');
    return { m, s, owner, sh, clock };
  }

  it('a viewer gets its role, the replayed screen and live output; the owner is told how many watch', async () => {
    const { s, owner, sh } = await watched();
    const viewer = new RecordingPeer();
    await s.terminal.attach(viewer, undefined, 'viewer');
    expect(viewer.of('role')).toEqual([{ type: 'role', role: 'viewer' }]);
    expect(Buffer.concat(viewer.output).toString()).toBe('root@lab:~# ls\r\nfile\r\n');
    expect(owner.of('viewers').at(-1)).toEqual({ type: 'viewers', count: 1 });
    sh.emit('more\r\n');
    expect(Buffer.concat(viewer.output).toString()).toContain('more');
    s.terminal.detach(viewer);
    expect(owner.of('viewers').at(-1)).toEqual({ type: 'viewers', count: 0 });
  });

  it("a viewer's keystrokes, resizes and acks never reach the shell", async () => {
    const { s, owner, sh } = await watched();
    const viewer = new RecordingPeer();
    await s.terminal.attach(viewer, undefined, 'viewer');
    s.terminal.input(viewer, Buffer.from('rm -rf /\r'));
    s.terminal.resize(viewer, 20, 5);
    expect(sh.written).toEqual([]);
    expect(sh.size).not.toEqual({ cols: 20, rows: 5 });
    s.terminal.input(owner, Buffer.from('ls\r'));
    expect(sh.written).toEqual(['ls\r']);
    // Acks only count for the owner: a viewer cannot unpause a shell the owner's client is behind on.
    sh.emit(Buffer.alloc(FLOW_HIGH_WATER_BYTES, 'y'));
    expect(sh.paused).toBe(true);
    s.terminal.ack(viewer, FLOW_HIGH_WATER_BYTES * 2);
    expect(sh.paused).toBe(true);
  });

  it('a viewer that stops reading is disconnected without slowing the shell', async () => {
    const { s, owner, sh } = await watched();
    const viewer = new RecordingPeer();
    await s.terminal.attach(viewer, undefined, 'viewer');
    viewer.stalled = true;
    for (let i = 0; i < 80 && !viewer.closed; i++) {
      sh.emit(Buffer.alloc(16 * 1024, 'y'));
      s.terminal.ack(owner, 16 * 1024);
    }
    expect(viewer.closed?.code).toBe(4001);
    expect(viewer.queuedOutputBytes).toBeLessThanOrEqual(VIEWER_MAX_QUEUED_BYTES + 16 * 1024);
    expect(sh.paused).toBe(false);
    expect(s.terminal.viewers).toBe(0);
  });

  it('viewers do not keep a session alive: once the owner is gone past the grace period it ends, and viewers are told why', async () => {
    const { m, s, owner, clock } = await watched();
    const viewer = new RecordingPeer();
    await s.terminal.attach(viewer, undefined, 'viewer');
    s.terminal.detach(owner);
    clock.advance(POLICY.reconnectGraceMs + 1);
    await m.tick();
    expect(s.endReason).toBe('closed');
    expect(viewer.of('ended')).toHaveLength(1);
    expect(viewer.closed?.code).toBe(1000);
  });

  it('at most MAX_VIEWERS watch at once', async () => {
    const { s } = await watched();
    for (let i = 0; i < MAX_VIEWERS; i++) await s.terminal.attach(new RecordingPeer(), undefined, 'viewer');
    const extra = new RecordingPeer();
    await s.terminal.attach(extra, undefined, 'viewer');
    expect(extra.closed?.code).toBe(1013);
    expect(s.terminal.viewers).toBe(MAX_VIEWERS);
  });
});

describe('saved work when a session ends', () => {
  const ARCHIVE = Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3, 0xff, 0]);
  /** The fake sandbox answers the archive script with ARCHIVE (or `bytes`), other scripts as usual. */
  function archiving(driver: InstantDriver, bytes = ARCHIVE) {
    const plain = driver.checkBehaviour;
    driver.checkBehaviour = (script, p) => {
      if (!script.includes('tar -czf')) return plain(script, p);
      p.emit(bytes);
      p.finish({ code: 0, signal: null });
    };
  }

  /** The fake sandbox answers the archive script with ARCHIVE only once `release()` is called (a save that takes a while). */
  function archivingWhenReleased(driver: InstantDriver) {
    const held = { started: false, release: () => {} };
    const plain = driver.checkBehaviour;
    driver.checkBehaviour = (script, p) => {
      if (!script.includes('tar -czf')) return plain(script, p);
      held.started = true;
      held.release = () => {
        p.emit(ARCHIVE);
        p.finish({ code: 0, signal: null });
      };
    };
    return held;
  }

  it("the learner's files are saved before the sandbox goes, and the ended message says so", async () => {
    const { m, driver, store, clock } = setup();
    archiving(driver);
    const s = await m.create(lesson({ keep: ['/root', '/etc/lab'] }), learner('ann'));
    const peer = new RecordingPeer();
    await s.terminal.attach(peer);
    s.terminal.input(peer, Buffer.from('echo hi > notes\r'));
    clock.advance(POLICY.idleTimeoutMs);
    await m.tick();
    expect(peer.of('ended')[0]).toMatchObject({ reason: 'idle', message: expect.stringContaining('Your files (/root, /etc/lab) were saved') });
    const saved = await store.getLatestSavedWork('learner:ann', '01-mod/01-les');
    expect(saved?.archive.equals(ARCHIVE)).toBe(true);
    expect(driver.onHost.size).toBe(0);
  });

  it('a socket that arrives while the files are being saved is told the end with the files note, once it is known', async () => {
    const { m, driver, clock } = setup();
    const archive = archivingWhenReleased(driver);
    const s = await m.create(lesson(), learner('ann'));
    const peer = new RecordingPeer();
    await s.terminal.attach(peer);
    s.terminal.input(peer, Buffer.from('echo hi > notes\r'));
    clock.advance(POLICY.idleTimeoutMs);
    const ticked = m.tick();
    await until('the save to begin', () => s.ended, 2_000);
    const late = new RecordingPeer();
    const attached = s.terminal.attach(late);
    await new Promise((r) => setTimeout(r, 20));
    expect(late.of('ended')).toEqual([]); // not told before the files are known
    archive.release();
    await attached;
    await ticked;
    expect(late.of('ended')[0]).toMatchObject({ reason: 'idle', message: expect.stringContaining('Your files (/root) were saved') });
    expect(late.closed?.code).toBe(1000);
  });

  it('a session nobody worked in saves nothing, so it never replaces earlier work', async () => {
    const { m, driver, store } = setup();
    archiving(driver);
    await store.ensureLearner({ id: 'learner:ann', kind: 'anonymous', createdAt: 1 });
    await store.putSavedWork({ learnerId: 'learner:ann', lessonId: '01-mod/01-les', createdAt: 5, archive: Buffer.from('earlier') });
    const s = await m.create(lesson(), learner('ann'));
    await s.ready;
    await m.end(s, 'closed');
    expect((await store.getLatestSavedWork('learner:ann', '01-mod/01-les'))?.archive.toString()).toBe('earlier');
  });

  it('work over the cap is not saved, and the learner is told', async () => {
    const { m, driver, store } = setup();
    archiving(driver, Buffer.alloc(POLICY.savedWorkBytes + 1, 1));
    const s = await m.create(lesson(), learner('ann'));
    const peer = new RecordingPeer();
    await s.terminal.attach(peer);
    s.terminal.input(peer, Buffer.from('x'));
    await m.end(s, 'idle');
    expect(peer.of('ended')[0].message).toContain('were not saved: together they are over the 1 MiB limit');
    expect(await store.getLatestSavedWorkInfo('learner:ann', '01-mod/01-les')).toBeNull();
  });

  it('a full disk: the session still ends, and the learner is told their work could not be saved', async () => {
    const real = memoryStore();
    const full = new Proxy(real, {
      get: (t, p) =>
        p === 'putSavedWork'
          ? async () => {
              throw new Error('database or disk is full');
            }
          : (Reflect.get(t, p) as (...a: unknown[]) => unknown).bind(t),
    });
    const driver = new InstantDriver();
    archiving(driver);
    const { m, logs } = setup(driver, POLICY, { store: full });
    const s = await m.create(lesson(), learner('ann'));
    const peer = new RecordingPeer();
    await s.terminal.attach(peer);
    s.terminal.input(peer, Buffer.from('x'));
    await m.end(s, 'lifetime');
    expect(peer.of('ended')[0].message).toContain('could not be saved: the lab could not store them');
    expect(s.state).toBe('ended');
    expect(driver.onHost.size).toBe(0);
    expect(logs.join('\n')).toContain('database or disk is full');
  });

  it('keystrokes during the save do not reach the shell', async () => {
    const { m, driver } = setup();
    const archive = archivingWhenReleased(driver);
    const s = await m.create(lesson(), learner('ann'));
    const peer = new RecordingPeer();
    await s.terminal.attach(peer);
    s.terminal.input(peer, Buffer.from('a'));
    const ending = m.end(s, 'idle');
    await until('the save has started', () => archive.started, 2_000);
    s.terminal.input(peer, Buffer.from('b'));
    archive.release();
    await ending;
    expect(driver.terminals[0].written).toEqual(['a']);
  });
});

describe('adoption after a backend restart', () => {
  /** A second manager on the same "host" (driver) and store, as a backend started after the first died. */
  function restarted(driver: InstantDriver, store: ReturnType<typeof memoryStore>, clock: FakeClock, lessons: Lesson[]) {
    const logs: string[] = [];
    const m = new SessionManager({
      drivers: { gvisor: driver },
      policy: POLICY,
      store,
      rootfsFor: () => '/rootfs',
      now: clock.now,
      log: (l) => logs.push(l),
      lessonFor: async (id) => lessons.find((l) => l.id === id) ?? null,
    });
    return { m, logs };
  }

  it("a new backend adopts its learners' live sandboxes: same session, owner, times; the shell reattached; orphans reaped", async () => {
    const driver = new InstantDriver();
    const store = memoryStore();
    const l = lesson();
    const { m: first, clock } = setup(driver, POLICY, { store });
    const kept = await first.create(l, learner('ann'));
    await kept.ready;
    const gone = await first.create(l, learner('bob'));
    await gone.ready;
    await first.poolSettled();
    kept.extend('lifetime'); // one of its extensions is used: the new backend allows only the rest
    await settle();
    driver.onHost.add('s-orphan'); // a sandbox no session owns (a warm one, a failed start)
    driver.dead.add(gone.sandbox!.id); // bob's died while no backend ran
    // The first backend is killed: nothing of it runs on (no shutdown, no ends).
    const shellsBefore = driver.terminals.length;

    const { m, logs } = restarted(driver, store, clock, [l]);
    await m.start(60_000);
    const again = m.get(kept.id)!;
    expect(again).toBeDefined();
    expect(again.status).toBe('ready');
    expect(again.ownerKey).toBe('learner:ann');
    expect(again.expiresAt).toBe(kept.expiresAt);
    expect(again.extendsLeft).toBe(POLICY.maxExtends - 1);
    expect(again.sandbox!.id).toBe(kept.sandbox!.id);
    await settle();
    expect(driver.terminals.length).toBe(shellsBefore + 1); // reattached (dtach -A) by the new backend
    expect(m.get(gone.id)).toBeUndefined();
    expect(await store.getSession(gone.id)).toMatchObject({ state: 'ended', endReason: 'sandbox_exited' });
    expect(driver.onHost.has('s-orphan')).toBe(false);
    expect(driver.onHost.has(kept.sandbox!.id)).toBe(true);
    expect(logs.join('\n')).toContain('adopted 1 of 2 session(s)');
    // It is a live session like any other: its owner's checks run and are recorded, its end ends it.
    await again.checks.run('ex');
    expect(await store.listCheckResults('learner:ann')).toHaveLength(1);
    await m.shutdown();
    expect(await store.getSession(kept.id)).toMatchObject({ state: 'ended', endReason: 'shutdown' });
  });

  it('a session whose lifetime passed while no backend ran is ended (after its work is saved), not kept', async () => {
    const driver = new InstantDriver();
    const store = memoryStore();
    const l = lesson();
    const { m: first, clock } = setup(driver, POLICY, { store });
    const s = await first.create(l, learner('ann'));
    await s.ready;
    clock.advance(POLICY.maxLifetimeMs + 1);
    const { m } = restarted(driver, store, clock, [l]);
    await m.start(60_000);
    // Adopted only to be ended at once, so its learner's work is saved first.
    await m.get(s.id)?.ending;
    expect(await store.getSession(s.id)).toMatchObject({ state: 'ended', endReason: 'lifetime' });
    expect(driver.onHost.size).toBe(0);
  });

  it('a hand-over ends (and saves) the sessions of a runtime that cannot be adopted', async () => {
    const driver = new InstantDriver();
    driver.adopts = false;
    const store = memoryStore();
    const { m } = setup(driver, POLICY, { store });
    const s = await m.create(lesson(), learner('ann'));
    await s.ready;
    await m.handOver();
    expect(await store.getSession(s.id)).toMatchObject({ state: 'ended', endReason: 'shutdown' });
    expect(driver.onHost.size).toBe(0);
  });

  it("a hand-over ends only the warm pool and leaves every learner's session live in the store", async () => {
    const driver = new InstantDriver();
    const store = memoryStore();
    const { m } = setup(driver, POLICY, { store });
    const s = await m.create(lesson(), learner('ann'));
    await s.ready;
    await m.handOver();
    expect(s.ended).toBe(false);
    expect((await store.getSession(s.id))?.state).toBe('ready');
    expect(driver.onHost.has(s.sandbox!.id)).toBe(true);
  });
});
