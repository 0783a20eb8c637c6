import { describe, expect, it } from 'vitest';
import { TailBuffer } from '../../src/sandbox/microvm';

describe('TailBuffer (the microVM console ring)', () => {
  it('never holds more than its cap, keeps exactly the newest bytes, and counts everything written', () => {
    const t = new TailBuffer(16);
    let all = '';
    for (let i = 0; i < 200; i++) {
      const piece = String.fromCharCode(97 + (i % 26)).repeat(1 + ((i * 7) % 11));
      t.write(Buffer.from(piece));
      all += piece;
      expect(t.bytes).toBeLessThanOrEqual(16);
      expect(t.toString()).toBe(all.slice(-16));
    }
    expect(t.total).toBe(all.length);
    t.write(Buffer.alloc(40, 'z'));
    expect(t.toString()).toBe('z'.repeat(16));
  });
});
