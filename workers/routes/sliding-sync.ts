/**
 * POST /_matrix/client/unstable/org.matrix.simplified_msc3575/sync — simplified
 * sliding sync (MSC4186) in the unstable shape Element X, matrix-rust-sdk,
 * matrix-js-sdk and Synapse use: `pos`, `timeout` and `set_presence` in the query,
 * everything else in the body (workers/sliding-sync/sliding-sync.ts).
 */
import { Hono } from "hono";
import { MatrixError } from "../../src/errors.js";
import { SlidingSyncRequestSchema } from "../../src/sliding-sync.js";
import type { AppEnv } from "../app-env.js";
import { requireAuth } from "../middleware/auth.js";
import { jsonBody } from "../middleware/body.js";
import { slidingSync } from "../sliding-sync/sliding-sync.js";

export const SLIDING_SYNC_PATH = "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync";

export const slidingSyncRoutes = new Hono<AppEnv>();

slidingSyncRoutes.post(SLIDING_SYNC_PATH, requireAuth(), jsonBody(SlidingSyncRequestSchema, { allowEmpty: true }), async (c) => {
  const { userId, deviceId } = c.get("auth");
  const q = c.req.query();
  const timeout = q.timeout === undefined || q.timeout === "" ? 0 : Number(q.timeout);
  if (!Number.isSafeInteger(timeout) || timeout < 0) throw new MatrixError("M_INVALID_PARAM", "timeout must be a non-negative integer", 400);
  const setPresence = q.set_presence;
  if (setPresence !== undefined && !["online", "offline", "unavailable"].includes(setPresence)) {
    throw new MatrixError("M_INVALID_PARAM", "set_presence must be online, offline or unavailable", 400);
  }
  const body = await slidingSync(c.env, {
    userId,
    deviceId,
    pos: q.pos,
    timeoutMs: timeout,
    setPresence: setPresence as "online" | "offline" | "unavailable" | undefined,
    body: c.req.valid("json"),
  });
  return c.json(body);
});
