import { type Context, Hono } from "hono";
import { parseEventReport, parseRoomOrUserReport } from "../../src/content-reports.js";
import { MatrixError, notFound } from "../../src/errors.js";
import { isValidRoomId, isValidUserId, parseUserId } from "../../src/identifiers.js";
import type { AppEnv } from "../app-env.js";
import { getConfig } from "../config.js";
import { requireAdmin } from "../middleware/admin.js";
import { requireAuth } from "../middleware/auth.js";
import { readJsonObject } from "../middleware/body.js";
import { canSee, loadRoomAccess } from "../rooms/room-access.js";
import { clientV3 } from "./paths.js";

/**
 * Reporting content (client-server-api "Reporting content", report_content.yaml):
 * reports are stored in D1 for the server's admins, who read them with Synapse's
 * admin API (`/_synapse/admin/v1/event_reports`).
 */
export const reportRoutes = new Hono<AppEnv>();

const notVisible = () => notFound("Unable to report event: it does not exist or you aren't able to see it.");

/**
 * POST /_matrix/client/v3/rooms/{roomId}/report/{eventId}
 *
 * The reporter must be joined to the room (spec v1.8) and able to see the event under
 * the room's history visibility (workers/rooms/room-access.ts, as every read path);
 * otherwise, and for unknown or redacted events, 404 M_NOT_FOUND.
 */
reportRoutes.post(clientV3("/rooms/:roomId/report/:eventId"), requireAuth(), async (c) => {
  const { roomId, eventId } = c.req.param();
  const userId = c.get("auth").userId;
  const body = await readJsonObject(c);
  const report = parseEventReport(body);
  const db = c.env.DB;
  if (!isValidRoomId(roomId)) throw notVisible();
  const [access, event] = await Promise.all([
    loadRoomAccess(db, roomId, userId),
    db.prepare("SELECT room_id, stream_pos, redacted_by FROM room_events WHERE event_id = ?").bind(eventId).first<{ room_id: string; stream_pos: number; redacted_by: string | null }>(),
  ]);
  if (!access.joined || !event || event.room_id !== roomId || event.redacted_by || !canSee(access, event.stream_pos)) throw notVisible();
  await db
    .prepare("INSERT INTO event_reports (received_ts, room_id, event_id, user_id, reason, score, content) VALUES (?, ?, ?, ?, ?, ?, ?)")
    .bind(Date.now(), roomId, eventId, userId, report.reason ?? null, report.score ?? null, JSON.stringify(body))
    .run();
  return c.json({});
});

/** POST /_matrix/client/v3/rooms/{roomId}/report (v1.13): the reporter need not be in the room. */
reportRoutes.post(clientV3("/rooms/:roomId/report"), requireAuth(), async (c) => {
  const roomId = c.req.param("roomId");
  const { reason } = parseRoomOrUserReport(await readJsonObject(c));
  const db = c.env.DB;
  if (!(await db.prepare("SELECT 1 AS x FROM rooms WHERE room_id = ?").bind(roomId).first())) throw notFound("The room was not found.");
  await db.prepare("INSERT INTO room_reports (received_ts, room_id, user_id, reason) VALUES (?, ?, ?, ?)").bind(Date.now(), roomId, c.get("auth").userId, reason).run();
  return c.json({});
});

/**
 * POST /_matrix/client/v3/users/{userId}/report (v1.14). As Synapse, reports about
 * users of other servers or users that do not exist are accepted and dropped, so the
 * answer does not reveal who exists.
 */
reportRoutes.post(clientV3("/users/:userId/report"), requireAuth(), async (c) => {
  const target = c.req.param("userId");
  if (!isValidUserId(target)) throw new MatrixError("M_INVALID_PARAM", `Invalid user ID: ${target}`, 400);
  const { reason } = parseRoomOrUserReport(await readJsonObject(c));
  const db = c.env.DB;
  if (parseUserId(target)?.domain === getConfig(c.env).serverName && (await db.prepare("SELECT 1 AS x FROM users WHERE user_id = ?").bind(target).first())) {
    await db.prepare("INSERT INTO user_reports (received_ts, target_user_id, user_id, reason) VALUES (?, ?, ?, ?)").bind(Date.now(), target, c.get("auth").userId, reason).run();
  }
  return c.json({});
});

// ---- Synapse admin API: event reports ------------------------------------------

/** Largest admin page (Synapse has no cap; this keeps one request bounded). */
const MAX_ADMIN_PAGE = 1000;

function nonNegativeInt(c: Context<AppEnv>, name: string, dflt: number): number {
  const v = c.req.query(name);
  if (v === undefined) return dflt;
  if (!/^\d+$/.test(v)) throw new MatrixError("M_INVALID_PARAM", `The ${name === "from" ? "start" : name} parameter must be a positive integer.`, 400);
  return Number(v);
}

interface ReportRow {
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

function reportJson(row: ReportRow) {
  return {
    id: row.id,
    received_ts: row.received_ts,
    room_id: row.room_id,
    event_id: row.event_id,
    user_id: row.user_id,
    score: row.score,
    reason: row.reason,
    sender: row.sender,
    canonical_alias: row.canonical_alias,
    name: row.name,
  };
}

/**
 * GET /_synapse/admin/v1/event_reports?from=&limit=&dir=&user_id=&room_id=&event_sender_user_id=
 * Newest first unless `dir=f`. The filters match exactly (Synapse matches user and room
 * ids as substrings; exact matches keep the query on an index).
 */
reportRoutes.get("/_synapse/admin/v1/event_reports", requireAdmin(), async (c) => {
  const start = nonNegativeInt(c, "from", 0);
  const limit = Math.min(nonNegativeInt(c, "limit", 100), MAX_ADMIN_PAGE);
  const dir = c.req.query("dir") ?? "b";
  if (dir !== "b" && dir !== "f") throw new MatrixError("M_INVALID_PARAM", "Unknown direction: must be 'b' or 'f'", 400);
  const filters: string[] = [];
  const params: string[] = [];
  for (const [q, col] of [["user_id", "er.user_id"], ["room_id", "er.room_id"], ["event_sender_user_id", "e.sender"]] as const) {
    const v = c.req.query(q);
    if (v) {
      filters.push(`${col} = ?`);
      params.push(v);
    }
  }
  const where = filters.length ? `WHERE ${filters.join(" AND ")}` : "";
  const order = dir === "b" ? "DESC" : "ASC";
  const db = c.env.DB;
  const [count, page] = await db.batch<{ n: number } | ReportRow>([
    db.prepare(`SELECT COUNT(*) AS n ${REPORT_JOINS} ${where}`).bind(...params),
    db.prepare(`SELECT ${REPORT_COLUMNS} ${REPORT_JOINS} ${where} ORDER BY er.received_ts ${order}, er.id ${order} LIMIT ? OFFSET ?`).bind(...params, limit, start),
  ]);
  const total = (count?.results[0] as { n: number } | undefined)?.n ?? 0;
  const reports = ((page?.results ?? []) as ReportRow[]).map(reportJson);
  const out: Record<string, unknown> = { event_reports: reports, total };
  if (start + limit < total) out.next_token = start + reports.length;
  return c.json(out);
});

function reportId(c: Context<AppEnv>): number {
  const id = c.req.param("reportId") ?? "";
  if (!/^\d+$/.test(id) || !Number.isSafeInteger(Number(id))) {
    throw new MatrixError("M_INVALID_PARAM", "The report_id parameter must be a string representing a positive integer.", 400);
  }
  return Number(id);
}

/** GET /_synapse/admin/v1/event_reports/{report_id}: the report with the reported event. */
reportRoutes.get("/_synapse/admin/v1/event_reports/:reportId", requireAdmin(), async (c) => {
  const id = reportId(c);
  const row = await c.env.DB.prepare(`SELECT ${REPORT_COLUMNS}, e.json AS event_json ${REPORT_JOINS} WHERE er.id = ?`)
    .bind(id)
    .first<ReportRow & { event_json: string | null }>();
  if (!row) throw notFound("Event report not found");
  return c.json({ ...reportJson(row), event_json: row.event_json ? JSON.parse(row.event_json) : null });
});

/** DELETE /_synapse/admin/v1/event_reports/{report_id} */
reportRoutes.delete("/_synapse/admin/v1/event_reports/:reportId", requireAdmin(), async (c) => {
  const id = reportId(c);
  const row = await c.env.DB.prepare("DELETE FROM event_reports WHERE id = ? RETURNING id").bind(id).first();
  if (!row) throw notFound("Event report not found");
  return c.json({});
});
