/**
 * Identifier grammar (spec: appendices "Identifier Grammar", "Opaque Identifiers";
 * server-server-api keys.yaml for key ids; rooms/fragments/*-event-ids.md).
 *
 * Every `isValid…` function is a pure grammar check; `parse…` functions return the
 * parts or `null`. Length limits are in UTF-8 bytes, as the spec states them.
 */
import type { EventFormat, RoomVersion } from "./room-versions.js";
import { getRoomVersion } from "./room-versions.js";

const textEncoder = new TextEncoder();

/** Length of `s` in UTF-8 bytes (lone surrogates count as U+FFFD, 3 bytes). */
export function utf8Length(s: string): number {
  // Fast path: pure ASCII.
  if (/^[\u0000-\u007f]*$/.test(s)) return s.length;
  return textEncoder.encode(s).length;
}

/** The 255-byte limit shared by user ids, room ids, aliases and event ids. */
export const MAX_IDENTIFIER_BYTES = 255;

// ---------------------------------------------------------------------------
// Server names (appendices "Server Name")
//
//   server_name = hostname [ ":" port ]
//   port        = 1*5DIGIT
//   hostname    = IPv4address / "[" IPv6address "]" / dns-name
//   IPv4address = 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT
//   IPv6address = 2*45IPv6char            (and valid per RFC 3513 §2.2)
//   dns-name    = 1*255dns-char           (DIGIT / ALPHA / "-" / ".")
// ---------------------------------------------------------------------------

export interface ParsedServerName {
  /** The hostname as written, including brackets for IPv6. */
  host: string;
  kind: "dns" | "ipv4" | "ipv6";
  /** Present only when the server name has an explicit port. */
  port?: number;
}

const PORT = /^[0-9]{1,5}$/;
const DNS_NAME = /^[A-Za-z0-9.-]{1,255}$/;
const DOTTED_QUAD = /^([0-9]+)\.([0-9]+)\.([0-9]+)\.([0-9]+)$/;
const HEX_GROUP = /^[0-9A-Fa-f]{1,4}$/;

function isIPv4(s: string): boolean {
  const m = DOTTED_QUAD.exec(s);
  if (!m) return false;
  for (let i = 1; i <= 4; i++) {
    const part = m[i] as string;
    if (part.length > 3 || Number(part) > 255) return false;
  }
  return true;
}

/** RFC 3513 §2.2 text forms: 8 groups, one `::`, optional trailing dotted quad. */
export function isValidIPv6(s: string): boolean {
  if (s.length < 2 || s.length > 45 || !/^[0-9A-Fa-f:.]+$/.test(s)) return false;
  const halves = s.split("::");
  if (halves.length > 2) return false;
  const groupsOf = (part: string): string[] => (part === "" ? [] : part.split(":"));
  const left = groupsOf(halves[0] as string);
  const right = halves.length === 2 ? groupsOf(halves[1] as string) : [];
  const all = [...left, ...right];
  let count = 0;
  for (let i = 0; i < all.length; i++) {
    const g = all[i] as string;
    if (HEX_GROUP.test(g)) count += 1;
    else if (i === all.length - 1 && isIPv4(g)) count += 2;
    else return false;
  }
  return halves.length === 2 ? count <= 7 : count === 8;
}

export function parseServerName(s: string): ParsedServerName | null {
  let host: string;
  let portText: string | undefined;
  let kind: ParsedServerName["kind"];
  if (s.startsWith("[")) {
    const close = s.indexOf("]");
    if (close < 0) return null;
    host = s.slice(0, close + 1);
    const rest = s.slice(close + 1);
    if (rest !== "") {
      if (!rest.startsWith(":")) return null;
      portText = rest.slice(1);
    }
    if (!isValidIPv6(host.slice(1, -1))) return null;
    kind = "ipv6";
  } else {
    const colon = s.indexOf(":");
    host = colon < 0 ? s : s.slice(0, colon);
    if (colon >= 0) portText = s.slice(colon + 1);
    if (!DNS_NAME.test(host)) return null;
    if (DOTTED_QUAD.test(host)) {
      // Four all-digit labels can only be an IPv4 literal: RFC 1123 §2.1 (which
      // the appendix builds on) rules out a host name of the form #.#.#.#, so
      // `1.2.3.256` is rejected rather than read as a DNS name.
      if (!isIPv4(host)) return null;
      kind = "ipv4";
    } else {
      kind = "dns";
    }
  }
  if (portText === undefined) return { host, kind };
  if (!PORT.test(portText)) return null;
  return { host, kind, port: Number(portText) };
}

export function isValidServerName(s: string): boolean {
  return parseServerName(s) !== null;
}

// RFC 1123 §2.1 host name labels, which the appendix's grammar is based on.
const HOST_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/**
 * A server name that can name a host we would connect to: the grammar, plus what
 * the appendix asks beyond it — DNS names "should consist of a series of labels
 * separated by `.`, where each label consists of the alphanumeric characters or
 * hyphens" (conventional host names, RFC 1123 §2.1: no empty label, at most 63
 * characters, no hyphen at either end) — and a port TCP can use (1–65535).
 * `a..b`, `-` or `host:99999` pass the grammar but name no server.
 */
export function isContactableServerName(s: string): boolean {
  const p = parseServerName(s);
  if (!p) return false;
  if (p.port !== undefined && (p.port < 1 || p.port > 65535)) return false;
  return p.kind !== "dns" || p.host.split(".").every((label) => HOST_LABEL.test(label));
}

// ---------------------------------------------------------------------------
// Common `&localpart:domain` form (appendices "Common Identifier Format")
// ---------------------------------------------------------------------------

export interface LocalpartAndDomain {
  localpart: string;
  domain: string;
}

// No `:`, no NUL, no lone surrogates ("any valid non-surrogate Unicode code points").
const HISTORICAL_LOCALPART = /^[^:\u0000\ud800-\udfff]*$/u;

function splitSigilled(id: string, sigil: string): LocalpartAndDomain | null {
  if (!id.startsWith(sigil)) return null;
  // The localpart may not contain `:`, so the first colon separates it from the
  // domain (which may itself contain `:` for a port or an IPv6 literal).
  const colon = id.indexOf(":");
  if (colon < 0) return null;
  const localpart = id.slice(1, colon);
  const domain = id.slice(colon + 1);
  if (!HISTORICAL_LOCALPART.test(localpart) || !isValidServerName(domain)) return null;
  if (utf8Length(id) > MAX_IDENTIFIER_BYTES) return null;
  return { localpart, domain };
}

// ---------------------------------------------------------------------------
// User ids (appendices "User Identifiers", "Historical User IDs")
// ---------------------------------------------------------------------------

const COMPLIANT_LOCALPART = /^[a-z0-9._=\-/+]+$/;

/**
 * Parse a user id accepting the historical grammar, which servers MUST accept in
 * events: any non-surrogate code points except `:` and NUL, possibly empty.
 */
export function parseUserId(id: string): LocalpartAndDomain | null {
  return splitSigilled(id, "@");
}

/** Historical grammar (what must be accepted over federation). */
export function isValidUserId(id: string): boolean {
  return parseUserId(id) !== null;
}

/** The v1.8 grammar: localpart of `a-z 0-9 . _ = - / +`, non-empty. Use for new users. */
export function isCompliantUserId(id: string): boolean {
  const p = parseUserId(id);
  return p !== null && COMPLIANT_LOCALPART.test(p.localpart);
}

/** A user id localpart valid in the v1.8 grammar (for registering new users). */
export function isValidUserLocalpart(localpart: string): boolean {
  return COMPLIANT_LOCALPART.test(localpart);
}

/** The server name of a (historical-grammar) user id, or null. */
export function userIdDomain(id: string): string | null {
  return parseUserId(id)?.domain ?? null;
}

// ---------------------------------------------------------------------------
// Event ids (appendices "Event IDs"; rooms v1/v3/v4 event id fragments)
// ---------------------------------------------------------------------------

const V3_HASH = /^[A-Za-z0-9+/]{43}$/;
const V4_HASH = /^[A-Za-z0-9_-]{43}$/;

/**
 * Event id grammar. With no format: `$` plus at least one character, ≤ 255 bytes.
 * v1 (rooms 1–2): `$opaque_id:domain`. v3: `$` + 43 standard unpadded base64
 * characters (a sha256). v4 (rooms 4+): the same with the URL-safe alphabet.
 */
export function isValidEventId(id: string, format?: EventFormat): boolean {
  if (!id.startsWith("$") || id.length < 2 || utf8Length(id) > MAX_IDENTIFIER_BYTES) return false;
  if (id.includes("\u0000") || /[\ud800-\udfff]/u.test(id)) return false;
  switch (format) {
    case undefined:
      return true;
    case "v1":
      return splitSigilled(id, "$") !== null;
    case "v3":
      return V3_HASH.test(id.slice(1));
    case "v4":
      return V4_HASH.test(id.slice(1));
  }
}

/** The domain of a v1/v2 event id (`$opaque:domain`), or null. */
export function eventIdDomain(id: string): string | null {
  return splitSigilled(id, "$")?.domain ?? null;
}

// ---------------------------------------------------------------------------
// Room ids (appendices "Room IDs"; rooms/v12 for the hash form)
// ---------------------------------------------------------------------------

export type ParsedRoomId =
  | { kind: "domain"; localpart: string; domain: string }
  /** v12+: `!` + the URL-safe reference hash of the create event. */
  | { kind: "hash"; hash: string };

export function parseRoomId(id: string): ParsedRoomId | null {
  if (!id.startsWith("!")) return null;
  if (V4_HASH.test(id.slice(1))) return { kind: "hash", hash: id.slice(1) };
  const p = splitSigilled(id, "!");
  return p ? { kind: "domain", ...p } : null;
}

/**
 * Room id grammar. Given a room version, only that version's form is accepted
 * (`!opaque:domain` before v12, `!hash` from v12); otherwise either form.
 */
export function isValidRoomId(id: string, roomVersion?: RoomVersion | string): boolean {
  const p = parseRoomId(id);
  if (!p) return false;
  if (roomVersion === undefined) return true;
  const rv = typeof roomVersion === "string" ? getRoomVersion(roomVersion) : roomVersion;
  if (!rv) return false;
  return rv.roomIdFromCreateEvent ? p.kind === "hash" : p.kind === "domain";
}

// ---------------------------------------------------------------------------
// Room aliases (appendices "Room Aliases")
// ---------------------------------------------------------------------------

export function parseRoomAlias(alias: string): LocalpartAndDomain | null {
  return splitSigilled(alias, "#");
}

export function isValidRoomAlias(alias: string): boolean {
  return parseRoomAlias(alias) !== null;
}

// ---------------------------------------------------------------------------
// Signing key ids (appendices "Signing Details"; server-server keys.yaml)
//   key id = algorithm ":" version, version matching [a-zA-Z0-9_]+
// ---------------------------------------------------------------------------

export interface ParsedKeyId {
  algorithm: string;
  version: string;
}

const KEY_VERSION = /^[a-zA-Z0-9_]+$/;
const KEY_ALGORITHM = /^[a-z0-9_]+$/;

export function isValidKeyVersion(version: string): boolean {
  return KEY_VERSION.test(version);
}

/** Parse `algorithm:version`, enforcing the `[a-zA-Z0-9_]` version grammar. */
export function parseKeyId(keyId: string): ParsedKeyId | null {
  const colon = keyId.indexOf(":");
  if (colon < 0) return null;
  const algorithm = keyId.slice(0, colon);
  const version = keyId.slice(colon + 1);
  if (!KEY_ALGORITHM.test(algorithm) || !KEY_VERSION.test(version)) return null;
  return { algorithm, version };
}

export function isValidKeyId(keyId: string): boolean {
  return parseKeyId(keyId) !== null;
}

/** A valid `ed25519:<version>` key id. */
export function isValidEd25519KeyId(keyId: string): boolean {
  return parseKeyId(keyId)?.algorithm === "ed25519";
}

// ---------------------------------------------------------------------------
// Common Namespaced Identifier Grammar and Opaque Identifiers (appendices)
// ---------------------------------------------------------------------------

/** 1–255 chars of `[a-z0-9._-]`, starting with `[a-z]`. */
export function isValidNamespacedIdentifier(s: string): boolean {
  return /^[a-z][a-z0-9._-]{0,254}$/.test(s);
}

/** 1–255 chars of RFC 3986 unreserved characters `[0-9A-Za-z._~-]`. */
export function isValidOpaqueIdentifier(s: string): boolean {
  return /^[0-9A-Za-z._~-]{1,255}$/.test(s);
}
