/**
 * Browser storage used by the lab UI.
 *  - sessionStorage `lab:session:<lessonId>` → { sessionId, token, resumeToken }:
 *    survives a reload (so the backend can reattach the sandbox), not a closed
 *    tab. `token` is the short-lived access token; `resumeToken` lets a reload
 *    after it expired still reattach, for as long as the sandbox lives.
 *  - localStorage `lab:progress:<lessonId>` → JSON array of passed exercise ids.
 * Every access is guarded: storage can be disabled or full.
 */
import type { CreateSessionRequest } from '@/lab-backend/src/wire';

export type StoredSession = NonNullable<CreateSessionRequest['resume']>;

const sessionKey = (lessonId: string) => `lab:session:${lessonId}`;
export const progressKey = (lessonId: string) => `lab:progress:${lessonId}`;
/** Same-tab notification (the `storage` event only fires in other tabs). */
export const PROGRESS_EVENT = 'lab:progress';

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

export function readProgress(lessonId: string): string[] {
  try {
    const raw = window.localStorage.getItem(progressKey(lessonId));
    const v: unknown = raw ? JSON.parse(raw) : [];
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

export function markPassed(lessonId: string, exerciseId: string): string[] {
  const passed = readProgress(lessonId);
  if (passed.includes(exerciseId)) return passed;
  const next = [...passed, exerciseId];
  try {
    window.localStorage.setItem(progressKey(lessonId), JSON.stringify(next));
    window.dispatchEvent(new CustomEvent(PROGRESS_EVENT, { detail: { lessonId } }));
  } catch {
    /* ignore */
  }
  return next;
}
