/**
 * Content reports (d1-migrations/0010_directory.sql): `event_reports`,
 * `room_reports` and `user_reports`, written by the client reporting endpoints
 * and read by server admins through Synapse's admin API.
 */

export interface NewEventReport {
  receivedTs: number;
  roomId: string;
  eventId: string;
  userId: string;
  reason: string | null;
  score: number | null;
  /** The request body as sent, JSON. */
  content: string;
}

export async function insertEventReport(db: D1Database, r: NewEventReport): Promise<void> {
  await db
    .prepare("INSERT INTO event_reports (received_ts, room_id, event_id, user_id, reason, score, content) VALUES (?, ?, ?, ?, ?, ?, ?)")
    .bind(r.receivedTs, r.roomId, r.eventId, r.userId, r.reason, r.score, r.content)
    .run();
}

export async function insertRoomReport(db: D1Database, r: { receivedTs: number; roomId: string; userId: string; reason: string }): Promise<void> {
  await db.prepare("INSERT INTO room_reports (received_ts, room_id, user_id, reason) VALUES (?, ?, ?, ?)").bind(r.receivedTs, r.roomId, r.userId, r.reason).run();
}

export async function insertUserReport(db: D1Database, r: { receivedTs: number; targetUserId: string; userId: string; reason: string }): Promise<void> {
  await db
    .prepare("INSERT INTO user_reports (received_ts, target_user_id, user_id, reason) VALUES (?, ?, ?, ?)")
    .bind(r.receivedTs, r.targetUserId, r.userId, r.reason)
    .run();
}

/** An event report with the reported event's sender and the room's alias and name, as the admin API lists it. */
export interface EventReportRow {
  id: number;
  received_ts: number;
  room_id: string;
  event_id: string;
  user_id: string;
  reason: string | null;
  score: number | null;
  sender: string | null;
  canonical_alias: string | null;
  name: string | null;
}

const REPORT_COLUMNS =
  "er.id, er.received_ts, er.room_id, er.event_id, er.user_id, er.reason, er.score, e.sender, r.canonical_alias, r.name";
const REPORT_JOINS = "FROM event_reports er LEFT JOIN room_events e ON e.event_id = er.event_id LEFT JOIN rooms r ON r.room_id = er.room_id";

export interface EventReportQuery {
  /** Exact matches; absent or empty means any. */
  userId?: string | undefined;
  roomId?: string | undefined;
  eventSender?: string | undefined;
  /** `b`: newest first. */
  dir: "b" | "f";
  offset: number;
  limit: number;
}

/** One page of event reports and the number matching the filters, in one batch. */
export async function listEventReports(db: D1Database, q: EventReportQuery): Promise<{ total: number; rows: EventReportRow[] }> {
  const filters: string[] = [];
  const params: string[] = [];
  for (const [v, col] of [[q.userId, "er.user_id"], [q.roomId, "er.room_id"], [q.eventSender, "e.sender"]] as const) {
    if (v) {
      filters.push(`${col} = ?`);
      params.push(v);
    }
  }
  const where = filters.length ? `WHERE ${filters.join(" AND ")}` : "";
  const order = q.dir === "b" ? "DESC" : "ASC";
  const [count, page] = await db.batch<{ n: number } | EventReportRow>([
    db.prepare(`SELECT COUNT(*) AS n ${REPORT_JOINS} ${where}`).bind(...params),
    db.prepare(`SELECT ${REPORT_COLUMNS} ${REPORT_JOINS} ${where} ORDER BY er.received_ts ${order}, er.id ${order} LIMIT ? OFFSET ?`).bind(...params, q.limit, q.offset),
  ]);
  return {
    total: (count?.results[0] as { n: number } | undefined)?.n ?? 0,
    rows: (page?.results ?? []) as EventReportRow[],
  };
}

/** One report with the reported event's JSON (null once the event is gone). */
export function eventReportWithEvent(db: D1Database, id: number): Promise<(EventReportRow & { event_json: string | null }) | null> {
  return db.prepare(`SELECT ${REPORT_COLUMNS}, e.json AS event_json ${REPORT_JOINS} WHERE er.id = ?`).bind(id).first<EventReportRow & { event_json: string | null }>();
}

/** Deletes a report; false when there was none. */
export async function deleteEventReport(db: D1Database, id: number): Promise<boolean> {
  return (await db.prepare("DELETE FROM event_reports WHERE id = ? RETURNING id").bind(id).first()) !== null;
}
