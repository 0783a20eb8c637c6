import { describe, expect, it } from 'vitest';
import type { Sandbox } from '../../src/sandbox/driver';
import { SandboxLedger, shutDown } from '../../src/shutdown';
import { InstantDriver, lesson, setup } from './fakes';
import { learner } from '../learners';

/** Stops take until `release()`: a runtime whose teardown is slow (runsc delete, a QEMU that takes its time). */
class SlowStopDriver extends InstantDriver {
  private gates: (() => void)[] = [];
  stopsStarted = 0;
  async stop(sb: Sandbox) {
    this.stopsStarted++;
    await new Promise<void>((r) => this.gates.push(r));
    await super.stop(sb);
  }
  release() {
    this.gates.splice(0).forEach((g) => g());
  }
}

const settle = (ms = 0) => new Promise((r) => setTimeout(r, ms));

function lab(driver: InstantDriver) {
  const ledger = new SandboxLedger();
  const tracked = ledger.wrap(driver);
  const { m } = setup(tracked as InstantDriver);
  const logs: string[] = [];
  return { m, ledger, logs, log: (l: string) => logs.push(l) };
}

describe('shutdown (SIGTERM)', () => {
  it('logs how many sandboxes it ends, and resolves once every one is gone', async () => {
    const driver = new SlowStopDriver();
    const { m, ledger, logs, log } = lab(driver);
    await m.create(lesson(), learner('a'));
    await m.create(lesson(), learner('b'));
    await settle();
    let done = false;
    const result = shutDown({ close: () => m.shutdown(), ledger, boundMs: 5_000, log }).then((r) => {
      done = true;
      return r;
    });
    await settle(50);
    expect(logs[0]).toMatch(/^ending 2 sandboxes: gvisor s\w+, gvisor s\w+$/);
    expect(done).toBe(false);
    driver.release();
    const r = await result;
    expect(r).toMatchObject({ ok: true, remaining: [] });
    expect(driver.onHost.size).toBe(0);
    expect(logs.at(-1)).toMatch(/^all 2 sandboxes gone in \d+ ms$/);
  });

  it('waits for a stop that was already under way when the signal came (the manager no longer lists that session)', async () => {
    const driver = new SlowStopDriver();
    const { m, ledger, log } = lab(driver);
    const s = await m.create(lesson(), learner('a'));
    await settle();
    void m.end(s, 'closed'); // an idle end or a DELETE, still destroying the sandbox
    await settle();
    expect(driver.stopsStarted).toBe(1);
    let done = false;
    const result = shutDown({ close: () => m.shutdown(), ledger, boundMs: 5_000, log }).then((r) => {
      done = true;
      return r;
    });
    await settle(100);
    expect(done).toBe(false); // backend.close() alone may have resolved by now; the sandbox is not gone yet
    expect(ledger.remaining).toEqual([`gvisor s${s.id}`]);
    driver.release();
    expect(await result).toMatchObject({ ok: true, remaining: [] });
    expect(driver.onHost.size).toBe(0);
  });

  it('gives up at the bound and says which sandboxes remain', async () => {
    const driver = new SlowStopDriver();
    const { m, ledger, logs, log } = lab(driver);
    const s = await m.create(lesson(), learner('a'));
    await settle();
    const r = await shutDown({ close: () => m.shutdown(), ledger, boundMs: 100, log });
    expect(r).toMatchObject({ ok: false, remaining: [`gvisor s${s.id}`] });
    expect(logs.at(-1)).toBe(`shutdown bound of 100 ms passed; 1 sandbox still running: gvisor s${s.id}`);
    driver.release();
    await m.shutdown();
  });

  it('counts a sandbox that is still booting, and a stop that fails', async () => {
    const driver = new (class extends InstantDriver {
      private gate!: () => void;
      readonly booting = new Promise<void>((r) => {
        this.gate = r;
      });
      async start(spec: Parameters<InstantDriver['start']>[0]) {
        await this.booting;
        return super.start(spec);
      }
      async stop(): Promise<void> {
        throw new Error('runsc delete: device busy');
      }
      open() {
        this.gate();
      }
    })();
    const { m, ledger, logs, log } = lab(driver);
    await m.create(lesson(), learner('a'));
    await settle();
    expect(ledger.remaining).toEqual([expect.stringMatching(/^gvisor s\w+ \(starting\)$/)]);
    const result = shutDown({ close: () => m.shutdown(), ledger, boundMs: 5_000, log });
    await settle(20);
    driver.open();
    const r = await result;
    expect(r.ok).toBe(false);
    expect(r.failures).toEqual([expect.stringContaining('runsc delete: device busy')]);
    expect(logs.at(-1)).toMatch(/^could not stop 1: /);
  });

  it('passes every other driver call through unchanged', async () => {
    const driver = new InstantDriver();
    const tracked = new SandboxLedger().wrap(driver);
    expect(tracked.name).toBe('gvisor');
    expect(await tracked.available()).toEqual({ ok: true });
    const sb = await tracked.start({ id: 'x', rootfsPath: '/r', hostname: 'lab', capabilities: [], limits: { memoryLimitBytes: 1, pidsLimit: 1, cpuQuotaMillicores: 1 }, env: [] });
    expect(await tracked.reap(new Set([sb.id]))).toEqual([]);
    expect(driver.onHost.has('x')).toBe(true);
  });
});
