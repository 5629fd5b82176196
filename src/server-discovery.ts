/**
 * Resolving a server name to where its federation API is reached
 * (server-server-api "Resolving server names", steps 1–6). Pure: the
 * `.well-known` fetch and SRV lookups are injected, so the decision logic is
 * tested without a network; services/federation/federation-fetch.ts supplies them.
 */
import { parseServerName } from "./identifiers.js";
import { isJsonObject } from "./json.js";

export const DEFAULT_FEDERATION_PORT = 8448;

export interface SrvTarget {
  target: string;
  port: number;
}

export interface DiscoveryLookups {
  /** The `m.server` of `https://<hostname>/.well-known/matrix/server`, or null on any error or invalid body. */
  wellKnown(hostname: string): Promise<string | null>;
  /** SRV answers for `name` in preference order (priority, then weight); [] when there are none. */
  srv(name: string): Promise<SrvTarget[]>;
}

export interface ResolvedServer {
  /** Host to connect to: a DNS name, an IPv4 literal or a bracketed IPv6 literal. */
  host: string;
  port: number;
  /** The Host header the spec asks for. */
  hostHeader: string;
  /** How the answer was found, for logs and tests. */
  via: "literal" | "explicit-port" | "well-known" | "srv" | "default-port";
}

/** The `m.server` value of a `.well-known/matrix/server` body if it is a valid server name, else null. */
export function parseWellKnownServer(body: unknown): string | null {
  if (!isJsonObject(body)) return null;
  const server = body["m.server"];
  if (typeof server !== "string" || parseServerName(server) === null) return null;
  return server;
}

/** SRV lookups for `name` in the spec's order: `_matrix-fed._tcp` (v1.8), then the deprecated `_matrix._tcp`. */
async function srvFor(name: string, lookups: DiscoveryLookups): Promise<SrvTarget | null> {
  for (const prefix of ["_matrix-fed._tcp.", "_matrix._tcp."]) {
    const answers = await lookups.srv(prefix + name);
    // A lone "." target means the service is decidedly not available (RFC 2782).
    const usable = answers.filter((a) => a.target !== "" && a.target !== ".");
    if (usable[0]) return { target: usable[0].target.replace(/\.$/, ""), port: usable[0].port };
    if (answers.length > 0) return null;
  }
  return null;
}

/** The grammar allows 5-digit ports (appendices "Server Name"); TCP does not go past 65535. */
function connectable(name: string) {
  const p = parseServerName(name);
  return p && (p.port === undefined || (p.port > 0 && p.port <= 65535)) ? p : null;
}

/**
 * Where to send requests for `serverName`; null if the name is not a valid server name.
 * Server names never pass through delegation in what gets signed: only the
 * connection target changes.
 */
export async function resolveServerName(serverName: string, lookups: DiscoveryLookups): Promise<ResolvedServer | null> {
  const parsed = connectable(serverName);
  if (!parsed) return null;
  // Step 1: an IP literal.
  if (parsed.kind !== "dns") {
    return { host: parsed.host, port: parsed.port ?? DEFAULT_FEDERATION_PORT, hostHeader: serverName, via: "literal" };
  }
  // Step 2: a host name with an explicit port.
  if (parsed.port !== undefined) return { host: parsed.host, port: parsed.port, hostHeader: serverName, via: "explicit-port" };
  // Step 3: .well-known delegation.
  const delegated = await lookups.wellKnown(parsed.host);
  if (delegated !== null) {
    const d = connectable(delegated);
    if (d) {
      if (d.kind !== "dns") return { host: d.host, port: d.port ?? DEFAULT_FEDERATION_PORT, hostHeader: delegated, via: "well-known" };
      if (d.port !== undefined) return { host: d.host, port: d.port, hostHeader: delegated, via: "well-known" };
      const srv = await srvFor(d.host, lookups);
      if (srv) return { host: srv.target, port: srv.port, hostHeader: d.host, via: "srv" };
      return { host: d.host, port: DEFAULT_FEDERATION_PORT, hostHeader: d.host, via: "well-known" };
    }
  }
  // Steps 4 and 5: SRV records for the server name itself.
  const srv = await srvFor(parsed.host, lookups);
  if (srv) return { host: srv.target, port: srv.port, hostHeader: parsed.host, via: "srv" };
  // Step 6: the name itself on 8448.
  return { host: parsed.host, port: DEFAULT_FEDERATION_PORT, hostHeader: parsed.host, via: "default-port" };
}

/**
 * How long to keep a `.well-known` answer (spec: respect Cache-Control, default
 * 24 h, at most 48 h; errors at most 1 h).
 */
export function wellKnownCacheMs(cacheControl: string | null, ok: boolean): number {
  const HOUR = 3_600_000;
  if (!ok) return HOUR;
  const m = cacheControl ? /(?:^|,)\s*max-age\s*=\s*"?(\d+)"?/i.exec(cacheControl) : null;
  if (cacheControl && /(?:^|,)\s*no-(?:store|cache)\b/i.test(cacheControl)) return 0;
  if (!m) return 24 * HOUR;
  return Math.min(Number(m[1]) * 1000, 48 * HOUR);
}

/** Parses a DNS-over-HTTPS JSON SRV answer's data field: "priority weight port target". */
export function parseSrvData(data: string): (SrvTarget & { priority: number; weight: number }) | null {
  const m = /^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\S+)\s*$/.exec(data);
  if (!m) return null;
  const [priority, weight, port] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (priority > 65535 || weight > 65535 || port > 65535) return null;
  return { priority, weight, port, target: m[4] as string };
}

/** SRV answers ordered by priority, then by descending weight (a deterministic stand-in for RFC 2782's weighted pick). */
export function orderSrv(answers: (SrvTarget & { priority: number; weight: number })[]): SrvTarget[] {
  return [...answers]
    .sort((a, b) => a.priority - b.priority || b.weight - a.weight)
    .map(({ target, port }) => ({ target, port }));
}
