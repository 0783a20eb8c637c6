/**
 * The lab backend's HTTP + WebSocket surface (paths under /lab-api/, see
 * wire.ts). It authenticates and rate-limits; the SessionManager decides
 * everything else. `createLabBackend()` returns handlers that mount on any
 * Node HTTP server (the site's server in production, a bare one in tests).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import type { LabConfig } from './config';
import { loadCourse, loadLesson, type Lesson } from './content';
import {
  AdminRequiredError,
  BadRequestError,
  ForbiddenHostError,
  ForbiddenOriginError,
  ForbiddenSessionError,
  LabError,
  PayloadTooLargeError,
  RateLimitedError,
  UnauthorizedError,
  UnknownLessonError,
  UnknownSessionError,
  toLabError,
} from './errors';
import { Identity } from './identity/identity';
import { learnerFromKey, principalKey, type Principal } from './identity/principal';
import { DEVICE_CODE_TTL_MS, deviceCodeHash, newDeviceCode, normaliseDeviceCode } from './identity/device-codes';
import { RateLimiter } from './ratelimit';
import { addressKey } from './identity/address';
import { createHash } from 'node:crypto';
import type { Store } from './store/store';
import { hostAllowed, hostRefusal, originAllowed as guardOriginAllowed, securityHeaders } from './http-guard';
import { policyFrom, Session, SessionManager, type PeerRole, type TerminalPeer } from './sessions';
import { TokenSigner } from './tokens';
import type { Driver } from './sandbox/driver';
import {
  MAX_FRAME_BYTES,
  type AdminStatusResponse,
  type ClientMessage,
  type CreateSessionRequest,
  type CreateSessionResponse,
  type DeviceCodeResponse,
  type ExtendRequest,
  type ExtendResponse,
  type HealthResponse,
  type MeResponse,
  type ProgressResponse,
  type RestoreResponse,
  type ResumeRefused,
  type RuntimeName,
  type ServerMessage,
} from './wire';

export const API_PREFIX = '/lab-api/';
const MAX_BODY_BYTES = 16 * 1024;
/** After a 413, how much more of the body is read and dropped (and for how long) so the client gets the answer, not a reset. */
const DISCARD_BODY_BYTES = 1024 * 1024;
const DISCARD_BODY_MS = 5_000;
/** Device-code redemptions per client address per minute (guessing bound: see device-codes.ts). */
const REDEEMS_PER_MINUTE = 10;
/** Where the admin sign-in link lands (outside /lab-api/: it is opened as a page). */
export const ADMIN_SIGN_IN_PATH = '/admin/sign-in';

export interface LabBackend {
  manager: SessionManager;
  /** Who requests come from (cookies); `identity.adminSignInUrl(base)` is the link `npm start` prints. */
  identity: Identity;
  /** Handles /lab-api/* requests; returns false for any other path. */
  handleRequest(req: IncomingMessage, res: ServerResponse): boolean;
  /** Handles WebSocket upgrades on /lab-api/ws; returns false for any other path. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean;
  /** Ends every session (their ends recorded in the store); the caller closes the store afterwards. */
  close(): Promise<void>;
  /**
   * Hands over to the next backend instead: sockets are closed with 1012
   * (service restart; the pages reconnect by themselves), learners'
   * sandboxes keep running and stay live in the store for the next backend
   * to adopt. The caller closes the store afterwards.
   */
  handOver(): Promise<void>;
}

export interface LabBackendDeps {
  config: LabConfig;
  drivers: Partial<Record<RuntimeName, Driver>>;
  rootfsFor(image: string): string;
  log?: (msg: string) => void;
  /** Learners, sessions and check results (store/store.ts); the caller opens and closes it. */
  store: Store;
  /** Default: one made from config (its secret, LAB_TRUST_PROXY, LAB_ADMIN_TOKEN, LAB_NEW_LEARNERS_PER_HOUR). */
  identity?: Identity;
}

const DEVICE_CODE_REFUSALS: Record<'unknown' | 'used' | 'expired', () => LabError> = {
  unknown: () => new LabError('device_code_unknown', 'This code is not known here. Check it for typos, or make a new one on your other device.', 404),
  used: () => new LabError('device_code_used', 'This code was already used (each works once). Make a new one on your other device.', 410),
  expired: () => new LabError('device_code_expired', `This code has expired (codes last ${DEVICE_CODE_TTL_MS / 60_000} minutes). Make a new one on your other device.`, 410),
};

/** A short, stable label for a principal (never its id): the first 8 hex digits of a hash of its key. */
function tagOf(p: Principal): string {
  return createHash('sha256').update(principalKey(p)).digest('hex').slice(0, 8);
}

/** The Origin must be the lab's own, compared whole (see http-guard.ts). */
export function originAllowed(req: IncomingMessage, config: LabConfig): boolean {
  return guardOriginAllowed({ host: req.headers.host, origin: req.headers.origin, tls: 'encrypted' in req.socket && !!req.socket.encrypted }, config);
}

function sendJson(res: ServerResponse, status: number, body: unknown, extraHeaders: Record<string, string | string[]> = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...securityHeaders(),
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': String(Buffer.byteLength(text)),
    ...extraHeaders,
  });
  res.end(text);
}

/**
 * The JSON body, at most MAX_BODY_BYTES. A larger one is refused with a 413,
 * but first read to its end and dropped (up to DISCARD_BODY_BYTES and
 * DISCARD_BODY_MS): closing a socket that still holds unread data sends a reset,
 * which can destroy the answer before the client reads it. A Content-Length over
 * that bound is refused at once, unread.
 */
function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const tooLarge = () => reject(new PayloadTooLargeError(MAX_BODY_BYTES));
    const declared = Number(req.headers['content-length']);
    if (declared > DISCARD_BODY_BYTES) return tooLarge(); // not worth reading just to refuse it
    let size = 0;
    let chunks: Buffer[] | null = [];
    let cut: NodeJS.Timeout | undefined;
    const refuseOnceRead = () => {
      chunks = null;
      cut = setTimeout(tooLarge, DISCARD_BODY_MS);
      cut.unref();
    };
    if (declared > MAX_BODY_BYTES) refuseOnceRead(); // known up front: read only to drop it
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (chunks && size > MAX_BODY_BYTES) refuseOnceRead(); // a chunked body: from here on, only counted
      if (chunks) chunks.push(c);
      else if (size > DISCARD_BODY_BYTES) {
        clearTimeout(cut);
        tooLarge();
      }
    });
    req.on('end', () => {
      clearTimeout(cut);
      if (!chunks) return tooLarge();
      if (!chunks.length) return resolve({});
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        reject(new BadRequestError('Request body is not valid JSON.'));
      }
    });
    req.on('close', () => clearTimeout(cut));
    req.on('error', reject);
  });
}

export function createLabBackend(deps: LabBackendDeps): LabBackend {
  const { config } = deps;
  const log = deps.log ?? ((m: string) => console.log(`[lab] ${m}`));
  const signer = new TokenSigner(config.secret, config.tokenTtlMs);
  const { store } = deps;
  const identity =
    deps.identity ??
    new Identity({
      secret: config.secret,
      publicUrl: config.publicUrl,
      trustProxy: config.trustProxy,
      adminToken: config.adminToken,
      newLearnersPerAddressPerHour: config.newLearnersPerAddressPerHour,
    });
  const redeems = new RateLimiter(REDEEMS_PER_MINUTE, 60_000);
  // Guessing LAB_ADMIN_TOKEN (16+ characters) is bounded the same way: tries per client address per minute.
  const adminTries = new RateLimiter(REDEEMS_PER_MINUTE, 60_000);
  // Device codes one learner may make per minute (each is a row in the store).
  const codesMade = new RateLimiter(REDEEMS_PER_MINUTE, 60_000);
  const manager = new SessionManager({
    store,
    drivers: deps.drivers,
    rootfsFor: deps.rootfsFor,
    log,
    policy: policyFrom(config),
    // Warm sandboxes for every lesson whose runtime is enabled (sizes per runtime in config.poolSizes).
    poolLessons: async () => (await loadCourse(config.contentDir)).filter((l) => !!deps.drivers[l.runtime]),
    lessonFor: (id) => loadLesson(config.contentDir, id),
    terminalDir: path.join(config.stateDir, 'terminals'),
  });
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false });

  async function lessonOr404(id: unknown): Promise<Lesson> {
    if (typeof id !== 'string' || id.length > 200) throw new BadRequestError('lessonId must be a string.');
    const lesson = await loadLesson(config.contentDir, id);
    if (!lesson) throw new UnknownLessonError(id);
    return lesson;
  }

  /**
   * The live session a call names, when its bearer token is valid for exactly
   * that session and the caller's cookies are its owner's: a token that
   * leaked to another browser opens nothing there.
   */
  async function sessionFromAuth(req: IncomingMessage, sessionId: string, who: Principal | null): Promise<Session> {
    const auth = req.headers.authorization ?? '';
    const token = auth.startsWith('Bearer ') ? auth.slice(7) : null;
    if (signer.verify(token) !== sessionId) throw new UnauthorizedError();
    const s = manager.get(sessionId);
    if (!s || s.ended) throw new UnknownSessionError();
    if (!who || principalKey(who) !== s.ownerKey) throw new ForbiddenSessionError();
    return s;
  }

  /**
   * Both credentials for `s`. The resume credential is valid until the latest the
   * session can end (its lifetime plus every extension left); a queued session's
   * clock starts later, which the socket's refreshes (same shape) catch up with.
   */
  function credentials(s: Session) {
    const { token, expiresAt } = signer.issue(s.id);
    const resume = signer.issueResume(s.id, s.expiresAt + s.extendsLeft * config.extendByMs);
    return { token, tokenExpiresAt: expiresAt, resumeToken: resume.resumeToken, resumeTokenExpiresAt: resume.expiresAt };
  }

  function describe(s: Session, resumed: boolean, resumeRefused?: ResumeRefused): CreateSessionResponse {
    return {
      sessionId: s.id,
      ...credentials(s),
      runtime: s.runtime,
      resumed,
      expiresAt: s.expiresAt,
      idleTimeoutMs: config.idleTimeoutMs,
      extendsLeft: s.extendsLeft,
      fromPool: s.fromPool,
      ...(resumeRefused ? { resumeRefused } : {}),
    };
  }

  /** `resume` as the browser sent it, or a 400 saying what it must look like. */
  function resumeFrom(raw: unknown): CreateSessionRequest['resume'] {
    if (raw === undefined || raw === null) return undefined;
    const r = raw as Record<string, unknown>;
    const str = (v: unknown, max: number) => typeof v === 'string' && v.length > 0 && v.length <= max;
    if (typeof raw !== 'object' || !str(r.sessionId, 100) || !str(r.token, 512) || (r.resumeToken !== undefined && !str(r.resumeToken, 512))) {
      throw new BadRequestError('resume must be {"sessionId", "token", "resumeToken"} as the lab handed them out (strings).');
    }
    return { sessionId: r.sessionId as string, token: r.token as string, ...(r.resumeToken !== undefined ? { resumeToken: r.resumeToken as string } : {}) };
  }

  /**
   * The live session `resume` names, when either of its credentials is valid for
   * exactly that session id (an expired access token alone is not), for this
   * lesson; otherwise why not, told to the learner with their new session.
   */
  function resumable(r: NonNullable<CreateSessionRequest['resume']>, lesson: Lesson, who: Principal): Session | ResumeRefused {
    const vouched = signer.verify(r.token) === r.sessionId || signer.verifyResume(r.resumeToken) === r.sessionId;
    // Another learner's credentials (copied from their browser) are not this learner's sandbox.
    if (!vouched || (manager.get(r.sessionId) && manager.get(r.sessionId)!.ownerKey !== principalKey(who))) {
      return {
        code: 'unauthorized',
        message: 'Your earlier sandbox could not be reattached (its sign-in to the lab is no longer valid), so this is a new sandbox: work done in the earlier one is not here.',
      };
    }
    const s = manager.get(r.sessionId);
    if (!s || s.ended || s.lesson.id !== lesson.id) {
      return {
        code: 'unknown_session',
        message: 'Your earlier sandbox has ended (it was idle, reached its time limit, or the lab restarted), so this is a new sandbox: work done in the earlier one is not here.',
      };
    }
    return s;
  }

  /** One request's identity: the principal (made on first need) and the cookies to send back. */
  function requestContext(req: IncomingMessage) {
    const setCookies: string[] = [];
    let made: Promise<Principal> | undefined;
    let known: Promise<Principal | null> | undefined;
    return {
      setCookies,
      /** The caller, made a new learner if their cookies prove nobody (NewLearnerLimitError past the per-address limit). */
      principal(): Promise<Principal> {
        // The learner cookie alone: an operator signed in as admin is still their own learner in lessons.
        made ??= identity.principalOf(req, { learnerOnly: true }).then((id) => {
          if (id.setCookie) setCookies.push(id.setCookie);
          return id.principal;
        });
        return made;
      },
      /** The caller their cookies prove, or null: never makes anyone. */
      known(): Promise<Principal | null> {
        known ??= identity.knownPrincipalOf(req, { learnerOnly: true });
        return known;
      },
    };
  }

  function adminStatus(health: HealthResponse): AdminStatusResponse {
    return {
      health,
      sessions: manager
        .list()
        .filter((s) => !s.ended)
        .map((s) => ({
          sessionId: s.id,
          owner: s.ownerKey,
          lessonId: s.lesson.id,
          runtime: s.runtime,
          status: s.status,
          sandboxId: s.sandboxId,
          createdAt: s.createdAt,
          expiresAt: s.expiresAt,
          lastActivityAt: s.lastActivityAt,
          peers: s.terminal.peers,
          fromPool: s.fromPool,
        })),
    };
  }

  async function health(): Promise<HealthResponse> {
    const runtimes: HealthResponse['runtimes'] = {};
    for (const r of ['gvisor', 'microvm', 'runc'] as RuntimeName[]) {
      const d = deps.drivers[r];
      const a = d ? await d.available() : { ok: false as const, reason: 'disabled by the operator' };
      runtimes[r] = { enabled: !!d, available: a.ok, ...(a.ok ? {} : { reason: a.reason }) };
    }
    return { ok: true, sandboxesInUse: manager.inUse, maxSandboxes: config.maxSandboxes, queued: manager.queued, warmSandboxes: manager.warm, runtimes };
  }

  /** The page a device-transfer code opens: the lab's public origin, else the origin the request came to (its Host is allowed). */
  function continueUrl(req: IncomingMessage, code: string): string {
    const base = config.publicUrl ?? `http://${req.headers.host ?? `localhost:${config.port}`}`;
    const url = new URL('/continue', base);
    url.searchParams.set('code', code);
    return url.toString();
  }

  async function route(req: IncomingMessage, res: ServerResponse, url: URL, ctx: ReturnType<typeof requestContext>) {
    const parts = url.pathname.slice(API_PREFIX.length).split('/').filter(Boolean);
    const reply = (status: number, body: unknown) => sendJson(res, status, body, ctx.setCookies.length ? { 'set-cookie': ctx.setCookies } : {});
    if (req.method === 'GET' && parts[0] === 'health' && parts.length === 1) return reply(200, await health());
    if (req.method === 'GET' && parts[0] === 'me' && parts.length === 1) {
      const who = (await ctx.known()) ?? (await identity.knownPrincipalOf(req));
      return reply(200, (who ? { kind: who.kind, learnerTag: tagOf(who) } : { kind: 'none', learnerTag: '' }) satisfies MeResponse);
    }
    if (req.method === 'GET' && parts[0] === 'progress' && parts.length === 1) {
      const who = await ctx.known();
      const lesson = url.searchParams.get('lesson') ?? undefined;
      if (lesson !== undefined && (lesson.length === 0 || lesson.length > 200)) throw new BadRequestError('lesson must be a lesson id.');
      const exercises = who ? await store.getProgress(principalKey(who), lesson) : [];
      return reply(200, { exercises } satisfies ProgressResponse);
    }
    if (req.method === 'GET' && parts[0] === 'admin' && parts[1] === 'status' && parts.length === 2) {
      if ((await identity.knownPrincipalOf(req))?.kind !== 'admin') throw new AdminRequiredError();
      return reply(200, adminStatus(await health()));
    }
    // Everything else changes state: same-origin browsers only.
    if (!originAllowed(req, config)) throw new ForbiddenOriginError(req.headers.origin);
    if (req.method === 'POST' && parts[0] === 'sessions' && parts.length === 1) {
      const body = (await readJson(req)) as CreateSessionRequest;
      if (typeof body !== 'object' || body === null) throw new BadRequestError('Expected a JSON object.');
      const resume = resumeFrom(body.resume);
      const lesson = await lessonOr404(body.lessonId);
      const who = await ctx.principal();
      const found = resume ? resumable(resume, lesson, who) : undefined;
      if (!(found instanceof Session)) await manager.endsSettled(principalKey(who), lesson.id); // a save still under way comes first
      const saved = await store.getLatestSavedWorkInfo(principalKey(who), lesson.id).catch((err) => {
        log(`store: saved work of ${principalKey(who)}: ${err}`);
        return null;
      });
      const savedWork = saved ? { savedWork: { savedAt: saved.createdAt, sizeBytes: saved.sizeBytes } } : {};
      if (found instanceof Session) return reply(200, { ...describe(found, true), ...savedWork });
      const s = await manager.create(lesson, who, addressKeyOf(req));
      s.savedWorkOffered = !!saved;
      return reply(201, { ...describe(s, false, found), ...savedWork });
    }
    if (req.method === 'POST' && parts[0] === 'sessions' && parts[2] === 'saved-work' && parts[3] === 'dismiss' && parts.length === 4) {
      const s = await sessionFromAuth(req, parts[1], await ctx.known());
      s.savedWorkOffered = false; // "Start fresh": this session's end may save over the earlier files
      res.writeHead(204, securityHeaders()).end();
      return;
    }
    if (req.method === 'POST' && parts[0] === 'sessions' && parts[2] === 'restore' && parts.length === 3) {
      const s = await sessionFromAuth(req, parts[1], await ctx.known());
      return reply(200, (await manager.restore(s)) satisfies RestoreResponse);
    }
    if (req.method === 'POST' && parts[0] === 'sessions' && parts[2] === 'checks' && parts.length === 4) {
      const s = await sessionFromAuth(req, parts[1], await ctx.known());
      return reply(200, await s.checks.run(parts[3]));
    }
    if (req.method === 'POST' && parts[0] === 'sessions' && parts[2] === 'extend' && parts.length === 3) {
      const s = await sessionFromAuth(req, parts[1], await ctx.known());
      const body = (await readJson(req)) as ExtendRequest;
      if (body?.reason !== 'idle' && body?.reason !== 'lifetime') throw new BadRequestError('reason must be "idle" or "lifetime".');
      return reply(200, s.extend(body.reason) satisfies ExtendResponse);
    }
    if (req.method === 'DELETE' && parts[0] === 'sessions' && parts.length === 2) {
      const s = await sessionFromAuth(req, parts[1], await ctx.known());
      await manager.end(s, 'closed', 'You stopped this sandbox.');
      res.writeHead(204, securityHeaders()).end();
      return;
    }
    if (req.method === 'POST' && parts[0] === 'device-codes' && parts.length === 1) {
      const who = await ctx.principal();
      if (who.kind !== 'learner') throw new BadRequestError('Only a learner of this browser can be continued on another device.');
      const wait = codesMade.take(principalKey(who));
      if (wait > 0) throw new RateLimitedError(wait);
      await readJson(req);
      const now = Date.now();
      await store.ensureLearner({ id: principalKey(who), kind: 'anonymous', createdAt: now });
      const code = newDeviceCode();
      const expiresAt = now + DEVICE_CODE_TTL_MS;
      await store.createDeviceCode({ codeHash: deviceCodeHash(normaliseDeviceCode(code)!), learnerId: principalKey(who), createdAt: now, expiresAt });
      return reply(201, { code, url: continueUrl(req, code), expiresAt } satisfies DeviceCodeResponse);
    }
    if (req.method === 'POST' && parts[0] === 'device-codes' && parts[1] === 'redeem' && parts.length === 2) {
      const wait = redeems.take(addressKeyOf(req));
      if (wait > 0) throw new RateLimitedError(wait);
      const body = (await readJson(req)) as { code?: unknown };
      const code = normaliseDeviceCode(body?.code);
      if (!code) throw new LabError('device_code_unknown', 'That is not a code this lab gives out: it has 8 letters and digits, like K7QF-3MZP.', 404);
      const r = await store.consumeDeviceCode(deviceCodeHash(code), Date.now());
      if (!r.ok) throw DEVICE_CODE_REFUSALS[r.reason]();
      const learner = learnerFromKey(r.learnerId);
      if (!learner) throw new LabError('internal', 'This code belongs to an account that cannot be continued here.', 500);
      ctx.setCookies.push(await identity.signInLearner(learner.learnerId));
      return reply(200, { kind: 'learner', learnerTag: tagOf(learner) } satisfies MeResponse);
    }
    throw new LabError('bad_request', `No such endpoint: ${req.method} ${url.pathname}`, 404);
  }

  function addressKeyOf(req: IncomingMessage): string {
    return addressKey(identity.clientAddress(req));
  }

  /** GET /admin/sign-in?token=…: the admin cookie and a redirect to /admin, or a plain-text refusal. */
  async function adminSignIn(req: IncomingMessage, res: ServerResponse, url: URL) {
    const text = (status: number, body: string) =>
      res.writeHead(status, { ...securityHeaders(), 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }).end(`${body}\n`);
    if (req.method !== 'GET') return text(405, 'Open the admin sign-in link in a browser.');
    const wait = adminTries.take(addressKeyOf(req));
    if (wait > 0) return text(429, `Too many sign-in attempts from this address; try again in ${Math.ceil(wait / 1000)} s.`);
    const r = await identity.signInAdmin(url.searchParams.get('token'));
    if (!r.ok) return text(403, r.message);
    log('admin signed in');
    res.writeHead(303, { ...securityHeaders(), location: '/admin', 'set-cookie': r.setCookie, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' }).end();
  }

  function handleRequest(req: IncomingMessage, res: ServerResponse): boolean {
    const url = new URL(req.url ?? '/', 'http://lab.invalid');
    const signIn = url.pathname === ADMIN_SIGN_IN_PATH;
    if (!url.pathname.startsWith(API_PREFIX) && !signIn) return false;
    const ctx = requestContext(req);
    const guarded = async () => {
      // Before anything reads the request: a Host the lab does not answer to is a rebinding page or a misconfiguration.
      if (!hostAllowed(req.headers.host, config.allowedHosts)) throw new ForbiddenHostError(hostRefusal(req.headers.host).message);
      if (signIn) await adminSignIn(req, res, url);
      else await route(req, res, url, ctx);
    };
    guarded().catch((err) => {
      const e = toLabError(err);
      if (e.code === 'internal') log(`${req.method} ${url.pathname}: ${(err as Error)?.stack ?? err}`);
      // A refused body is not read to its end: say so, so the client does not reuse the connection.
      // A learner made by this request keeps their cookie even when the request fails (else every retry makes another).
      const headers: Record<string, string | string[]> = ctx.setCookies.length ? { 'set-cookie': ctx.setCookies } : {};
      if (e instanceof PayloadTooLargeError) headers.connection = 'close';
      if (!res.headersSent) sendJson(res, e.httpStatus, e.toBody(), headers);
    });
    return true;
  }

  function reject(socket: Duplex, status: number, reason: string, body = reason) {
    const headers = Object.entries(securityHeaders())
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\n${headers}Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }

  function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = new URL(req.url ?? '/', 'http://lab.invalid');
    if (url.pathname !== `${API_PREFIX}ws`) return false;
    if (!hostAllowed(req.headers.host, config.allowedHosts)) {
      const r = hostRefusal(req.headers.host);
      reject(socket, r.status, 'Misdirected Request', r.message);
      return true;
    }
    if (!originAllowed(req, config)) {
      reject(socket, 403, 'Forbidden origin');
      return true;
    }
    const sessionId = url.searchParams.get('session') ?? '';
    const role: PeerRole = url.searchParams.get('role') === 'viewer' ? 'viewer' : 'owner';
    // A viewer is authorised by who they are (the admin; instructors later), not by the owner's token.
    if (role === 'owner' && signer.verify(url.searchParams.get('token')) !== sessionId) {
      reject(socket, 401, 'Invalid or expired token');
      return true;
    }
    const session = manager.get(sessionId);
    if (!session) {
      reject(socket, 404, 'Unknown session');
      return true;
    }
    // The browser sends its cookies with the upgrade: the owner's terminal opens for the owner, a viewer's for the admin.
    void identity.knownPrincipalOf(req, { learnerOnly: role === 'owner' }).then(
      (who) => {
        const allowed = role === 'owner' ? !!who && principalKey(who) === session.ownerKey : who?.kind === 'admin';
        if (!allowed) {
          reject(socket, 403, 'Forbidden', role === 'owner' ? new ForbiddenSessionError().message : new AdminRequiredError().message);
          return;
        }
        if (role === 'viewer') log(`session ${session.id}: ${principalKey(who!)} is watching`);
        wss.handleUpgrade(req, socket, head, (ws) => attachSocket(ws, session, url, role));
      },
      (err) => {
        log(`upgrade ${sessionId}: ${err}`);
        reject(socket, 500, 'Internal Server Error');
      },
    );
    return true;
  }

  function attachSocket(ws: WebSocket, session: Session, url: URL, role: PeerRole) {
    // Output bytes handed to the socket whose write has not completed (the client is not
    // reading them): the terminal pauses the shell on this, whatever the client acks.
    let queuedOutput = 0;
    const peer: TerminalPeer = {
      sendOutput: (chunk) => {
        if (ws.readyState !== ws.OPEN) return;
        queuedOutput += chunk.length;
        ws.send(chunk, { binary: true }, () => {
          queuedOutput -= chunk.length;
          session.terminal.outputFlushed();
        });
      },
      get queuedOutputBytes() {
        return queuedOutput;
      },
      send: (msg: ServerMessage) => {
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
      },
      close: (code, reason) => {
        if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.close(code, reason);
      },
      pauseInput: () => {
        if (ws.readyState === ws.OPEN) ws.pause();
      },
      resumeInput: () => {
        if (ws.readyState === ws.OPEN) ws.resume();
      },
    };
    // Only the owner holds the session's credentials; a viewer never gets them.
    const refreshToken = () => {
      if (!session.ended && role === 'owner') peer.send({ type: 'token', ...credentials(session) });
    };
    const refresher = setInterval(refreshToken, config.tokenRefreshMs);
    ws.on('message', (data: RawData, isBinary: boolean) => {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
      // The terminal drops a viewer's keystrokes, resizes and acks (it knows each peer's role).
      if (isBinary) {
        session.terminal.input(peer, buf);
        return;
      }
      let msg: ClientMessage;
      try {
        msg = JSON.parse(buf.toString('utf8')) as ClientMessage;
      } catch {
        peer.send({ type: 'error', code: 'bad_request', message: 'Malformed control message.' });
        return;
      }
      switch (msg?.type) {
        case 'resize':
          if (Number.isFinite(msg.cols) && Number.isFinite(msg.rows)) session.terminal.resize(peer, msg.cols, msg.rows);
          break;
        case 'ack':
          if (Number.isFinite(msg.bytes)) session.terminal.ack(peer, msg.bytes);
          break;
        case 'ping':
          peer.send({ type: 'pong' });
          break;
        default:
          peer.send({ type: 'error', code: 'bad_request', message: 'Unknown control message.' });
      }
    });
    ws.on('close', () => {
      clearInterval(refresher);
      session.terminal.detach(peer);
    });
    ws.on('error', () => {
      /* close follows */
    });
    const cols = Number(url.searchParams.get('cols'));
    const rows = Number(url.searchParams.get('rows'));
    void session.terminal.attach(peer, cols > 0 && rows > 0 ? { cols, rows } : undefined, role).catch((err) => {
      const e = toLabError(err);
      log(`attach ${session.id}: ${e.message}`);
      peer.send({ type: 'error', code: e.code, message: e.message });
    });
  }

  return {
    manager,
    identity,
    handleRequest,
    handleUpgrade,
    async close() {
      for (const c of wss.clients) c.terminate();
      await manager.shutdown();
    },
    async handOver() {
      for (const c of wss.clients) c.close(1012, 'the lab is restarting');
      await manager.handOver();
    },
  };
}
