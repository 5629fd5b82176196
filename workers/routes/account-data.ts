/**
 * Account data (client-server-api "Client Config"): GET/PUT
 * /user/{userId}/account_data/{type} and /user/{userId}/rooms/{roomId}/account_data/{type},
 * and their DELETE from MSC3391 under its unstable prefix (as Synapse serves it).
 */
import { type Context, Hono } from "hono";
import { checkAccountDataType, checkClientWritable } from "../../src/account-data.js";
import { MatrixError } from "../../src/errors.js";
import { type JsonObject, JsonObjectSchema } from "../../src/json.js";
import type { AppEnv } from "../app-env.js";
import { GLOBAL, deleteAccountData, getAccountData, putAccountData } from "../account-data/account-data.js";
import { jsonBody } from "../middleware/body.js";
import { requireAuth } from "../middleware/auth.js";
import { clientV3 } from "./paths.js";
import { checkRoomId } from "../rooms/room-access.js";

const MSC3391 = "/_matrix/client/unstable/org.matrix.msc3391";

export const accountDataRoutes = new Hono<AppEnv>();

/** Checks the path: own account only (403), a valid room id (400); returns the scope. */
function scopeOf(c: Context<AppEnv>, action: string): { userId: string; roomId: string; type: string } {
  const userId = c.req.param("userId")!;
  const type = c.req.param("type")!;
  const roomId = c.req.param("roomId");
  if (userId !== c.get("auth").userId) throw new MatrixError("M_FORBIDDEN", `Cannot ${action} account data for other users.`, 403);
  if (roomId !== undefined) checkRoomId(roomId);
  checkAccountDataType(type);
  return { userId, roomId: roomId ?? GLOBAL, type };
}

/** `content` is the validated body: any JSON object (client-server-api "Client Config"). */
async function put(c: Context<AppEnv>, content: JsonObject): Promise<Response> {
  const { userId, roomId, type } = scopeOf(c, "add");
  checkClientWritable(type);
  await putAccountData(c.env, userId, roomId, type, content);
  return c.json({});
}

async function get(c: Context<AppEnv>): Promise<Response> {
  const { userId, roomId, type } = scopeOf(c, "get");
  const content = await getAccountData(c.env.DB, userId, roomId, type);
  if (!content) throw new MatrixError("M_NOT_FOUND", roomId === GLOBAL ? "Account data not found." : "Room account data not found.", 404);
  return c.json(content);
}

async function del(c: Context<AppEnv>): Promise<Response> {
  const { userId, roomId, type } = scopeOf(c, "delete");
  checkClientWritable(type);
  await deleteAccountData(c.env, userId, roomId, type);
  return c.json({});
}

accountDataRoutes.put(clientV3("/user/:userId/account_data/:type"), requireAuth(), jsonBody(JsonObjectSchema), (c) => put(c, c.req.valid("json")));
accountDataRoutes.get(clientV3("/user/:userId/account_data/:type"), requireAuth(), get);
accountDataRoutes.put(clientV3("/user/:userId/rooms/:roomId/account_data/:type"), requireAuth(), jsonBody(JsonObjectSchema), (c) =>
  put(c, c.req.valid("json")),
);
accountDataRoutes.get(clientV3("/user/:userId/rooms/:roomId/account_data/:type"), requireAuth(), get);
accountDataRoutes.delete(`${MSC3391}/user/:userId/account_data/:type`, requireAuth(), del);
accountDataRoutes.delete(`${MSC3391}/user/:userId/rooms/:roomId/account_data/:type`, requireAuth(), del);
