/**
 * Power and membership checks against a room's current state in the D1 read model,
 * for endpoints that are not room writes themselves (directory visibility, alias
 * deletion, upgrades). The Room DO still authorises every event it accepts.
 */
import type { JsonObject } from "../../src/json.js";
import type { Pdu } from "../../src/pdu.js";
import { canSendEvent } from "../../src/power-levels.js";
import { type RoomVersion, getRoomVersion } from "../../src/room-versions.js";
import { membershipOf } from "../../services/d1/room-memberships.js";

export interface StateEventRow {
  event_id: string;
  type: string;
  state_key: string;
  sender: string;
  content: JsonObject;
  origin_server_ts: number;
}

/** Current state events of the given types (any state key unless `stateKey` is given), from D1. */
export async function currentStateOfTypes(db: D1Database, roomId: string, types: string[], stateKey?: string, limit = 1000): Promise<StateEventRow[]> {
  const { results } = await db
    .prepare(
      "SELECT e.json FROM room_state s JOIN room_events e ON e.event_id = s.event_id " +
        `WHERE s.room_id = ? AND s.type IN (SELECT value FROM json_each(?))${stateKey !== undefined ? " AND s.state_key = ?" : ""} LIMIT ?`,
    )
    .bind(...[roomId, JSON.stringify(types), ...(stateKey !== undefined ? [stateKey] : []), limit])
    .all<{ json: string }>();
  return results.map((r) => {
    const ev = JSON.parse(r.json) as { event_id: string; type: string; state_key: string; sender: string; content: JsonObject; origin_server_ts: number };
    return { event_id: ev.event_id, type: ev.type, state_key: ev.state_key, sender: ev.sender, content: ev.content, origin_server_ts: ev.origin_server_ts };
  });
}

/** The pieces of a PDU the power level functions read, from a client-format state event. */
export function asPdu(ev: StateEventRow): Pdu {
  return { type: ev.type, sender: ev.sender, content: ev.content, state_key: ev.state_key } as unknown as Pdu;
}

export interface AuthSnapshot {
  version: RoomVersion;
  create: StateEventRow | undefined;
  powerLevels: StateEventRow | undefined;
}

/** The room version, create event and power levels of a known room, or undefined if D1 does not know it. */
export async function authSnapshot(db: D1Database, roomId: string): Promise<AuthSnapshot | undefined> {
  const [room, state] = await Promise.all([
    db.prepare("SELECT room_version FROM rooms WHERE room_id = ?").bind(roomId).first<{ room_version: string }>(),
    currentStateOfTypes(db, roomId, ["m.room.create", "m.room.power_levels"], ""),
  ]);
  const version = room ? getRoomVersion(room.room_version) : undefined;
  if (!version) return undefined;
  return { version, create: state.find((s) => s.type === "m.room.create"), powerLevels: state.find((s) => s.type === "m.room.power_levels") };
}

/** Whether the user's power reaches the level for sending this state event type (state key ""). */
export function canSendState(snap: AuthSnapshot, userId: string, type: string): boolean {
  return canSendEvent(
    snap.version,
    userId,
    { type, state_key: "" },
    snap.create ? asPdu(snap.create) : undefined,
    snap.powerLevels ? asPdu(snap.powerLevels) : undefined,
  );
}

export async function isServerAdmin(db: D1Database, userId: string): Promise<boolean> {
  const row = await db.prepare("SELECT is_admin FROM users WHERE user_id = ?").bind(userId).first<{ is_admin: number }>();
  return !!row?.is_admin;
}

/**
 * Synapse's `check_can_change_room_list`: server admins, or joined members whose power
 * would let them send `m.room.canonical_alias` ("moderators"). Used for publishing a
 * room and for deleting aliases one did not create.
 */
export async function canChangeRoomList(db: D1Database, roomId: string, userId: string): Promise<boolean> {
  if (await isServerAdmin(db, userId)) return true;
  const [membership, snap] = await Promise.all([membershipOf(db, roomId, userId), authSnapshot(db, roomId)]);
  if (membership !== "join" || !snap) return false;
  return canSendState(snap, userId, "m.room.canonical_alias");
}
