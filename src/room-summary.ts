/**
 * The summary of a room as the directory APIs show it: the published room chunk
 * (definitions/public_rooms_chunk.yaml) and the room summary that extends it with
 * `room_type`, `room_version`, `encryption` and `allowed_room_ids`
 * (definitions/room_summary.yaml; MSC3266). Absent values are omitted, as Synapse.
 *
 * Pure: no Workers APIs.
 */
import type { JsonObject } from "./json.js";

/** The columns of the D1 `rooms` summary table (d1-migrations/0005_rooms.sql) these are built from. */
export interface RoomSummaryRow {
  room_id: string;
  room_version: string;
  room_type: string | null;
  name: string | null;
  topic: string | null;
  avatar_url: string | null;
  canonical_alias: string | null;
  join_rule: string | null;
  history_visibility: string | null;
  guest_access: string | null;
  encryption: string | null;
  joined_members: number;
}

export const SUMMARY_COLUMNS =
  "r.room_id, r.room_version, r.room_type, r.name, r.topic, r.avatar_url, r.canonical_alias, r.join_rule, r.history_visibility, r.guest_access, r.encryption, r.joined_members";

function setIf(out: JsonObject, key: string, v: string | null): void {
  if (v !== null && v !== "") out[key] = v;
}

/** A `PublishedRoomsChunk` (GET/POST /publicRooms). */
export function publishedRoomChunk(row: RoomSummaryRow): JsonObject {
  const out: JsonObject = { room_id: row.room_id };
  setIf(out, "name", row.name);
  setIf(out, "topic", row.topic);
  setIf(out, "canonical_alias", row.canonical_alias);
  out.num_joined_members = row.joined_members;
  setIf(out, "avatar_url", row.avatar_url);
  out.world_readable = row.history_visibility === "world_readable";
  out.guest_can_join = row.guest_access === "can_join";
  setIf(out, "join_rule", row.join_rule);
  setIf(out, "room_type", row.room_type);
  return out;
}

/** A `RoomSummary` (room summary and space hierarchy entries). */
export function roomSummary(row: RoomSummaryRow, allowedRoomIds: string[]): JsonObject {
  const out = publishedRoomChunk(row);
  out.room_version = row.room_version;
  setIf(out, "encryption", row.encryption);
  // "If the room is a restricted room, these are the room IDs which are specified by the join rules."
  if (allowedRoomIds.length) out.allowed_room_ids = allowedRoomIds;
  return out;
}
