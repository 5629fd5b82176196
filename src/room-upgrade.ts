/**
 * Room upgrades (client-server-api "Room Upgrades", room_upgrades.yaml; rooms/v12 for
 * creators): what the replacement room starts with, and what changes in the old one.
 *
 * As Synapse's `RoomCreationHandler.upgrade_room`:
 * - the new create event carries `predecessor` (`event_id` only when the caller has
 *   one: from v12 the room id is the create event's hash, so it cannot name the
 *   tombstone that names it — "MAY be omitted"), the old room's `type`, `m.federate:
 *   false` if the old room had it, and `additional_creators` for versions with them;
 * - the recommended state is copied (server ACL, encryption, name, avatar, topic,
 *   guest access, history visibility, join rules, power levels; a space's children),
 *   with the private_chat preset filling join rules / history visibility / guest
 *   access the old room lacked; bans are carried over;
 * - power levels are copied with string values made integers. In a v12+ room the
 *   creators (upgrader and `additional_creators`) may not appear in `users`, so they
 *   are removed. Coming from a v12+ room to an older version the old room's creators,
 *   who had no entry, are given 100 (their power there was unlimited). Otherwise the
 *   upgrader is raised, for the room's first power levels only, to the level needed
 *   to copy the state, and the copied levels are restored once it is (Synapse's
 *   temporary raise);
 * - the old room's `events_default` and `invite` go up to max(50, users_default + 1)
 *   (step 6 of "Server behaviour");
 * - local aliases move: the canonical alias and local `alt_aliases` go to the new room.
 *
 * Pure: no Workers APIs.
 */
import { isJsonObject, type JsonObject, type JsonValue } from "./json.js";
import { parsePowerLevelValue, roomCreators } from "./power-levels.js";
import type { Pdu } from "./pdu.js";
import type { RoomVersion } from "./room-versions.js";

/** State copied to the new room (room_upgrades.md step 3, in Synapse's order); power levels are handled apart. */
export const COPIED_STATE_TYPES = [
  "m.room.join_rules",
  "m.room.name",
  "m.room.topic",
  "m.room.history_visibility",
  "m.room.guest_access",
  "m.room.avatar",
  "m.room.encryption",
  "m.room.server_acl",
] as const;

/** A state event of the old room, as far as the upgrade needs it. */
export interface OldStateEvent {
  type: string;
  state_key: string;
  content: JsonObject;
  sender: string;
}

export interface NewRoomEvent {
  type: string;
  state_key: string;
  content: JsonObject;
  sender: string;
}

export interface UpgradeInput {
  oldRoomId: string;
  oldVersion: RoomVersion;
  newVersion: RoomVersion;
  upgrader: string;
  /** displayname / avatar_url for the upgrader's join. */
  upgraderProfile: JsonObject;
  /** From the request; only used when the new version has additional creators. */
  additionalCreators?: string[] | undefined;
  /** The old room's create event. */
  oldCreate: OldStateEvent;
  /** The old room's power levels, if it has any. */
  oldPowerLevels?: OldStateEvent | undefined;
  /** Current state of the types in COPIED_STATE_TYPES (state key ""), and m.space.child events. */
  oldState: OldStateEvent[];
  /** Current ban events of the old room. */
  bans: OldStateEvent[];
  /** The event id to name in `predecessor`, if any (not for v12+ targets). */
  predecessorEventId?: string | undefined;
}

export interface UpgradePlan {
  createContent: JsonObject;
  /** The new room's events after the create event, in order; all sent by the upgrader. */
  events: NewRoomEvent[];
  /** Power levels to send to the new room after the events, undoing the temporary raise. */
  restorePowerLevels?: JsonObject;
  /** Power levels for the old room that stop ordinary users from talking and inviting. */
  oldRoomPowerLevels?: JsonObject;
}

/**
 * Copies power levels content with every level an integer (Synapse's
 * `copy_and_fixup_power_levels_contents`): values the old room version accepted as
 * strings or (v1–v5) floats become integers; anything else is dropped.
 */
export function fixupPowerLevels(version: RoomVersion, content: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(content)) {
    if (isJsonObject(v)) {
      const m: JsonObject = {};
      for (const [k1, v1] of Object.entries(v)) {
        const n = parsePowerLevelValue(version, v1);
        if (n !== undefined) m[k1] = n;
      }
      out[k] = m;
    } else {
      const n = parsePowerLevelValue(version, v);
      if (n !== undefined) out[k] = n;
    }
  }
  return out;
}

function intOr(v: JsonValue | undefined, dflt: number): number {
  return typeof v === "number" && Number.isSafeInteger(v) ? v : dflt;
}

function usersOf(pl: JsonObject): JsonObject {
  return isJsonObject(pl.users) ? { ...pl.users } : {};
}

/** The new room's create content. */
export function upgradeCreateContent(input: UpgradeInput): JsonObject {
  const { newVersion, oldCreate } = input;
  const predecessor: JsonObject = { room_id: input.oldRoomId };
  if (input.predecessorEventId !== undefined) predecessor.event_id = input.predecessorEventId;
  const content: JsonObject = { room_version: newVersion.id, predecessor };
  // v1–v10 name the creator in content; v11+ take the sender (MSC2175).
  if (!newVersion.implicitRoomCreator) content.creator = input.upgrader;
  if (newVersion.privilegedCreators && input.additionalCreators !== undefined) content.additional_creators = [...input.additionalCreators];
  if (oldCreate.content["m.federate"] === false) content["m.federate"] = false;
  // The room type is copied (spec v1.4, MSC3818).
  const type = oldCreate.content.type;
  if (type !== undefined) content.type = type;
  return content;
}

/** Power levels for the new room: the first event's content and, if the upgrader was raised, what to restore. */
export function upgradePowerLevels(input: UpgradeInput): { initial: JsonObject; restore?: JsonObject } | undefined {
  if (!input.oldPowerLevels) return undefined;
  const { oldVersion, newVersion, upgrader } = input;
  const base = fixupPowerLevels(oldVersion, input.oldPowerLevels.content);
  const users = usersOf(base);
  if (newVersion.privilegedCreators) {
    // v12: creators have unlimited power and cannot be listed (auth rule 10.4).
    for (const c of [upgrader, ...(input.additionalCreators ?? [])]) delete users[c];
    return { initial: { ...base, users } };
  }
  if (oldVersion.privilegedCreators) {
    // The old room's creators had unlimited power without being listed.
    const createPdu = { type: "m.room.create", sender: input.oldCreate.sender, content: input.oldCreate.content } as unknown as Pdu;
    for (const c of roomCreators(oldVersion, createPdu)) if (users[c] === undefined) users[c] = 100;
  }
  const restoreContent: JsonObject = { ...base, users };
  // The level needed to copy every state event and the bans.
  const events = isJsonObject(base.events) ? Object.values(base.events).filter((v): v is number => typeof v === "number") : [];
  const needed = Math.max(intOr(base.state_default, 50), intOr(base.ban, 50), ...events, 0);
  const current = intOr(users[upgrader], intOr(base.users_default, 0));
  if (current >= needed) return { initial: restoreContent };
  return { initial: { ...base, users: { ...users, [upgrader]: needed } }, restore: restoreContent };
}

/** The old room's power levels with sending and inviting restricted, or undefined if they already are. */
export function restrictedOldPowerLevels(version: RoomVersion, content: JsonObject): JsonObject | undefined {
  const pl = fixupPowerLevels(version, content);
  const restricted = Math.max(intOr(pl.users_default, 0) + 1, 50);
  let changed = false;
  for (const key of ["invite", "events_default"]) {
    if (intOr(pl[key], 0) < restricted) {
      pl[key] = restricted;
      changed = true;
    }
  }
  return changed ? pl : undefined;
}

/** Whether a ban can be carried over: the upgrader must outrank the banned user in the new room. */
function canBan(newVersion: RoomVersion, createContent: JsonObject, pl: JsonObject | undefined, upgrader: string, target: string): boolean {
  if (newVersion.privilegedCreators) {
    const extra = Array.isArray(createContent.additional_creators) ? createContent.additional_creators : [];
    return target !== upgrader && !extra.includes(target);
  }
  if (target === upgrader) return false;
  if (!pl) return false;
  const users = usersOf(pl);
  const dflt = intOr(pl.users_default, 0);
  return intOr(users[upgrader], dflt) > intOr(users[target], dflt);
}

export function planUpgrade(input: UpgradeInput): UpgradePlan {
  const { upgrader } = input;
  const createContent = upgradeCreateContent(input);
  const ev = (type: string, content: JsonObject, state_key = ""): NewRoomEvent => ({ type, state_key, content, sender: upgrader });
  const events: NewRoomEvent[] = [ev("m.room.member", { ...input.upgraderProfile, membership: "join" }, upgrader)];

  const pls = upgradePowerLevels(input);
  if (pls) events.push(ev("m.room.power_levels", pls.initial));

  const copied = new Map<string, OldStateEvent>();
  for (const s of input.oldState) {
    if ((COPIED_STATE_TYPES as readonly string[]).includes(s.type) && s.state_key === "") copied.set(s.type, s);
  }
  // The private_chat preset, for what the copied state does not set (Synapse upgrades with it).
  const preset: Array<[string, JsonObject]> = [
    ["m.room.join_rules", { join_rule: "invite" }],
    ["m.room.history_visibility", { history_visibility: "shared" }],
    ["m.room.guest_access", { guest_access: "can_join" }],
  ];
  for (const [type, content] of preset) if (!copied.has(type)) events.push(ev(type, content));
  for (const type of COPIED_STATE_TYPES) {
    const s = copied.get(type);
    if (s) events.push(ev(type, s.content));
  }
  // A space keeps its children; an emptied child event means the room was removed.
  if (input.oldCreate.content.type === "m.space") {
    for (const s of input.oldState) {
      if (s.type === "m.space.child" && Object.keys(s.content).length > 0) events.push(ev(s.type, s.content, s.state_key));
    }
  }
  for (const b of input.bans) {
    if (canBan(input.newVersion, createContent, pls?.initial, upgrader, b.state_key)) events.push(ev("m.room.member", b.content, b.state_key));
  }

  const plan: UpgradePlan = { createContent, events };
  if (pls?.restore) plan.restorePowerLevels = pls.restore;
  if (input.oldPowerLevels) {
    const restricted = restrictedOldPowerLevels(input.oldVersion, input.oldPowerLevels.content);
    if (restricted) plan.oldRoomPowerLevels = restricted;
  }
  return plan;
}

/** The server name of an alias or id, or undefined. */
function domainOf(id: string): string | undefined {
  const i = id.indexOf(":");
  return i < 0 ? undefined : id.slice(i + 1);
}

/**
 * Splits the old room's canonical alias content: the local `alias` and local
 * `alt_aliases` move to the new room; the rest stays (Synapse's `_move_aliases_to_new_room`).
 */
export function splitCanonicalAlias(content: JsonObject, serverName: string): { old: JsonObject; new: JsonObject } {
  const old: JsonObject = { ...content };
  const moved: JsonObject = {};
  const local = (a: JsonValue) => typeof a === "string" && domainOf(a) === serverName;
  if (typeof content.alias === "string" && local(content.alias)) {
    moved.alias = content.alias;
    delete old.alias;
  }
  if (Array.isArray(content.alt_aliases) && content.alt_aliases.length) {
    const stay = content.alt_aliases.filter((a) => !local(a));
    moved.alt_aliases = content.alt_aliases.filter(local);
    if (stay.length) old.alt_aliases = stay;
    else delete old.alt_aliases;
  }
  return { old, new: moved };
}
