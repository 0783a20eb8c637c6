/**
 * Device-transfer codes ("Continue on another device"): a learner asks for a
 * code on one device and types it, or opens its link, on another, which is
 * then signed in as the same learner. No passwords.
 *
 *  - A code is 8 characters from a 32-letter alphabet without 0/O/1/I (40
 *    bits), shown as two groups of four ("K7QF-3MZP"). It is read in any
 *    case, with or without the dash or spaces.
 *  - It works once, for DEVICE_CODE_TTL_MS; the store keeps only its SHA-256
 *    (a copy of the database signs nobody in) and decides once and for all
 *    who redeems it (store.consumeDeviceCode).
 *  - Guessing is bounded by the redeem rate per address (server.ts): at 10 a
 *    minute, finding one live code among 2^40 takes longer than it lives by
 *    a factor of about 10^10.
 */
import { createHash } from 'node:crypto';
import { READABLE_ALPHABET, newReadableCode, normaliseReadableCode } from './readable-code';

export const DEVICE_CODE_TTL_MS = 10 * 60_000;
export const DEVICE_CODE_ALPHABET = READABLE_ALPHABET;
const LENGTH = 8;

/** A new random code, formatted for showing ("ABCD-EFGH"). */
export function newDeviceCode(): string {
  return newReadableCode(LENGTH, 4);
}

/** The code as typed, in canonical form (upper case, no dashes or spaces), or null when it cannot be a code. */
export function normaliseDeviceCode(typed: unknown): string | null {
  return normaliseReadableCode(typed, LENGTH);
}

/** What the store keeps of a code: the SHA-256 (hex) of its canonical form. */
export function deviceCodeHash(canonical: string): string {
  return createHash('sha256').update(`lab device code v1:${canonical}`).digest('hex');
}
