import { type Context, Hono } from "hono";
import { z } from "zod";
import { MatrixError, forbidden, notFound } from "../../src/errors.js";
import { isContactableServerName } from "../../src/identifiers.js";
import { decodeDirectoryToken, directoryPage, pageLimit } from "../../src/public-rooms.js";
import { publishedRoomChunk } from "../../src/room-summary.js";
import type { AppEnv } from "../app-env.js";
import { getConfig } from "../config.js";
import { requireAuth } from "../middleware/auth.js";
import { jsonBody } from "../middleware/body.js";
import { optionalAuth } from "../middleware/optional-auth.js";
import { canChangeRoomList } from "../rooms/room-power.js";
import { clientV3 } from "./paths.js";
import {
  type PublishedRoomsQuery,
  directoryVisibility,
  listPublishedRooms,
  publishRoomStatement,
  unpublishRoomStatement,
} from "../../services/d1/room-directory.js";
import { roomExists } from "../../services/d1/rooms.js";

/**
 * The published room directory (client-server-api "Published room directory",
 * list_public_rooms.yaml): publishing rooms and listing this server's directory.
 *
 * As Synapse, the list shows published rooms that someone could join or read —
 * join rule `public`, `knock` or `knock_restricted`, or world-readable history — and
 * that still have joined members, largest first. Another server's directory
 * (`server=`) needs federation, which this server does not have yet: such requests
 * get Synapse's answer for an unreachable server, 502 "Failed to fetch room list".
 */
export const publicRoomRoutes = new Hono<AppEnv>();

/** GET /_matrix/client/v3/directory/list/room/{roomId} (no auth) */
publicRoomRoutes.get(clientV3("/directory/list/room/:roomId"), async (c) => {
  const roomId = c.req.param("roomId");
  const visibility = await directoryVisibility(c.env.DB, roomId);
  if (!visibility) throw notFound("Room not found");
  return c.json({ visibility });
});

const VisibilityBody = z.object({ visibility: z.enum(["public", "private"]).default("public") });

/** PUT /_matrix/client/v3/directory/list/room/{roomId}: room moderators (power to send m.room.canonical_alias) and server admins, as Synapse. */
publicRoomRoutes.put(clientV3("/directory/list/room/:roomId"), requireAuth(), jsonBody(VisibilityBody), async (c) => {
  const roomId = c.req.param("roomId");
  const userId = c.get("auth").userId;
  const body = c.req.valid("json");
  const db = c.env.DB;
  if (!(await roomExists(db, roomId))) throw notFound("Room not found");
  if (!(await canChangeRoomList(db, roomId, userId))) {
    throw forbidden("This server requires you to be a moderator in the room to edit its room list entry");
  }
  await (body.visibility === "public" ? publishRoomStatement(db, roomId, Date.now()) : unpublishRoomStatement(db, roomId)).run();
  return c.json({});
});

async function listLocal(db: D1Database, q: PublishedRoomsQuery) {
  const { rows, total } = await listPublishedRooms(db, q);
  const result = directoryPage(rows, q.limit, q.bound);
  const out: Record<string, unknown> = { chunk: result.rooms.map(publishedRoomChunk) };
  if (result.next_batch) out.next_batch = result.next_batch;
  if (result.prev_batch) out.prev_batch = result.prev_batch;
  out.total_room_count_estimate = total;
  return out;
}

/** A directory other than ours needs federation; a name no server can have is the client's error, 400, not 502. */
function checkServer(c: Context<AppEnv>): void {
  const server = c.req.query("server");
  if (server === undefined || server === "" || server === getConfig(c.env).serverName) return;
  if (!isContactableServerName(server)) throw new MatrixError("M_INVALID_PARAM", `Invalid server name: ${server}`, 400);
  throw new MatrixError("M_UNKNOWN", "Failed to fetch room list: other servers' directories need federation, which this server does not have yet", 502);
}

/** GET /_matrix/client/v3/publicRooms (no auth needed; a given token must be valid) */
publicRoomRoutes.get(clientV3("/publicRooms"), optionalAuth({ allowGuest: true }), async (c) => {
  checkServer(c);
  const limitText = c.req.query("limit");
  let limit: number | undefined;
  if (limitText !== undefined && limitText !== "") {
    if (!/^-?\d+$/.test(limitText)) throw new MatrixError("M_INVALID_PARAM", "limit must be an integer", 400);
    limit = Number(limitText);
  }
  const since = c.req.query("since");
  return c.json(await listLocal(c.env.DB, { limit: pageLimit(limit), bound: since ? decodeDirectoryToken(since) : undefined, searchTerm: undefined, roomTypes: undefined }));
});

const PublicRoomsBody = z.object({
  limit: z.number().int().optional(),
  since: z.string().optional(),
  filter: z
    .object({
      generic_search_term: z.string().optional(),
      room_types: z.array(z.string().nullable()).optional(),
    })
    .nullable()
    .optional(),
  include_all_networks: z.boolean().optional(),
  third_party_instance_id: z.string().optional(),
});

/** POST /_matrix/client/v3/publicRooms */
publicRoomRoutes.post(clientV3("/publicRooms"), requireAuth({ allowGuest: true }), jsonBody(PublicRoomsBody), async (c) => {
  checkServer(c);
  const body = c.req.valid("json");
  const limit = pageLimit(body.limit);
  const bound = body.since ? decodeDirectoryToken(body.since) : undefined;
  if (body.include_all_networks && body.third_party_instance_id !== undefined) {
    throw new MatrixError("M_INVALID_PARAM", "Can't use include_all_networks with an explicit network", 400);
  }
  // No application service publishes third-party networks here: a network's list is empty,
  // and all networks are just the main list.
  if (body.third_party_instance_id !== undefined) return c.json({ chunk: [], total_room_count_estimate: 0 });
  return c.json(
    await listLocal(c.env.DB, {
      limit,
      bound,
      searchTerm: body.filter?.generic_search_term,
      roomTypes: body.filter?.room_types,
    }),
  );
});
