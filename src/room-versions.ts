/**
 * The room version table: every property that changes server behaviour, one
 * row per version (spec: /rooms/v1 … /rooms/v12). Code asks the table, never
 * compares version numbers.
 */

/** How event ids are formed and how auth_events/prev_events are encoded. */
export type EventFormat =
  /** v1–v2: `$localpart:server` ids carried in `event_id`; refs are `[id, {sha256}]` pairs. */
  | "v1"
  /** v3: ids are `$` + standard unpadded base64 of the reference hash; refs are plain ids. */
  | "v3"
  /** v4+: ids are `$` + URL-safe unpadded base64 of the reference hash. */
  | "v4";

/** Which redaction algorithm keeps which keys (spec: rooms/fragments/*-redactions.md). */
export type RedactionRules = "v1" | "v6" | "v9" | "v11";

export type StateResAlgorithm = "v1" | "v2" | "v2.1";

export interface RoomVersion {
  id: string;
  stable: boolean;
  eventFormat: EventFormat;
  stateRes: StateResAlgorithm;
  redaction: RedactionRules;
  /** v5+: reject events signed with a key whose valid_until_ts has passed. */
  enforceKeyValidity: boolean;
  /** v1–v2: m.room.redaction has its own auth rule (rule 11: redact level or same event-id domain); v3+ moved the check out of auth. */
  redactionAuthRule: boolean;
  /** v1–v5: m.room.aliases has its own auth rule (state_key must be the sender's domain). */
  specialCaseAliasesAuth: boolean;
  /** v6+: reject floats and integers outside [-(2^53)+1, 2^53-1] in events. */
  strictCanonicalJson: boolean;
  /** v6+: the `notifications` key of power levels is checked in auth rules. */
  limitNotificationsPowerLevels: boolean;
  /** v7+: `knock` join rule and membership. */
  knockJoinRule: boolean;
  /** v8+: `restricted` join rule (MSC3083). */
  restrictedJoinRule: boolean;
  /** v10+: `knock_restricted` join rule (MSC3787). */
  knockRestrictedJoinRule: boolean;
  /** v10+: power level values must be integers, not strings (MSC3667). */
  enforceIntPowerLevels: boolean;
  /** v11+: the create event has no `creator`; the sender is the creator (MSC2175). */
  implicitRoomCreator: boolean;
  /** v12+: creators (sender + additional_creators) have infinite power (MSC4289). */
  privilegedCreators: boolean;
  /** v12+: the room id is `!` + the create event's reference hash (MSC4291); the create event has no room_id. */
  roomIdFromCreateEvent: boolean;
  /** v12+: the create event is never listed in auth_events (MSC4291). */
  createEventNotInAuthEvents: boolean;
}

const v1: RoomVersion = {
  id: "1",
  stable: true,
  eventFormat: "v1",
  stateRes: "v1",
  redaction: "v1",
  enforceKeyValidity: false,
  redactionAuthRule: true,
  specialCaseAliasesAuth: true,
  strictCanonicalJson: false,
  limitNotificationsPowerLevels: false,
  knockJoinRule: false,
  restrictedJoinRule: false,
  knockRestrictedJoinRule: false,
  enforceIntPowerLevels: false,
  implicitRoomCreator: false,
  privilegedCreators: false,
  roomIdFromCreateEvent: false,
  createEventNotInAuthEvents: false,
};
const v2: RoomVersion = { ...v1, id: "2", stateRes: "v2" };
const v3: RoomVersion = { ...v2, id: "3", eventFormat: "v3", redactionAuthRule: false };
const v4: RoomVersion = { ...v3, id: "4", eventFormat: "v4" };
const v5: RoomVersion = { ...v4, id: "5", enforceKeyValidity: true };
const v6: RoomVersion = {
  ...v5,
  id: "6",
  redaction: "v6",
  specialCaseAliasesAuth: false,
  strictCanonicalJson: true,
  limitNotificationsPowerLevels: true,
};
const v7: RoomVersion = { ...v6, id: "7", knockJoinRule: true };
const v8: RoomVersion = { ...v7, id: "8", restrictedJoinRule: true };
const v9: RoomVersion = { ...v8, id: "9", redaction: "v9" };
const v10: RoomVersion = { ...v9, id: "10", knockRestrictedJoinRule: true, enforceIntPowerLevels: true };
const v11: RoomVersion = { ...v10, id: "11", redaction: "v11", implicitRoomCreator: true };
const v12: RoomVersion = {
  ...v11,
  id: "12",
  stateRes: "v2.1",
  privilegedCreators: true,
  roomIdFromCreateEvent: true,
  createEventNotInAuthEvents: true,
};

export const ROOM_VERSIONS: ReadonlyMap<string, RoomVersion> = new Map(
  [v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12].map((v) => [v.id, v]),
);

/**
 * The version of new rooms unless DEFAULT_ROOM_VERSION says otherwise: 10, as
 * Synapse and Dendrite, not the spec's recommended 12 (a SHOULD): Dendrite,
 * Sytest's federation server and many bridges and bots cannot join v12 rooms,
 * and a room's version is fixed for its life (README "Design").
 */
export const DEFAULT_ROOM_VERSION = "10";

export function getRoomVersion(id: string): RoomVersion | undefined {
  return ROOM_VERSIONS.get(id);
}
