import { Hono } from "hono";
import { MatrixError } from "../../src/errors.js";
import { FilterSchema } from "../../src/filter.js";
import type { AppEnv } from "../app-env.js";
import { jsonBody } from "../middleware/body.js";
import { loadFilterJson, storeFilter } from "../../services/d1/filters.js";
import { coalescedD1 } from "../../services/d1/coalesce.js";
import { tokenUserHint } from "../auth/token-hints.js";
import { authenticateRequest, requestTokenHash, requireAuth } from "../middleware/auth.js";
import { type SyncParams, firstReads, parseSinceToken, resolveFilter, sync } from "../sync/sync.js";
import { clientV3 } from "./paths.js";

export const syncRoutes = new Hono<AppEnv>();

function boolParam(v: string | undefined, name: string): boolean {
  if (v === undefined) return false;
  if (v === "true") return true;
  if (v === "false") return false;
  throw new MatrixError("M_INVALID_PARAM", `${name} must be true or false`, 400);
}

type QueryParams = Omit<SyncParams, "filter">;

function syncParams(q: Record<string, string>): QueryParams {
  const timeout = q.timeout === undefined ? 0 : Number(q.timeout);
  if (!Number.isInteger(timeout) || timeout < 0) throw new MatrixError("M_INVALID_PARAM", "timeout must be a non-negative integer", 400);
  const setPresence = q.set_presence;
  if (setPresence !== undefined && !["online", "offline", "unavailable"].includes(setPresence)) {
    throw new MatrixError("M_INVALID_PARAM", "set_presence must be online, offline or unavailable", 400);
  }
  return {
    // The "from the future" check happens against the position the sync reads (workers/sync/sync.ts).
    since: parseSinceToken(q.since, Number.MAX_SAFE_INTEGER),
    timeoutMs: timeout,
    fullState: boolParam(q.full_state, "full_state"),
    // MSC4222 (spec v1.16): state_after instead of state.
    useStateAfter: boolParam(q.use_state_after ?? q["org.matrix.msc4222.use_state_after"], "use_state_after"),
    setPresence: setPresence as "online" | "offline" | "unavailable" | undefined,
  };
}

/**
 * GET /_matrix/client/v3/sync. The token check and the sync's first reads share
 * one D1 round trip when this isolate has seen the token before: the reads start
 * under the user it named then (workers/auth/token-hints.ts) and are used only if
 * the check names the same user; they only read. Without a guess, they follow it.
 */
syncRoutes.get(clientV3("/sync"), async (c) => {
  const tokenHash = await requestTokenHash(c);
  let params: QueryParams | MatrixError;
  try {
    params = syncParams(c.req.query());
  } catch (e) {
    if (!(e instanceof MatrixError)) throw e;
    params = e; // answered after the token check, as before it
  }
  // The rooms, the extensions and these first reads share this request's round trips.
  const db = coalescedD1(c.env.DB);
  const guess = tokenUserHint(tokenHash);
  const checked = authenticateRequest(c, { allowGuest: true }, db, tokenHash);
  const early = guess !== undefined && !(params instanceof MatrixError) ? firstReads(db, guess, params) : undefined;
  early?.catch(() => {}); // a wrong guess is dropped unread
  const { userId, deviceId } = await checked;
  if (params instanceof MatrixError) throw params;
  const filter = await resolveFilter(c.env.DB, userId, c.req.query("filter"));
  const body = await sync({ ...c.env, DB: db }, userId, deviceId, { ...params, filter }, guess === userId ? early : undefined);
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
