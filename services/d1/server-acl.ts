/**
 * Rooms' current server ACLs (`m.room.server_acl`, state key "") from the D1 read
 * model: `room_state` names the event, `room_events.json` holds it (redacted
 * there once a redaction is accepted, so a redacted ACL reads as `{}`: nobody).
 * One primary-key lookup per room (d1-migrations/0005_rooms.sql).
 */
import { parseServerAcl, type ServerAcl } from "../../src/server-acl.js";

const aclOf = (json: string): ServerAcl => parseServerAcl((JSON.parse(json) as { content?: unknown }).content);

/** The room's current ACL; null when it has none (or the room is unknown here). */
export async function roomServerAcl(db: D1Database, roomId: string): Promise<ServerAcl | null> {
  const row = await db
    .prepare(
      "SELECT e.json FROM room_state s JOIN room_events e ON e.event_id = s.event_id " +
        "WHERE s.room_id = ? AND s.type = 'm.room.server_acl' AND s.state_key = ''",
    )
    .bind(roomId)
    .first<{ json: string }>();
  return row ? aclOf(row.json) : null;
}

/**
 * The current ACLs of several rooms in one statement (a federation transaction's
 * PDUs and EDUs name many rooms); rooms without one are absent from the map. The
 * CROSS JOIN keeps the id list the outer loop, one primary-key probe per room.
 */
export async function roomServerAcls(db: D1Database, roomIds: Iterable<string>): Promise<Map<string, ServerAcl>> {
  const ids = [...new Set(roomIds)];
  const out = new Map<string, ServerAcl>();
  if (ids.length === 0) return out;
  const { results } = await db
    .prepare(
      "SELECT s.room_id, e.json " +
        "FROM json_each(?) j CROSS JOIN room_state s ON s.room_id = j.value AND s.type = 'm.room.server_acl' AND s.state_key = '' " +
        "JOIN room_events e ON e.event_id = s.event_id",
    )
    .bind(JSON.stringify(ids))
    .all<{ room_id: string; json: string }>();
  for (const r of results) out.set(r.room_id, aclOf(r.json));
  return out;
}
