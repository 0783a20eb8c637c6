import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { extractPvhKernel, hasPvhNote } from '../../src/sandbox/microvm-image';

/** A minimal ELF64 with one PT_NOTE segment holding one note (name, type). */
function elfWithNote(name: string, type: number): Buffer {
  const nameBuf = Buffer.from(`${name}\0`);
  const namePad = Buffer.alloc((4 - (nameBuf.length % 4)) % 4);
  const note = Buffer.concat([Buffer.alloc(12), nameBuf, namePad, Buffer.alloc(8)]);
  note.writeUInt32LE(nameBuf.length, 0);
  note.writeUInt32LE(8, 4);
  note.writeUInt32LE(type, 8);
  const ehdr = Buffer.alloc(64);
  ehdr.writeUInt32BE(0x7f454c46, 0);
  ehdr[4] = 2;
  ehdr[5] = 1;
  ehdr[6] = 1;
  ehdr.writeBigUInt64LE(64n, 0x20);
  ehdr.writeUInt16LE(56, 0x36);
  ehdr.writeUInt16LE(1, 0x38);
  const phdr = Buffer.alloc(56);
  phdr.writeUInt32LE(4, 0);
  phdr.writeBigUInt64LE(120n, 8);
  phdr.writeBigUInt64LE(BigInt(note.length), 32);
  return Buffer.concat([ehdr, phdr, note]);
}

/** A bzImage-shaped buffer: boot header (HdrS, protocol 2.15, 1 setup sector) and the payload with its size trailer. */
function bzImage(payloadOf: Buffer, compress: (b: Buffer) => Buffer = gzipSync): Buffer {
  const size = Buffer.alloc(4);
  size.writeUInt32LE(payloadOf.length);
  const payload = Buffer.concat([compress(payloadOf), size]);
  const setup = Buffer.alloc(2 * 512);
  setup[0x1f1] = 1;
  setup.write('HdrS', 0x202, 'latin1');
  setup.writeUInt16LE(0x20f, 0x206);
  setup.writeUInt32LE(0, 0x248);
  setup.writeUInt32LE(payload.length, 0x24c);
  return Buffer.concat([setup, payload]);
}

describe('PVH kernel extraction (microVM image build)', () => {
  it('recognises the Xen PVH entry note and nothing else', () => {
    expect(hasPvhNote(elfWithNote('Xen', 18))).toBe(true);
    expect(hasPvhNote(elfWithNote('Xen', 17))).toBe(false);
    expect(hasPvhNote(elfWithNote('GNU', 18))).toBe(false);
    expect(hasPvhNote(Buffer.from('not an elf at all, just some bytes to read past the header'))).toBe(false);
  });

  it('unpacks a PVH-capable kernel from a bzImage', async () => {
    const elf = elfWithNote('Xen', 18);
    const r = await extractPvhKernel(bzImage(elf));
    expect('elf' in r && r.elf.equals(elf)).toBe(true);
  });

  it('says why when it cannot, so the build boots the bzImage instead', async () => {
    expect(await extractPvhKernel(bzImage(elfWithNote('Xen', 17)))).toEqual({ reason: expect.stringMatching(/no PVH entry point/) });
    expect(await extractPvhKernel(Buffer.alloc(4096))).toEqual({ reason: 'not a bzImage' });
    expect(await extractPvhKernel(bzImage(elfWithNote('Xen', 18), (b) => Buffer.concat([Buffer.from('BZh9'), b])))).toEqual({
      reason: expect.stringMatching(/unknown payload compression/),
    });
    const truncated = bzImage(elfWithNote('Xen', 18));
    truncated.writeUInt32LE(truncated.readUInt32LE(truncated.length - 4) + 1, truncated.length - 4);
    expect(await extractPvhKernel(truncated)).toEqual({ reason: expect.stringMatching(/not the \d+ its trailer says/) });
  });
});
