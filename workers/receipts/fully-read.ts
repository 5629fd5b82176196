/**
 * The fully read marker (client-server-api "Fully read markers"): the room's
 * `m.fully_read` account data `{event_id}`, which only the server writes — from
 * POST /read_markers and POST /receipt/m.fully_read.
 */
import { MatrixError } from "../../src/errors.js";
import { putAccountData } from "../account-data/account-data.js";
import type { Env } from "../../services/env.js";
import { requireJoined } from "./receipts.js";

/**
 * Moves the marker to `eventId`. As Synapse does, the event must be in the room
 * (404 otherwise) and the marker only moves forwards: an older event is accepted
 * and ignored. A marker whose event is gone counts as behind.
 */
export async function setFullyRead(env: Env, roomId: string, userId: string, eventId: string): Promise<void> {
  const db = env.DB;
  const [member, target, current] = await db.batch([
    db.prepare("SELECT membership FROM room_memberships WHERE room_id = ? AND user_id = ?").bind(roomId, userId),
    db.prepare("SELECT room_id, stream_pos FROM room_events WHERE event_id = ?").bind(eventId),
    db
      .prepare(
        "SELECT e.stream_pos FROM account_data a JOIN room_events e ON e.event_id = json_extract(a.content, '$.event_id') " +
          "WHERE a.user_id = ? AND a.room_id = ? AND a.type = 'm.fully_read' AND a.deleted = 0 AND e.room_id = a.room_id",
      )
      .bind(userId, roomId),
  ]);
  requireJoined(member?.results[0] as { membership: string } | undefined, roomId);
  const event = target?.results[0] as { room_id: string; stream_pos: number } | undefined;
  if (!event || event.room_id !== roomId) throw new MatrixError("M_NOT_FOUND", `Could not find event ${eventId} in room ${roomId}`, 404);
  const old = current?.results[0] as { stream_pos: number } | undefined;
  if (old && old.stream_pos >= event.stream_pos) return;
  await putAccountData(env, userId, roomId, "m.fully_read", { event_id: eventId });
}
