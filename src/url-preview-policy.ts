/**
 * Which URLs the URL previewer (client-server-api `GET /_matrix/client/v1/media/preview_url`)
 * may fetch. Pure: the caller resolves host names and hands the answers back.
 *
 * A URL is fetched only when
 *  - it is http or https, without user info;
 *  - it uses the scheme's default port, unless its host is on the allow-list;
 *  - its host is on no deny-list entry, by name or by address;
 *  - every address it resolves to (or its literal address) is public unicast
 *    (src/ip-address.ts), unless that address or the host name is allow-listed.
 * A name that resolves to nothing is refused. `localhost` and its subdomains are
 * loopback by definition (RFC 6761 §6.3) and never resolved.
 */
import { cidrContains, formatIpAddress, parseCidr, parseIpAddress, refusalReason, type Cidr, type IpAddress } from "./ip-address.js";

export type HostRule = { kind: "cidr"; cidr: Cidr; text: string } | { kind: "name"; name: string; subdomains: boolean; text: string };

export interface PreviewPolicy {
  allow: HostRule[];
  deny: HostRule[];
}

export const EMPTY_POLICY: PreviewPolicy = { allow: [], deny: [] };

/**
 * Parses an operator's host list: a JSON array of strings, or a comma/whitespace
 * separated list. Entries are CIDRs (`10.1.0.0/16`), addresses (`203.0.113.7`,
 * `2001:db8::1`), host names (`example.com`) or name suffixes (`*.example.com`,
 * which matches subdomains but not the name itself). Throws on a malformed entry.
 */
export function parseHostRules(text: string | undefined): HostRule[] {
  if (!text || !text.trim()) return [];
  let entries: unknown;
  const trimmed = text.trim();
  if (trimmed.startsWith("[")) {
    try {
      entries = JSON.parse(trimmed);
    } catch {
      throw new Error("host list is not valid JSON");
    }
    if (!Array.isArray(entries) || !entries.every((e) => typeof e === "string")) throw new Error("host list must be a JSON array of strings");
  } else entries = trimmed.split(/[\s,]+/);
  const rules: HostRule[] = [];
  for (const raw of entries as string[]) {
    const entry = raw.trim();
    if (!entry) continue;
    const c = parseCidr(entry);
    if (c) {
      rules.push({ kind: "cidr", cidr: c, text: entry });
      continue;
    }
    const wildcard = entry.startsWith("*.");
    const name = normaliseHostName(wildcard ? entry.slice(2) : entry);
    if (!/^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/.test(name)) throw new Error(`bad host list entry: ${entry}`);
    rules.push({ kind: "name", name, subdomains: wildcard, text: entry });
  }
  return rules;
}

/** Lower case, without a trailing dot. */
export function normaliseHostName(host: string): string {
  return host.toLowerCase().replace(/\.$/, "");
}

function nameMatches(rule: HostRule, host: string): boolean {
  if (rule.kind !== "name") return false;
  return rule.subdomains ? host.endsWith(`.${rule.name}`) : host === rule.name;
}

function addressMatches(rules: HostRule[], ip: IpAddress): HostRule | undefined {
  return rules.find((r) => r.kind === "cidr" && cidrContains(r.cidr, ip));
}

export type UrlVerdict =
  | {
      ok: true;
      url: URL;
      /** Set when the host is an IP literal: nothing to resolve. */
      address?: IpAddress;
      /** Set when the host is a name: resolve it and pass the answers to `checkResolved`. */
      hostname?: string;
      /** The host name itself is allow-listed: its addresses are not judged. */
      allowListed: boolean;
      /** A non-default port: allowed only if the host or every resolved address is allow-listed. */
      nonDefaultPort: boolean;
    }
  | { ok: false; reason: string };

const refuse = (reason: string): UrlVerdict => ({ ok: false, reason });

/**
 * First stage: everything that can be judged without DNS. `anyPort` lifts the
 * default-port rule (federation listens on 8448 and delegated ports).
 */
export function checkUrl(raw: string | URL, policy: PreviewPolicy, options: { anyPort?: boolean } = {}): UrlVerdict {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return refuse("not an absolute URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return refuse(`scheme ${url.protocol} is not allowed`);
  if (url.username || url.password) return refuse("URLs with credentials are not previewed");
  // The WHATWG parser already turns `2130706433`, `0x7f.1` and `127.1` into dotted quads; we parse again regardless.
  const host = url.hostname;
  const nonDefaultPort = url.port !== "" && !options.anyPort;
  const literal = host.startsWith("[") ? parseIpAddress(host) : /^[0-9a-fx.]+$/i.test(host) ? parseIpAddress(host) : null;
  if (literal) {
    const denied = addressMatches(policy.deny, literal);
    if (denied) return refuse(`address ${formatIpAddress(literal)} is deny-listed (${denied.text})`);
    const allowed = addressMatches(policy.allow, literal) !== undefined;
    if (nonDefaultPort && !allowed) return refuse(`port ${url.port} is not the default for ${url.protocol}`);
    if (!allowed) {
      const why = refusalReason(literal);
      if (why) return refuse(`address ${formatIpAddress(literal)} is ${why}`);
    }
    return { ok: true, url, address: literal, allowListed: allowed, nonDefaultPort };
  }
  if (host.startsWith("[") || host.includes(":")) return refuse("malformed IPv6 host");
  const name = normaliseHostName(host);
  if (!name || name.includes("%")) return refuse("malformed host name");
  const denied = policy.deny.find((r) => nameMatches(r, name));
  if (denied) return refuse(`host ${name} is deny-listed (${denied.text})`);
  const allowListed = policy.allow.some((r) => nameMatches(r, name));
  if (!allowListed && (name === "localhost" || name.endsWith(".localhost"))) return refuse(`host ${name} is loopback`);
  return { ok: true, url, hostname: name, allowListed, nonDefaultPort };
}

/**
 * Second stage for host names: the addresses the name resolved to. Refused if
 * there are none, if any is deny-listed, or if any is not public and not allow-listed
 * (one bad answer is enough: the fetch may connect to any of them).
 */
export function checkResolved(verdict: Extract<UrlVerdict, { ok: true }>, answers: readonly string[], policy: PreviewPolicy): { ok: true } | { ok: false; reason: string } {
  const host = verdict.hostname ?? verdict.url.hostname;
  if (answers.length === 0) return { ok: false, reason: `host ${host} does not resolve` };
  for (const a of answers) {
    const ip = parseIpAddress(a);
    if (!ip) return { ok: false, reason: `host ${host} resolved to a malformed address` };
    const denied = addressMatches(policy.deny, ip);
    if (denied) return { ok: false, reason: `host ${host} resolves to deny-listed ${formatIpAddress(ip)} (${denied.text})` };
    if (verdict.allowListed) continue;
    const allowed = addressMatches(policy.allow, ip) !== undefined;
    if (verdict.nonDefaultPort && !allowed) return { ok: false, reason: `port ${verdict.url.port} is not the default for ${verdict.url.protocol}` };
    if (!allowed) {
      const why = refusalReason(ip);
      if (why) return { ok: false, reason: `host ${host} resolves to ${formatIpAddress(ip)}, ${why}` };
    }
  }
  return { ok: true };
}
