import { MatrixError } from "../../src/errors.js";
import { isValidServerName, parseRoomAlias } from "../../src/identifiers.js";
import { FederationRequestFailed, federationRequest } from "../../services/federation/federation-client.js";
import { FederationUnreachable } from "../../services/federation/federation-fetch.js";
import type { Env } from "../../services/env.js";
import { roomIdOfAlias } from "../../services/d1/room-aliases.js";
import { checkRoomId } from "./room-access.js";

/** The Room DO stub for a syntactically valid room id. */
export function roomStub(env: Env, roomId: string) {
  checkRoomId(roomId);
  return env.ROOM.getByName(roomId);
}

/** Resolves `#alias:server` to a room id through the local alias table. */
export async function resolveRoomIdOrAlias(env: Env, idOrAlias: string): Promise<string> {
  if (idOrAlias.startsWith("#")) {
    const roomId = await roomIdOfAlias(env.DB, idOrAlias);
    if (!roomId) throw new MatrixError("M_NOT_FOUND", `Room alias ${idOrAlias} not found`, 404);
    return roomId;
  }
  if (!idOrAlias.startsWith("!")) throw new MatrixError("M_INVALID_PARAM", `${idOrAlias} is not a room ID or alias`, 400);
  return idOrAlias;
}

/**
 * A room to join and servers to join it through: a local alias from the table,
 * another server's alias through /query/directory (server-server-api "Querying
 * for information"), a room id with the client's `via` servers.
 */
export async function resolveForJoin(env: Env, idOrAlias: string, via: string[]): Promise<{ roomId: string; servers: string[] }> {
  const alias = idOrAlias.startsWith("#") ? parseRoomAlias(idOrAlias) : null;
  if (alias && alias.domain !== env.SERVER_NAME) {
    const remote = await remoteAlias(env, idOrAlias, alias.domain);
    return { roomId: remote.roomId, servers: [...via, alias.domain, ...remote.servers] };
  }
  return { roomId: await resolveRoomIdOrAlias(env, idOrAlias), servers: via };
}

/** Another server's alias, asked with /query/directory (server-server-api "Query information"); 404 if it cannot say. */
export async function remoteAlias(env: Env, alias: string, domain: string): Promise<{ roomId: string; servers: string[] }> {
  let res;
  try {
    res = await federationRequest(env, domain, "GET", `/_matrix/federation/v1/query/directory?room_alias=${encodeURIComponent(alias)}`);
  } catch (e) {
    if (e instanceof FederationRequestFailed && e.status === 404) throw new MatrixError("M_NOT_FOUND", `Room alias ${alias} not found`, 404);
    if (e instanceof FederationRequestFailed || e instanceof FederationUnreachable) throw new MatrixError("M_NOT_FOUND", `Room alias ${alias} could not be resolved: ${e.message}`, 404);
    throw e;
  }
  if (typeof res.room_id !== "string") throw new MatrixError("M_NOT_FOUND", `Room alias ${alias} not found`, 404);
  checkRoomId(res.room_id);
  const servers = Array.isArray(res.servers) ? res.servers.filter((s): s is string => typeof s === "string" && isValidServerName(s)).slice(0, 20) : [];
  return { roomId: res.room_id, servers };
}

/** True if one of our users is joined to the room: this server has its current state. */
export async function serverParticipates(env: Env, roomId: string): Promise<boolean> {
  const row = await env.DB.prepare("SELECT 1 FROM room_memberships WHERE room_id = ? AND membership = 'join' AND substr(user_id, instr(user_id, ':') + 1) = ? LIMIT 1")
    .bind(roomId, env.SERVER_NAME)
    .first();
  if (row) return true;
  // A room made here with nobody left in it is still ours (its creator may return).
  const created = await env.DB.prepare("SELECT creator FROM rooms WHERE room_id = ?").bind(roomId).first<{ creator: string }>();
  return created !== null && created.creator.endsWith(`:${env.SERVER_NAME}`);
}

/** The profile fields that go into a user's member events. */
export async function memberProfile(db: D1Database, userId: string): Promise<{ displayname?: string; avatar_url?: string }> {
  const { results } = await db
    .prepare("SELECT field, value FROM profile_fields WHERE user_id = ? AND field IN ('displayname', 'avatar_url')")
    .bind(userId)
    .all<{ field: string; value: string }>();
  const out: { displayname?: string; avatar_url?: string } = {};
  for (const r of results) {
    const v = JSON.parse(r.value) as unknown;
    if (typeof v === "string") out[r.field as "displayname" | "avatar_url"] = v;
  }
  return out;
}
