/**
 * `room_threads` and `room_thread_participants` (d1-migrations/0011_reads.sql),
 * kept by triggers on room_events: /threads lists roots by latest activity.
 */
import { EVENT_COLUMNS, type EventRow } from "./room-events.js";

/** A thread root with the position of the thread's latest event. */
export interface ThreadRootRow extends EventRow {
  latest_pos: number;
}

/**
 * Up to `limit` thread roots of a room whose latest activity is at or before
 * `upTo`, newest first; with `participant`, only threads that user took part in.
 */
export async function threadRoots(
  db: D1Database,
  q: { roomId: string; upTo: number; participant?: string | undefined; limit: number },
): Promise<ThreadRootRow[]> {
  const participated = q.participant !== undefined ? " AND EXISTS (SELECT 1 FROM room_thread_participants p WHERE p.thread_id = t.thread_id AND p.user_id = ?)" : "";
  const { results } = await db
    .prepare(
      `SELECT t.latest_pos, ${EVENT_COLUMNS} FROM room_threads t JOIN room_events e ON e.event_id = t.thread_id AND e.room_id = t.room_id ` +
        `WHERE t.room_id = ? AND t.latest_pos <= ?${participated} ORDER BY t.latest_pos DESC LIMIT ?`,
    )
    .bind(q.roomId, q.upTo, ...(q.participant !== undefined ? [q.participant] : []), q.limit)
    .all<ThreadRootRow>();
  return results;
}
