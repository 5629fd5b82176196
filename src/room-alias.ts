/**
 * Room aliases (appendices "Room Aliases"; client-server-api "Room aliases" and
 * `m.room.canonical_alias`): which aliases a server may create, and which aliases a
 * new canonical alias event introduces (they must point to the room).
 *
 * Pure: no Workers APIs.
 */
import { MatrixError } from "./errors.js";
import { MAX_IDENTIFIER_BYTES, parseRoomAlias, utf8Length } from "./identifiers.js";
import { isJsonObject, type JsonValue } from "./json.js";

const WHITESPACE = /\s/u;

/**
 * Checks an alias a client asks this server to create (PUT /directory/room/{roomAlias}):
 * the alias grammar, at most 255 bytes, no whitespace in the localpart (as Synapse), and
 * owned by this server. Every failure is 400 M_INVALID_PARAM (directory.yaml).
 */
export function checkNewLocalAlias(alias: string, serverName: string): { localpart: string } {
  if (utf8Length(alias) > MAX_IDENTIFIER_BYTES) {
    throw new MatrixError("M_INVALID_PARAM", `Can't create aliases longer than ${MAX_IDENTIFIER_BYTES} bytes`, 400);
  }
  const parsed = parseRoomAlias(alias);
  if (!parsed) throw new MatrixError("M_INVALID_PARAM", "Room alias invalid", 400);
  if (parsed.localpart.length === 0 || WHITESPACE.test(parsed.localpart)) {
    throw new MatrixError("M_INVALID_PARAM", "Invalid characters in room alias", 400);
  }
  if (parsed.domain !== serverName) throw new MatrixError("M_INVALID_PARAM", "Room alias must be local", 400);
  return { localpart: parsed.localpart };
}

/** Parses `#alias:server` for a lookup; 400 M_INVALID_PARAM if it is not one. */
export function parseAliasParam(alias: string): { localpart: string; domain: string } {
  const parsed = parseRoomAlias(alias);
  if (!parsed) throw new MatrixError("M_INVALID_PARAM", "Room alias invalid", 400);
  return parsed;
}

/**
 * The aliases a new `m.room.canonical_alias` content adds compared to the current one:
 * `alias` if it changed, and entries of `alt_aliases` that were not there before (as
 * Synapse, so an alias that has since been deleted does not block unrelated edits).
 * Syntax errors are 400 M_INVALID_PARAM (room_state.yaml); whether each returned alias
 * points to the room is for the caller (M_BAD_ALIAS).
 */
export function newCanonicalAliases(
  content: { [k: string]: JsonValue },
  previous: { [k: string]: JsonValue } | undefined,
): string[] {
  const out: string[] = [];
  const alias = content.alias;
  if (alias !== undefined && alias !== null) {
    if (typeof alias !== "string" || !parseRoomAlias(alias)) {
      throw new MatrixError("M_INVALID_PARAM", "The alias property must be a valid room alias", 400);
    }
    if (alias !== previous?.alias) out.push(alias);
  }
  const alt = content.alt_aliases;
  if (alt !== undefined) {
    if (!Array.isArray(alt)) throw new MatrixError("M_INVALID_PARAM", "The alt_aliases property must be a list.", 400);
    const before = previous && Array.isArray(previous.alt_aliases) ? new Set(previous.alt_aliases) : new Set<JsonValue>();
    for (const a of alt) {
      if (typeof a !== "string" || !parseRoomAlias(a)) {
        throw new MatrixError("M_INVALID_PARAM", `Invalid alias in alt_aliases: ${JSON.stringify(a)}`, 400);
      }
      if (!before.has(a) && !out.includes(a)) out.push(a);
    }
  }
  return out;
}

/**
 * The canonical alias content once `alias` no longer exists (Synapse removes a
 * deleted alias from `alias` and `alt_aliases`); undefined when nothing changes.
 */
export function withoutAlias(content: { [k: string]: JsonValue }, alias: string): { [k: string]: JsonValue } | undefined {
  if (!isJsonObject(content)) return undefined;
  const next = { ...content };
  let changed = false;
  if (next.alias === alias) {
    delete next.alias;
    changed = true;
  }
  const alt = next.alt_aliases;
  if (Array.isArray(alt) && alt.includes(alias)) {
    const rest = alt.filter((a) => a !== alias);
    if (rest.length) next.alt_aliases = rest;
    else delete next.alt_aliases;
    changed = true;
  }
  return changed ? next : undefined;
}
