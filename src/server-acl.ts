/**
 * Server ACLs (client-server-api "Server Access Control Lists (ACLs) for rooms",
 * the `m.room.server_acl` event schema): which servers may take part in a room
 * over federation. Where they apply is server-server-api "Server Access Control
 * Lists (ACLs)"; this file only decides.
 *
 * Content is read as Synapse reads it (`server_acl_evaluator_from_event`): a
 * non-boolean `allow_ip_literals` is `true` (the schema: "Defaults to `true` if
 * missing or otherwise not a boolean"), a non-array `allow`/`deny` is empty and
 * non-string entries are dropped. A missing `allow` is empty, which denies every
 * server (the schema's warning) — so does a redacted ACL event, whose content is `{}`.
 */
import { parseServerName } from "./identifiers.js";
import { anyWholeGlobMatches } from "./whole-glob.js";

export interface ServerAcl {
  allowIpLiterals: boolean;
  allow: string[];
  deny: string[];
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);

/** The ACL an `m.room.server_acl` event's content states; anything malformed is ignored. */
export function parseServerAcl(content: unknown): ServerAcl {
  const c = typeof content === "object" && content !== null && !Array.isArray(content) ? (content as Record<string, unknown>) : {};
  return {
    allowIpLiterals: typeof c.allow_ip_literals === "boolean" ? c.allow_ip_literals : true,
    allow: strings(c.allow),
    deny: strings(c.deny),
  };
}

/**
 * Whether `serverName` may take part in a room whose current ACL is `acl` (`null`:
 * the room has no `m.room.server_acl` event). The schema's order:
 *
 * 1. no ACL event: allow;
 * 2. an IP literal (v4, or bracketed v6) with `allow_ip_literals` false: deny;
 * 3. a match in `deny`: deny;
 * 4. a match in `allow`: allow;
 * 5. otherwise deny.
 *
 * The port is not considered ("`evil.com`, `evil.com:8448`, and `evil.com:1234`
 * would all match rules that apply to `evil.com`"). The patterns are the
 * appendices' globs (`*`, `?`), case-insensitive, matched against the whole host;
 * an IPv6 host keeps its brackets, as Synapse matches it. A name that is not a
 * server name is denied.
 */
export function serverAllowed(acl: ServerAcl | null | undefined, serverName: string): boolean {
  if (!acl) return true;
  const parsed = parseServerName(serverName);
  if (!parsed) return false;
  if (!acl.allowIpLiterals && parsed.kind !== "dns") return false;
  if (anyWholeGlobMatches(acl.deny, parsed.host)) return false;
  return anyWholeGlobMatches(acl.allow, parsed.host);
}
