/**
 * Client-server-api "Event context": GET /rooms/{roomId}/context/{eventId}.
 * `limit` is shared between events_before and events_after (half before, as
 * Synapse); the filter applies to both and to `state`, never to `event`; `state`
 * is the room state at the last event returned, from the Room DO's state groups.
 */
import { Hono } from "hono";
import { MatrixError } from "../../src/errors.js";
import type { JsonObject } from "../../src/json.js";
import { filtersEvents, parseRoomEventFilter, storedEventMatches } from "../../src/room-event-filter.js";
import { BEFORE_ALL_EVENTS, parseLimit, streamToken } from "../../src/stream-token.js";
import { inRanges } from "../../src/visibility-ranges.js";
import type { AppEnv } from "../app-env.js";
import { requireAuth } from "../middleware/auth.js";
import { bundleAggregations } from "../rooms/aggregations.js";
import { eventPage } from "../rooms/event-page.js";
import { requireRoomAccess } from "../rooms/room-access.js";
import { type EventRow, serveEvent } from "../rooms/serve-event.js";
import { eventById, stateAfter } from "../rooms/state-reads.js";
import { clientV3 } from "./paths.js";

const CONTEXT_MAX_LIMIT = 100;

export const eventContextRoutes = new Hono<AppEnv>();

/** GET /_matrix/client/v3/rooms/{roomId}/context/{eventId} */
eventContextRoutes.get(clientV3("/rooms/:roomId/context/:eventId"), requireAuth({ allowGuest: true }), async (c) => {
  const { roomId, eventId } = c.req.param();
  const { userId, deviceId } = c.get("auth");
  const who = { userId, deviceId };
  const limit = parseLimit(c.req.query("limit"), 10, CONTEXT_MAX_LIMIT);
  const filter = parseRoomEventFilter(c.req.query("filter"));
  const db = c.env.DB;
  const access = await requireRoomAccess(db, roomId, userId);
  const row = await eventById(db, roomId, eventId);
  if (!row || row.stream_pos > access.head) throw new MatrixError("M_NOT_FOUND", "Event not found.", 404);
  // As Synapse: a known event the user may not see is 403.
  if (!inRanges(access.ranges, row.stream_pos)) throw new MatrixError("M_FORBIDDEN", "You don't have permission to access that event.", 403);

  const beforeLimit = Math.floor(limit / 2);
  const match = filtersEvents(filter) ? { match: (r: EventRow) => storedEventMatches(filter, r) } : {};
  const common = { from: "room_events e", where: ["e.room_id = ?"], params: [roomId], ranges: access.ranges, ...match };
  const [before, after] = await Promise.all([
    eventPage(db, { ...common, dir: "b", lo: BEFORE_ALL_EVENTS, hi: row.stream_pos - 1, limit: beforeLimit }),
    eventPage(db, { ...common, dir: "f", lo: row.stream_pos, hi: access.head, limit: limit - beforeLimit }),
  ]);
  const last = after.rows.at(-1) ?? row;
  const lazy = filter?.lazy_load_members === true;
  const senders = [...before.rows, row, ...after.rows].map((r) => r.sender);
  const stateRows = (await stateAfter(c.env, roomId, last.event_id, lazy ? { members: senders } : {})).filter((r) => storedEventMatches(filter, r));

  const now = Date.now();
  const eventsBefore = before.rows.map((r) => serveEvent(r, who, now));
  const event = serveEvent(row, who, now);
  const eventsAfter = after.rows.map((r) => serveEvent(r, who, now));
  await bundleAggregations(db, who, [...eventsBefore, event, ...eventsAfter], now, (p) => inRanges(access.ranges, p));
  const body: JsonObject = {
    start: streamToken((before.rows.at(-1)?.stream_pos ?? row.stream_pos) - 1),
    end: streamToken(last.stream_pos),
    events_before: eventsBefore,
    event,
    events_after: eventsAfter,
    state: stateRows.map((r) => serveEvent(r, who, now)),
  };
  return c.json(body);
});
