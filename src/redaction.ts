/**
 * The redaction algorithm (spec: client-server-api "Redactions"; the per-version
 * rules in rooms/fragments/v1-redactions.md, v6-redactions.md, v9-redactions.md,
 * v11-redactions.md — v12 reuses the v11 rules unchanged; v8 is the v6 rules plus
 * `allow` in m.room.join_rules, per rooms/v8 "Redactions").
 *
 * Used both to redact events and to compute the form that is signed and hashed
 * (server-server-api "Signing Events", "Calculating the reference hash").
 *
 * This is the spec algorithm only: `unsigned` is not in any version's list and is
 * therefore removed. Adding `unsigned.redacted_because` when serving a redacted
 * event to clients is the caller's job.
 */
import type { JsonObject, JsonValue } from "./json.js";
import type { Pdu } from "./pdu.js";
import { getRoomVersion, type RedactionRules, type RoomVersion } from "./room-versions.js";

/** Top-level keys kept by the v1 (and v6, v9) rules. */
const TOP_LEVEL_V1: readonly string[] = [
  "event_id",
  "type",
  "room_id",
  "sender",
  "state_key",
  "content",
  "hashes",
  "signatures",
  "depth",
  "prev_events",
  "prev_state",
  "auth_events",
  "origin",
  "origin_server_ts",
  "membership",
];

/** v11 (MSC2176, MSC3989): `origin`, `membership` and `prev_state` are no longer kept. */
const TOP_LEVEL_V11: readonly string[] = TOP_LEVEL_V1.filter(
  (k) => k !== "origin" && k !== "membership" && k !== "prev_state",
);

const POWER_LEVELS_V1 = ["ban", "events", "events_default", "kick", "redact", "state_default", "users", "users_default"];

/** Content keys kept per event type, for the key-list part of each version's rules. */
const CONTENT_KEYS: Record<RedactionRules, Record<string, readonly string[]>> = {
  v1: {
    "m.room.member": ["membership"],
    "m.room.create": ["creator"],
    "m.room.join_rules": ["join_rule"],
    "m.room.power_levels": POWER_LEVELS_V1,
    "m.room.aliases": ["aliases"],
    "m.room.history_visibility": ["history_visibility"],
  },
  // v6: m.room.aliases loses its special case (MSC2432).
  v6: {
    "m.room.member": ["membership"],
    "m.room.create": ["creator"],
    "m.room.join_rules": ["join_rule"],
    "m.room.power_levels": POWER_LEVELS_V1,
    "m.room.history_visibility": ["history_visibility"],
  },
  // v9: restricted joins keep their authorising data (MSC3375; `allow` since v8, MSC3083).
  v9: {
    "m.room.member": ["membership", "join_authorised_via_users_server"],
    "m.room.create": ["creator"],
    "m.room.join_rules": ["join_rule", "allow"],
    "m.room.power_levels": POWER_LEVELS_V1,
    "m.room.history_visibility": ["history_visibility"],
  },
  // v11 (MSC2176, MSC3821): power levels keep `invite`, redactions keep
  // `content.redacts`; m.room.create keeps everything and third_party_invite.signed
  // survives — both handled specially below.
  v11: {
    "m.room.member": ["membership", "join_authorised_via_users_server"],
    "m.room.join_rules": ["join_rule", "allow"],
    "m.room.power_levels": [...POWER_LEVELS_V1, "invite"],
    "m.room.history_visibility": ["history_visibility"],
    "m.room.redaction": ["redacts"],
  },
};

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Deep copy of JSON data, safe for a `__proto__` own key. */
export function cloneJson<T>(v: T): T {
  if (Array.isArray(v)) return v.map(cloneJson) as T;
  if (isObject(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, cloneJson(x)])) as T;
  return v;
}

function resolve(roomVersion: RoomVersion | string): RoomVersion {
  if (typeof roomVersion !== "string") return roomVersion;
  const rv = getRoomVersion(roomVersion);
  if (!rv) throw new Error(`unknown room version ${JSON.stringify(roomVersion)}`);
  return rv;
}

function redactContent(type: unknown, content: Record<string, unknown>, rv: RoomVersion): JsonObject {
  const rules = rv.redaction;
  const out: Record<string, JsonValue> = {};
  if (typeof type !== "string") return out;
  if (rules === "v11" && type === "m.room.create") {
    // v11: "m.room.create allows all keys."
    return cloneJson(content) as JsonObject;
  }
  let keep: readonly string[] = Object.hasOwn(CONTENT_KEYS[rules], type) ? (CONTENT_KEYS[rules][type] ?? []) : [];
  if (type === "m.room.join_rules" && rv.restrictedJoinRule && !keep.includes("allow")) {
    // rooms/v8 "Redactions": "m.room.join_rules events now keep `allow`". The table
    // gives v8 the v6 rules (v8 has no fragment of its own), so add it here.
    keep = [...keep, "allow"];
  }
  for (const k of keep) {
    if (Object.hasOwn(content, k) && content[k] !== undefined) out[k] = cloneJson(content[k]) as JsonValue;
  }
  if (rules === "v11" && type === "m.room.member" && isObject(content.third_party_invite)) {
    // v11: "allows the `signed` key of the `third_party_invite` key". An object
    // third_party_invite is kept holding only `signed` (empty if it had none), as
    // Synapse does; a non-object one is dropped.
    const tpi = content.third_party_invite;
    const kept: JsonObject = {};
    if (Object.hasOwn(tpi, "signed") && tpi.signed !== undefined) kept.signed = cloneJson(tpi.signed) as JsonValue;
    out.third_party_invite = kept;
  }
  return out;
}

/**
 * Redact a PDU or a client-format event per the room version's rules. Returns a
 * new object (deep-copied; the input is not modified). `content` is always present
 * in the result (an empty object if the input had none or a non-object one).
 */
export function redactEvent(event: Pdu, roomVersion: RoomVersion | string): Pdu;
export function redactEvent(event: Readonly<Record<string, unknown>>, roomVersion: RoomVersion | string): JsonObject;
export function redactEvent(event: Readonly<Record<string, unknown>>, roomVersion: RoomVersion | string): Record<string, unknown> {
  const rv = resolve(roomVersion);
  const topLevel = rv.redaction === "v11" ? TOP_LEVEL_V11 : TOP_LEVEL_V1;
  const out: Record<string, JsonValue> = {};
  for (const k of topLevel) {
    if (k === "content") continue;
    if (Object.hasOwn(event, k) && event[k] !== undefined) out[k] = cloneJson(event[k]) as JsonValue;
  }
  const content = isObject(event.content) ? event.content : {};
  out.content = redactContent(event.type, content, rv);
  return out;
}

/** The top-level keys a room version's redaction keeps (for diagnostics and tests). */
export function redactionTopLevelKeys(roomVersion: RoomVersion | string): readonly string[] {
  return resolve(roomVersion).redaction === "v11" ? TOP_LEVEL_V11 : TOP_LEVEL_V1;
}
