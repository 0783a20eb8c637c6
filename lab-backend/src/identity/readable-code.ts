/**
 * Short codes that people read aloud and type: random letters and digits
 * from a 32-letter alphabet without 0/O/1/I (5 bits each), shown in groups
 * ("K7QF-3MZP"), read back in any case with or without dashes and spaces.
 * Device-transfer codes (device-codes.ts) and workshop join codes
 * (workshops/codes.ts) are both made here.
 */
import { randomInt } from 'node:crypto';

export const READABLE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';

/** A new random code of `length` characters, shown as groups of `group` joined by dashes. */
export function newReadableCode(length: number, group: number): string {
  let code = '';
  for (let i = 0; i < length; i++) code += READABLE_ALPHABET[randomInt(READABLE_ALPHABET.length)];
  return code.match(new RegExp(`.{1,${group}}`, 'g'))!.join('-');
}

/** The code as typed, in canonical form (upper case, no dashes or spaces), or null when it cannot be a code of `length`. */
export function normaliseReadableCode(typed: unknown, length: number): string | null {
  if (typeof typed !== 'string' || typed.length > 32) return null;
  const code = typed.toUpperCase().replace(/[\s-]/g, '');
  if (code.length !== length) return null;
  for (const c of code) if (!READABLE_ALPHABET.includes(c)) return null;
  return code;
}
