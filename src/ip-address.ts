/**
 * IP address parsing and classification for the URL previewer's SSRF guard.
 *
 * Parsing accepts every spelling an HTTP stack might turn into an address: the
 * inet_aton forms of IPv4 (`127.1`, `2130706433`, `0x7f.1`, `0177.0.0.1`) and the
 * RFC 4291 text forms of IPv6 (with `::`, an embedded dotted quad, brackets).
 * Classification says why an address must not be fetched from, or `null` when it
 * is an ordinary public unicast address. IPv6 is allowed only inside global
 * unicast 2000::/3 (RFC 4291 §2.4) minus the special-purpose blocks of the IANA
 * registry, and translation prefixes that carry an IPv4 address are judged by it.
 */

export type IpAddress = { version: 4; bytes: Uint8Array } | { version: 6; bytes: Uint8Array };

export interface Cidr {
  version: 4 | 6;
  bytes: Uint8Array;
  prefix: number;
}

/** One inet_aton part: decimal, `0`-prefixed octal or `0x`-prefixed hex. */
function parseV4Part(part: string): number | null {
  if (part === "") return null;
  let value: number;
  if (/^0[xX][0-9a-fA-F]*$/.test(part)) value = part.length === 2 ? 0 : parseInt(part.slice(2), 16);
  else if (/^0[0-7]+$/.test(part)) value = parseInt(part.slice(1), 8);
  else if (/^(0|[1-9][0-9]*)$/.test(part)) value = Number(part);
  else return null;
  // Long digit strings overflow to Infinity or lose precision; both are out of range anyway.
  return Number.isSafeInteger(value) ? value : null;
}

/**
 * IPv4 in any form inet_aton (and the WHATWG URL host parser) accepts: one to four
 * parts, the last filling the remaining bytes. `127.1` is 127.0.0.1 and
 * `2130706433` is 127.0.0.1. A trailing dot is allowed, as in URL hosts.
 */
export function parseIPv4(s: string): Uint8Array | null {
  let text = s;
  if (text.endsWith(".")) text = text.slice(0, -1);
  const parts = text.split(".");
  if (parts.length < 1 || parts.length > 4) return null;
  const nums: number[] = [];
  for (const p of parts) {
    const n = parseV4Part(p);
    if (n === null) return null;
    nums.push(n);
  }
  const last = nums.pop() as number;
  for (const n of nums) if (n > 255) return null;
  const lastBytes = 4 - nums.length;
  if (last >= 256 ** lastBytes) return null;
  const out = new Uint8Array(4);
  nums.forEach((n, i) => (out[i] = n));
  for (let i = 0; i < lastBytes; i++) out[3 - i] = Math.floor(last / 256 ** i) % 256;
  return out;
}

/** Strict dotted-quad decimal, as it may appear at the end of an IPv6 address. */
function parseDottedQuad(s: string): Uint8Array | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = m[i + 1] as string;
    if (part.length > 1 && part.startsWith("0")) return null;
    const n = Number(part);
    if (n > 255) return null;
    out[i] = n;
  }
  return out;
}

/** IPv6 text forms of RFC 4291 §2.2. Zone ids (`%eth0`) are refused: they only name local links. */
export function parseIPv6(s: string): Uint8Array | null {
  if (s.length < 2 || s.length > 45 || !/^[0-9A-Fa-f:.]+$/.test(s)) return null;
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const groupsOf = (part: string): string[] => (part === "" ? [] : part.split(":"));
  const head = groupsOf(halves[0] as string);
  const tail = halves.length === 2 ? groupsOf(halves[1] as string) : [];
  const words: number[][] = [[], []];
  const sides = [head, tail];
  for (let side = 0; side < 2; side++) {
    const groups = sides[side] as string[];
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i] as string;
      const isLast = side === (halves.length === 2 ? 1 : 0) && i === groups.length - 1;
      if (/^[0-9A-Fa-f]{1,4}$/.test(g)) (words[side] as number[]).push(parseInt(g, 16));
      else if (isLast && g.includes(".")) {
        const v4 = parseDottedQuad(g);
        if (!v4) return null;
        (words[side] as number[]).push(((v4[0] as number) << 8) | (v4[1] as number), ((v4[2] as number) << 8) | (v4[3] as number));
      } else return null;
    }
  }
  const [left, right] = words as [number[], number[]];
  const count = left.length + right.length;
  if (halves.length === 2 ? count > 7 : count !== 8) return null;
  const all = [...left, ...new Array<number>(8 - count).fill(0), ...right];
  const out = new Uint8Array(16);
  all.forEach((w, i) => {
    out[i * 2] = w >> 8;
    out[i * 2 + 1] = w & 0xff;
  });
  return out;
}

/** An address as a URL host or DNS answer may give it: IPv4 (any inet_aton form), IPv6, or `[IPv6]`. */
export function parseIpAddress(s: string): IpAddress | null {
  const text = s.trim();
  if (text.startsWith("[") && text.endsWith("]")) {
    const b = parseIPv6(text.slice(1, -1));
    return b ? { version: 6, bytes: b } : null;
  }
  if (text.includes(":")) {
    const b = parseIPv6(text);
    return b ? { version: 6, bytes: b } : null;
  }
  const b = parseIPv4(text);
  return b ? { version: 4, bytes: b } : null;
}

export function formatIpAddress(ip: IpAddress): string {
  if (ip.version === 4) return Array.from(ip.bytes).join(".");
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push((((ip.bytes[i] as number) << 8) | (ip.bytes[i + 1] as number)).toString(16));
  return words.join(":");
}

/** `10.0.0.0/8`, `fc00::/7`, `[fd00::]/8`, or a single address (a /32 or /128). */
export function parseCidr(s: string): Cidr | null {
  const slash = s.lastIndexOf("/");
  const addrText = slash === -1 ? s : s.slice(0, slash);
  // Only canonical spellings for configuration: no inet_aton shorthand in a CIDR.
  const text = addrText.trim();
  let ip: IpAddress | null;
  if (text.includes(":")) ip = parseIpAddress(text);
  else {
    const v4 = parseDottedQuad(text);
    ip = v4 ? { version: 4, bytes: v4 } : null;
  }
  if (!ip) return null;
  const max = ip.version === 4 ? 32 : 128;
  let prefix = max;
  if (slash !== -1) {
    const p = s.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) return null;
    prefix = Number(p);
    if (prefix > max) return null;
  }
  return { version: ip.version, bytes: ip.bytes, prefix };
}

function prefixMatch(a: Uint8Array, b: Uint8Array, prefix: number): boolean {
  const full = Math.floor(prefix / 8);
  for (let i = 0; i < full; i++) if (a[i] !== b[i]) return false;
  const rest = prefix % 8;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return ((a[full] as number) & mask) === ((b[full] as number) & mask);
}

/**
 * Whether `ip` lies in `cidr`. An IPv4 range also matches the IPv6 forms that
 * carry an IPv4 address (mapped, compatible, NAT64, 6to4), so a deny-list entry
 * of `10.0.0.0/8` cannot be dodged by writing `::ffff:10.0.0.1`.
 */
export function cidrContains(cidr: Cidr, ip: IpAddress): boolean {
  if (cidr.version === ip.version) return prefixMatch(cidr.bytes, ip.bytes, cidr.prefix);
  if (cidr.version === 4 && ip.version === 6) {
    const v4 = embeddedIPv4(ip.bytes);
    return v4 !== null && prefixMatch(cidr.bytes, v4, cidr.prefix);
  }
  return false;
}

const cidr = (s: string): Cidr => {
  const c = parseCidr(s);
  if (!c) throw new Error(`bad built-in CIDR ${s}`);
  return c;
};

/** IPv4 blocks that are not globally reachable unicast (IANA IPv4 Special-Purpose Address Registry, RFC 6890). */
const V4_REFUSED: [Cidr, string][] = [
  [cidr("0.0.0.0/8"), "this-network (0.0.0.0/8)"],
  [cidr("10.0.0.0/8"), "private (10.0.0.0/8)"],
  [cidr("100.64.0.0/10"), "shared address space / CGNAT (100.64.0.0/10)"],
  [cidr("127.0.0.0/8"), "loopback (127.0.0.0/8)"],
  [cidr("169.254.0.0/16"), "link-local (169.254.0.0/16)"],
  [cidr("172.16.0.0/12"), "private (172.16.0.0/12)"],
  [cidr("192.0.0.0/24"), "IETF protocol assignments (192.0.0.0/24)"],
  [cidr("192.0.2.0/24"), "documentation (192.0.2.0/24)"],
  [cidr("192.31.196.0/24"), "AS112 (192.31.196.0/24)"],
  [cidr("192.52.193.0/24"), "AMT (192.52.193.0/24)"],
  [cidr("192.88.99.0/24"), "6to4 relay anycast (192.88.99.0/24)"],
  [cidr("192.168.0.0/16"), "private (192.168.0.0/16)"],
  [cidr("192.175.48.0/24"), "AS112 (192.175.48.0/24)"],
  [cidr("198.18.0.0/15"), "benchmarking (198.18.0.0/15)"],
  [cidr("198.51.100.0/24"), "documentation (198.51.100.0/24)"],
  [cidr("203.0.113.0/24"), "documentation (203.0.113.0/24)"],
  [cidr("224.0.0.0/4"), "multicast (224.0.0.0/4)"],
  [cidr("240.0.0.0/4"), "reserved (240.0.0.0/4)"],
  // Cloud metadata services on otherwise public addresses (169.254.169.254 is link-local above).
  [cidr("168.63.129.16/32"), "cloud metadata (Azure wireserver)"],
];

/** IPv6 blocks inside 2000::/3 that are not globally reachable (IANA IPv6 Special-Purpose Address Registry). */
const V6_REFUSED_IN_GLOBAL: [Cidr, string][] = [
  [cidr("2001::/23"), "IETF protocol assignments incl. Teredo (2001::/23)"],
  [cidr("2001:db8::/32"), "documentation (2001:db8::/32)"],
  [cidr("3fff::/20"), "documentation (3fff::/20)"],
];

const V6_NAMED: [Cidr, string][] = [
  [cidr("::/128"), "unspecified (::)"],
  [cidr("::1/128"), "loopback (::1)"],
  [cidr("::ffff:0:0/96"), "IPv4-mapped (::ffff:0:0/96)"],
  [cidr("::ffff:0:0:0/96"), "IPv4-translated (::ffff:0:0:0/96)"],
  [cidr("::/96"), "IPv4-compatible (::/96)"],
  [cidr("64:ff9b:1::/48"), "local-use NAT64 (64:ff9b:1::/48)"],
  [cidr("100::/64"), "discard-only (100::/64)"],
  [cidr("fc00::/7"), "unique-local (fc00::/7)"],
  [cidr("fe80::/10"), "link-local (fe80::/10)"],
  [cidr("fec0::/10"), "site-local (fec0::/10)"],
  [cidr("ff00::/8"), "multicast (ff00::/8)"],
];

const NAT64 = cidr("64:ff9b::/96");
const SIX_TO_FOUR = cidr("2002::/16");
const GLOBAL_UNICAST = cidr("2000::/3");
const MAPPED = cidr("::ffff:0:0/96");
const TRANSLATED = cidr("::ffff:0:0:0/96");
const COMPATIBLE = cidr("::/96");

/**
 * The IPv4 address an IPv6 address carries, for the forms that route to one:
 * IPv4-mapped, IPv4-translated and IPv4-compatible (last 32 bits), NAT64 64:ff9b::/96
 * (RFC 6052, last 32 bits) and 6to4 2002::/16 (RFC 3056, bits 16–47).
 */
export function embeddedIPv4(b: Uint8Array): Uint8Array | null {
  const ip: IpAddress = { version: 6, bytes: b };
  const inV6 = (c: Cidr) => prefixMatch(c.bytes, ip.bytes, c.prefix);
  if (inV6(MAPPED) || inV6(TRANSLATED) || inV6(NAT64) || inV6(COMPATIBLE)) return b.slice(12, 16);
  if (inV6(SIX_TO_FOUR)) return b.slice(2, 6);
  return null;
}

/**
 * Why `ip` must not be fetched from, or `null` for a public unicast address.
 * NAT64 and 6to4 addresses are judged by the IPv4 address inside them; every
 * other IPv6 address outside 2000::/3 is refused.
 */
export function refusalReason(ip: IpAddress): string | null {
  if (ip.version === 4) {
    for (const [c, why] of V4_REFUSED) if (prefixMatch(c.bytes, ip.bytes, c.prefix)) return why;
    return null;
  }
  for (const [c, why] of V6_NAMED) if (prefixMatch(c.bytes, ip.bytes, c.prefix)) return why;
  if (prefixMatch(NAT64.bytes, ip.bytes, NAT64.prefix) || prefixMatch(SIX_TO_FOUR.bytes, ip.bytes, SIX_TO_FOUR.prefix)) {
    const inner = refusalReason({ version: 4, bytes: embeddedIPv4(ip.bytes) as Uint8Array });
    return inner === null ? null : `IPv6 translation of ${inner}`;
  }
  if (!prefixMatch(GLOBAL_UNICAST.bytes, ip.bytes, GLOBAL_UNICAST.prefix)) return "not global unicast (outside 2000::/3)";
  for (const [c, why] of V6_REFUSED_IN_GLOBAL) if (prefixMatch(c.bytes, ip.bytes, c.prefix)) return why;
  return null;
}
