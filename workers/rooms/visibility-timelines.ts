/**
 * History visibility of several rooms for one user (src/history-visibility.ts):
 * each room's m.room.history_visibility changes and the user's own member
 * events, in stream order. Two indexed queries for all the rooms at once
 * (room_events (room_id, type, state_key, stream_pos), 0011_reads.sql), which a
 * caller may put into a larger batch (/sync) or run on their own (/search).
 */
import type { VisibilityTimeline } from "../../src/history-visibility.js";

export function visibilityStatements(db: D1Database, userId: string, roomIds: string[]): D1PreparedStatement[] {
  const rooms = JSON.stringify(roomIds);
  return [
    db
      .prepare(
        // With the marks below backfilled batches (d1-migrations/0017_backfill.sql).
        "SELECT room_id, pos, v FROM (SELECT room_id, stream_pos AS pos, json ->> '$.content.history_visibility' AS v FROM room_events " +
          "WHERE room_id IN (SELECT value FROM json_each(?1)) AND type = 'm.room.history_visibility' AND state_key = '' " +
          "UNION ALL SELECT room_id, stream_pos, history_visibility FROM room_visibility_marks WHERE room_id IN (SELECT value FROM json_each(?1))) ORDER BY pos",
      )
      .bind(rooms),
    db
      .prepare(
        "SELECT room_id, stream_pos AS pos, json ->> '$.content.membership' AS v FROM room_events " +
          "WHERE room_id IN (SELECT value FROM json_each(?)) AND type = 'm.room.member' AND state_key = ? ORDER BY stream_pos",
      )
      .bind(rooms, userId),
  ];
}

/** The timelines from the results of visibilityStatements (in that order). */
export function readVisibility(roomIds: string[], hv: D1Result | undefined, mem: D1Result | undefined): Map<string, VisibilityTimeline> {
  const out = new Map<string, VisibilityTimeline>();
  for (const r of roomIds) out.set(r, { visibility: [], memberships: [] });
  for (const r of (hv?.results ?? []) as Row[]) out.get(r.room_id)?.visibility.push({ pos: r.pos, value: r.v ?? "shared" });
  for (const r of (mem?.results ?? []) as Row[]) out.get(r.room_id)?.memberships.push({ pos: r.pos, membership: r.v ?? "leave" });
  return out;
}

export async function loadVisibility(db: D1Database, userId: string, roomIds: string[]): Promise<Map<string, VisibilityTimeline>> {
  if (roomIds.length === 0) return new Map();
  const [hv, mem] = await db.batch(visibilityStatements(db, userId, roomIds));
  return readVisibility(roomIds, hv, mem);
}

interface Row {
  room_id: string;
  pos: number;
  v: string | null;
}
