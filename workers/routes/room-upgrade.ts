import { Hono } from "hono";
import { z } from "zod";
import { MatrixError } from "../../src/errors.js";
import { isValidUserId } from "../../src/identifiers.js";
import { getRoomVersion } from "../../src/room-versions.js";
import type { AppEnv } from "../app-env.js";
import { requireAuth } from "../middleware/auth.js";
import { jsonBody, validateBody } from "../middleware/body.js";
import { upgradeRoom } from "../rooms/room-upgrade.js";
import { clientV3 } from "./paths.js";
import { checkRoomId } from "../rooms/room-access.js";

/** Room upgrades (client-server-api "Room Upgrades", room_upgrades.yaml). */
export const roomUpgradeRoutes = new Hono<AppEnv>();

const UpgradeBody = z.object({
  new_version: z.string(),
  /** Checked once the version is known (AdditionalCreators). */
  additional_creators: z.unknown().optional(),
});

const AdditionalCreators = z.custom<string[]>((a) => Array.isArray(a) && a.every((u) => typeof u === "string" && isValidUserId(u)), {
  message: "additional_creators must be an array of user IDs",
  params: { errcode: "M_INVALID_PARAM" },
});

/** POST /_matrix/client/v3/rooms/{roomId}/upgrade */
roomUpgradeRoutes.post(clientV3("/rooms/:roomId/upgrade"), requireAuth(), jsonBody(UpgradeBody), async (c) => {
  const roomId = c.req.param("roomId");
  checkRoomId(roomId);
  const body = c.req.valid("json");
  const version = getRoomVersion(body.new_version);
  if (!version) throw new MatrixError("M_UNSUPPORTED_ROOM_VERSION", "This server does not support that room version", 400);
  // additional_creators counts only for versions that have them; otherwise it is ignored (v1.16),
  // so it is validated here, after the version, rather than by the body schema.
  const additional = version.privilegedCreators && body.additional_creators !== undefined ? validateBody(AdditionalCreators, body.additional_creators) : undefined;
  return c.json({ replacement_room: await upgradeRoom(c.env, c.get("auth").userId, roomId, version, additional) });
});
