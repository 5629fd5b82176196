/**
 * Power levels: parsing `m.room.power_levels` content under a room version's
 * rules, the defaults that apply without a power levels event, room creators,
 * and the derived levels the authorization rules ask for.
 *
 * Spec: client-server-api `m.room.power_levels`; server-server-api
 * "Definitions" (required power level, invite/kick/ban/redact level);
 * rooms/fragments/v1-stringy-power-levels.md (v1–v9 accept integers encoded as
 * strings), v1-floaty-power-levels.md (v1–v5 accept floats, truncated);
 * rooms/v10 (integers only); rooms/v12 (creators have infinite power).
 *
 * Pure: no Workers APIs.
 */
import { isJsonObject, type JsonObject, type JsonValue } from "./json.js";
import type { Pdu } from "./pdu.js";
import { isValidUserId } from "./identifiers.js";
import type { RoomVersion } from "./room-versions.js";

/** The integer-valued top-level properties of power levels content. */
export const POWER_LEVEL_INT_KEYS = [
  "users_default",
  "events_default",
  "state_default",
  "ban",
  "redact",
  "kick",
  "invite",
] as const;
export type PowerLevelIntKey = (typeof POWER_LEVEL_INT_KEYS)[number];

/** The map-valued properties (string → integer). */
export const POWER_LEVEL_MAP_KEYS = ["events", "notifications", "users"] as const;
export type PowerLevelMapKey = (typeof POWER_LEVEL_MAP_KEYS)[number];

/**
 * Power levels content as it was written, normalised to numbers: a property
 * absent from the event is absent here (needed for the auth rules' "added,
 * changed or removed" comparisons). Use the accessor functions for effective
 * values with defaults applied.
 */
export interface PowerLevelsContent {
  users_default?: number;
  events_default?: number;
  state_default?: number;
  ban?: number;
  redact?: number;
  kick?: number;
  invite?: number;
  events?: Map<string, number>;
  notifications?: Map<string, number>;
  users?: Map<string, number>;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; reason: string };

/** Defaults when a property is absent or there is no power levels event at all. */
export const POWER_LEVEL_DEFAULTS: Readonly<Record<PowerLevelIntKey, number>> = {
  users_default: 0,
  events_default: 0,
  state_default: 50,
  ban: 50,
  redact: 50,
  kick: 50,
  invite: 0,
};
/** Default notification level (the spec only defines `room`; other keys fall back to it too). */
export const DEFAULT_NOTIFICATION_LEVEL = 50;
/** Power of the creator when the room has no power levels event (v1–v11). */
export const CREATOR_DEFAULT_LEVEL = 100;

// ---------------------------------------------------------------------------
// Values

/**
 * v1–v9 accept integers as strings: optional surrounding whitespace, one
 * optional sign, base-10 digits with any leading zeroes
 * (fragments/v1-stringy-power-levels.md).
 */
const STRINGY_INT = /^\s*[+-]?[0-9]+\s*$/;

/**
 * Parses one power level value under `version`'s rules; `undefined` when it is
 * not a valid power level.
 *
 * - v10+ (`enforceIntPowerLevels`): only JSON integers.
 * - v1–v9: integers, or strings representing integers.
 * - v1–v5 (no `strictCanonicalJson`): also floats, truncated toward zero
 *   (fragments/v1-floaty-power-levels.md); non-finite values are invalid.
 *   From v6 canonical JSON forbids floats, so a non-integer number is invalid.
 */
export function parsePowerLevelValue(version: RoomVersion, value: JsonValue | undefined): number | undefined {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return undefined;
    if (Number.isInteger(value)) return normaliseZero(value);
    if (version.strictCanonicalJson || version.enforceIntPowerLevels) return undefined;
    return normaliseZero(Math.trunc(value));
  }
  if (typeof value === "string" && !version.enforceIntPowerLevels) {
    if (!STRINGY_INT.test(value)) return undefined;
    const n = Number(value.trim());
    return Number.isFinite(n) ? normaliseZero(n) : undefined;
  }
  return undefined;
}

function normaliseZero(n: number): number {
  return n === 0 ? 0 : n; // -0 → 0
}

// ---------------------------------------------------------------------------
// User ids (lenient, as the auth rules need them)

/**
 * User ids as the auth rules accept them: the historical grammar (any code
 * points except `:` and NUL in the localpart, possibly empty), a valid server
 * name, at most 255 bytes (src/identifiers.ts).
 */
export { isValidServerName, isValidUserId } from "./identifiers.js";

/** The server name part of a user id (or any `sigil local:server` id); `undefined` without a colon. */
export function domainOf(id: string): string | undefined {
  const colon = id.indexOf(":");
  return colon < 0 ? undefined : id.slice(colon + 1);
}

// ---------------------------------------------------------------------------
// Content parsing

/**
 * Strict parse of power levels content, as the auth rules require for a new
 * `m.room.power_levels` event: every integer-valued property that is present
 * must be a valid power level for the version, `events` / `users` (and, where
 * the version's auth rules consider it, `notifications`) must be objects of
 * valid power levels, and `users` keys must be valid user ids.
 *
 * For v10+ this is exactly rules 9.1–9.3 (v12: 10.1–10.3). For v1–v9 the spec
 * only spells out the `users` check; the other properties are held to the same
 * "integer or string that is an integer" standard because the later
 * comparisons need numbers (a malformed value is rejected rather than guessed).
 */
export function parsePowerLevelsContent(version: RoomVersion, content: JsonObject): ParseResult<PowerLevelsContent> {
  const out: PowerLevelsContent = {};
  for (const key of POWER_LEVEL_INT_KEYS) {
    if (!(key in content)) continue;
    const v = parsePowerLevelValue(version, content[key]);
    if (v === undefined) return { ok: false, reason: `power levels: "${key}" is not a valid power level` };
    out[key] = v;
  }
  const mapKeys: PowerLevelMapKey[] = version.limitNotificationsPowerLevels || version.enforceIntPowerLevels
    ? ["events", "notifications", "users"]
    : ["events", "users"];
  for (const key of mapKeys) {
    if (!(key in content)) continue;
    const raw = content[key];
    if (!isJsonObject(raw)) return { ok: false, reason: `power levels: "${key}" is not an object` };
    const map = new Map<string, number>();
    for (const [k, rawLevel] of Object.entries(raw)) {
      if (key === "users" && !isValidUserId(k)) {
        return { ok: false, reason: `power levels: "${k}" in users is not a valid user id` };
      }
      const v = parsePowerLevelValue(version, rawLevel);
      if (v === undefined) return { ok: false, reason: `power levels: ${key}["${k}"] is not a valid power level` };
      map.set(k, v);
    }
    out[key] = map;
  }
  return { ok: true, value: out };
}

/**
 * Lenient parse of an already-accepted power levels event's content: anything
 * malformed is treated as absent (so its default applies). Accepted events
 * normally parse cleanly; this only guards against odd historical data.
 */
export function readPowerLevelsContent(version: RoomVersion, content: JsonObject | undefined): PowerLevelsContent {
  const out: PowerLevelsContent = {};
  if (!content) return out;
  for (const key of POWER_LEVEL_INT_KEYS) {
    const v = parsePowerLevelValue(version, content[key]);
    if (v !== undefined) out[key] = v;
  }
  for (const key of POWER_LEVEL_MAP_KEYS) {
    const raw = content[key];
    if (!isJsonObject(raw)) continue;
    const map = new Map<string, number>();
    for (const [k, rawLevel] of Object.entries(raw)) {
      const v = parsePowerLevelValue(version, rawLevel);
      if (v !== undefined) map.set(k, v);
    }
    out[key] = map;
  }
  return out;
}

// ---------------------------------------------------------------------------
// Creators

/**
 * The room's creators.
 *
 * - v1–v10: `content.creator` of the create event.
 * - v11: the create event's `sender` (MSC2175).
 * - v12+: the `sender` plus every string in `content.additional_creators`
 *   (MSC4289); only these have infinite power.
 */
export function roomCreators(version: RoomVersion, createEvent: Pdu | undefined): Set<string> {
  const out = new Set<string>();
  if (!createEvent) return out;
  if (version.implicitRoomCreator) {
    out.add(createEvent.sender);
  } else {
    const creator = createEvent.content["creator"];
    if (typeof creator === "string") out.add(creator);
  }
  if (version.privilegedCreators) {
    const extra = createEvent.content["additional_creators"];
    if (Array.isArray(extra)) for (const u of extra) if (typeof u === "string") out.add(u);
  }
  return out;
}

/** Whether `userId` is a room creator with infinite power (v12+ only). */
export function isPrivilegedCreator(version: RoomVersion, userId: string, createEvent: Pdu | undefined): boolean {
  return version.privilegedCreators && roomCreators(version, createEvent).has(userId);
}

// ---------------------------------------------------------------------------
// Effective levels

function contentOf(version: RoomVersion, powerLevels: Pdu | PowerLevelsContent | undefined): PowerLevelsContent | undefined {
  if (!powerLevels) return undefined;
  if (isPdu(powerLevels)) return readPowerLevelsContent(version, powerLevels.content);
  return powerLevels;
}

function isPdu(x: Pdu | PowerLevelsContent): x is Pdu {
  return typeof (x as { type?: unknown }).type === "string" && isJsonObject((x as { content?: unknown }).content);
}

/**
 * A user's power level.
 *
 * - v12+: creators have `Infinity`, whatever the power levels say.
 * - With a power levels event: `users[userId]`, else `users_default`, else 0.
 * - Without one: the creator has 100 (v1–v11), everyone else 0.
 *
 * `powerLevels` may be the event or its already-parsed content.
 */
export function userPowerLevel(
  version: RoomVersion,
  userId: string,
  createEvent: Pdu | undefined,
  powerLevels?: Pdu | PowerLevelsContent,
): number {
  if (isPrivilegedCreator(version, userId, createEvent)) return Infinity;
  const pl = contentOf(version, powerLevels);
  if (pl) {
    return pl.users?.get(userId) ?? pl.users_default ?? POWER_LEVEL_DEFAULTS.users_default;
  }
  if (!version.privilegedCreators && roomCreators(version, createEvent).has(userId)) return CREATOR_DEFAULT_LEVEL;
  return POWER_LEVEL_DEFAULTS.users_default;
}

/** `invite`, `kick`, `ban`, `redact`, `users_default`, `events_default` or `state_default` with its default applied. */
export function namedPowerLevel(
  version: RoomVersion,
  key: PowerLevelIntKey,
  powerLevels?: Pdu | PowerLevelsContent,
): number {
  return contentOf(version, powerLevels)?.[key] ?? POWER_LEVEL_DEFAULTS[key];
}

export const inviteLevel = (v: RoomVersion, pl?: Pdu | PowerLevelsContent): number => namedPowerLevel(v, "invite", pl);
export const kickLevel = (v: RoomVersion, pl?: Pdu | PowerLevelsContent): number => namedPowerLevel(v, "kick", pl);
export const banLevel = (v: RoomVersion, pl?: Pdu | PowerLevelsContent): number => namedPowerLevel(v, "ban", pl);
export const redactLevel = (v: RoomVersion, pl?: Pdu | PowerLevelsContent): number => namedPowerLevel(v, "redact", pl);

/**
 * The event type's *required power level* (server-server-api "Definitions"):
 * `events[type]` if listed, else `state_default` (50) for state events or
 * `events_default` (0) otherwise.
 */
export function requiredPowerForEvent(
  version: RoomVersion,
  event: { type: string; state_key?: string | undefined },
  powerLevels?: Pdu | PowerLevelsContent,
): number {
  const pl = contentOf(version, powerLevels);
  const listed = pl?.events?.get(event.type);
  if (listed !== undefined) return listed;
  return event.state_key !== undefined
    ? (pl?.state_default ?? POWER_LEVEL_DEFAULTS.state_default)
    : (pl?.events_default ?? POWER_LEVEL_DEFAULTS.events_default);
}

/**
 * The level needed to trigger the notification `key` (e.g. `room` for
 * `@room`): `notifications[key]`, else 50.
 */
export function notificationPowerLevel(
  version: RoomVersion,
  key: string,
  powerLevels?: Pdu | PowerLevelsContent,
): number {
  return contentOf(version, powerLevels)?.notifications?.get(key) ?? DEFAULT_NOTIFICATION_LEVEL;
}

/** Whether `userId` may send an event of this type (power ≥ required level). */
export function canSendEvent(
  version: RoomVersion,
  userId: string,
  event: { type: string; state_key?: string | undefined },
  createEvent: Pdu | undefined,
  powerLevels?: Pdu | PowerLevelsContent,
): boolean {
  return userPowerLevel(version, userId, createEvent, powerLevels) >= requiredPowerForEvent(version, event, powerLevels);
}

/**
 * Effective power levels as one plain object (defaults applied), e.g. for
 * clients or for building an initial power levels event. Creators in v12 are
 * not listed (they cannot appear in `users`).
 */
export interface EffectivePowerLevels {
  users: Record<string, number>;
  users_default: number;
  events: Record<string, number>;
  events_default: number;
  state_default: number;
  ban: number;
  kick: number;
  redact: number;
  invite: number;
  notifications: Record<string, number>;
}

export function effectivePowerLevels(
  version: RoomVersion,
  createEvent: Pdu | undefined,
  powerLevels?: Pdu | PowerLevelsContent,
): EffectivePowerLevels {
  const pl = contentOf(version, powerLevels);
  const users: Record<string, number> = {};
  if (pl) {
    for (const [k, v] of pl.users ?? []) users[k] = v;
  } else if (!version.privilegedCreators) {
    for (const c of roomCreators(version, createEvent)) users[c] = CREATOR_DEFAULT_LEVEL;
  }
  const notifications: Record<string, number> = { room: DEFAULT_NOTIFICATION_LEVEL };
  for (const [k, v] of pl?.notifications ?? []) notifications[k] = v;
  return {
    users,
    users_default: namedPowerLevel(version, "users_default", pl),
    events: Object.fromEntries(pl?.events ?? []),
    events_default: namedPowerLevel(version, "events_default", pl),
    state_default: namedPowerLevel(version, "state_default", pl),
    ban: namedPowerLevel(version, "ban", pl),
    kick: namedPowerLevel(version, "kick", pl),
    redact: namedPowerLevel(version, "redact", pl),
    invite: namedPowerLevel(version, "invite", pl),
    notifications,
  };
}
