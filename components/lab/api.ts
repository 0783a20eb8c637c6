/** HTTP calls to the lab backend, which the custom server mounts at /lab-api on this origin. */
import type {
  AdminStatusResponse,
  CheckResult,
  CreateSessionRequest,
  CreateSessionResponse,
  DeviceCodeResponse,
  ErrorBody,
  ErrorCode,
  ExtendRequest,
  ExtendResponse,
  MeResponse,
  ProgressResponse,
  RedeemDeviceCodeRequest,
  RestoreResponse,
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
  return !!e && typeof e === 'object' && typeof (e as { code?: unknown }).code === 'string' && typeof (e as { message?: unknown }).message === 'string';
}

/** `fetchImpl` lets tests answer in place of the backend; the browser uses its own fetch (same-origin cookies). */
async function call<T>(url: string, init: RequestInit, fetchImpl?: typeof fetch): Promise<ApiOutcome<T>> {
  let res: Response;
  try {
    res = await (fetchImpl ?? fetch)(url, { ...init, cache: 'no-store' });
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

export function createSession(req: CreateSessionRequest, fetchImpl?: typeof fetch): Promise<ApiOutcome<CreateSessionResponse>> {
  return call<CreateSessionResponse>(
    `${LAB_API}/sessions`,
    {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(req),
    },
    fetchImpl,
  );
}

export function runCheck(sessionId: string, token: string, exerciseId: string, fetchImpl?: typeof fetch): Promise<ApiOutcome<CheckResult>> {
  return call<CheckResult>(
    `${LAB_API}/sessions/${encodeURIComponent(sessionId)}/checks/${encodeURIComponent(exerciseId)}`,
    { method: 'POST', headers: { Authorization: `Bearer ${token}` } },
    fetchImpl,
  );
}

export function extendSession(sessionId: string, token: string, reason: ExtendRequest['reason'], fetchImpl?: typeof fetch): Promise<ApiOutcome<ExtendResponse>> {
  return call<ExtendResponse>(
    `${LAB_API}/sessions/${encodeURIComponent(sessionId)}/extend`,
    {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ reason } satisfies ExtendRequest),
    },
    fetchImpl,
  );
}

/** Put the learner's saved files for this lesson back into the session's sandbox. */
export function restoreWork(sessionId: string, token: string, fetchImpl?: typeof fetch): Promise<ApiOutcome<RestoreResponse>> {
  return call<RestoreResponse>(`${LAB_API}/sessions/${encodeURIComponent(sessionId)}/restore`, { method: 'POST', headers: { Authorization: `Bearer ${token}` } }, fetchImpl);
}

/** "Start fresh": the offered saved files may be replaced when this session ends (until then they are kept). */
export function dismissSavedWork(sessionId: string, token: string, fetchImpl?: typeof fetch): Promise<unknown> {
  return (fetchImpl ?? fetch)(`${LAB_API}/sessions/${encodeURIComponent(sessionId)}/saved-work/dismiss`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}` },
    cache: 'no-store',
  }).catch(() => undefined);
}

/** Who the learner cookie says this browser is (the backend makes the cookie on first use). */
export function getMe(): Promise<ApiOutcome<MeResponse>> {
  return call<MeResponse>(`${LAB_API}/me`, { method: 'GET' });
}

/** The signed-in learner's recorded results: only exercises with at least one result, all lessons unless `lessonId`. */
export function getProgress(opts: { lessonId?: string; fetchImpl?: typeof fetch } = {}): Promise<ApiOutcome<ProgressResponse>> {
  const q = opts.lessonId ? `?${new URLSearchParams({ lesson: opts.lessonId }).toString()}` : '';
  return call<ProgressResponse>(`${LAB_API}/progress${q}`, { method: 'GET' }, opts.fetchImpl);
}

/** A one-time code that signs another device in as this learner. */
export function createDeviceCode(): Promise<ApiOutcome<DeviceCodeResponse>> {
  return call<DeviceCodeResponse>(`${LAB_API}/device-codes`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: '{}',
  });
}

/**
 * Redeem a device code: on success this browser's learner cookie is replaced by the
 * code's learner. Errors: device_code_unknown (404), device_code_used / device_code_expired (410).
 */
export function redeemDeviceCode(code: string): Promise<ApiOutcome<MeResponse>> {
  return call<MeResponse>(`${LAB_API}/device-codes/redeem`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ code } satisfies RedeemDeviceCodeRequest),
  });
}

/** Every live session and the pool; a 403 admin_required without the admin cookie. */
export function getAdminStatus(): Promise<ApiOutcome<AdminStatusResponse>> {
  return call<AdminStatusResponse>(`${LAB_API}/admin/status`, { method: 'GET' });
}

export function deleteSession(sessionId: string, token: string, fetchImpl: typeof fetch = fetch): void {
  void fetchImpl(`${LAB_API}/sessions/${encodeURIComponent(sessionId)}`, {
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
