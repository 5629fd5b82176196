import { Hono } from "hono";
import { encodeBase64Url } from "../../src/base64.js";
import { MatrixError, forbidden } from "../../src/errors.js";
import { isValidServerName } from "../../src/identifiers.js";
import { type WalkState, initialWalk, isWalkState, parseSuggestedOnly, walkHierarchy } from "../../src/space-hierarchy.js";
import type { AppEnv } from "../app-env.js";
import { candidateServers } from "../federation/remote-membership.js";
import { requireAuth } from "../middleware/auth.js";
import { HierarchyWalkSource } from "../rooms/hierarchy-source.js";
import { checkRoomId } from "../rooms/room-access.js";
import { hierarchyPage, saveHierarchyPage } from "../../services/d1/hierarchy-pages.js";

/**
 * GET /_matrix/client/v1/rooms/{roomId}/hierarchy (space_hierarchy.yaml; "Spaces").
 *
 * A depth-first walk over `m.space.child` events (src/space-hierarchy.ts), showing
 * the rooms the user may preview (src/room-preview.ts): others, and what is only
 * reachable through them, are left out. Rooms this server is not in are asked about
 * over federation through the servers in their child event's `via`
 * (workers/rooms/hierarchy-source.ts); the root, when this server is not in it,
 * through the servers named in `via` query parameters (as `/join` takes them; not in
 * the spec) and those this server knows for it (an invite's, former members', the
 * room id's). Between pages the walk's queue is kept in D1 behind `next_batch`, for
 * five minutes, as Synapse does; federation answers are kept for the request only.
 */
export const spaceHierarchyRoutes = new Hono<AppEnv>();

/** Synapse's MAX_ROOMS: the default and the largest page. */
const MAX_LIMIT = 50;
/** The spec asks for a default and a maximum depth; Synapse has none. */
const MAX_DEPTH = 20;
/** Rooms visited per request, shown or not, so hidden subtrees cannot make a page unbounded. */
const VISIT_BUDGET = 200;
const PAGE_VALIDITY_MS = 5 * 60_000;
/** `via` servers taken from the query. */
const MAX_NAMED_VIA = 5;

function intParam(value: string | undefined, name: string, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value) || Number(value) < min) {
    throw new MatrixError("M_INVALID_PARAM", min > 0 ? `'${name}' must be a positive integer` : `'${name}' must be a non-negative integer`, 400);
  }
  return Number(value);
}

spaceHierarchyRoutes.get("/_matrix/client/v1/rooms/:roomId/hierarchy", requireAuth({ allowGuest: true }), async (c) => {
  const roomId = c.req.param("roomId");
  const userId = c.get("auth").userId;
  checkRoomId(roomId);
  const suggestedOnly = parseSuggestedOnly(c.req.query("suggested_only"));
  const limit = Math.min(intParam(c.req.query("limit"), "limit", 1) ?? MAX_LIMIT, MAX_LIMIT);
  const requestedDepth = intParam(c.req.query("max_depth"), "max_depth", 0);
  const maxDepth = Math.min(requestedDepth ?? MAX_DEPTH, MAX_DEPTH);
  const from = c.req.query("from");
  const db = c.env.DB;
  const now = Date.now();

  const source = new HierarchyWalkSource(c.env, userId, suggestedOnly);
  const named = (c.req.queries("via") ?? []).filter(isValidServerName).slice(0, MAX_NAMED_VIA);
  const rootVia = (await source.isLocal(roomId)) ? [] : await candidateServers(c.env, roomId, userId, named);
  // The root must be visible on every page (space_hierarchy.yaml 403, also for unknown rooms).
  if (!(await source.room(roomId, { via: rootVia, wantChildren: maxDepth > 0 }))) throw forbidden("You are not allowed to view this room.");

  let state: WalkState = initialWalk(roomId, rootVia);
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
