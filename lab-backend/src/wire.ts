/**
 * Wire types: the one definition of everything that crosses between the browser
 * (components/) and the lab backend. Both sides import this file; nothing here
 * may import Node or React.
 *
 * Transport:
 *  - HTTP JSON under `/lab-api/`:
 *      POST /lab-api/sessions                      CreateSessionRequest → CreateSessionResponse
 *      POST /lab-api/sessions/:id/checks/:exercise CheckResult           (Authorization: Bearer <token>)
 *      POST /lab-api/sessions/:id/extend           ExtendRequest → ExtendResponse (Authorization: Bearer <token>)
 *      POST /lab-api/sessions/:id/restore          RestoreResponse      (Authorization: Bearer <token>; the owner's saved files back in)
 *      POST /lab-api/sessions/:id/saved-work/dismiss 204                (Authorization: Bearer <token>; "Start fresh": the offered files may be saved over)
 *      DELETE /lab-api/sessions/:id                204                   (Authorization: Bearer <token>)
 *      GET  /lab-api/health                        HealthResponse
 *      GET  /lab-api/me                            MeResponse          (who the cookies say you are)
 *      GET  /lab-api/progress[?lesson=<id>]        ProgressResponse    (the signed-in learner's recorded results)
 *      POST /lab-api/device-codes                  DeviceCodeResponse  (a one-time code for another device)
 *      POST /lab-api/device-codes/redeem           RedeemDeviceCodeRequest → MeResponse (+ the learner cookie)
 *      GET  /lab-api/admin/status                  AdminStatusResponse (admin cookie only)
 *      GET  /admin/sign-in?token=<admin token>     303 to /admin with the admin cookie, or a plain-text refusal
 *    Errors come back as ErrorBody with a non-2xx status.
 *  - Identity is a signed, httpOnly cookie (identity.ts), sent by the browser on
 *    every request and on the WebSocket upgrade; a session's calls must come
 *    from its owner as well as carry its token.
 *  - One WebSocket per terminal at `/lab-api/ws?session=<id>&token=<token>`.
 *    Binary frames carry terminal bytes (client → server: keystrokes; server →
 *    client: output). Text frames carry one JSON ClientMessage / ServerMessage.
 */

export type RuntimeName = 'gvisor' | 'microvm' | 'runc';

/**
 * Forward-only lifecycle of a lab panel's sandbox as the learner sees it:
 * queued (the lab is full; waiting for a free slot) → starting → ready → ended | error.
 */
export type SandboxStatus = 'queued' | 'starting' | 'ready' | 'ended' | 'error';

export interface CreateSessionRequest {
  lessonId: string;
  /**
   * A session this browser tab held before a reload; reattached if it still
   * lives and either credential is valid for it: the access token (until it
   * expires) or the resume credential (for as long as the session can live).
   * A malformed `resume` is a 400; a well-formed one that cannot be honoured
   * starts a new session and says why in `resumeRefused`.
   */
  resume?: { sessionId: string; token: string; resumeToken?: string };
}

/** Why the session named in CreateSessionRequest.resume was not reattached (a new one was started instead). */
export interface ResumeRefused {
  /** unknown_session: it has ended (or belongs to another lesson); unauthorized: its credentials did not verify. */
  code: 'unknown_session' | 'unauthorized';
  /** Fit to show the learner: their earlier work is not in the new sandbox. */
  message: string;
}

export interface CreateSessionResponse {
  sessionId: string;
  /** Signed, expiring token for the WebSocket and the check endpoint. Refreshed over the socket. */
  token: string;
  tokenExpiresAt: number;
  /**
   * Signed credential good only for resuming this session (CreateSessionRequest.resume)
   * after `token` has expired; valid until `resumeTokenExpiresAt`, the latest the
   * session can end. Refreshed over the socket with the token.
   */
  resumeToken: string;
  resumeTokenExpiresAt: number;
  /** Set when a resume was asked for and refused: this is a new session. */
  resumeRefused?: ResumeRefused;
  runtime: RuntimeName;
  /** True when an existing sandbox was reattached (reload within the grace period). */
  resumed: boolean;
  /** Absolute time (ms since epoch) at which the session ends unless extended. */
  expiresAt: number;
  idleTimeoutMs: number;
  /** How many more times the learner may extend the lifetime. */
  extendsLeft: number;
  /** True when the sandbox came ready-made from the warm pool (the start was just an attach). */
  fromPool: boolean;
  /**
   * The learner's files saved when their last session of this lesson ended,
   * if any: the panel offers "Restore your work from <savedAt>" (POST
   * …/restore) or starting fresh.
   */
  savedWork?: SavedWorkInfo;
}

export interface SavedWorkInfo {
  savedAt: number;
  sizeBytes: number;
}

/** POST /lab-api/sessions/:id/restore: the saved files are back in the sandbox (over what was there). */
export type RestoreResponse = SavedWorkInfo;

/** "Keep my sandbox": for an idle warning it counts as activity; for a lifetime warning it adds time (bounded). */
export interface ExtendRequest {
  reason: 'idle' | 'lifetime';
}

export interface ExtendResponse {
  expiresAt: number;
  extendsLeft: number;
}

export interface CheckResult {
  exerciseId: string;
  passed: boolean;
  /** What the check printed (truncated, plain text) or why it could not run. */
  message: string;
  durationMs: number;
  /** Set when the check did not finish by itself. */
  timedOut?: boolean;
  truncated?: boolean;
  /** The check's exit status; null when it was killed, timed out, or never started. */
  exitCode?: number | null;
}

/** Stable machine-readable codes; `message` is always fit to show a learner. */
export type ErrorCode =
  | 'bad_request'
  | 'unknown_lesson'
  | 'unknown_exercise'
  | 'unknown_session'
  | 'unauthorized'
  | 'forbidden_origin'
  | 'forbidden_host'
  | 'rate_limited'
  | 'lab_full'
  | 'extend_limit'
  | 'runtime_disabled'
  | 'sandbox_start_failed'
  | 'session_expired'
  /** Too much is already going on in this session (its check queue is full); retry shortly. */
  | 'busy'
  | 'payload_too_large'
  /** The session belongs to someone else (another learner's cookie, or none). */
  | 'forbidden'
  /** The admin cookie is required. */
  | 'admin_required'
  /** A device-transfer code that is not known, was used already, or has expired. */
  | 'device_code_unknown'
  | 'device_code_used'
  | 'device_code_expired'
  /** POST …/restore: this learner has no saved work for the lesson. */
  | 'no_saved_work'
  /** POST …/restore: the sandbox could not take the files back (it stays usable). */
  | 'restore_failed'
  /** The lab's database cannot be used right now: a result or session could not be recorded. */
  | 'store_unavailable'
  | 'internal';

export interface ErrorBody {
  error: { code: ErrorCode; message: string; retryAfterMs?: number };
}

export interface HealthResponse {
  ok: boolean;
  sandboxesInUse: number;
  maxSandboxes: number;
  /** Learners waiting for a free slot. */
  queued: number;
  /** Warm-pool sandboxes nobody has claimed yet, booting or ready (not counted in sandboxesInUse). */
  warmSandboxes: number;
  runtimes: Record<string, { enabled: boolean; available: boolean; reason?: string }>;
}

export type ClientMessage =
  | { type: 'resize'; cols: number; rows: number }
  /** Flow control: the client has rendered this many more bytes of output. */
  | { type: 'ack'; bytes: number }
  | { type: 'ping' };

export type ServerMessage =
  /** queuePosition (1 = next) is set while the status is queued. */
  | { type: 'status'; status: SandboxStatus; message?: string; queuePosition?: number }
  /** Sent every LAB_TOKEN_REFRESH_MS while the socket is open. */
  | { type: 'token'; token: string; tokenExpiresAt: number; resumeToken: string; resumeTokenExpiresAt: number }
  /** The session ends at `endsAt` unless the learner keeps working (idle) or it is its max lifetime. */
  | { type: 'expiring'; reason: 'idle' | 'lifetime'; endsAt: number; extendsLeft: number }
  /** The learner kept the sandbox: the warning is over; expiresAt is the (possibly later) lifetime end. */
  | { type: 'extended'; expiresAt: number; extendsLeft: number }
  | { type: 'ended'; reason: 'idle' | 'lifetime' | 'closed' | 'sandbox_exited' | 'shutdown' | 'replaced' | 'start_timeout'; message: string }
  | { type: 'error'; code: ErrorCode; message: string }
  /** How many read-only viewers follow this terminal now (sent to the owner on attach and on every change; the panel shows "1 watching"). */
  | { type: 'viewers'; count: number }
  /** Sent once to a socket that attached as a viewer: its keystrokes and resizes are dropped by the server. */
  | { type: 'role'; role: 'owner' | 'viewer' }
  | { type: 'pong' };

/** Largest frame either side may send; larger ones close the socket (1009). */
export const MAX_FRAME_BYTES = 64 * 1024;
/** Output the server sends before it waits for acks (end-to-end flow control). */
export const FLOW_HIGH_WATER_BYTES = 256 * 1024;
export const FLOW_LOW_WATER_BYTES = 64 * 1024;
/** The client acks after rendering at least this many bytes. */
export const FLOW_ACK_EVERY_BYTES = 32 * 1024;

/** Who the request's cookies say the caller is. Ids are never shown whole; `learnerTag` is a short, stable label. */
export interface MeResponse {
  /** 'none': the cookies prove nobody yet (the first POST makes a learner). */
  kind: 'none' | 'learner' | 'participant' | 'integration' | 'admin';
  /** A short label for the learner (the first characters of a hash of their id), e.g. for "signed in as …". */
  learnerTag: string;
}

/** Where the signed-in learner stands on one exercise: computed by the server from its recorded check results. */
export interface ExerciseProgressEntry {
  lessonId: string;
  exerciseId: string;
  passed: boolean;
  /** When a check of it first passed (ms since epoch), or null. */
  firstPassedAt: number | null;
  attempts: number;
  lastAttemptAt: number;
}

export interface ProgressResponse {
  /** Only exercises with at least one recorded result; ordered by lesson, then exercise. */
  exercises: ExerciseProgressEntry[];
}

/** A one-time code that signs another device in as this learner ("Continue on another device"). */
export interface DeviceCodeResponse {
  /** Eight characters in two groups, e.g. "K7QF-3MZP" (no 0/O/1/I); typed in any case, with or without the dash. */
  code: string;
  /** The lab's /continue page with the code filled in. */
  url: string;
  expiresAt: number;
}

export interface RedeemDeviceCodeRequest {
  code: string;
}

/** The admin's view of the lab: every live session and its owner, and the warm pool. */
export interface AdminStatusResponse {
  health: HealthResponse;
  sessions: {
    sessionId: string;
    /** principalKey() of the owner, e.g. `learner:<id>`. */
    owner: string;
    lessonId: string;
    runtime: RuntimeName;
    status: SandboxStatus;
    sandboxId: string | null;
    createdAt: number;
    expiresAt: number;
    lastActivityAt: number;
    /** Sockets attached to its terminal. */
    peers: number;
    fromPool: boolean;
  }[];
}

/** Catalog entry as the site shows it. */
export interface LessonSummary {
  id: string;
  module: string;
  title: string;
  summary: string;
  runtime: RuntimeName;
  estimateMinutes: number;
  exercises: { id: string; title: string }[];
}
