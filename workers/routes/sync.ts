import { Hono } from "hono";
import { MatrixError } from "../../src/errors.js";
import { FilterSchema } from "../../src/filter.js";
import type { AppEnv } from "../app-env.js";
import { jsonBody } from "../middleware/body.js";
import { loadFilterJson, storeFilter } from "../../services/d1/filters.js";
import { requireAuth } from "../middleware/auth.js";
import { parseSinceToken, resolveFilter, sync } from "../sync/sync.js";
import { clientV3 } from "./paths.js";

export const syncRoutes = new Hono<AppEnv>();

function boolParam(v: string | undefined, name: string): boolean {
  if (v === undefined) return false;
  if (v === "true") return true;
  if (v === "false") return false;
  throw new MatrixError("M_INVALID_PARAM", `${name} must be true or false`, 400);
}

/** GET /_matrix/client/v3/sync */
syncRoutes.get(clientV3("/sync"), requireAuth({ allowGuest: true }), async (c) => {
  const { userId, deviceId } = c.get("auth");
  const q = c.req.query();
  const timeout = q.timeout === undefined ? 0 : Number(q.timeout);
  if (!Number.isInteger(timeout) || timeout < 0) throw new MatrixError("M_INVALID_PARAM", "timeout must be a non-negative integer", 400);
  const setPresence = q.set_presence;
  if (setPresence !== undefined && !["online", "offline", "unavailable"].includes(setPresence)) {
    throw new MatrixError("M_INVALID_PARAM", "set_presence must be online, offline or unavailable", 400);
  }
  // The "from the future" check happens against the position the sync reads (workers/sync/sync.ts).
  const since = parseSinceToken(q.since, Number.MAX_SAFE_INTEGER);
  const body = await sync(c.env, userId, deviceId, {
    since,
    timeoutMs: timeout,
    filter: await resolveFilter(c.env.DB, userId, q.filter),
    fullState: boolParam(q.full_state, "full_state"),
    // MSC4222 (spec v1.16): state_after instead of state.
    useStateAfter: boolParam(q.use_state_after ?? q["org.matrix.msc4222.use_state_after"], "use_state_after"),
    setPresence: setPresence as "online" | "offline" | "unavailable" | undefined,
  });
  return c.json(body);
});

/** POST /_matrix/client/v3/user/{userId}/filter */
syncRoutes.post(clientV3("/user/:userId/filter"), requireAuth({ allowGuest: true }), jsonBody(FilterSchema), async (c) => {
  const userId = c.req.param("userId");
  if (userId !== c.get("auth").userId) throw new MatrixError("M_FORBIDDEN", "Cannot create filters for other users", 403);
  // The schema is loose: keys it does not know are kept and stored with the rest.
  const filterId = await storeFilter(c.env.DB, userId, JSON.stringify(c.req.valid("json")));
  return c.json({ filter_id: String(filterId) });
});

/** GET /_matrix/client/v3/user/{userId}/filter/{filterId} */
syncRoutes.get(clientV3("/user/:userId/filter/:filterId"), requireAuth({ allowGuest: true }), async (c) => {
  const { userId, filterId } = c.req.param();
  if (userId !== c.get("auth").userId) throw new MatrixError("M_FORBIDDEN", "Cannot read filters of other users", 403);
  if (!/^\d{1,15}$/.test(filterId)) throw new MatrixError("M_NOT_FOUND", "No such filter", 404);
  const json = await loadFilterJson(c.env.DB, userId, Number(filterId));
  if (json === null) throw new MatrixError("M_NOT_FOUND", "No such filter", 404);
  return c.json(JSON.parse(json));
});
