import { type Context, Hono } from "hono";
import { EventReportBody, RoomOrUserReportBody } from "../../src/content-reports.js";
import { MatrixError, notFound } from "../../src/errors.js";
import { isValidRoomId, isValidUserId, parseUserId } from "../../src/identifiers.js";
import type { AppEnv } from "../app-env.js";
import { getConfig } from "../config.js";
import { requireAdmin } from "../middleware/admin.js";
import { requireAuth } from "../middleware/auth.js";
import { jsonBody } from "../middleware/body.js";
import { canSee, loadRoomAccess } from "../rooms/room-access.js";
import { userExists } from "../auth/accounts.js";
import { eventPlacement } from "../../services/d1/room-events.js";
import { roomExists } from "../../services/d1/rooms.js";
import {
  type EventReportRow,
  deleteEventReport,
  eventReportWithEvent,
  insertEventReport,
  insertRoomReport,
  insertUserReport,
  listEventReports,
} from "../../services/d1/reports.js";
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
reportRoutes.post(clientV3("/rooms/:roomId/report/:eventId"), requireAuth(), jsonBody(EventReportBody), async (c) => {
  const { roomId, eventId } = c.req.param();
  const userId = c.get("auth").userId;
  const body = c.req.valid("json");
  const db = c.env.DB;
  if (!isValidRoomId(roomId)) throw notVisible();
  const [access, event] = await Promise.all([loadRoomAccess(db, roomId, userId), eventPlacement(db, eventId)]);
  if (!access.joined || !event || event.room_id !== roomId || event.redacted_by || !canSee(access, event.stream_pos)) throw notVisible();
  await insertEventReport(db, {
    receivedTs: Date.now(),
    roomId,
    eventId,
    userId,
    reason: body.reason ?? null,
    score: body.score ?? null,
    content: JSON.stringify(body),
  });
  return c.json({});
});

/** POST /_matrix/client/v3/rooms/{roomId}/report (v1.13): the reporter need not be in the room. */
reportRoutes.post(clientV3("/rooms/:roomId/report"), requireAuth(), jsonBody(RoomOrUserReportBody), async (c) => {
  const roomId = c.req.param("roomId");
  const { reason } = c.req.valid("json");
  const db = c.env.DB;
  if (!(await roomExists(db, roomId))) throw notFound("The room was not found.");
  await insertRoomReport(db, { receivedTs: Date.now(), roomId, userId: c.get("auth").userId, reason });
  return c.json({});
});

/**
 * POST /_matrix/client/v3/users/{userId}/report (v1.14). As Synapse, reports about
 * users of other servers or users that do not exist are accepted and dropped, so the
 * answer does not reveal who exists.
 */
reportRoutes.post(clientV3("/users/:userId/report"), requireAuth(), jsonBody(RoomOrUserReportBody), async (c) => {
  const target = c.req.param("userId");
  if (!isValidUserId(target)) throw new MatrixError("M_INVALID_PARAM", `Invalid user ID: ${target}`, 400);
  const { reason } = c.req.valid("json");
  const db = c.env.DB;
  if (parseUserId(target)?.domain === getConfig(c.env).serverName && (await userExists(db, target))) {
    await insertUserReport(db, { receivedTs: Date.now(), targetUserId: target, userId: c.get("auth").userId, reason });
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

function reportJson(row: EventReportRow) {
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
  const { total, rows } = await listEventReports(c.env.DB, {
    userId: c.req.query("user_id"),
    roomId: c.req.query("room_id"),
    eventSender: c.req.query("event_sender_user_id"),
    dir,
    offset: start,
    limit,
  });
  const reports = rows.map(reportJson);
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
  const row = await eventReportWithEvent(c.env.DB, id);
  if (!row) throw notFound("Event report not found");
  return c.json({ ...reportJson(row), event_json: row.event_json ? JSON.parse(row.event_json) : null });
});

/** DELETE /_synapse/admin/v1/event_reports/{report_id} */
reportRoutes.delete("/_synapse/admin/v1/event_reports/:reportId", requireAdmin(), async (c) => {
  const id = reportId(c);
  if (!(await deleteEventReport(c.env.DB, id))) throw notFound("Event report not found");
  return c.json({});
});
