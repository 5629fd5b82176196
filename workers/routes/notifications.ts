/**
 * GET /_matrix/client/v3/notifications (client-server-api "Listing
 * Notifications", notifications.yaml): the events the user was notified about,
 * newest first, from the rows push rule evaluation wrote at publish time.
 */
import { Hono } from "hono";
import { MatrixError } from "../../src/errors.js";
import type { JsonObject } from "../../src/json.js";
import type { AppEnv } from "../app-env.js";
import { requireAuth } from "../middleware/auth.js";
import { floorOf, loadReadFloors } from "../../services/push/read-floors.js";
import { serveEvent } from "../rooms/serve-event.js";
import { notificationsBefore } from "../../services/d1/notifications.js";
import { clientV3 } from "./paths.js";

export const notificationRoutes = new Hono<AppEnv>();

const DEFAULT_LIMIT = 50;
const MAX_LIMIT = 100;

function intParam(v: string | undefined, name: string): number | undefined {
  if (v === undefined || v === "") return undefined;
  if (!/^\d{1,15}$/.test(v)) throw new MatrixError("M_INVALID_PARAM", `${name} must be a non-negative integer`, 400);
  return Number(v);
}

notificationRoutes.get(clientV3("/notifications"), requireAuth(), async (c) => {
  const { userId, deviceId } = c.get("auth");
  const from = intParam(c.req.query("from"), "from");
  const limit = Math.min(intParam(c.req.query("limit"), "limit") ?? DEFAULT_LIMIT, MAX_LIMIT);
  const only = c.req.query("only");
  if (only !== undefined && only !== "" && only !== "highlight") throw new MatrixError("M_INVALID_PARAM", "only must be 'highlight'", 400);
  const highlightOnly = only === "highlight";
  const db = c.env.DB;
  if (limit === 0) return c.json({ notifications: [] });
  const results = await notificationsBefore(db, { userId, before: from ?? Number.MAX_SAFE_INTEGER, highlightOnly, limit });
  const floors = await loadReadFloors(db, userId, [...new Set(results.map((r) => r.room_id))]);
  const now = Date.now();
  const notifications = results.map((r) => {
    // The event as client_event_without_room_id.
    const { room_id: _omit, ...event } = serveEvent(r, { userId, deviceId }, now);
    return {
      actions: JSON.parse(r.actions) as JsonObject[],
      event,
      read: r.stream_pos <= floorOf(floors.get(r.room_id), r.thread_id),
      room_id: r.room_id,
      ts: r.ts,
    };
  });
  const body: JsonObject = { notifications: notifications as unknown as JsonObject[] };
  // "If this is absent, there are no more results."
  if (results.length === limit) body.next_token = String(results.at(-1)!.stream_pos);
  return c.json(body);
});
