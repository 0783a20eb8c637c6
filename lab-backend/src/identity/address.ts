/**
 * The client's address, and when X-Forwarded-For is believed (LAB_TRUST_PROXY).
 *
 * X-Forwarded-For is a list every proxy appends its peer's address to, so only
 * its right end is written by proxies the operator runs; anything to the left
 * of them is whatever the client sent. The client is therefore the rightmost
 * hop that is not a trusted proxy, read from the right. With trust off (the
 * default) the header is ignored and the client is the socket's peer.
 *
 * Pure functions of the headers, the socket's address and the config.
 */
import { BlockList, isIP } from 'node:net';

/**
 * LAB_TRUST_PROXY, parsed:
 *  - `off` (unset, `false`, `0`): X-Forwarded-For is ignored;
 *  - `hops` (`true` = 1, or a whole number N): the N nearest hops (the socket's
 *    peer and the N-1 entries it forwarded) are the operator's proxies, so the
 *    client is the Nth entry from the right of X-Forwarded-For;
 *  - `list` (comma-separated addresses or CIDR ranges, e.g. `127.0.0.1,10.0.0.0/8`):
 *    every hop in these ranges is a proxy; the client is the rightmost hop that
 *    is not (only believed when the socket's peer itself is in the list).
 */
export type TrustProxy = { kind: 'off' } | { kind: 'hops'; hops: number } | { kind: 'list'; ranges: string[] };

/** Parses LAB_TRUST_PROXY; throws naming the variable on anything else. */
export function parseTrustProxy(raw: string | undefined): TrustProxy {
  const v = (raw ?? '').trim().toLowerCase();
  if (v === '' || v === 'false' || v === '0') return { kind: 'off' };
  if (v === 'true') return { kind: 'hops', hops: 1 };
  if (/^\d+$/.test(v)) {
    const hops = Number(v);
    if (hops > 32) throw new Error(`LAB_TRUST_PROXY: ${hops} proxy hops is not plausible (at most 32)`);
    return { kind: 'hops', hops };
  }
  const ranges = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const r of ranges) {
    if (!rangeValid(r)) {
      throw new Error(
        `LAB_TRUST_PROXY must be true, false, a number of proxy hops, or a comma-separated list of proxy addresses or CIDR ranges (e.g. 127.0.0.1,10.0.0.0/8); "${r}" is none of these`,
      );
    }
  }
  return { kind: 'list', ranges };
}

function rangeValid(r: string): boolean {
  const [addr, bits, extra] = r.split('/');
  const family = isIP(addr);
  if (!family || extra !== undefined) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

function blockListOf(ranges: readonly string[]): BlockList {
  const list = new BlockList();
  for (const r of ranges) {
    const [addr, bits] = r.split('/');
    const type = isIP(addr) === 4 ? 'ipv4' : 'ipv6';
    if (bits === undefined) list.addAddress(addr, type);
    else list.addSubnet(addr, Number(bits), type);
  }
  return list;
}

/**
 * An address as written in a socket or an X-Forwarded-For entry, made canonical:
 * IPv4-mapped IPv6 (`::ffff:10.0.0.1`) becomes IPv4, brackets and a port are
 * removed, IPv6 is lower case. Null when it is not an IP address.
 */
export function normaliseAddress(value: string | undefined): string | null {
  if (!value) return null;
  let v = value.trim().toLowerCase();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(v);
  if (bracketed) v = bracketed[1];
  else if (/^[\d.]+:\d+$/.test(v)) v = v.slice(0, v.lastIndexOf(':')); // 1.2.3.4:5678
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(v);
  if (mapped) v = mapped[1];
  return isIP(v) ? v : null;
}

/** A compiled LAB_TRUST_PROXY: the client address of one request. */
export class ClientAddress {
  private readonly proxies: BlockList | null;

  constructor(private readonly trust: TrustProxy) {
    this.proxies = trust.kind === 'list' ? blockListOf(trust.ranges) : null;
  }

  /**
   * The client's address for a request from `socketAddress` carrying these
   * X-Forwarded-For values. Never throws. Where the hop the rule picks is
   * missing or not an address (X-Forwarded-For shorter than the hop count, or
   * garbage), the nearest valid hop to its right is used: at worst the proxy
   * itself, so everyone behind a misconfigured proxy shares one address's caps
   * (strict, never loose). `unknown` when not even the socket has an address.
   */
  of(socketAddress: string | undefined, forwardedFor: string | string[] | undefined): string {
    const peer = normaliseAddress(socketAddress) ?? 'unknown';
    if (this.trust.kind === 'off' || peer === 'unknown' || !forwardedFor) return peer;
    // Node joins repeated X-Forwarded-For headers with ", "; an array is joined likewise.
    const entries = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor).split(',');
    let client = peer;
    if (this.trust.kind === 'hops') {
      // hops = [...entries, peer]; the client is `hops` places left of the peer.
      for (let i = 1; i <= this.trust.hops && i <= entries.length; i++) {
        const hop = normaliseAddress(entries[entries.length - i]);
        if (!hop) break;
        client = hop;
      }
      return client;
    }
    // list: walk left while the current hop is a trusted proxy.
    for (let i = entries.length - 1; i >= 0 && this.trusted(client); i--) {
      const hop = normaliseAddress(entries[i]);
      if (!hop) break;
      client = hop;
    }
    return client;
  }

  private trusted(address: string): boolean {
    return !!this.proxies?.check(address, isIP(address) === 4 ? 'ipv4' : 'ipv6');
  }
}

/**
 * The key a per-address limit counts under: an IPv4 address itself, an IPv6
 * address's /64 (one subscriber usually holds a whole /64, so counting single
 * IPv6 addresses would let one client rotate through 2^64 of them).
 */
export function addressKey(address: string): string {
  if (isIP(address) !== 6) return address;
  const [head, tail = ''] = address.split('::');
  const left = head ? head.split(':') : [];
  const right = address.includes('::') ? (tail ? tail.split(':') : []) : [];
  if (right.length && right[right.length - 1].includes('.')) right.splice(-1, 1, '0', '0'); // embedded IPv4 in the low bits
  const groups = [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
