/**
 * Client-server-api "Relationships API": GET /_matrix/client/v1/rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]].
 * Children in stream order (newest first by default), paginated with the same
 * `s<pos>` tokens as /messages, with bundled aggregations. `recurse` (MSC3981,
 * v1.10) follows relations three levels deep; the rel_type and event type
 * filters apply at every level, so a child reached only through a non-matching
 * event is left out. Redacted children no longer relate to anything.
 */
import { type Context, Hono } from "hono";
import { MatrixError } from "../../src/errors.js";
import type { JsonObject } from "../../src/json.js";
import { BEFORE_ALL_EVENTS, parseDirection, parseLimit, parseRoomToken, streamToken } from "../../src/stream-token.js";
import { inRanges } from "../../src/visibility-ranges.js";
import type { AppEnv } from "../app-env.js";
import { requireAuth } from "../middleware/auth.js";
import { bundleAggregations } from "../rooms/aggregations.js";
import { eventPage } from "../rooms/event-page.js";
import { requireRoomAccess } from "../rooms/room-access.js";
import { serveEvent } from "../rooms/serve-event.js";
import { eventById } from "../rooms/state-reads.js";

/** Levels of relations followed with recurse=true (the spec asks for at least 3). */
export const RECURSION_DEPTH = 3;
/** Largest set of related events a recursive request considers. */
const MAX_RECURSIVE_EVENTS = 5000;
const DEFAULT_LIMIT = 5;
const MAX_LIMIT = 1000;

export const relationRoutes = new Hono<AppEnv>();

function recurseParam(v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  if (v === "true") return true;
  if (v === "false") return false;
  throw new MatrixError("M_INVALID_PARAM", "recurse must be true or false", 400);
}

async function relations(c: Context<AppEnv>, relType: string | undefined, eventType: string | undefined): Promise<Response> {
  const roomId = c.req.param("roomId")!;
  const eventId = c.req.param("eventId")!;
  const q = c.req.query();
  const dir = parseDirection(q.dir, false);
  const limit = parseLimit(q.limit, DEFAULT_LIMIT, MAX_LIMIT);
  const recurse = recurseParam(q.recurse ?? q["org.matrix.msc3981.recurse"]);
  const { userId, deviceId } = c.get("auth");
  const who = { userId, deviceId };
  const db = c.env.DB;
  const access = await requireRoomAccess(db, roomId, userId);
  const from = q.from !== undefined && q.from !== "" ? parseRoomToken(q.from, "from", access.head) : undefined;
  const to = q.to !== undefined && q.to !== "" ? parseRoomToken(q.to, "to", access.head) : undefined;
  const parent = await eventById(db, roomId, eventId);
  if (!parent || parent.stream_pos > access.head || !inRanges(access.ranges, parent.stream_pos)) {
    throw new MatrixError("M_NOT_FOUND", "Event not found.", 404);
  }

  // `+c.room_id`: look children up by relates_to, never by scanning the room.
  const filters: string[] = ["+c.room_id = ?", "c.redacted_by IS NULL"];
  const filterParams: unknown[] = [roomId];
  if (relType !== undefined) {
    filters.push("c.rel_type = ?");
    filterParams.push(relType);
  }
  if (eventType !== undefined) {
    filters.push("c.type = ?");
    filterParams.push(eventType);
  }
  const start = dir === "b" ? (from ?? access.head) : (from ?? BEFORE_ALL_EVENTS);
  const [lo, hi] = dir === "b" ? [to ?? BEFORE_ALL_EVENTS, start] : [start, to ?? access.head];
  const spec = recurse
    ? {
        // Every level keeps the filters (client-server-api "Relationships API").
        with:
          "WITH RECURSIVE rel(event_id, depth) AS (" +
          `SELECT c.event_id, 1 FROM room_events c WHERE c.relates_to = ? AND ${filters.join(" AND ")} ` +
          `UNION SELECT c.event_id, rel.depth + 1 FROM rel JOIN room_events c ON c.relates_to = rel.event_id WHERE rel.depth < ${RECURSION_DEPTH} AND ${filters.join(" AND ")} ` +
          `LIMIT ${MAX_RECURSIVE_EVENTS})`,
        from: "rel JOIN room_events e ON e.event_id = rel.event_id",
        where: [] as string[],
        params: [eventId, ...filterParams, ...filterParams],
      }
    : {
        from: "room_events e",
        where: ["e.relates_to = ?", ...filters.map((f) => f.replaceAll("c.", "e."))],
        params: [eventId, ...filterParams],
      };
  const page = lo < hi ? await eventPage(db, { ...spec, dir, lo, hi, ranges: access.ranges, limit }) : { rows: [], next: null };
  const now = Date.now();
  const chunk = page.rows.map((r) => serveEvent(r, who, now));
  await bundleAggregations(db, who, chunk, now, (p) => inRanges(access.ranges, p));
  const body: JsonObject = { chunk };
  if (page.next !== null) body.next_batch = streamToken(page.next);
  if (from !== undefined) body.prev_batch = q.from!;
  // MSC3981: present exactly when the client sent `recurse`.
  if (recurse !== undefined) body.recursion_depth = recurse ? RECURSION_DEPTH : 1;
  return c.json(body);
}

const base = "/_matrix/client/v1/rooms/:roomId/relations/:eventId";
relationRoutes.get(base, requireAuth(), (c) => relations(c, undefined, undefined));
relationRoutes.get(`${base}/:relType`, requireAuth(), (c) => relations(c, c.req.param("relType"), undefined));
relationRoutes.get(`${base}/:relType/:eventType`, requireAuth(), (c) =>
  relations(c, c.req.param("relType"), c.req.param("eventType")),
);
