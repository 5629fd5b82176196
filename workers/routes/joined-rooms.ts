/**
 * Client-server-api "Room membership": GET /_matrix/client/v3/joined_rooms,
 * the rooms in which the user's membership is `join` (room_memberships_user).
 */
import { Hono } from "hono";
import type { AppEnv } from "../app-env.js";
import { requireAuth } from "../middleware/auth.js";
import { clientV3 } from "./paths.js";
import { joinedRoomIds } from "../../services/d1/room-memberships.js";

/** Guards against runaway reads; no account comes near it. */
const MAX_JOINED_ROOMS = 100_000;

export const joinedRoomsRoutes = new Hono<AppEnv>();

joinedRoomsRoutes.get(clientV3("/joined_rooms"), requireAuth(), async (c) => {
  return c.json({ joined_rooms: await joinedRoomIds(c.env.DB, c.get("auth").userId, MAX_JOINED_ROOMS) });
});
