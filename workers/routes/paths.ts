import { getPath } from "hono/utils/url";

/**
 * Client-server (and media) endpoints are served under `/v3` and, as Synapse
 * still does for older clients, under `/r0`: the app routes an `/r0/` path as its `/v3/` twin
 * (`routingPath`), so every route is declared once, with a static prefix.
 */
export function clientV3<P extends string>(path: P): `/_matrix/client/v3${P}` {
  return `/_matrix/client/v3${path}`;
}

/** Older clients' prefixes, served as their v3 twins (Synapse does). */
const R0_PREFIXES: Array<[string, string]> = [
  ["/_matrix/client/r0/", "/_matrix/client/v3/"],
  ["/_matrix/media/r0/", "/_matrix/media/v3/"],
];

/**
 * The path the router matches (Hono's own, percent-decoded as it does), with
 * `/_matrix/client/r0/` read as `/_matrix/client/v3/` (and media's `r0` as `v3`).
 * Static prefixes let Hono's
 * RegExpRouter take every route: a `:apiVersion{v3|r0}` parameter in front of
 * them made it fall back to its trie router, which cost about a millisecond of
 * CPU per request.
 */
export function routingPath(request: Request): string {
  const path = getPath(request);
  for (const [old, now] of R0_PREFIXES) if (path.startsWith(old)) return now + path.slice(old.length);
  return path;
}
