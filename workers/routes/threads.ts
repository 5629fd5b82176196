/**
 * Client-server-api "Threading", "Querying threads in a room":
 * GET /_matrix/client/v1/rooms/{roomId}/threads. Thread roots ordered by their
 * latest threaded event (room_threads, kept by triggers), newest first, with
 * bundled aggregations; `include=participated` keeps threads whose root the
 * user sent or in which they sent an m.thread event. Roots the user may not see
 * are skipped. `s<pos>` tokens: threads whose latest activity is at or before pos.
 */
import { Hono } from "hono";
import { MatrixError } from "../../src/errors.js";
import type { JsonObject } from "../../src/json.js";
import { parseLimit, parseRoomToken, streamToken } from "../../src/stream-token.js";
import { inRanges } from "../../src/visibility-ranges.js";
import type { AppEnv } from "../app-env.js";
import { requireAuth } from "../middleware/auth.js";
import { bundleAggregations } from "../rooms/aggregations.js";
import { requireRoomAccess } from "../rooms/room-access.js";
import { serveEvent } from "../rooms/serve-event.js";
import { type ThreadRootRow, threadRoots } from "../../services/d1/threads.js";

const DEFAULT_LIMIT = 5;
const MAX_LIMIT = 100;
/** Most queries one page may take when roots keep being invisible. */
const MAX_SCANS = 4;

export const threadRoutes = new Hono<AppEnv>();

/** GET /_matrix/client/v1/rooms/{roomId}/threads */
threadRoutes.get("/_matrix/client/v1/rooms/:roomId/threads", requireAuth(), async (c) => {
  const roomId = c.req.param("roomId");
  const q = c.req.query();
  const include = q.include ?? "all";
  if (include !== "all" && include !== "participated") throw new MatrixError("M_INVALID_PARAM", "include must be 'all' or 'participated'", 400);
  // "Must be an integer greater than zero."
  const limit = parseLimit(q.limit, DEFAULT_LIMIT, MAX_LIMIT, { min: 1 });
  const { userId, deviceId } = c.get("auth");
  const db = c.env.DB;
  const access = await requireRoomAccess(db, roomId, userId);
  let upTo = q.from !== undefined && q.from !== "" ? parseRoomToken(q.from, "from", access.head) : access.head;

  const participant = include === "participated" ? userId : undefined;
  const batch = limit + 1;
  const roots: ThreadRootRow[] = [];
  let next: number | null = null;
  scan: for (let scan = 0; ; scan++) {
    if (scan === MAX_SCANS) {
      next = upTo;
      break;
    }
    const results = await threadRoots(db, { roomId, upTo, participant, limit: batch });
    for (const r of results) {
      if (!inRanges(access.ranges, r.stream_pos)) continue;
      if (roots.length === limit) {
        next = roots.at(-1)!.latest_pos - 1;
        break scan;
      }
      roots.push(r);
    }
    const last = results.at(-1);
    if (results.length < batch || !last) break;
    upTo = last.latest_pos - 1;
  }
  const now = Date.now();
  const who = { userId, deviceId };
  const chunk = roots.map((r) => serveEvent(r, who, now));
  await bundleAggregations(db, who, chunk, now, (p) => inRanges(access.ranges, p));
  const body: JsonObject = { chunk };
  if (next !== null) body.next_batch = streamToken(next);
  return c.json(body);
});
