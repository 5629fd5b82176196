/**
 * Outbound requests to other homeservers: server discovery (src/server-discovery.ts
 * with .well-known over the SSRF-guarded fetch and SRV over DoH), cached in
 * D1, then a request whose target passes the same address rules as URL previews
 * (any port allowed). Redirects are not followed on the federation API.
 *
 * What Workers cannot do: connect to a resolved address while sending another
 * Host header or SNI. The connection goes to `https://<host>:<port>` and the
 * runtime resolves the host again; so an SRV record pointing at another host is
 * refused — its certificate would be checked for the wrong name (README "Federation").
 */
import { parseServerName } from "../../src/identifiers.js";
import { parseWellKnownServer, resolveServerName, wellKnownCacheMs, type ResolvedServer } from "../../src/server-discovery.js";
import { checkResolved, checkUrl } from "../../src/url-preview-policy.js";
import type { Env } from "../env.js";
import { DohResolver } from "../net/resolver.js";
import { safeFetch } from "../net/safe-fetch.js";
import { getFederationConfig, type FederationConfig } from "./federation-config.js";

export const USER_AGENT = "edge-matrix (Matrix homeserver)";
const WELL_KNOWN_MAX_BYTES = 64 * 1024;
const LOOKUP_FAILURE_CACHE_MS = 5 * 60 * 1000;

/** The other server cannot be reached, or may not be (address policy). */
export class FederationUnreachable extends Error {
  override readonly name = "FederationUnreachable";
}

interface CachedDestination {
  resolved: ResolvedServer;
  expiresTs: number;
}

/** Per isolate; D1 keeps the answers across isolates. */
const memo = new Map<string, CachedDestination>();
const MEMO_MAX = 1000;

const scheme = (config: FederationConfig, serverName: string) => (config.plaintext.has(serverName) ? "http" : "https");

async function discover(env: Env, serverName: string, config: FederationConfig): Promise<CachedDestination | null> {
  const resolver = new DohResolver(config.dohUrl, undefined, config.timeoutMs);
  let ttlMs = 0;
  let lookupFailed = false;
  const resolved = await resolveServerName(serverName, {
    wellKnown: async (hostname) => {
      try {
        const res = await safeFetch(`${scheme(config, serverName)}://${hostname}/.well-known/matrix/server`, {
          policy: config.policy,
          resolver,
          maxBytes: WELL_KNOWN_MAX_BYTES,
          signal: AbortSignal.timeout(config.timeoutMs),
          accept: "application/json",
          userAgent: USER_AGENT,
        });
        const server = parseWellKnownServer(JSON.parse(new TextDecoder().decode(res.bytes)));
        ttlMs = wellKnownCacheMs(res.headers.get("cache-control"), server !== null);
        return server;
      } catch {
        ttlMs = wellKnownCacheMs(null, false);
        return null;
      }
    },
    srv: async (name) => {
      try {
        return await resolver.srv(name);
      } catch {
        lookupFailed = true;
        return [];
      }
    },
  });
  if (!resolved) return null;
  // An answer that rests on a failed DNS lookup is only a guess: keep it for minutes, not a day.
  if (lookupFailed) ttlMs = Math.min(ttlMs, LOOKUP_FAILURE_CACHE_MS);
  return { resolved, expiresTs: Date.now() + ttlMs };
}

/** Where `serverName`'s federation API is, or null if the name is not a server name. */
export async function findDestination(env: Env, serverName: string): Promise<ResolvedServer | null> {
  const config = getFederationConfig(env);
  const parsed = parseServerName(serverName);
  if (!parsed) return null;
  // IP literals and explicit ports need no lookups (steps 1 and 2).
  if (parsed.kind !== "dns" || parsed.port !== undefined) {
    return (await resolveServerName(serverName, { wellKnown: async () => null, srv: async () => [] }));
  }
  const now = Date.now();
  const hit = memo.get(serverName);
  if (hit && hit.expiresTs > now) return hit.resolved;
  const row = await env.DB.prepare(
    "SELECT host, port, host_header, expires_ts FROM federation_destinations WHERE server_name = ? AND expires_ts > ?",
  )
    .bind(serverName, now)
    .first<{ host: string; port: number; host_header: string; expires_ts: number }>();
  let found: CachedDestination | null;
  if (row) {
    found = { resolved: { host: row.host, port: row.port, hostHeader: row.host_header, via: "well-known" }, expiresTs: row.expires_ts };
  } else {
    found = await discover(env, serverName, config);
    if (!found) return null;
    if (found.expiresTs > now) {
      const r = found.resolved;
      await env.DB.prepare(
        "INSERT INTO federation_destinations (server_name, host, port, host_header, expires_ts) VALUES (?, ?, ?, ?, ?) " +
          "ON CONFLICT (server_name) DO UPDATE SET host = excluded.host, port = excluded.port, host_header = excluded.host_header, expires_ts = excluded.expires_ts",
      )
        .bind(serverName, r.host, r.port, r.hostHeader, found.expiresTs)
        .run();
    }
  }
  if (memo.size >= MEMO_MAX) memo.clear();
  memo.set(serverName, found);
  return found.resolved;
}

/**
 * Sends `init` to `pathAndQuery` on `serverName`. Throws FederationUnreachable
 * when discovery fails, the target is refused by the address rules, or the
 * connection fails or times out. The caller reads (or cancels) the body.
 */
export async function federationFetch(env: Env, serverName: string, pathAndQuery: string, init: RequestInit = {}): Promise<Response> {
  const config = getFederationConfig(env);
  const dest = await findDestination(env, serverName);
  if (!dest) throw new FederationUnreachable(`${serverName} is not a valid server name`);
  if (dest.via === "srv" && dest.host !== dest.hostHeader) {
    // The spec wants the certificate checked for the server (or delegated) name, not the SRV
    // target, because DNS is not trusted. Workers' fetch cannot ask for another TLS name, so
    // such a delegation cannot be verified: refuse it rather than trust a DNS answer.
    throw new FederationUnreachable(`${serverName}: SRV delegation to ${dest.host} cannot be verified here; use .well-known/matrix/server`);
  }
  const url = `${scheme(config, serverName)}://${dest.host}:${dest.port}${pathAndQuery}`;
  const verdict = checkUrl(url, config.policy, { anyPort: true });
  if (!verdict.ok) throw new FederationUnreachable(`${serverName}: ${verdict.reason}`);
  // Without a DoH endpoint, an allow-listed name is left to the runtime's resolver (FederationConfig.dohUrl).
  if (verdict.hostname !== undefined && !(config.dohUrl === "" && verdict.allowListed)) {
    const answers = await new DohResolver(config.dohUrl, undefined, config.timeoutMs).resolve(verdict.hostname);
    const resolved = checkResolved(verdict, answers, config.policy);
    if (!resolved.ok) throw new FederationUnreachable(`${serverName}: ${resolved.reason}`);
  }
  const headers = new Headers(init.headers);
  headers.set("user-agent", USER_AGENT);
  try {
    return await fetch(verdict.url.href, {
      ...init,
      headers,
      redirect: "manual",
      signal: init.signal ?? AbortSignal.timeout(config.timeoutMs),
    });
  } catch (e) {
    throw new FederationUnreachable(`${serverName}: could not connect (${(e as Error).message})`);
  }
}
