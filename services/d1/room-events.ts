/**
 * Reads of `room_events` (d1-migrations/0005_rooms.sql), the D1 copy of every
 * room's events that the Room DO outbox publishes. The read paths that page
 * through it (workers/rooms/event-page.ts, state-reads.ts) build on the row
 * shape and columns here.
 */
import type { PosRange } from "../../src/visibility-ranges.js";

/** A row of room_events as the read paths select it. */
export interface EventRow {
  stream_pos: number;
  event_id: string;
  room_id: string;
  type: string;
  state_key: string | null;
  sender: string;
  json: string;
  txn_device: string | null;
  txn_id: string | null;
}

/** The columns of an EventRow, from room_events aliased `e`. */
export const EVENT_COLUMNS = "e.stream_pos, e.event_id, e.room_id, e.type, e.state_key, e.sender, e.json, e.txn_device, e.txn_id";

/** Where an event sits, and whether it was redacted (what a report needs to know). */
export interface EventPlacementRow {
  room_id: string;
  stream_pos: number;
  redacted_by: string | null;
}

export function eventPlacement(db: D1Database, eventId: string): Promise<EventPlacementRow | null> {
  return db.prepare("SELECT room_id, stream_pos, redacted_by FROM room_events WHERE event_id = ?").bind(eventId).first<EventPlacementRow>();
}

export interface EventPositionRow {
  event_id: string;
  stream_pos: number;
}

/** The room's last event at or before a stream position (/members?at=). */
export function lastEventAtOrBefore(db: D1Database, roomId: string, pos: number): Promise<EventPositionRow | null> {
  return db
    .prepare("SELECT event_id, stream_pos FROM room_events WHERE room_id = ? AND stream_pos <= ? ORDER BY stream_pos DESC LIMIT 1")
    .bind(roomId, pos)
    .first<EventPositionRow>();
}

export interface EventTimestampRow {
  event_id: string;
  origin_server_ts: number;
}

/**
 * The event closest to `ts` in a direction (`f`: at or after, `b`: at or before)
 * among those up to `head` inside the visible ranges, bound as one JSON parameter
 * (json_each) so any number of ranges stays one statement.
 */
export function eventClosestToTimestamp(
  db: D1Database,
  q: { roomId: string; ts: number; dir: "b" | "f"; head: number; ranges: PosRange[] },
): Promise<EventTimestampRow | null> {
  const cmp = q.dir === "f" ? ">=" : "<=";
  const order = q.dir === "f" ? "ASC" : "DESC";
  return db
    .prepare(
      `SELECT e.event_id, e.origin_server_ts FROM room_events e WHERE e.room_id = ? AND e.origin_server_ts ${cmp} ? AND e.stream_pos <= ? ` +
        "AND EXISTS (SELECT 1 FROM json_each(?) r WHERE e.stream_pos BETWEEN json_extract(r.value, '$[0]') AND json_extract(r.value, '$[1]')) " +
        `ORDER BY e.origin_server_ts ${order}, e.stream_pos ${order} LIMIT 1`,
    )
    .bind(q.roomId, q.ts, q.head, JSON.stringify(q.ranges))
    .first<EventTimestampRow>();
}
