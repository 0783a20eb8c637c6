/**
 * Workshop join codes: 6 characters of the readable alphabet (30 bits), shown
 * as "K7Q-F3M" so an instructor can read it aloud and learners can type it.
 * The code names a workshop; it is not the only secret behind anything an
 * instructor does (their actions need their own cookie), and guessing is
 * bounded by the join rate limits (per address and in total).
 */
import { newReadableCode, normaliseReadableCode } from '../identity/readable-code';

export const JOIN_CODE_LENGTH = 6;

/** A new random join code, formatted for showing ("ABC-DEF"). */
export function newJoinCode(): string {
  return newReadableCode(JOIN_CODE_LENGTH, 3);
}

/** The code as typed, in canonical form ("ABCDEF"), or null when it cannot be a join code. */
export function normaliseJoinCode(typed: unknown): string | null {
  return normaliseReadableCode(typed, JOIN_CODE_LENGTH);
}

/** How a canonical code is shown. */
export function showJoinCode(canonical: string): string {
  return `${canonical.slice(0, 3)}-${canonical.slice(3)}`;
}
