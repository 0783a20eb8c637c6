/**
 * A browser's cookies, for tests that talk to the lab over HTTP and WebSocket
 * without a browser: what Set-Cookie said is sent back on every request, as a
 * browser does on one origin (names only; paths and expiry are not modelled).
 */
import type WebSocket from 'ws';

export class CookieJar {
  private readonly cookies = new Map<string, string>();

  /** The Cookie header to send ('' when empty). */
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  /** Keeps what a response set. */
  take(res: Response): Response {
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const i = pair.indexOf('=');
      if (i > 0) this.cookies.set(pair.slice(0, i).trim(), pair.slice(i + 1).trim());
    }
    return res;
  }

  clear() {
    this.cookies.clear();
  }
  get size(): number {
    return this.cookies.size;
  }

  /** fetch() with this jar's cookies, keeping what the response sets. */
  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    const cookie = this.header();
    if (cookie) headers.set('cookie', cookie);
    return this.take(await fetch(url, { ...init, headers }));
  }

  /** Options for `new WebSocket(url, …)` carrying these cookies (and `headers`). */
  wsOptions(headers: Record<string, string> = {}): WebSocket.ClientOptions {
    const cookie = this.header();
    return { headers: { ...headers, ...(cookie ? { cookie } : {}) } };
  }
}
