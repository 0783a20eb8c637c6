/**
 * Browser storage used by the lab UI.
 *  - sessionStorage `lab:session:<lessonId>` → { sessionId, token, resumeToken }:
 *    survives a reload (so the backend can reattach the sandbox), not a closed
 *    tab. `token` is the short-lived access token; `resumeToken` lets a reload
 *    after it expired still reattach, for as long as the sandbox lives.
 * Progress is not kept here: the server records every check result (progress.ts).
 * Every access is guarded: storage can be disabled or full.
 */
import type { CreateSessionRequest } from '@/lab-backend/src/wire';

export type StoredSession = NonNullable<CreateSessionRequest['resume']>;

const sessionKey = (lessonId: string) => `lab:session:${lessonId}`;

export function readSession(lessonId: string): StoredSession | undefined {
  try {
    const raw = window.sessionStorage.getItem(sessionKey(lessonId));
    if (!raw) return undefined;
    const v = JSON.parse(raw) as Partial<StoredSession>;
    if (typeof v.sessionId !== 'string' || typeof v.token !== 'string') return undefined;
    return { sessionId: v.sessionId, token: v.token, ...(typeof v.resumeToken === 'string' ? { resumeToken: v.resumeToken } : {}) };
  } catch {
    return undefined;
  }
}

export function writeSession(lessonId: string, s: StoredSession): void {
  try {
    window.sessionStorage.setItem(sessionKey(lessonId), JSON.stringify(s));
  } catch {
    /* storage unavailable: resume just won't work */
  }
}

export function clearSession(lessonId: string): void {
  try {
    window.sessionStorage.removeItem(sessionKey(lessonId));
  } catch {
    /* ignore */
  }
}

/**
 * Remove the `lab:progress:<lessonId>` keys earlier versions kept in localStorage.
 * They are deliberately not imported: a browser could claim any pass that way, and
 * progress is now only what the server recorded from checks it ran itself.
 */
export function dropLegacyProgress(): void {
  try {
    const ls = window.localStorage;
    const old: string[] = [];
    for (let i = 0; i < ls.length; i++) {
      const k = ls.key(i);
      if (k?.startsWith('lab:progress:')) old.push(k);
    }
    for (const k of old) ls.removeItem(k);
  } catch {
    /* storage unavailable: nothing to clean up */
  }
}
