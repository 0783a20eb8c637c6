import { describe, expect, it } from 'vitest';
import {
  CONTENT_SECURITY_POLICY,
  defaultAllowedHosts,
  hostAllowed,
  hostnameOf,
  hostRefusal,
  normaliseOrigin,
  originAllowed,
  securityHeaders,
  type GuardConfig,
} from '../../src/http-guard';

describe('hostnameOf', () => {
  it('drops the port, IPv6 brackets, case and a trailing dot', () => {
    expect(hostnameOf('Lab.Example:3000')).toBe('lab.example');
    expect(hostnameOf('lab.example.')).toBe('lab.example');
    expect(hostnameOf('127.0.0.1:3000')).toBe('127.0.0.1');
    expect(hostnameOf('[::1]:3000')).toBe('::1');
    expect(hostnameOf('[::1]')).toBe('::1');
    expect(hostnameOf('::1')).toBe('::1'); // a bare literal, as written in LAB_ALLOWED_HOSTS
    expect(hostnameOf('[fe80::1]:80')).toBe('fe80::1');
  });
  it('refuses empty and malformed values', () => {
    for (const bad of [undefined, '', 'lab.example:', 'lab.example:abc', 'a/b', 'evil.example@lab', '[::1', '[::1]x', '[lab]:3000', 'lab..example', 'a b']) {
      expect(hostnameOf(bad), String(bad)).toBeNull();
    }
  });
});

describe('hostAllowed', () => {
  const allowed = ['localhost', '*.localhost', '127.0.0.1', '::1', '10.0.0.5', 'lab.example.com'];
  it('accepts the listed names with any port', () => {
    for (const h of ['localhost:3000', 'localhost', 'app.localhost:3000', '127.0.0.1:3217', '[::1]:3000', '10.0.0.5', 'LAB.example.com:443']) {
      expect(hostAllowed(h, allowed), h).toBe(true);
    }
  });
  it('refuses a rebinding name, look-alikes and a missing Host', () => {
    for (const h of ['evil.example:3000', 'evil.example', 'localhost.evil.example', 'lab.example.com.evil.example', 'xlocalhost', '127.0.0.2', undefined, '']) {
      expect(hostAllowed(h, allowed), String(h)).toBe(false);
    }
  });
  it('*.name covers names under it, not the name itself; * turns the check off', () => {
    expect(hostAllowed('a.lab.example', ['*.lab.example'])).toBe(true);
    expect(hostAllowed('lab.example', ['*.lab.example'])).toBe(false);
    expect(hostAllowed('evil.example:1', ['*'])).toBe(true);
    expect(hostAllowed('a/b', ['*'])).toBe(false); // still a well-formed Host
  });
  it('ignores a port written in an entry', () => {
    expect(hostAllowed('lab.example:8080', ['lab.example:3000'])).toBe(true);
  });
});

describe('defaultAllowedHosts', () => {
  const ifaces = {
    lo: [
      { address: '127.0.0.1', family: 'IPv4' },
      { address: '::1', family: 'IPv6' },
    ],
    eth0: [
      { address: '192.168.1.20', family: 'IPv4' },
      { address: 'fe80::abcd', family: 'IPv6' },
    ],
  } as unknown as Parameters<typeof defaultAllowedHosts>[1];
  it("has localhost names, the interfaces' addresses, the host name and LAB_PUBLIC_URL's host", () => {
    const hosts = defaultAllowedHosts('https://lab.school.example', ifaces, 'Labbox');
    for (const h of ['localhost:3000', 'x.localhost', '127.0.0.1', '[::1]:3000', '192.168.1.20:3000', '[fe80::abcd]:3000', 'labbox:3000', 'lab.school.example']) {
      expect(hostAllowed(h, hosts), h).toBe(true);
    }
    expect(hostAllowed('evil.example:3000', hosts)).toBe(false);
  });
  it('takes an IPv6 LAB_PUBLIC_URL without its brackets', () => {
    expect(hostAllowed('[2001:db8::1]:3000', defaultAllowedHosts('http://[2001:db8::1]:3000', {}, ''))).toBe(true);
  });
});

describe('originAllowed', () => {
  const base: GuardConfig = { allowedHosts: ['localhost', '127.0.0.1', 'lab.example'], allowedOrigins: [], publicUrl: null };
  const facts = (origin: string | undefined, host = 'lab.example:3000', tls = false) => ({ origin, host, tls });

  it('without LAB_ALLOWED_ORIGINS: exactly http://<Host>, for an allowed Host', () => {
    expect(originAllowed(facts('http://lab.example:3000'), base)).toBe(true);
    expect(originAllowed(facts('http://LAB.example:3000'), base)).toBe(true);
    expect(originAllowed(facts('http://localhost:3000', 'localhost:3000'), base)).toBe(true);
    expect(originAllowed(facts('http://lab.example', 'lab.example:80'), base)).toBe(true); // default port
  });
  it("refuses DNS rebinding: Origin and Host agree, but the Host is not the lab's", () => {
    expect(originAllowed(facts('http://evil.example:3000', 'evil.example:3000'), base)).toBe(false);
  });
  it('compares whole origins: another port or scheme is another origin', () => {
    expect(originAllowed(facts('http://lab.example:4000'), base)).toBe(false);
    expect(originAllowed(facts('https://lab.example:3000'), base)).toBe(false);
    expect(originAllowed(facts('http://lab.example'), base)).toBe(false);
    expect(originAllowed(facts('http://evil.example:3000'), base)).toBe(false);
  });
  it('refuses a missing, opaque or non-http origin', () => {
    for (const o of [undefined, '', 'null', 'file://', 'chrome-extension://abc', 'not a url']) expect(originAllowed(facts(o), base), String(o)).toBe(false);
  });
  it('wants https when the socket is TLS or LAB_PUBLIC_URL is https', () => {
    expect(originAllowed(facts('https://lab.example:3000', 'lab.example:3000', true), base)).toBe(true);
    expect(originAllowed(facts('http://lab.example:3000', 'lab.example:3000', true), base)).toBe(false);
    const behindProxy = { ...base, publicUrl: 'https://lab.example' };
    expect(originAllowed(facts('https://lab.example', 'lab.example'), behindProxy)).toBe(true);
    expect(originAllowed(facts('http://lab.example', 'lab.example'), behindProxy)).toBe(false);
  });
  it("always allows LAB_PUBLIC_URL's origin, whatever the Host", () => {
    const cfg = { ...base, publicUrl: 'https://lab.school.example' };
    expect(originAllowed(facts('https://lab.school.example', 'internal-name:3000'), cfg)).toBe(true);
    expect(originAllowed(facts('https://lab.school.example:8443', 'internal-name:3000'), cfg)).toBe(false);
  });
  it('with LAB_ALLOWED_ORIGINS: exactly those (normalised), and not the Host', () => {
    const cfg = { ...base, allowedOrigins: ['https://school.example'] };
    expect(originAllowed(facts('https://school.example'), cfg)).toBe(true);
    expect(originAllowed(facts('https://school.example:443'), cfg)).toBe(true);
    expect(originAllowed(facts('http://school.example'), cfg)).toBe(false);
    expect(originAllowed(facts('https://school.example:8443'), cfg)).toBe(false);
    expect(originAllowed(facts('http://lab.example:3000'), cfg)).toBe(false);
  });
});

describe('normaliseOrigin', () => {
  it('writes origins as browsers send them', () => {
    expect(normaliseOrigin('HTTPS://School.Example:443/path?q')).toBe('https://school.example');
    expect(normaliseOrigin('http://[::1]:3000')).toBe('http://[::1]:3000');
    expect(normaliseOrigin('ws://lab.example')).toBeNull();
    expect(normaliseOrigin('null')).toBeNull();
  });
});

describe('hostRefusal', () => {
  it('is a 421 that names LAB_ALLOWED_HOSTS and echoes only a cleaned-up host name', () => {
    expect(hostRefusal('evil.example:3000')).toMatchObject({ status: 421, message: expect.stringMatching(/evil\.example\b.*LAB_ALLOWED_HOSTS/) });
    expect(hostRefusal('<script>alert(1)</script>').message).not.toContain('<');
  });
});

describe('securityHeaders', () => {
  it('sends a CSP that frames only from the lab, nosniff, a referrer policy and X-Frame-Options', () => {
    const h = securityHeaders();
    expect(h).toMatchObject({ 'x-frame-options': 'SAMEORIGIN', 'x-content-type-options': 'nosniff', 'referrer-policy': 'same-origin' });
    const csp = Object.fromEntries(
      h['content-security-policy']
        .split(';')
        .map((d) => d.trim().split(/\s+/))
        .map(([k, ...v]) => [k, v]),
    );
    expect(csp['frame-ancestors']).toEqual(["'self'"]);
    expect(csp['object-src']).toEqual(["'none'"]);
    expect(csp['connect-src']).toEqual(["'self'"]);
    expect(csp['default-src']).toEqual(["'self'"]);
    expect(csp['base-uri']).toEqual(["'self'"]);
    expect(csp['script-src']).not.toContain("'unsafe-eval'");
    expect(h['content-security-policy']).toBe(CONTENT_SECURITY_POLICY);
  });
});
