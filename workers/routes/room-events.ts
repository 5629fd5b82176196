/**
 * Client-server-api "Getting events for a room": GET /rooms/{roomId}/event/{eventId},
 * /state, /state/{eventType}/{stateKey}, /members, /joined_members, /messages
 * and v1 /timestamp_to_event. Every read applies history visibility
 * (workers/rooms/room-access.ts); a user who left sees state and members as of
 * leaving.
 */
import { type Context, Hono } from "hono";
import { MatrixError } from "../../src/errors.js";
import type { JsonObject } from "../../src/json.js";
import { filtersEvents, parseRoomEventFilter, storedEventMatches } from "../../src/room-event-filter.js";
import { MEMBERSHIPS, type Membership, memberMatches } from "../../src/room-members.js";
import { BEFORE_ALL_EVENTS, parseDirection, parseLimit, parseRoomToken, streamToken } from "../../src/stream-token.js";
import { noEventError, parseTimestampQuery } from "../../src/timestamp-to-event.js";
import { inRanges } from "../../src/visibility-ranges.js";
import type { AppEnv } from "../app-env.js";
import { requireAuth } from "../middleware/auth.js";
import { bundleAggregations } from "../rooms/aggregations.js";
import { eventPage } from "../rooms/event-page.js";
import { type RoomAccess, canSee, loadRoomAccess, requireRoomAccess } from "../rooms/room-access.js";
import { type EventRow, serveEvent } from "../rooms/serve-event.js";
import { currentMembers, currentState, eventById, membersAsOf, stateAfter } from "../rooms/state-reads.js";
import { clientV3 } from "./paths.js";
import { eventClosestToTimestamp, eventPlacement, lastEventAtOrBefore } from "../../services/d1/room-events.js";
import { joinedMembers } from "../../services/d1/room-memberships.js";
import { closestWithOtherServers } from "../federation/remote-timestamp.js";
import { backfillRoom } from "../federation/backfill.js";

export const MESSAGES_DEFAULT_LIMIT = 10;
export const MESSAGES_MAX_LIMIT = 1000;

export const roomEventRoutes = new Hono<AppEnv>();

const viewer = (c: Context<AppEnv>) => ({ userId: c.get("auth").userId, deviceId: c.get("auth").deviceId });

/** GET /_matrix/client/v3/rooms/{roomId}/event/{eventId}: 404 when unknown or not visible. */
roomEventRoutes.get(clientV3("/rooms/:roomId/event/:eventId"), requireAuth({ allowGuest: true }), async (c) => {
  const { roomId, eventId } = c.req.param();
  const db = c.env.DB;
  const access = await loadRoomAccess(db, roomId, c.get("auth").userId);
  const row = await eventById(db, roomId, eventId);
  if (!row || row.stream_pos > access.head || !canSee(access, row.stream_pos)) throw new MatrixError("M_NOT_FOUND", "Event not found.", 404);
  const now = Date.now();
  const ev = serveEvent(row, viewer(c), now);
  await bundleAggregations(db, viewer(c), [ev], now, (p) => inRanges(access.ranges, p));
  return c.json(ev);
});

/** State for reads: current for members and world_readable peekers, as of leaving for departed users. */
async function readableState(c: Context<AppEnv>, access: RoomAccess, only: { type?: string; stateKey?: string } = {}): Promise<EventRow[]> {
  if (access.departed && access.membership) {
    const rows = await stateAfter(c.env, access.roomId, access.membership.eventId, only.type !== undefined ? { types: [only.type] } : {});
    return only.stateKey !== undefined ? rows.filter((r) => r.state_key === only.stateKey) : rows;
  }
  return currentState(c.env.DB, access.roomId, only);
}

/** GET /_matrix/client/v3/rooms/{roomId}/state */
roomEventRoutes.get(clientV3("/rooms/:roomId/state"), requireAuth({ allowGuest: true }), async (c) => {
  const access = await requireRoomAccess(c.env.DB, c.req.param("roomId"), c.get("auth").userId);
  const now = Date.now();
  return c.json((await readableState(c, access)).map((r) => serveEvent(r, viewer(c), now)));
});

/** GET /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey} (`format` since v1.16). */
async function getStateEvent(c: Context<AppEnv>, roomId: string, eventType: string, stateKey: string): Promise<Response> {
  const format = c.req.query("format") ?? "content";
  if (format !== "content" && format !== "event") throw new MatrixError("M_INVALID_PARAM", "format must be 'content' or 'event'", 400);
  const access = await requireRoomAccess(c.env.DB, roomId, c.get("auth").userId);
  const row = (await readableState(c, access, { type: eventType, stateKey }))[0];
  if (!row) throw new MatrixError("M_NOT_FOUND", `No ${eventType} state with key '${stateKey}' in this room`, 404);
  const ev = serveEvent(row, viewer(c), Date.now());
  return c.json(format === "event" ? ev : ((ev.content as JsonObject | undefined) ?? {}));
}
roomEventRoutes.get(clientV3("/rooms/:roomId/state/:eventType/:stateKey"), requireAuth({ allowGuest: true }), (c) =>
  getStateEvent(c, c.req.param("roomId"), c.req.param("eventType"), c.req.param("stateKey")),
);
roomEventRoutes.get(clientV3("/rooms/:roomId/state/:eventType"), requireAuth({ allowGuest: true }), (c) =>
  getStateEvent(c, c.req.param("roomId"), c.req.param("eventType"), ""),
);
roomEventRoutes.get(clientV3("/rooms/:roomId/state/:eventType/"), requireAuth({ allowGuest: true }), (c) =>
  getStateEvent(c, c.req.param("roomId"), c.req.param("eventType"), ""),
);

function membershipParam(v: string | undefined, name: string): Membership | undefined {
  if (v === undefined) return undefined;
  if (!(MEMBERSHIPS as readonly string[]).includes(v)) throw new MatrixError("M_INVALID_PARAM", `${name} must be one of ${MEMBERSHIPS.join(", ")}`, 400);
  return v as Membership;
}

/** GET /_matrix/client/v3/rooms/{roomId}/members (`at`, `membership`, `not_membership`). */
roomEventRoutes.get(clientV3("/rooms/:roomId/members"), requireAuth({ allowGuest: true }), async (c) => {
  const roomId = c.req.param("roomId");
  const q = c.req.query();
  const only = membershipParam(q.membership, "membership");
  const not = membershipParam(q.not_membership, "not_membership");
  const db = c.env.DB;
  const access = await requireRoomAccess(db, roomId, c.get("auth").userId);
  let rows: EventRow[];
  if (q.at !== undefined) {
    // The members as of the last event at or before the token, if the user may see that event (as Synapse).
    const pos = parseRoomToken(q.at, "at", access.head);
    const at = await lastEventAtOrBefore(db, roomId, pos);
    if (!at) throw new MatrixError("M_NOT_FOUND", "The room has no events at that point", 404);
    if (!inRanges(access.ranges, at.stream_pos)) throw new MatrixError("M_FORBIDDEN", "You may not see the room at that point", 403);
    rows = await stateAfter(c.env, roomId, at.event_id, { types: ["m.room.member"] });
  } else if (access.departed && access.membership) {
    rows = await stateAfter(c.env, roomId, access.membership.eventId, { types: ["m.room.member"] });
  } else {
    rows = await currentMembers(db, roomId);
  }
  const now = Date.now();
  const chunk = rows
    .map((r) => serveEvent(r, viewer(c), now))
    .filter((ev) => {
      const m = (ev.content as JsonObject | undefined)?.membership;
      return memberMatches(typeof m === "string" ? m : "leave", only, not);
    });
  return c.json({ chunk });
});

/** GET /_matrix/client/v3/rooms/{roomId}/joined_members: the current user must be in the room. */
roomEventRoutes.get(clientV3("/rooms/:roomId/joined_members"), requireAuth(), async (c) => {
  const roomId = c.req.param("roomId");
  const db = c.env.DB;
  const access = await loadRoomAccess(db, roomId, c.get("auth").userId);
  if (!access.joined) throw new MatrixError("M_FORBIDDEN", `You aren't a member of the room ${roomId}`, 403);
  const joined: Record<string, { display_name?: string; avatar_url?: string }> = {};
  for (const r of await joinedMembers(db, roomId)) {
    joined[r.user_id] = {
      ...(r.display_name !== null ? { display_name: r.display_name } : {}),
      ...(r.avatar_url !== null ? { avatar_url: r.avatar_url } : {}),
    };
  }
  return c.json({ joined });
});

/**
 * GET /_matrix/client/v3/rooms/{roomId}/messages. Tokens are `s<pos>` ("after
 * position pos"): backwards from s<N> returns positions <= N newest first,
 * forwards positions > N oldest first; `to` bounds the other side the same way.
 * Backfilled history has negative positions (`s-<pos>`), below everything else.
 * Backwards without `to`, a page that runs out of history first backfills from
 * another server in the room when this one lacks the events before (server-server-api
 * "Backfilling and retrieving missing events"; workers/federation/backfill.ts), then
 * reads again; a failure there only means the page ends with what is here.
 * `end` is omitted when there are no more events the user may see.
 */
roomEventRoutes.get(clientV3("/rooms/:roomId/messages"), requireAuth({ allowGuest: true }), async (c) => {
  const roomId = c.req.param("roomId");
  const q = c.req.query();
  const dir = parseDirection(q.dir, true);
  const limit = parseLimit(q.limit, MESSAGES_DEFAULT_LIMIT, MESSAGES_MAX_LIMIT);
  const filter = parseRoomEventFilter(q.filter);
  const db = c.env.DB;
  let access = await requireRoomAccess(db, roomId, c.get("auth").userId);
  const from = q.from !== undefined && q.from !== "" ? parseRoomToken(q.from, "from", access.head) : dir === "b" ? access.head : BEFORE_ALL_EVENTS;
  const to = q.to !== undefined && q.to !== "" ? parseRoomToken(q.to, "to", access.head) : undefined;
  const [lo, hi] = dir === "b" ? [to ?? BEFORE_ALL_EVENTS, from] : [from, to ?? access.head];
  const readPage = () =>
    lo < hi
      ? eventPage(db, {
          from: "room_events e",
          where: ["e.room_id = ?"],
          params: [roomId],
          dir,
          lo,
          hi,
          ranges: access.ranges,
          limit,
          ...(filtersEvents(filter) ? { match: (r: EventRow) => storedEventMatches(filter, r) } : {}),
        })
      : Promise.resolve({ rows: [], next: null });
  let page = await readPage();
  let backfilled = false;
  if (dir === "b" && to === undefined && page.next === null && limit > 0) {
    backfilled = await backfillRoom(c.env, roomId, limit);
    if (backfilled) {
      // The visibility of what arrived (its marks, its history_visibility events) is known only now.
      access = await requireRoomAccess(db, roomId, c.get("auth").userId);
      page = await readPage();
    }
  }
  const now = Date.now();
  const who = viewer(c);
  const chunk = page.rows.map((r) => serveEvent(r, who, now));
  await bundleAggregations(db, who, chunk, now, (p) => inRanges(access.ranges, p));
  const body: JsonObject = { start: q.from !== undefined && q.from !== "" ? q.from : streamToken(from), chunk };
  if (page.next !== null) body.end = streamToken(page.next);
  // History arrived: there may be more behind it, which the next page fetches (one backfill per request).
  else if (backfilled) body.end = streamToken(page.rows.length ? page.rows.at(-1)!.stream_pos - 1 : hi);
  if (filter?.lazy_load_members && page.rows.length) {
    // Spec "Lazy-loading room members": the senders' member events, as of the newest event of the chunk.
    const newest = Math.max(...page.rows.map((r) => r.stream_pos));
    const members = await membersAsOf(db, roomId, page.rows.map((r) => r.sender), newest);
    body.state = members.map((r) => serveEvent(r, who, now));
  }
  return c.json(body);
});

/**
 * GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event: the closest visible
 * event in a direction; when none is here or it sits next to a gap in the room's
 * history, other servers in the room are asked (workers/federation/remote-timestamp.ts).
 */
roomEventRoutes.get("/_matrix/client/v1/rooms/:roomId/timestamp_to_event", requireAuth(), async (c) => {
  const roomId = c.req.param("roomId");
  const q = parseTimestampQuery({ ts: c.req.query("ts"), dir: c.req.query("dir") });
  const db = c.env.DB;
  const access = await requireRoomAccess(db, roomId, c.get("auth").userId);
  const row = await eventClosestToTimestamp(db, { roomId, ts: q.ts, dir: q.dir, head: access.head, ranges: access.ranges });
  const local = row ? { eventId: row.event_id, originServerTs: row.origin_server_ts } : undefined;
  const found = await closestWithOtherServers(c.env, roomId, q, local, async (eventId) => {
    const held = await eventPlacement(db, eventId);
    return !held || (held.room_id === roomId && canSee(access, held.stream_pos));
  });
  if (!found) throw noEventError(q);
  return c.json({ event_id: found.eventId, origin_server_ts: found.originServerTs });
});
