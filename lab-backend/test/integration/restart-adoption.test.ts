/**
 * Sandboxes that outlive their backend, for real: a lab backend process
 * (fixtures/lab-backend-process.ts: real runsc or QEMU, a real SQLite file)
 * serves a learner's gVisor session, and then a microVM one (the fixture
 * lesson with `runtime: microvm`); the learner writes a file, leaves a `sleep`
 * running and text on the screen, and sets a shell variable; the backend is
 * killed with -9. A new backend on the same state dir and database adopts the
 * sandbox: the learner's socket (same token, same cookie) gets the screen
 * replayed and then the same shell (its variable, the file, the process); the
 * old backend's warm sandbox, which no session owns, is reaped. Then the same
 * again by hand-over (SIGUSR2), and the last backend's SIGTERM leaves nothing.
 * Prints how long the learner was without their shell.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ensureImage } from '../../src/images';
import { GvisorDriver } from '../../src/sandbox/gvisor';
import { MicrovmDriver } from '../../src/sandbox/microvm';
import type { CreateSessionResponse } from '../../src/wire';
import { CookieJar } from '../cookie-jar';
import { until } from '../hang-guard';
import { IMAGE_DIR, baseRootfs, leftovers, microvmLeftovers, tempStateDir } from './helpers';
import { describeMicrovm } from './microvm-expected';

const LESSON = '01-fixture/01-basic';
const FIXTURES = path.resolve('lab-backend/test/fixtures/content');
const children: ChildProcess[] = [];
const stateDirs: string[] = [];

/** The fixture course with its lesson on `microvm` (same setup, checks and body). */
function microvmContent(): string {
  const dir = path.join(tempStateDir(), 'content');
  cpSync(FIXTURES, dir, { recursive: true });
  const f = path.join(dir, LESSON, 'index.mdx');
  writeFileSync(
    f,
    readFileSync(f, 'utf8')
      .replace(/^runtime: gvisor$/m, 'runtime: microvm')
      .replace(/^image: base$/m, 'image: microvm'),
  );
  return dir;
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

interface Lab {
  runtime: 'gvisor' | 'microvm';
  stateDir: string;
  contentDir: string;
}

/** One backend process; resolves once it serves. */
async function startOne(lab: Lab, port: number): Promise<{ proc: ChildProcess; log: () => string; exited: Promise<number | null> }> {
  const { stateDir } = lab;
  let out = '';
  const proc = spawn(process.execPath, ['--import', 'tsx', 'lab-backend/test/fixtures/lab-backend-process.ts'], {
    env: {
      ...process.env,
      PORT: String(port),
      LAB_STATE_DIR: stateDir,
      LAB_DATABASE: path.join(stateDir, 'lab.db'),
      LAB_CONTENT_DIR: lab.contentDir,
      LAB_RUNTIMES: lab.runtime,
      LAB_POOL_GVISOR: lab.runtime === 'gvisor' ? '1' : '0',
      LAB_POOL_MICROVM: lab.runtime === 'microvm' ? '1' : '0',
      LAB_ALLOWED_HOSTS: '127.0.0.1',
      LAB_ORPHAN_GRACE_MS: '120000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(proc);
  proc.stdout!.on('data', (c) => {
    out += c;
  });
  proc.stderr!.on('data', (c) => {
    out += c;
  });
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  await until(
    'the backend to listen',
    () => out.includes(`LISTENING ${port}`) || proc.exitCode !== null,
    120_000,
    () => out.slice(-2000),
  );
  if (proc.exitCode !== null) throw new Error(`the backend exited: ${out}`);
  return { proc, log: () => out, exited };
}

/** The learner's terminal socket, collecting what it is sent. */
function terminal(base: string, s: CreateSessionResponse, jar: CookieJar) {
  const ws = new WebSocket(
    `${base.replace('http', 'ws')}/lab-api/ws?session=${s.sessionId}&token=${encodeURIComponent(s.token)}&cols=120&rows=30`,
    jar.wsOptions({ origin: base }),
  );
  const t = { ws, out: '', firstOutputAt: 0, closeCode: 0 };
  ws.on('message', (d, binary) => {
    if (binary) {
      t.firstOutputAt ||= Date.now();
      t.out += d.toString();
    }
  });
  ws.on('close', (code) => {
    t.closeCode = code;
  });
  ws.on('error', () => {});
  return t;
}

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  // Whatever a failed run left: the drivers' own reaper takes it away.
  for (const stateDir of stateDirs) {
    await new GvisorDriver({ stateDir }).reap(new Set());
    await new MicrovmDriver({ stateDir }).reap(new Set());
  }
});

function restartSuite(lab: () => Lab) {
  it('kill -9, then a new backend: the same shell, files and processes, the screen replayed; orphans reaped; the same by hand-over', async () => {
    const { runtime, stateDir } = lab();
    const startBackend = (port: number) => startOne(lab(), port);
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const jar = new CookieJar();
    const a = await startBackend(port);
    const created = await jar.fetch(`${base}/lab-api/sessions`, {
      method: 'POST',
      headers: { origin: base, 'content-type': 'application/json' },
      body: JSON.stringify({ lessonId: LESSON }),
    });
    expect(created.status).toBe(201);
    const s = (await created.json()) as CreateSessionResponse;
    const t1 = terminal(base, s, jar);
    await until(
      'the first prompt',
      () => /root@lab[^\n]*# $/.test(t1.out),
      60_000,
      () => JSON.stringify(t1.out.slice(-300)),
    );
    t1.ws.send(Buffer.from('cd /root && echo adopt-me > f.txt && (setsid sleep 1005 >/dev/null 2>&1 &) ; H=held-$((40+2)); echo marker-$((1+1))\r'));
    await until(
      'the marker',
      () => t1.out.includes('marker-2'),
      30_000,
      () => JSON.stringify(t1.out.slice(-300)),
    );
    await until(
      "the old backend's warm sandbox",
      () => /warm sandbox \w+ \(01-fixture\/01-basic\) ready/.test(a.log()),
      60_000,
      () => a.log().slice(-1000),
    );
    await new Promise((r) => setTimeout(r, 500)); // the screen log is written every 200 ms

    // kill -9: nothing of the backend runs on.
    const killedAt = Date.now();
    a.proc.kill('SIGKILL');
    await a.exited;
    const b = await startBackend(port);
    const backAt = Date.now();
    expect(b.log()).toMatch(new RegExp(`session \\w+ \\(01-fixture/01-basic\\) adopted its ${runtime} sandbox`));
    expect(b.log()).toMatch(new RegExp(`reaped 1 ${runtime} sandbox\\(es\\) left by a previous run`)); // A's warm sandbox: no session owned it
    const t2 = terminal(base, s, jar); // the page reconnects with what it holds: same token, same cookie
    await until(
      'the replayed screen',
      () => t2.out.includes('marker-2'),
      30_000,
      () => JSON.stringify(t2.out.slice(-300)),
    );
    t2.ws.send(Buffer.from('echo "again:$H:$(cat /root/f.txt):$(pgrep -fx "sleep 1005" | wc -l)"\r'));
    await until(
      'the same shell',
      () => t2.out.includes('again:held-42:adopt-me:1'),
      30_000,
      () => `${JSON.stringify(t2.out.slice(-500))}\n--- the new backend's log ---\n${b.log().slice(-3000)}`,
    );
    const lostSeconds = (t2.firstOutputAt - killedAt) / 1000;
    console.log(
      `[restart] ${runtime}: kill -9 → the learner's screen back on a new backend: ${lostSeconds.toFixed(1)} s (of which the new backend's start ${((backAt - killedAt) / 1000).toFixed(1)} s)`,
    );

    // Hand-over: the socket is told the lab is restarting (1012), the next backend adopts again.
    b.proc.kill('SIGUSR2');
    expect(await b.exited).toBe(0);
    await until('the socket to close', () => t2.closeCode !== 0, 10_000);
    expect(t2.closeCode).toBe(1012);
    const c = await startBackend(port);
    const t3 = terminal(base, s, jar);
    await until(
      'the screen after the hand-over',
      () => t3.out.includes('again:held-42:adopt-me:1'),
      30_000,
      () => JSON.stringify(t3.out.slice(-300)),
    );
    t3.ws.send(Buffer.from('echo "third:$H"\r'));
    await until(
      'the same shell once more',
      () => t3.out.includes('third:held-42'),
      30_000,
      () => JSON.stringify(t3.out.slice(-300)),
    );

    // Ctrl-C of the lab (SIGTERM) still ends everything.
    t3.ws.close();
    c.proc.kill('SIGTERM');
    expect(await c.exited).toBe(0);
    if (runtime === 'gvisor') expect(await leftovers(new GvisorDriver({ stateDir }), stateDir)).toMatchObject({ bundles: [], procs: [], cgroups: [] });
    else expect(await microvmLeftovers(new MicrovmDriver({ stateDir }), stateDir)).toMatchObject({ dirs: [], procs: [], cgroups: [] });
  }, 300_000);
}

function newLab(runtime: Lab['runtime'], contentDir: () => string): () => Lab {
  let lab: Lab | null = null;
  return () => {
    if (!lab) {
      lab = { runtime, stateDir: tempStateDir(), contentDir: contentDir() };
      stateDirs.push(lab.stateDir);
    }
    return lab;
  };
}

describe("a learner's sandbox outlives its backend (real runsc, SQLite, a backend process killed with -9)", () => {
  const lab = newLab('gvisor', () => FIXTURES);
  beforeAll(async () => {
    await baseRootfs();
  }, 300_000);
  restartSuite(lab);
});

describeMicrovm("a learner's microVM outlives its backend (real QEMU, SQLite, a backend process killed with -9)", () => {
  const lab = newLab('microvm', microvmContent);
  beforeAll(async () => {
    await ensureImage(IMAGE_DIR, 'microvm', (l) => console.log(`[images] ${l}`));
  }, 300_000);
  restartSuite(lab);
});
