import { Hono } from "hono";
import { z } from "zod";
import { MatrixError, forbidden, notFound } from "../../src/errors.js";
import { checkNewLocalAlias, parseAliasParam } from "../../src/room-alias.js";
import type { AppEnv } from "../app-env.js";
import { getConfig } from "../config.js";
import { remoteAlias } from "../rooms/room-rpc.js";
import { requireAuth } from "../middleware/auth.js";
import { jsonBody } from "../middleware/body.js";
import { removeFromCanonicalAlias } from "../rooms/canonical-alias.js";
import { canChangeRoomList, isServerAdmin } from "../rooms/room-power.js";
import { clientV3 } from "./paths.js";
import { checkRoomId } from "../rooms/room-access.js";
import { aliasEntry, aliasesOfRoom, deleteAlias, insertAliasIfFree, roomIdOfAlias } from "../../services/d1/room-aliases.js";
import { joinedServers, membershipOf } from "../../services/d1/room-memberships.js";
import { roomExists, roomHistoryVisibility } from "../../services/d1/rooms.js";

/**
 * Room aliases (client-server-api "Room aliases", directory.yaml): mapping local
 * aliases to rooms and back. Aliases of other servers resolve over federation, which
 * this server does not do yet, so they are reported as not found.
 */
export const aliasRoutes = new Hono<AppEnv>();

/** Most servers listed for an alias, most aliases listed for a room. */
const MAX_SERVERS = 20;
const MAX_ALIASES = 500;

const SetAliasBody = z.object({
  room_id: z.string(),
  /** Not in the spec; Synapse accepts it. The servers we list are computed, so it is ignored. */
  servers: z.array(z.string()).optional(),
});

/** PUT /_matrix/client/v3/directory/room/{roomAlias} */
aliasRoutes.put(clientV3("/directory/room/:roomAlias"), requireAuth(), jsonBody(SetAliasBody), async (c) => {
  const alias = c.req.param("roomAlias");
  const userId = c.get("auth").userId;
  checkNewLocalAlias(alias, getConfig(c.env).serverName);
  const body = c.req.valid("json");
  checkRoomId(body.room_id);
  const db = c.env.DB;
  if (!(await roomExists(db, body.room_id))) throw new MatrixError("M_UNKNOWN", "Room does not exist", 400);
  // Synapse's require_membership_for_aliases (on by default): admins are exempt.
  if ((await membershipOf(db, body.room_id, userId)) !== "join" && !(await isServerAdmin(db, userId))) {
    throw forbidden("You must be in the room to create an alias for it");
  }
  // directory.yaml: 409, with Synapse's M_UNKNOWN.
  if (!(await insertAliasIfFree(db, { alias, roomId: body.room_id, creator: userId, createdTs: Date.now() }))) throw new MatrixError("M_UNKNOWN", `Room alias ${alias} already exists`, 409);
  return c.json({});
});

/** GET /_matrix/client/v3/directory/room/{roomAlias} */
aliasRoutes.get(clientV3("/directory/room/:roomAlias"), async (c) => {
  const alias = c.req.param("roomAlias");
  const serverName = getConfig(c.env).serverName;
  const { domain } = parseAliasParam(alias);
  if (domain !== serverName) {
    const remote = await remoteAlias(c.env, alias, domain);
    return c.json({ room_id: remote.roomId, servers: remote.servers.length ? remote.servers : [domain] });
  }
  const db = c.env.DB;
  const roomId = await roomIdOfAlias(db, alias);
  if (!roomId) throw notFound(`Room alias ${alias} not found`);
  // Servers that can help join: this one first, then those of joined members (as Synapse).
  const servers = [serverName, ...(await joinedServers(db, roomId, MAX_SERVERS)).filter((s) => s !== serverName)];
  return c.json({ room_id: roomId, servers });
});

/** DELETE /_matrix/client/v3/directory/room/{roomAlias}: the alias's creator, a room moderator or a server admin. */
aliasRoutes.delete(clientV3("/directory/room/:roomAlias"), requireAuth(), async (c) => {
  const alias = c.req.param("roomAlias");
  const userId = c.get("auth").userId;
  const { domain } = parseAliasParam(alias);
  const db = c.env.DB;
  const row = await aliasEntry(db, alias);
  if (!row) {
    if (domain !== getConfig(c.env).serverName) throw new MatrixError("M_INVALID_PARAM", "Room alias must be local", 400);
    throw notFound(`Room alias ${alias} not found`);
  }
  // Synapse's _user_can_delete_alias: the creator, or whoever may change the room's directory entry.
  if (row.creator !== userId && !(await canChangeRoomList(db, row.room_id, userId))) {
    throw forbidden("You don't have permission to delete the alias.");
  }
  const deletedFrom = await deleteAlias(db, alias);
  if (!deletedFrom) throw notFound(`Room alias ${alias} not found`);
  await removeFromCanonicalAlias(c.env, deletedFrom, alias, userId);
  return c.json({});
});

/** GET /_matrix/client/v3/rooms/{roomId}/aliases: members, anyone if world-readable, and server admins. */
aliasRoutes.get(clientV3("/rooms/:roomId/aliases"), requireAuth(), async (c) => {
  const roomId = c.req.param("roomId");
  const userId = c.get("auth").userId;
  checkRoomId(roomId);
  const db = c.env.DB;
  const [historyVisibility, membership] = await Promise.all([roomHistoryVisibility(db, roomId), membershipOf(db, roomId, userId)]);
  const allowed = membership === "join" || historyVisibility === "world_readable" || (await isServerAdmin(db, userId));
  if (!allowed) throw forbidden("You are not a member of the room.");
  return c.json({ aliases: await aliasesOfRoom(db, roomId, MAX_ALIASES) });
});
