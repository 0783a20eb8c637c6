/**
 * The host side of the microVM agent protocol against fake guests on a real
 * unix socket: an honest agent, and impostors that took the port (no key,
 * silence, a flood for a paused stream, input never acknowledged). The real
 * agent and a real rebinding attack are in hostile-client.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentConnection, F, INPUT_WINDOW_BYTES, KEY_BYTES, PAUSED_BUDGET_BYTES } from '../../src/sandbox/microvm-agent';
import type { ExitStatus } from '../../src/sandbox/driver';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function frame(type: number, id: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const h = Buffer.alloc(9);
  h.writeUInt8(type, 0);
  h.writeUInt32BE(id, 1);
  h.writeUInt32BE(payload.length, 5);
  return Buffer.concat([h, payload]);
}

/** The guest end of the port: parses the host's frames; `honest` answers PINGs with the key it was given. */
class FakeGuest {
  key: Buffer | null = null;
  readonly frames: { type: number; id: number; payload: Buffer }[] = [];
  private buf = Buffer.alloc(0);
  constructor(
    readonly sock: net.Socket,
    public honest = true,
  ) {
    sock.on('data', (b) => {
      this.buf = Buffer.concat([this.buf, b]);
      while (this.buf.length >= 9 && this.buf.length >= 9 + this.buf.readUInt32BE(5)) {
        const len = this.buf.readUInt32BE(5);
        const f = { type: this.buf[0], id: this.buf.readUInt32BE(1), payload: this.buf.subarray(9, 9 + len) };
        this.buf = this.buf.subarray(9 + len);
        this.frames.push(f);
        if (f.type === F.HELLO) this.key = Buffer.from(f.payload);
        if (f.type === F.PING && this.honest) this.send(F.PONG, 0, Buffer.concat([f.payload, this.key!]));
      }
    });
    sock.on('error', () => {});
  }
  send(type: number, id: number, payload?: Buffer) {
    this.sock.write(frame(type, id, payload));
  }
  exit(id: number, code: number, key = this.key!) {
    const p = Buffer.alloc(5);
    p.writeInt32BE(code, 0);
    this.send(F.EXIT, id, Buffer.concat([p, key]));
  }
  of(type: number) {
    return this.frames.filter((f) => f.type === type);
  }
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A host connection made by `open` on a real unix socket, and the fake guest at its other end (as QEMU's chardev would be). */
async function wired(open: (sock: net.Socket) => AgentConnection) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lab-agent-'));
  dirs.push(dir);
  const sockPath = path.join(dir, 'agent.sock');
  const guestSock = new Promise<net.Socket>((resolve) => {
    const srv = net.createServer((s) => {
      srv.close();
      resolve(s);
    });
    srv.listen(sockPath);
  });
  await sleep(10);
  const host = open(net.createConnection(sockPath));
  return { host, guest: new FakeGuest(await guestSock) };
}

async function connect(liveness = { heartbeatMs: 40, deadlineMs: 400 }) {
  const { host, guest } = await wired((sock) => new AgentConnection(sock, liveness));
  guest.send(F.READY, 0);
  await host.whenReady();
  await until(() => guest.key !== null);
  return { host, guest };
}

async function until(pred: () => boolean, ms = 3000) {
  for (const t0 = Date.now(); !pred();) {
    if (Date.now() - t0 > ms) throw new Error(`hang guard: the awaited agent event did not happen within ${ms / 1000} s (a bound against a hang, not a speed limit)`);
    await sleep(5);
  }
}

const REQ = { argv: ['/bin/true'], env: [], cwd: '/', tty: true, cols: 80, rows: 24, caps: 0n };

/** Start an exec the fake guest accepts; returns its id and what it reports. */
async function started(host: AgentConnection, guest: FakeGuest) {
  const exits: ExitStatus[] = [];
  const data: Buffer[] = [];
  let drained = 0;
  const p = host.exec(REQ, { onData: (c) => data.push(c), onExit: (e) => exits.push(e), onInputDrain: () => drained++ });
  await until(() => guest.of(F.EXEC).length > 0);
  const id = guest.of(F.EXEC).at(-1)!.id;
  guest.send(F.STARTED, id);
  expect(await p).toBe(id);
  return {
    id,
    exits,
    data,
    get drained() {
      return drained;
    },
  };
}

describe('agent protocol: the host trusts only the agent it booted', () => {
  it("hands the agent a fresh key on READY; an honest agent's exits and heartbeats are accepted", async () => {
    const { host, guest } = await connect();
    expect(guest.key).toHaveLength(KEY_BYTES);
    const e = await started(host, guest);
    guest.exit(e.id, 3);
    await until(() => e.exits.length > 0);
    expect(e.exits[0]).toEqual({ code: 3, signal: null });
    await sleep(600); // longer than the deadline: the heartbeats keep it alive
    expect(host.closed).toBe(false);
    expect(host.violation).toBeNull();
    host.close();
  });

  it('an EXIT without the key (a forged check pass) ends the connection, and the exec reports a kill', async () => {
    const { host, guest } = await connect();
    const e = await started(host, guest);
    guest.exit(e.id, 0, Buffer.alloc(KEY_BYTES));
    await until(() => host.closed);
    expect(host.violation).toMatch(/forged an exit status/);
    expect(e.exits).toEqual([{ code: null, signal: 'SIGKILL' }]);
    await expect(host.exec(REQ, { onData: () => {}, onExit: () => {} })).rejects.toThrow(/forged/);
  });

  it('a guest that stops answering (the port held by someone else) is declared gone after the deadline', async () => {
    const { host, guest } = await connect();
    guest.honest = false;
    await until(() => host.closed, 2000);
    expect(host.violation).toMatch(/did not answer/);
  });

  it('a PONG with the wrong key ends the connection at once', async () => {
    const { host, guest } = await connect();
    guest.send(F.PONG, 0, Buffer.alloc(8 + KEY_BYTES));
    await until(() => host.closed);
    expect(host.violation).toMatch(/in place of its agent/);
  });

  it('output for a paused stream is tolerated up to the budget, then ends the connection', async () => {
    const { host, guest } = await connect();
    const e = await started(host, guest);
    host.pauseStream(e.id);
    const chunk = Buffer.concat([Buffer.from([1]), Buffer.alloc(16 * 1024, 'A')]);
    for (let n = 0; n < PAUSED_BUDGET_BYTES / 2; n += 16 * 1024) guest.send(F.DATA, e.id, chunk);
    await until(() => e.data.length >= PAUSED_BUDGET_BYTES / 2 / (16 * 1024));
    expect(host.closed).toBe(false); // what was in flight when PAUSE went out
    host.resumeStream(e.id);
    host.pauseStream(e.id);
    for (let n = 0; n <= PAUSED_BUDGET_BYTES; n += 16 * 1024) guest.send(F.DATA, e.id, chunk);
    await until(() => host.closed);
    expect(host.violation).toMatch(/paused terminal/);
  });

  it('sends at most a window of stdin until the agent acknowledges it, and counts the rest as pending', async () => {
    const { host, guest } = await connect();
    const e = await started(host, guest);
    const total = 4 * INPUT_WINDOW_BYTES;
    host.stdin(e.id, Buffer.alloc(total, 'k'));
    await sleep(50);
    const sent = () => guest.of(F.STDIN).reduce((n, f) => n + f.payload.length, 0);
    expect(sent()).toBe(INPUT_WINDOW_BYTES);
    expect(host.pendingInput(e.id)).toBe(total);
    // The agent wrote some; an ack for more than was sent counts only for what was sent.
    const ack = (n: number) => {
      const p = Buffer.alloc(4);
      p.writeUInt32BE(n, 0);
      guest.send(F.STDIN_ACK, e.id, p);
    };
    ack(1000);
    await until(() => sent() === INPUT_WINDOW_BYTES + 1000);
    expect(host.pendingInput(e.id)).toBe(total - 1000);
    expect(e.drained).toBe(1);
    ack(0xffffffff);
    await until(() => sent() === 2 * INPUT_WINDOW_BYTES + 1000);
    expect(host.pendingInput(e.id)).toBe(total - 1000 - INPUT_WINDOW_BYTES);
    host.close();
  });

  it('an exec whose deadline passes before the agent starts it is given up, and killed if it starts later', async () => {
    const { host, guest } = await connect();
    const ac = new AbortController();
    const p = host.exec(REQ, { onData: () => {}, onExit: () => {} }, ac.signal);
    await until(() => guest.of(F.EXEC).length > 0);
    ac.abort();
    await expect(p).rejects.toThrow(/aborted/);
    guest.send(F.STARTED, guest.of(F.EXEC)[0].id);
    await until(() => guest.of(F.SIGNAL).length > 0);
    expect(guest.of(F.SIGNAL)[0].payload[0]).toBe(os.constants.signals.SIGKILL);
    host.close();
  });
});

describe('agent protocol: a restarted backend adopts the agent it booted (ADOPT)', () => {
  /** A new host connection with the boot's key, and the fake guest that already holds that key. */
  async function adopter(key: Buffer) {
    const { host, guest } = await wired((sock) => new AgentConnection(sock, { heartbeatMs: 40, deadlineMs: 400 }, { key, adopt: true }));
    guest.key = key;
    await until(() => guest.of(F.ADOPT).length > 0);
    return { host, guest, nonce: guest.of(F.ADOPT)[0].payload };
  }

  it('finds its place after the tail of a cut frame and forgeries, by the ADOPTED frame that carries its nonce and the key', async () => {
    const key = Buffer.alloc(KEY_BYTES, 7);
    const { host, guest, nonce } = await adopter(key);
    expect(nonce).toHaveLength(8);
    let ready = false;
    void host.whenReady().then(() => (ready = true));
    // What a guest may send first: the rest of a DATA frame cut short for the old host, a learner's try without the
    // key, one with an old nonce: none of it makes the host ready, and none of it is a violation.
    guest.sock.write(Buffer.from('rest of an old frame \x83\x00\x00\x00\x01'));
    guest.send(F.ADOPTED, 0, Buffer.concat([nonce, Buffer.alloc(KEY_BYTES)]));
    guest.send(F.ADOPTED, 0, Buffer.concat([Buffer.alloc(8), key]));
    await sleep(50);
    expect(ready).toBe(false);
    expect(host.closed).toBe(false);
    // Unanswered, ADOPT is asked again, with the same nonce (the guest may have dropped the first as the old host's).
    await until(() => guest.of(F.ADOPT).length >= 2, 2_000);
    expect(guest.of(F.ADOPT).every((f) => f.payload.equals(nonce))).toBe(true);
    // The real answer, split across writes, with a frame right behind it.
    const real = frame(F.ADOPTED, 0, Buffer.concat([nonce, key]));
    guest.sock.write(real.subarray(0, 20));
    await sleep(10);
    guest.sock.write(Buffer.concat([real.subarray(20), frame(F.DATA, 99, Buffer.from('\x01stale'))]));
    await until(() => ready);
    expect(guest.of(F.HELLO)).toEqual([]); // the key is not handed out again
    const asked = guest.of(F.ADOPT).length;
    // Stream ids start afresh, and the boot's key proves the agent's exits and heartbeats.
    const e = await started(host, guest);
    expect(e.id).toBe(1);
    guest.exit(e.id, 0);
    await until(() => e.exits.length > 0);
    expect(e.exits[0]).toEqual({ code: 0, signal: null });
    await sleep(600);
    expect(host.violation).toBeNull();
    expect(guest.of(F.ADOPT)).toHaveLength(asked); // answered: not asked again
    host.close();
  });

  it('an impostor that cannot answer with the key is never taken for the agent', async () => {
    const key = Buffer.alloc(KEY_BYTES, 9);
    const { host, guest, nonce } = await adopter(key);
    let ready = false;
    void host.whenReady().then(() => (ready = true));
    guest.send(F.READY, 0);
    guest.send(F.ADOPTED, 0, Buffer.concat([nonce, Buffer.alloc(KEY_BYTES, 1)]));
    guest.send(F.PONG, 0, Buffer.concat([nonce, Buffer.alloc(KEY_BYTES, 1)]));
    await sleep(200);
    expect(ready).toBe(false);
    expect(guest.of(F.HELLO)).toEqual([]);
    host.close();
  });
});
