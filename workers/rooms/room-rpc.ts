import { MatrixError } from "../../src/errors.js";
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
