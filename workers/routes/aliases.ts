import { Hono } from "hono";
import { z } from "zod";
import { MatrixError, forbidden, notFound } from "../../src/errors.js";
import { checkNewLocalAlias, parseAliasParam } from "../../src/room-alias.js";
import type { AppEnv } from "../app-env.js";
import { getConfig } from "../config.js";
import { requireAuth } from "../middleware/auth.js";
import { readJson } from "../middleware/body.js";
import { removeFromCanonicalAlias } from "../rooms/canonical-alias.js";
import { canChangeRoomList, isServerAdmin, membershipOf } from "../rooms/room-power.js";
import { clientV3 } from "./paths.js";
import { checkRoomId } from "../rooms/room-access.js";

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
aliasRoutes.put(clientV3("/directory/room/:roomAlias"), requireAuth(), async (c) => {
  const alias = c.req.param("roomAlias");
  const userId = c.get("auth").userId;
  checkNewLocalAlias(alias, getConfig(c.env).serverName);
  const body = await readJson(c, SetAliasBody);
  checkRoomId(body.room_id);
  const db = c.env.DB;
  const room = await db.prepare("SELECT room_id FROM rooms WHERE room_id = ?").bind(body.room_id).first();
  if (!room) throw new MatrixError("M_UNKNOWN", "Room does not exist", 400);
  // Synapse's require_membership_for_aliases (on by default): admins are exempt.
  if ((await membershipOf(db, body.room_id, userId)) !== "join" && !(await isServerAdmin(db, userId))) {
    throw forbidden("You must be in the room to create an alias for it");
  }
  const inserted = await db
    .prepare("INSERT INTO room_aliases (alias, room_id, creator, created_ts) VALUES (?, ?, ?, ?) ON CONFLICT (alias) DO NOTHING RETURNING alias")
    .bind(alias, body.room_id, userId, Date.now())
    .first();
  // directory.yaml: 409, with Synapse's M_UNKNOWN.
  if (!inserted) throw new MatrixError("M_UNKNOWN", `Room alias ${alias} already exists`, 409);
  return c.json({});
});

/** GET /_matrix/client/v3/directory/room/{roomAlias} */
aliasRoutes.get(clientV3("/directory/room/:roomAlias"), async (c) => {
  const alias = c.req.param("roomAlias");
  const serverName = getConfig(c.env).serverName;
  const { domain } = parseAliasParam(alias);
  if (domain !== serverName) throw notFound(`Room alias ${alias} not found (resolving other servers' aliases needs federation)`);
  const db = c.env.DB;
  const row = await db.prepare("SELECT room_id FROM room_aliases WHERE alias = ?").bind(alias).first<{ room_id: string }>();
  if (!row) throw notFound(`Room alias ${alias} not found`);
  // Servers that can help join: this one first, then those of joined members (as Synapse).
  const { results } = await db
    .prepare("SELECT DISTINCT substr(user_id, instr(user_id, ':') + 1) AS server FROM room_memberships WHERE room_id = ? AND membership = 'join' LIMIT ?")
    .bind(row.room_id, MAX_SERVERS)
    .all<{ server: string }>();
  const servers = [serverName, ...results.map((r) => r.server).filter((s) => s !== serverName)];
  return c.json({ room_id: row.room_id, servers });
});

/** DELETE /_matrix/client/v3/directory/room/{roomAlias}: the alias's creator, a room moderator or a server admin. */
aliasRoutes.delete(clientV3("/directory/room/:roomAlias"), requireAuth(), async (c) => {
  const alias = c.req.param("roomAlias");
  const userId = c.get("auth").userId;
  const { domain } = parseAliasParam(alias);
  const db = c.env.DB;
  const row = await db.prepare("SELECT room_id, creator FROM room_aliases WHERE alias = ?").bind(alias).first<{ room_id: string; creator: string }>();
  if (!row) {
    if (domain !== getConfig(c.env).serverName) throw new MatrixError("M_INVALID_PARAM", "Room alias must be local", 400);
    throw notFound(`Room alias ${alias} not found`);
  }
  // Synapse's _user_can_delete_alias: the creator, or whoever may change the room's directory entry.
  if (row.creator !== userId && !(await canChangeRoomList(db, row.room_id, userId))) {
    throw forbidden("You don't have permission to delete the alias.");
  }
  const deleted = await db.prepare("DELETE FROM room_aliases WHERE alias = ? RETURNING room_id").bind(alias).first<{ room_id: string }>();
  if (!deleted) throw notFound(`Room alias ${alias} not found`);
  await removeFromCanonicalAlias(c.env, deleted.room_id, alias, userId);
  return c.json({});
});

/** GET /_matrix/client/v3/rooms/{roomId}/aliases: members, anyone if world-readable, and server admins. */
aliasRoutes.get(clientV3("/rooms/:roomId/aliases"), requireAuth(), async (c) => {
  const roomId = c.req.param("roomId");
  const userId = c.get("auth").userId;
  checkRoomId(roomId);
  const db = c.env.DB;
  const [room, membership] = await Promise.all([
    db.prepare("SELECT history_visibility FROM rooms WHERE room_id = ?").bind(roomId).first<{ history_visibility: string | null }>(),
    membershipOf(db, roomId, userId),
  ]);
  const allowed = membership === "join" || room?.history_visibility === "world_readable" || (await isServerAdmin(db, userId));
  if (!allowed) throw forbidden("You are not a member of the room.");
  const { results } = await db.prepare("SELECT alias FROM room_aliases WHERE room_id = ? ORDER BY alias LIMIT ?").bind(roomId, MAX_ALIASES).all<{ alias: string }>();
  return c.json({ aliases: results.map((r) => r.alias) });
});
