/**
 * What every request and WebSocket upgrade passes before anything else reads it,
 * the site's pages and /lab-api/ alike:
 *
 *  - the Host header must name this lab (`LAB_ALLOWED_HOSTS`). A DNS-rebinding
 *    page (evil.example re-resolved to the lab's address) sends
 *    `Host: evil.example:3000` together with `Origin: http://evil.example:3000`,
 *    so "the Origin matches the Host" alone proves nothing;
 *  - a state-changing request's Origin must be the lab's own origin, compared
 *    whole (scheme, host and port);
 *  - every response carries the same security headers.
 *
 * Pure functions of the config and the request's headers: server.ts and
 * scripts/serve.ts apply them, test/unit/http-guard.test.ts pins them down.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import os from 'node:os';

export interface GuardConfig {
  /** Host names the lab answers to; see hostAllowed() for the patterns. */
  allowedHosts: string[];
  /** Normalised origins (`scheme://host[:port]`); empty = the lab's own origin only. */
  allowedOrigins: string[];
  /** The lab's public origin (`LAB_PUBLIC_URL`), or null. */
  publicUrl: string | null;
}

/**
 * The host name of a Host header (or of a LAB_ALLOWED_HOSTS entry): lower case,
 * port and IPv6 brackets removed, a trailing dot removed. Null when it is empty
 * or malformed (anything but letters, digits, `.`, `-`, `_`, or an IPv6 literal).
 */
export function hostnameOf(value: string | undefined | null): string | null {
  if (!value) return null;
  let v = value.trim().toLowerCase();
  let name: string;
  if (v.startsWith('[')) {
    const end = v.indexOf(']');
    if (end < 0) return null;
    name = v.slice(1, end);
    v = v.slice(end + 1);
    if (v && !/^:\d{1,5}$/.test(v)) return null;
    return /^[0-9a-f:.]+$/.test(name) && name.includes(':') ? name : null;
  }
  const colons = v.split(':').length - 1;
  if (colons > 1) return /^[0-9a-f:.]+$/.test(v) ? v : null; // a bare IPv6 literal (config entries)
  if (colons === 1) {
    const [h, port] = v.split(':');
    if (!/^\d{1,5}$/.test(port)) return null;
    v = h;
  }
  name = v.endsWith('.') ? v.slice(0, -1) : v;
  return /^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(name) ? name : null;
}

/**
 * Whether a Host header names this lab. Entries of `allowed` are host names or
 * IP addresses (a port in an entry is ignored, like the request's), `*.example.com`
 * (any name under example.com, not example.com itself), or `*` (any host: turns
 * the check off, only for a proxy in front that checks Host itself).
 */
export function hostAllowed(hostHeader: string | undefined, allowed: readonly string[]): boolean {
  const name = hostnameOf(hostHeader);
  if (!name) return false;
  for (const entry of allowed) {
    if (entry === '*') return true;
    if (entry.startsWith('*.')) {
      const suffix = hostnameOf(entry.slice(2));
      if (suffix && name.endsWith(`.${suffix}`)) return true;
    } else if (hostnameOf(entry) === name) return true;
  }
  return false;
}

/**
 * LAB_ALLOWED_HOSTS's default: localhost names, every address of this machine's
 * interfaces, its host name, and the host of LAB_PUBLIC_URL. Read once at start:
 * an address the machine gains later needs LAB_ALLOWED_HOSTS.
 */
export function defaultAllowedHosts(
  publicUrl: string | null,
  interfaces: ReturnType<typeof os.networkInterfaces> = os.networkInterfaces(),
  hostname: string = os.hostname(),
): string[] {
  const hosts = new Set(['localhost', '*.localhost', '127.0.0.1', '::1']);
  for (const list of Object.values(interfaces)) {
    for (const a of list ?? []) hosts.add(a.address.toLowerCase());
  }
  if (hostname) hosts.add(hostname.toLowerCase());
  if (publicUrl) hosts.add(new URL(publicUrl).hostname.replace(/^\[|\]$/g, ''));
  return [...hosts];
}

/** `scheme://host[:port]` of an http(s) origin or URL, as browsers write it (default port dropped); null otherwise. */
export function normaliseOrigin(value: string | undefined | null): string | null {
  if (!value || value === 'null') return null;
  try {
    const u = new URL(value);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.origin : null;
  } catch {
    return null;
  }
}

export interface RequestFacts {
  /** The Host header. */
  host: string | undefined;
  /** The Origin header. */
  origin: string | undefined;
  /** The request came over TLS to this process. */
  tls?: boolean;
}

/**
 * Whether a state-changing request (or a socket) comes from the lab's own pages.
 * With LAB_ALLOWED_ORIGINS: exactly one of those origins. Without: the origin the
 * request was sent to, `<scheme>://<Host header>`, where the scheme is https when
 * LAB_PUBLIC_URL is https or the request came over TLS, else http, and the Host
 * is one of the allowed hosts. LAB_PUBLIC_URL's origin is always allowed.
 */
export function originAllowed(req: RequestFacts, config: GuardConfig): boolean {
  const origin = normaliseOrigin(req.origin);
  if (!origin) return false;
  if (config.publicUrl && origin === normaliseOrigin(config.publicUrl)) return true;
  if (config.allowedOrigins.length) return config.allowedOrigins.includes(origin);
  if (!hostAllowed(req.host, config.allowedHosts)) return false;
  const scheme = req.tls || config.publicUrl?.startsWith('https:') ? 'https' : 'http';
  return origin === normaliseOrigin(`${scheme}://${req.host}`);
}

/** Why a request for a host the lab does not answer to is refused; the text names the knob to set. */
export function hostRefusal(hostHeader: string | undefined): { status: number; message: string } {
  // Only a cleaned-up name goes back to the client (and never into HTML).
  const shown = hostnameOf(hostHeader)?.slice(0, 100) ?? '(missing or malformed)';
  return {
    status: 421,
    message: `This lab does not answer to the host name ${shown}. If that is the lab's address, add it to LAB_ALLOWED_HOSTS (or set LAB_PUBLIC_URL) and restart the lab.`,
  };
}

/**
 * Content-Security-Policy of every page and API response. Why each source:
 *  - script-src 'unsafe-inline': Next's App Router pages carry their bootstrap
 *    and RSC payload as inline scripts (self.__next_f.push), different per page;
 *    a nonce would need every page rendered per request and would break the
 *    prerendered ones (404, error), so no nonce yet;
 *  - style-src 'unsafe-inline': xterm.js (and Monaco, later) set inline styles;
 *  - worker-src blob:: Monaco and v86 start workers from blob URLs;
 *  - connect-src 'self': covers fetch to /lab-api/ and the same-origin ws:/wss:
 *    terminal socket (CSP Level 3; checked in Debian's chromium);
 *  - frame-ancestors 'self': no other site frames the lab (the embedding issue
 *    widens it per integration on embed pages only).
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self' 'unsafe-inline'",
  "style-src 'self' 'unsafe-inline'",
  "worker-src 'self' blob:",
  "connect-src 'self'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'self'",
].join('; ');

/** The security headers every response carries (pages, assets, API, errors, upgrade refusals). */
export function securityHeaders(): Record<string, string> {
  return {
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-frame-options': 'SAMEORIGIN',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'same-origin',
  };
}

/** Set the security headers on a response before anything else writes it (whatever writes it later keeps them). */
export function setSecurityHeaders(res: ServerResponse): void {
  for (const [k, v] of Object.entries(securityHeaders())) res.setHeader(k, v);
}

/**
 * For the site's pages: answer a request whose Host the lab does not answer to
 * (421, plain text naming LAB_ALLOWED_HOSTS) and return true; return false for
 * an allowed Host, which the page handler then serves.
 */
export function refuseForeignHost(req: IncomingMessage, res: ServerResponse, allowedHosts: readonly string[]): boolean {
  if (hostAllowed(req.headers.host, allowedHosts)) return false;
  const r = hostRefusal(req.headers.host);
  res.writeHead(r.status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', connection: 'close' }).end(`${r.message}\n`);
  return true;
}
