import { type Context, Hono } from "hono";
import { notFound } from "../../src/errors.js";
import type { AppEnv } from "../app-env.js";
import { authOf, optionalAuth } from "../middleware/optional-auth.js";
import { SummaryLoader } from "../rooms/room-summaries.js";
import { resolveRoomIdOrAlias } from "../rooms/room-rpc.js";

/**
 * The room summary (room_summary.yaml, MSC3266): a preview of a room by id or alias.
 *
 * Visible when the user is joined or invited, the room is public or knockable, the
 * user may join it through a restricted join rule, or its history is world-readable;
 * anything else is 404, exactly like an unknown room, so the answer does not reveal
 * that a private room exists. Anonymous callers (allowed by the spec's "MAY") see only
 * public, knockable and world-readable rooms, without `membership`. `via` would name
 * servers to ask over federation; rooms this server does not know are 404.
 */
export const roomSummaryRoutes = new Hono<AppEnv>();

async function summary(c: Context<AppEnv>, idOrAlias: string): Promise<Response> {
  const auth = authOf(c);
  const roomId = await resolveRoomIdOrAlias(c.env, idOrAlias);
  const loader = new SummaryLoader(c.env.DB, auth?.userId ?? null);
  const found = await loader.visibleSummary(roomId);
  if (!found) throw notFound("Room not found or is not accessible");
  const out = { ...found.summary };
  // "required when called authenticated": Synapse answers leave when the user never was in the room.
  if (auth) out.membership = found.entry.membership ?? "leave";
  return c.json(out);
}

/** GET /_matrix/client/v1/room_summary/{roomIdOrAlias} (v1.15) */
roomSummaryRoutes.get("/_matrix/client/v1/room_summary/:roomIdOrAlias", optionalAuth({ allowGuest: true }), (c) => summary(c, c.req.param("roomIdOrAlias")));
/** The unstable MSC3266 paths Synapse still serves. */
roomSummaryRoutes.get("/_matrix/client/unstable/im.nheko.summary/summary/:roomIdOrAlias", optionalAuth({ allowGuest: true }), (c) =>
  summary(c, c.req.param("roomIdOrAlias")),
);
roomSummaryRoutes.get("/_matrix/client/unstable/im.nheko.summary/rooms/:roomIdOrAlias/summary", optionalAuth({ allowGuest: true }), (c) =>
  summary(c, c.req.param("roomIdOrAlias")),
);
