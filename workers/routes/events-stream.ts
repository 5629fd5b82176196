/**
 * GET /_matrix/client/{r0,v3}/events: the event stream clients used before /sync
 * (removed from the spec; Synapse still serves it, and Sytest's helpers wait for
 * events with it, federation tests included). Answered from /sync's machinery:
 * the timeline events of the user's rooms since `from`, room id added, and the
 * user's invites as their member events; `end` is the next `from`. Without
 * `from`, the stream starts now.
 */
import { Hono } from "hono";
import { MatrixError } from "../../src/errors.js";
import { type JsonObject, isJsonObject } from "../../src/json.js";
import type { AppEnv } from "../app-env.js";
import { requireAuth } from "../middleware/auth.js";
import { parseSinceToken, resolveFilter, sync } from "../sync/sync.js";

export const eventsStreamRoutes = new Hono<AppEnv>();

/** Synapse's defaults: a 30 s wait, 10 events. */
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_LIMIT = 10;
const MAX_LIMIT = 100;

function intParam(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d{1,9}$/.test(value)) throw new MatrixError("M_INVALID_PARAM", `${name} must be a non-negative integer`, 400);
  return Number(value);
}

/** Only room timelines: no state blocks, ephemeral events, account data or presence. */
function streamFilter(limit: number): string {
  const none = { not_types: ["*"] };
  return JSON.stringify({ room: { timeline: { limit }, state: none, ephemeral: none, account_data: none }, account_data: none, presence: none });
}

function chunkOf(body: JsonObject, userId: string): JsonObject[] {
  const rooms = isJsonObject(body.rooms) ? body.rooms : {};
  const out: JsonObject[] = [];
  for (const section of ["join", "leave"]) {
    const byRoom = isJsonObject(rooms[section]) ? rooms[section] : {};
    for (const [roomId, room] of Object.entries(byRoom)) {
      const timeline = isJsonObject(room) && isJsonObject(room.timeline) ? room.timeline : {};
      const events = Array.isArray(timeline.events) ? timeline.events : [];
      for (const e of events) if (isJsonObject(e)) out.push({ ...e, room_id: roomId });
    }
  }
  const invites = isJsonObject(rooms.invite) ? rooms.invite : {};
  for (const [roomId, room] of Object.entries(invites)) {
    const state = isJsonObject(room) && isJsonObject(room.invite_state) && Array.isArray(room.invite_state.events) ? room.invite_state.events : [];
    const own = state.find((e) => isJsonObject(e) && e.type === "m.room.member" && e.state_key === userId);
    if (isJsonObject(own)) out.push({ ...own, room_id: roomId });
  }
  return out;
}

for (const version of ["r0", "v3"]) {
  eventsStreamRoutes.get(`/_matrix/client/${version}/events`, requireAuth({ allowGuest: true }), async (c) => {
    const q = c.req.query();
    const timeoutMs = intParam(q.timeout, "timeout", DEFAULT_TIMEOUT_MS);
    const limit = Math.min(Math.max(intParam(q.limit, "limit", DEFAULT_LIMIT), 1), MAX_LIMIT);
    const { userId, deviceId } = c.get("auth");
    const filter = await resolveFilter(c.env.DB, userId, streamFilter(limit));
    const base = { fullState: false, useStateAfter: false, setPresence: undefined, filter };
    let since = parseSinceToken(q.from, Number.MAX_SAFE_INTEGER);
    let start = q.from;
    if (since === null) {
      // No `from`: where the stream is now (an initial sync with empty timelines), then wait from there.
      const now = await sync(c.env, userId, deviceId, { ...base, filter: await resolveFilter(c.env.DB, userId, streamFilter(1)), since: null, timeoutMs: 0 });
      start = String(now.next_batch);
      since = parseSinceToken(start, Number.MAX_SAFE_INTEGER);
    }
    const body = await sync(c.env, userId, deviceId, { ...base, since, timeoutMs });
    return c.json({ start, end: body.next_batch, chunk: chunkOf(body, userId) });
  });
}
