import { Hono } from "hono";
import { MatrixError } from "../../src/errors.js";
import { isValidUserId } from "../../src/identifiers.js";
import { getRoomVersion } from "../../src/room-versions.js";
import type { AppEnv } from "../app-env.js";
import { requireAuth } from "../middleware/auth.js";
import { readJsonObject } from "../middleware/body.js";
import { upgradeRoom } from "../rooms/room-upgrade.js";
import { clientV3 } from "./paths.js";
import { checkRoomId } from "../rooms/room-access.js";

/** Room upgrades (client-server-api "Room Upgrades", room_upgrades.yaml). */
export const roomUpgradeRoutes = new Hono<AppEnv>();

/** POST /_matrix/client/v3/rooms/{roomId}/upgrade */
roomUpgradeRoutes.post(clientV3("/rooms/:roomId/upgrade"), requireAuth(), async (c) => {
  const roomId = c.req.param("roomId");
  checkRoomId(roomId);
  const body = await readJsonObject(c);
  if (body.new_version === undefined) throw new MatrixError("M_MISSING_PARAM", "Missing params: ['new_version']", 400);
  if (typeof body.new_version !== "string") throw new MatrixError("M_BAD_JSON", "new_version must be a string", 400);
  const version = getRoomVersion(body.new_version);
  if (!version) throw new MatrixError("M_UNSUPPORTED_ROOM_VERSION", "This server does not support that room version", 400);
  // additional_creators counts only for versions that have them; otherwise it is ignored (v1.16).
  let additional: string[] | undefined;
  if (version.privilegedCreators && body.additional_creators !== undefined) {
    const a = body.additional_creators;
    if (!Array.isArray(a) || !a.every((u): u is string => typeof u === "string" && isValidUserId(u))) {
      throw new MatrixError("M_INVALID_PARAM", "additional_creators must be an array of user IDs", 400);
    }
    additional = a;
  }
  return c.json({ replacement_room: await upgradeRoom(c.env, c.get("auth").userId, roomId, version, additional) });
});
