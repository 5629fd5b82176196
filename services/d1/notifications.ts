/**
 * `event_push_actions` (d1-migrations/0009_push_search.sql) as GET /notifications
 * reads it: one row per notified user and event, written at publish time.
 */
import type { EventRow } from "./room-events.js";

/** A notified event with the push actions and thread it was counted in. */
export interface NotificationRow extends EventRow {
  thread_id: string;
  /** JSON array of push rule actions. */
  actions: string;
  ts: number;
}

/** The user's notifications before stream position `before`, newest first (highlights only if asked). */
export async function notificationsBefore(
  db: D1Database,
  q: { userId: string; before: number; highlightOnly: boolean; limit: number },
): Promise<NotificationRow[]> {
  const { results } = await db
    .prepare(
      "SELECT e.stream_pos, e.event_id, e.room_id, e.type, e.state_key, e.sender, e.json, e.txn_device, e.txn_id, a.thread_id, a.actions, a.ts " +
        "FROM event_push_actions a " +
        "JOIN room_events e ON e.stream_pos = a.stream_pos " +
        `WHERE a.user_id = ? AND a.stream_pos < ? ${q.highlightOnly ? "AND a.highlight = 1" : ""} ORDER BY a.stream_pos DESC LIMIT ?`,
    )
    .bind(q.userId, q.before, q.limit)
    .all<NotificationRow>();
  return results;
}
