/** HTTP calls to the lab backend, which the custom server mounts at /lab-api on this origin. */
import type {
  CheckResult,
  CreateSessionRequest,
  CreateSessionResponse,
  ErrorBody,
  ErrorCode,
  ExtendRequest,
  ExtendResponse,
} from '@/lab-backend/src/wire';

export const LAB_API = '/lab-api';

export type ApiOutcome<T> =
  | { ok: true; value: T }
  /** The backend answered in its protocol (an ErrorBody). */
  | { ok: false; kind: 'error'; status: number; code: ErrorCode; message: string; retryAfterMs?: number }
  /** No answer from the backend: network error, gateway errors, or a reply that is not the lab protocol. */
  | { ok: false; kind: 'unreachable'; status?: number; detail: string };

function isErrorBody(v: unknown): v is ErrorBody {
  if (!v || typeof v !== 'object') return false;
  const e = (v as { error?: unknown }).error;
  return !!e && typeof e === 'object' && typeof (e as { code?: unknown }).code === 'string'
    && typeof (e as { message?: unknown }).message === 'string';
}

async function call<T>(url: string, init: RequestInit): Promise<ApiOutcome<T>> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, cache: 'no-store' });
  } catch (err) {
    return { ok: false, kind: 'unreachable', detail: err instanceof Error ? err.message : String(err) };
  }
  let body: unknown = undefined;
  try {
    body = await res.json();
  } catch {
    /* not JSON */
  }
  if (res.ok) {
    if (body !== undefined) return { ok: true, value: body as T };
    return { ok: false, kind: 'unreachable', status: res.status, detail: 'reply is not JSON' };
  }
  // A gateway error is an outage unless the backend itself explained it (e.g. lab_full).
  const gateway = res.status === 502 || res.status === 503 || res.status === 504;
  if (isErrorBody(body) && !(gateway && body.error.code === 'internal')) {
    const { code, message, retryAfterMs } = body.error;
    return { ok: false, kind: 'error', status: res.status, code, message, retryAfterMs };
  }
  return { ok: false, kind: 'unreachable', status: res.status, detail: `HTTP ${res.status}` };
}

export function createSession(req: CreateSessionRequest): Promise<ApiOutcome<CreateSessionResponse>> {
  return call<CreateSessionResponse>(`${LAB_API}/sessions`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(req),
  });
}

export function runCheck(sessionId: string, token: string, exerciseId: string): Promise<ApiOutcome<CheckResult>> {
  return call<CheckResult>(
    `${LAB_API}/sessions/${encodeURIComponent(sessionId)}/checks/${encodeURIComponent(exerciseId)}`,
    { method: 'POST', headers: { Authorization: `Bearer ${token}` } },
  );
}

export function extendSession(sessionId: string, token: string, reason: ExtendRequest['reason']): Promise<ApiOutcome<ExtendResponse>> {
  return call<ExtendResponse>(`${LAB_API}/sessions/${encodeURIComponent(sessionId)}/extend`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ reason } satisfies ExtendRequest),
  });
}

export function deleteSession(sessionId: string, token: string): void {
  void fetch(`${LAB_API}/sessions/${encodeURIComponent(sessionId)}`, {
    method: 'DELETE',
    headers: { Authorization: `Bearer ${token}` },
    keepalive: true,
  }).catch(() => undefined);
}

export function wsUrl(sessionId: string, token: string): string {
  const proto = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  const q = new URLSearchParams({ session: sessionId, token });
  return `${proto}//${window.location.host}${LAB_API}/ws?${q.toString()}`;
}
