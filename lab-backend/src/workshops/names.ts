/**
 * Learners' display names in a workshop: what they type, made safe to show
 * and compare. A name is text (never markup: the pages render it as a text
 * node), 1 to DISPLAY_NAME_MAX characters after trimming and collapsing
 * spaces, without control or invisible formatting characters, and unique in
 * its workshop in any case and Unicode form (displayNameKey).
 */
export const DISPLAY_NAME_MAX = 32;

export type DisplayNameCheck = { ok: true; name: string; key: string } | { ok: false; message: string };

export function checkDisplayName(typed: unknown): DisplayNameCheck {
  if (typeof typed !== 'string') return { ok: false, message: 'Pick a display name.' };
  const name = typed.normalize('NFC').replace(/\s+/gu, ' ').trim();
  if (!name) return { ok: false, message: 'Pick a display name.' };
  if (/[\p{Cc}\p{Cf}\p{Co}\p{Cn}]/u.test(name)) return { ok: false, message: 'A display name cannot hold control or invisible characters.' };
  if ([...name].length > DISPLAY_NAME_MAX) return { ok: false, message: `A display name is at most ${DISPLAY_NAME_MAX} characters.` };
  return { ok: true, name, key: displayNameKey(name) };
}

/** What two names are compared by for uniqueness: compatibility form, case folded. */
export function displayNameKey(name: string): string {
  return name.normalize('NFKC').toLocaleLowerCase('en').replace(/\s+/gu, ' ').trim();
}
