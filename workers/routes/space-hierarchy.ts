import { Hono } from "hono";
import { encodeBase64Url } from "../../src/base64.js";
import { MatrixError, forbidden } from "../../src/errors.js";
import { type HierarchySource, type WalkState, initialWalk, isWalkState, walkHierarchy } from "../../src/space-hierarchy.js";
import type { AppEnv } from "../app-env.js";
import { requireAuth } from "../middleware/auth.js";
import { currentStateOfTypes } from "../rooms/room-power.js";
import { SummaryLoader } from "../rooms/room-summaries.js";
import { checkRoomId } from "../rooms/room-access.js";
import { hierarchyPage, saveHierarchyPage } from "../../services/d1/hierarchy-pages.js";

/**
 * GET /_matrix/client/v1/rooms/{roomId}/hierarchy (space_hierarchy.yaml; "Spaces").
 *
 * A depth-first walk over `m.space.child` events (src/space-hierarchy.ts), showing
 * the rooms the user may preview (src/room-preview.ts): others, and what is only
 * reachable through them, are left out. Rooms this server does not know would need
 * federation and are left out too. Between pages the walk's queue is kept in D1
 * behind `next_batch`, for five minutes, as Synapse does.
 */
export const spaceHierarchyRoutes = new Hono<AppEnv>();

/** Synapse's MAX_ROOMS: the default and the largest page. */
const MAX_LIMIT = 50;
/** The spec asks for a default and a maximum depth; Synapse has none. */
const MAX_DEPTH = 20;
/** Rooms visited per request, shown or not, so hidden subtrees cannot make a page unbounded. */
const VISIT_BUDGET = 200;
/** Children read per space. */
const MAX_CHILDREN = 1000;
const PAGE_VALIDITY_MS = 5 * 60_000;

function intParam(value: string | undefined, name: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value) || Number(value) < min) {
    throw new MatrixError("M_INVALID_PARAM", min > 0 ? `'${name}' must be a positive integer` : `'${name}' must be a non-negative integer`, 400);
  }
  return Number(value);
}

function boolParam(value: string | undefined, name: string): boolean {
  if (value === undefined) return false;
  if (value === "true") return true;
  if (value === "false") return false;
  throw new MatrixError("M_INVALID_PARAM", `'${name}' must be true or false`, 400);
}

spaceHierarchyRoutes.get("/_matrix/client/v1/rooms/:roomId/hierarchy", requireAuth({ allowGuest: true }), async (c) => {
  const roomId = c.req.param("roomId");
  const userId = c.get("auth").userId;
  checkRoomId(roomId);
  const suggestedOnly = boolParam(c.req.query("suggested_only"), "suggested_only");
  const limit = Math.min(intParam(c.req.query("limit"), "limit", 1) ?? MAX_LIMIT, MAX_LIMIT);
  const requestedDepth = intParam(c.req.query("max_depth"), "max_depth", 0);
  const maxDepth = Math.min(requestedDepth ?? MAX_DEPTH, MAX_DEPTH);
  const from = c.req.query("from");
  const db = c.env.DB;
  const now = Date.now();

  const loader = new SummaryLoader(db, userId);
  // The root must be visible on every page (space_hierarchy.yaml 403, also for unknown rooms).
  if (!(await loader.visibleSummary(roomId))) throw forbidden("You are not allowed to view this room.");

  let state: WalkState = initialWalk(roomId);
  if (from !== undefined) {
    const row = await hierarchyPage(db, from, now);
    // "suggested_only and max_depth cannot change on paginated requests".
    if (!row || row.user_id !== userId || row.room_id !== roomId || row.suggested_only !== (suggestedOnly ? 1 : 0) || row.max_depth !== maxDepth) {
      throw new MatrixError("M_INVALID_PARAM", "Unknown pagination token, or suggested_only / max_depth changed", 400);
    }
    const saved: unknown = JSON.parse(row.state);
    if (!isWalkState(saved)) throw new MatrixError("M_INVALID_PARAM", "Unknown pagination token", 400);
    state = saved;
  }

  const source: HierarchySource = {
    room: async (id) => (await loader.visibleSummary(id))?.summary,
    children: async (id) => currentStateOfTypes(db, id, ["m.space.child"], undefined, MAX_CHILDREN),
    prefetch: (ids) => loader.load(ids),
  };
  const page = await walkHierarchy(source, state, { limit, maxDepth, suggestedOnly, budget: VISIT_BUDGET });
  const out: { rooms: unknown[]; next_batch?: string } = { rooms: page.rooms };
  if (page.state) {
    const token = encodeBase64Url(crypto.getRandomValues(new Uint8Array(18)));
    const saved = { user_id: userId, room_id: roomId, suggested_only: suggestedOnly ? 1 : 0, max_depth: maxDepth, state: JSON.stringify(page.state) };
    await saveHierarchyPage(db, token, saved, now, now + PAGE_VALIDITY_MS);
    out.next_batch = token;
  }
  return c.json(out);
});
