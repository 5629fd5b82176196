/**
 * POST /createRoom (client-server-api "Creation"): the events a new room starts
 * with, in the spec's order — create, creator's join, power levels, canonical
 * alias, preset events, initial_state, name, topic, invites.
 */
import { MatrixError } from "../../src/errors.js";
import { isValidUserId } from "../../src/identifiers.js";
import type { JsonObject } from "../../src/json.js";
import type { RoomVersion } from "../../src/room-versions.js";
import type { EventTemplate } from "../../src/event-builder.js";

export type Preset = "private_chat" | "public_chat" | "trusted_private_chat";

export interface CreateRoomRequest {
  visibility?: "public" | "private" | undefined;
  room_alias_name?: string | undefined;
  name?: string | undefined;
  topic?: string | undefined;
  invite?: string[] | undefined;
  creation_content?: JsonObject | undefined;
  initial_state?: Array<{ type: string; state_key?: string | undefined; content: JsonObject }> | undefined;
  preset?: Preset | undefined;
  is_direct?: boolean | undefined;
  power_level_content_override?: JsonObject | undefined;
}

/** Synapse's default power levels for new rooms. */
function defaultPowerLevels(version: RoomVersion, creator: string, preset: Preset, invitees: string[]): JsonObject {
  const users: JsonObject = {};
  // v12 creators have infinite power and must not be listed (MSC4289); there the
  // trusted_private_chat invitees become additional_creators instead (createRoomTemplates).
  if (!version.privilegedCreators) {
    users[creator] = 100;
    // createRoom preset table: "All invitees are given the same power level as the room creator"
    // (before power_level_content_override, as Synapse applies it).
    if (preset === "trusted_private_chat") for (const u of invitees) users[u] = 100;
  }
  return {
    users,
    users_default: 0,
    events: {
      "m.room.name": 50,
      "m.room.power_levels": 100,
      "m.room.history_visibility": 100,
      "m.room.canonical_alias": 50,
      "m.room.avatar": 50,
      "m.room.tombstone": 100,
      "m.room.server_acl": 100,
      "m.room.encryption": 100,
    },
    events_default: 0,
    state_default: 50,
    ban: 50,
    kick: 50,
    redact: 50,
    invite: preset === "public_chat" ? 50 : 0,
    historical: 100,
    notifications: { room: 50 },
  };
}

export function createRoomTemplates(
  version: RoomVersion,
  req: CreateRoomRequest,
  creator: string,
  creatorProfile: JsonObject,
  aliasFull: string | undefined,
  inviteeProfiles: Map<string, JsonObject>,
): EventTemplate[] {
  const preset: Preset = req.preset ?? (req.visibility === "public" ? "public_chat" : "private_chat");
  const invitees = req.invite ?? [];
  for (const u of invitees) if (!isValidUserId(u)) throw new MatrixError("M_INVALID_PARAM", `Invalid user ID in invite: ${u}`, 400);

  const createContent: JsonObject = { ...(req.creation_content ?? {}), room_version: version.id };
  if (!version.implicitRoomCreator) createContent.creator = creator;
  else delete createContent.creator;
  if (version.privilegedCreators && preset === "trusted_private_chat" && invitees.length) {
    const extra = Array.isArray(createContent.additional_creators) ? createContent.additional_creators : [];
    createContent.additional_creators = [...new Set([...extra, ...invitees])];
  }
  const ev = (type: string, content: JsonObject, state_key = ""): EventTemplate => ({ type, state_key, content, sender: creator });
  const out: EventTemplate[] = [ev("m.room.create", createContent)];
  out.push(ev("m.room.member", { ...creatorProfile, membership: "join" }, creator));

  const pl = defaultPowerLevels(version, creator, preset, invitees);
  const merged: JsonObject = { ...pl, ...(req.power_level_content_override ?? {}) };
  out.push(ev("m.room.power_levels", merged));
  if (aliasFull) out.push(ev("m.room.canonical_alias", { alias: aliasFull }));

  const initialTypes = new Set((req.initial_state ?? []).map((e) => `${e.type}\u0000${e.state_key ?? ""}`));
  const presetEvents: EventTemplate[] = [
    ev("m.room.join_rules", { join_rule: preset === "public_chat" ? "public" : "invite" }),
    ev("m.room.history_visibility", { history_visibility: "shared" }),
  ];
  if (preset !== "public_chat") presetEvents.push(ev("m.room.guest_access", { guest_access: "can_join" }));
  for (const p of presetEvents) if (!initialTypes.has(`${p.type}\u0000${p.state_key}`)) out.push(p);

  for (const s of req.initial_state ?? []) {
    if (s.type === "m.room.create" || s.type === "m.room.member") {
      throw new MatrixError("M_INVALID_PARAM", `initial_state cannot contain ${s.type}`, 400);
    }
    out.push(ev(s.type, s.content, s.state_key ?? ""));
  }
  if (req.name !== undefined) out.push(ev("m.room.name", { name: req.name }));
  if (req.topic !== undefined) {
    // Since v1.15 the topic also goes out as m.topic text (MSC3765).
    out.push(ev("m.room.topic", { topic: req.topic, "m.topic": { "m.text": [{ body: req.topic }] } }));
  }
  for (const u of invitees) {
    // Another server's user is invited after the room exists, through /invite (its server signs first).
    if (!inviteeProfiles.has(u)) continue;
    const content: JsonObject = { ...(inviteeProfiles.get(u) ?? {}), membership: "invite" };
    if (req.is_direct) content.is_direct = true;
    out.push(ev("m.room.member", content, u));
  }
  return out;
}
