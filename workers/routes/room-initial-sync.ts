/**
 * GET /_matrix/client/v3/rooms/{roomId}/initialSync (client-server-api "Room
 * Previews"): a snapshot of a room's state and latest messages, for peeking into
 * world-readable rooms or reading one's own. Built from the same reads as /state
 * and /messages, with their history-visibility checks.
 */
import { Hono } from "hono";
import type { JsonObject, JsonValue } from "../../src/json.js";
import { streamToken } from "../../src/stream-token.js";
import { inRanges } from "../../src/visibility-ranges.js";
import type { AppEnv } from "../app-env.js";
import { requireAuth } from "../middleware/auth.js";
import { bundleAggregations } from "../rooms/aggregations.js";
import { eventPage } from "../rooms/event-page.js";
import { requireRoomAccess } from "../rooms/room-access.js";
import { serveEvent } from "../rooms/serve-event.js";
import { currentState, stateAfter } from "../rooms/state-reads.js";
import { clientV3 } from "./paths.js";
import { roomAccountData } from "../account-data/account-data.js";

const INITIAL_SYNC_LIMIT = 10;

export const roomInitialSyncRoutes = new Hono<AppEnv>();

roomInitialSyncRoutes.get(clientV3("/rooms/:roomId/initialSync"), requireAuth({ allowGuest: true }), async (c) => {
  const roomId = c.req.param("roomId");
  const { userId, deviceId } = c.get("auth");
  const db = c.env.DB;
  const access = await requireRoomAccess(db, roomId, userId);
  // A user who left sees the room as it was when they left; others up to now.
  const upTo = access.departed && access.membership ? access.membership.pos : access.head;
  const state =
    access.departed && access.membership ? await stateAfter(c.env, roomId, access.membership.eventId) : await currentState(db, roomId);
  const page = await eventPage(db, { from: "room_events e", where: ["e.room_id = ?"], params: [roomId], dir: "b", lo: 0, hi: upTo, ranges: access.ranges, limit: INITIAL_SYNC_LIMIT });
  const now = Date.now();
  const who = { userId, deviceId };
  const chunk = page.rows.map((r) => serveEvent(r, who, now)).reverse();
  await bundleAggregations(db, who, chunk, now, (p) => inRanges(access.ranges, p));
  const oldest = page.rows.at(-1)?.stream_pos;
  const joinRule = state.find((r) => r.type === "m.room.join_rules" && r.state_key === "");
  const visibility = joinRule && (JSON.parse(joinRule.json) as { content?: { join_rule?: unknown } }).content?.join_rule === "public" ? "public" : "private";
  const body: JsonObject = {
    room_id: roomId,
    messages: {
      chunk: chunk as unknown as JsonValue[],
      // `start` is the earlier end of the chunk, `end` the later one (spec's RoomInfo.messages).
      start: streamToken(oldest !== undefined ? oldest - 1 : upTo),
      end: streamToken(upTo),
    },
    state: state.map((r) => serveEvent(r, who, now)) as unknown as JsonValue[],
    visibility,
    account_data: await roomAccountData(db, userId, roomId),
  };
  const membership = access.membership?.membership;
  if (membership === "join" || membership === "invite" || membership === "leave") body.membership = membership;
  else if (membership === "ban") body.membership = "leave";
  return c.json(body);
});
