/**
 * One error tree. Every error the backend raises on purpose is a LabError with a
 * wire ErrorCode, an HTTP status and a message fit to show a learner as is.
 */
import type { ErrorBody, ErrorCode } from './wire';

export class LabError extends Error {
  constructor(
    public readonly code: ErrorCode,
    message: string,
    public readonly httpStatus = 500,
    public readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = new.target.name;
  }

  toBody(): ErrorBody {
    return { error: { code: this.code, message: this.message, ...(this.retryAfterMs ? { retryAfterMs: this.retryAfterMs } : {}) } };
  }
}

/** Thrown when a request is malformed (bad JSON, wrong field types). */
export class BadRequestError extends LabError {
  constructor(message: string) {
    super('bad_request', message, 400);
  }
}

/** Thrown when a lesson id names no lesson in content/. */
export class UnknownLessonError extends LabError {
  constructor(lessonId: string) {
    super('unknown_lesson', `There is no lesson "${lessonId}".`, 404);
  }
}

/** Thrown when an exercise id is not one of the session's lesson's exercises. */
export class UnknownExerciseError extends LabError {
  constructor(exerciseId: string) {
    super('unknown_exercise', `This lesson has no exercise "${exerciseId}".`, 404);
  }
}

/** Thrown when a session id is unknown or its session has already ended. */
export class UnknownSessionError extends LabError {
  constructor() {
    super('unknown_session', 'This lab session has ended. Start a new sandbox to continue.', 404);
  }
}

/** Thrown when a token is missing, forged, expired, or for another session. */
export class UnauthorizedError extends LabError {
  constructor(message = 'Your lab session token is missing or no longer valid. Reload the page.') {
    super('unauthorized', message, 401);
  }
}

/** Thrown when a WebSocket or API request comes from an origin that is not the lab's. */
export class ForbiddenOriginError extends LabError {
  constructor(origin: string | undefined) {
    super('forbidden_origin', `Requests from origin ${origin ?? '(none)'} are not allowed.`, 403);
  }
}

/**
 * Thrown when the Host header is not one the lab answers to (DNS rebinding, or an
 * address the operator has not listed). 421 Misdirected Request: the message
 * names LAB_ALLOWED_HOSTS, since the one who can fix it is the operator.
 */
export class ForbiddenHostError extends LabError {
  constructor(message: string) {
    super('forbidden_host', message, 421);
  }
}

/** Thrown when a request body is larger than the backend reads (the connection is closed after the answer). */
export class PayloadTooLargeError extends LabError {
  constructor(maxBytes: number) {
    super('payload_too_large', `The request body is larger than ${Math.round(maxBytes / 1024)} KiB.`, 413);
  }
}

/** Thrown when one client creates sessions faster than the configured rate. */
export class RateLimitedError extends LabError {
  constructor(retryAfterMs: number) {
    super('rate_limited', `Too many new sandboxes from your address; try again in ${Math.ceil(retryAfterMs / 1000)} s.`, 429, retryAfterMs);
  }
}

/**
 * Thrown when one address (an IPv6 /64) has made more new anonymous learners in
 * the last hour than LAB_NEW_LEARNERS_PER_HOUR allows: a browser that drops the
 * learner cookie on every request (or a script churning cookies to dodge the
 * per-learner caps) ends up here.
 */
export class NewLearnerLimitError extends LabError {
  constructor(retryAfterMs: number) {
    super(
      'rate_limited',
      `Too many new learners from your address; try again in ${Math.ceil(retryAfterMs / 60_000)} min. If your browser blocks cookies for this site, allow them: the lab remembers who you are with one.`,
      429,
      retryAfterMs,
    );
  }
}

/** Thrown when the global cap on concurrent sandboxes is reached. */
export class LabFullError extends LabError {
  constructor(inUse: number, retryAfterMs = 10_000) {
    super('lab_full', `The lab is full: ${inUse} sandboxes in use, try again in a moment.`, 503, retryAfterMs);
  }
}

/** Thrown when the learner asks for more time after using every extension the operator allows. */
export class ExtendLimitError extends LabError {
  constructor(maxExtends: number) {
    super(
      'extend_limit',
      `This sandbox has already been extended ${maxExtends} time${maxExtends === 1 ? '' : 's'}, the most allowed. Save your work; a new sandbox starts from the lesson's beginning.`,
      409,
    );
  }
}

/** Thrown when a lesson needs a runtime the operator disabled or this host cannot run. */
export class RuntimeDisabledError extends LabError {
  constructor(runtime: string, reason: string) {
    super('runtime_disabled', `This lesson needs the "${runtime}" runtime, which is not available here: ${reason}`, 503);
  }
}

/** Thrown when a driver cannot start a sandbox; the message names the cause (missing binary, runtime error). */
/**
 * A sandbox did not start. Drivers put what the runtime said (runsc's or
 * QEMU's stderr, the guest console) in the message: it is for the operator's
 * log. The SessionManager shows the learner its own words instead
 * (learnerStartMessage), except for a SetupScriptError.
 */
export class SandboxStartError extends LabError {
  constructor(message: string) {
    super('sandbox_start_failed', message, 500);
  }
}

/** The lesson's setup script failed inside the sandbox: about the lesson, not the host, so the learner may see it. */
export class SetupScriptError extends SandboxStartError {}

/** Thrown when a session passed its max lifetime or idle timeout and was ended. */
export class SessionExpiredError extends LabError {
  constructor() {
    super('session_expired', 'This lab session has expired. Start a new sandbox to continue.', 410);
  }
}

/** The store refused a write the learner depends on (their session, a check result); the operator's log has the store's message. */
export class StoreUnavailableError extends LabError {
  constructor() {
    super(
      'store_unavailable',
      "The lab could not record this right now (its database is not available), so it did not count. Try again in a moment; if it keeps happening, tell the lab's operator.",
      503,
      5_000,
    );
  }
}

/** The request's principal does not own the session (and may not watch it). */
export class ForbiddenSessionError extends LabError {
  constructor() {
    super('forbidden', 'This sandbox belongs to someone else (or to this browser before its lab cookie was cleared). Reload the page for a sandbox of your own.', 403);
  }
}

/** An admin-only endpoint without the admin cookie. */
export class AdminRequiredError extends LabError {
  constructor() {
    super('admin_required', "Sign in as the lab's admin first: open the admin sign-in link that `npm start` printed.", 403);
  }
}

/** Thrown when a session already has as many checks running or waiting as allowed. */
export class ChecksBusyError extends LabError {
  constructor(waiting: number) {
    super('busy', `${waiting} checks are already running or waiting in this sandbox; wait for them to finish and try again.`, 429, 2_000);
  }
}

export function toLabError(err: unknown): LabError {
  if (err instanceof LabError) return err;
  return new LabError('internal', `Internal error: ${err instanceof Error ? err.message : String(err)}`, 500);
}
