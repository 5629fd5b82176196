import { type Context, Hono } from "hono";
import { z } from "zod";
import { MatrixError, forbidden, notFound } from "../../src/errors.js";
import { isContactableServerName } from "../../src/identifiers.js";
import { decodeDirectoryToken, directoryPage, pageLimit } from "../../src/public-rooms.js";
import { publishedRoomChunk } from "../../src/room-summary.js";
import type { AppEnv } from "../app-env.js";
import { getConfig } from "../config.js";
import { requireAuth } from "../middleware/auth.js";
import { jsonBody, validateBody } from "../middleware/body.js";
import { requireServerAuth } from "../middleware/federation-auth.js";
import type { JsonObject } from "../../src/json.js";
import { FederationRequestFailed, federationRequest } from "../../services/federation/federation-client.js";
import { FederationUnreachable } from "../../services/federation/federation-fetch.js";
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
 * (`server=`) is asked over federation; our own is served to other servers too.
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

/**
 * Another server's directory, asked over federation (server-server-api "Public
 * Room Directory"): GET without a filter, POST with one. A name no server can
 * have is the client's error (400); a server that cannot be asked is Synapse's 502.
 * Undefined when the directory asked for is ours.
 */
async function remoteDirectory(c: Context<AppEnv>, query: { limit?: number; since?: string; filter?: JsonObject; thirdPartyInstanceId?: string; includeAllNetworks?: boolean }) {
  const server = c.req.query("server");
  if (server === undefined || server === "" || server === getConfig(c.env).serverName) return undefined;
  if (!isContactableServerName(server)) throw new MatrixError("M_INVALID_PARAM", `Invalid server name: ${server}`, 400);
  try {
    if (query.filter === undefined) {
      const params = new URLSearchParams();
      if (query.limit !== undefined) params.set("limit", String(query.limit));
      if (query.since) params.set("since", query.since);
      if (query.includeAllNetworks) params.set("include_all_networks", "true");
      if (query.thirdPartyInstanceId !== undefined) params.set("third_party_instance_id", query.thirdPartyInstanceId);
      const qs = params.toString();
      return await federationRequest(c.env, server, "GET", `/_matrix/federation/v1/publicRooms${qs ? `?${qs}` : ""}`);
    }
    const body: JsonObject = { filter: query.filter };
    if (query.limit !== undefined) body.limit = query.limit;
    if (query.since) body.since = query.since;
    if (query.includeAllNetworks) body.include_all_networks = true;
    if (query.thirdPartyInstanceId !== undefined) body.third_party_instance_id = query.thirdPartyInstanceId;
    return await federationRequest(c.env, server, "POST", "/_matrix/federation/v1/publicRooms", { body });
  } catch (e) {
    if (e instanceof FederationRequestFailed || e instanceof FederationUnreachable) throw new MatrixError("M_UNKNOWN", `Failed to fetch room list: ${e.message}`, 502);
    throw e;
  }
}

/** GET /_matrix/client/v3/publicRooms (no auth needed; a given token must be valid) */
publicRoomRoutes.get(clientV3("/publicRooms"), optionalAuth({ allowGuest: true }), async (c) => {
  const limit = limitParam(c.req.query("limit"));
  const since = c.req.query("since");
  const remote = await remoteDirectory(c, { limit, since });
  if (remote) return c.json(remote);
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
  const body = c.req.valid("json");
  const remote = await remoteDirectory(c, {
    limit: body.limit,
    since: body.since,
    filter: (body.filter ?? {}) as JsonObject,
    thirdPartyInstanceId: body.third_party_instance_id,
    includeAllNetworks: body.include_all_networks,
  });
  if (remote) return c.json(remote);
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

/** A `limit` query parameter: absent, or an integer (else 400 M_INVALID_PARAM). */
function limitParam(text: string | undefined): number | undefined {
  if (text === undefined || text === "") return undefined;
  if (!/^-?\d+$/.test(text)) throw new MatrixError("M_INVALID_PARAM", "limit must be an integer", 400);
  return Number(text);
}

/** GET /_matrix/federation/v1/publicRooms: our directory for other servers. */
publicRoomRoutes.get("/_matrix/federation/v1/publicRooms", requireServerAuth(), async (c) => {
  if (c.req.query("third_party_instance_id") !== undefined) return c.json({ chunk: [], total_room_count_estimate: 0 });
  const since = c.req.query("since");
  return c.json(await listLocal(c.env.DB, { limit: pageLimit(limitParam(c.req.query("limit"))), bound: since ? decodeDirectoryToken(since) : undefined, searchTerm: undefined, roomTypes: undefined }));
});

/** POST /_matrix/federation/v1/publicRooms: our directory, filtered. */
publicRoomRoutes.post("/_matrix/federation/v1/publicRooms", requireServerAuth(), async (c) => {
  const body = validateBody(PublicRoomsBody, c.get("federationContent") ?? {});
  if (body.third_party_instance_id !== undefined) return c.json({ chunk: [], total_room_count_estimate: 0 });
  return c.json(
    await listLocal(c.env.DB, {
      limit: pageLimit(body.limit),
      bound: body.since ? decodeDirectoryToken(body.since) : undefined,
      searchTerm: body.filter?.generic_search_term,
      roomTypes: body.filter?.room_types,
    }),
  );
});
