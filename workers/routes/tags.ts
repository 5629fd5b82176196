/** Room tags (client-server-api "Room Tagging"): GET .../tags, PUT/DELETE .../tags/{tag}. */
import { type Context, Hono } from "hono";
import { TagBody, checkTagName } from "../../src/account-data.js";
import { MatrixError } from "../../src/errors.js";
import type { JsonObject } from "../../src/json.js";
import type { AppEnv } from "../app-env.js";
import { deleteTag, getTags, putTag } from "../account-data/tags.js";
import { jsonBody } from "../middleware/body.js";
import { requireAuth } from "../middleware/auth.js";
import { clientV3 } from "./paths.js";
import { checkRoomId } from "../rooms/room-access.js";

export const tagRoutes = new Hono<AppEnv>();

function scopeOf(c: Context<AppEnv>, action: string): { userId: string; roomId: string } {
  const userId = c.req.param("userId")!;
  const roomId = c.req.param("roomId")!;
  if (userId !== c.get("auth").userId) throw new MatrixError("M_FORBIDDEN", `Cannot ${action} tags for other users.`, 403);
  checkRoomId(roomId);
  return { userId, roomId };
}

tagRoutes.get(clientV3("/user/:userId/rooms/:roomId/tags"), requireAuth(), async (c) => {
  const { userId, roomId } = scopeOf(c, "get");
  return c.json({ tags: await getTags(c.env.DB, userId, roomId) });
});

tagRoutes.put(clientV3("/user/:userId/rooms/:roomId/tags/:tag"), requireAuth(), jsonBody(TagBody), async (c) => {
  const { userId, roomId } = scopeOf(c, "add");
  const tag = c.req.param("tag");
  checkTagName(tag);
  // TagBody checks `order` and keeps every other key: the parsed object is JSON throughout.
  const body = c.req.valid("json") as JsonObject;
  await putTag(c.env, userId, roomId, tag, body);
  return c.json({});
});

tagRoutes.delete(clientV3("/user/:userId/rooms/:roomId/tags/:tag"), requireAuth(), async (c) => {
  const { userId, roomId } = scopeOf(c, "remove");
  const tag = c.req.param("tag");
  checkTagName(tag);
  await deleteTag(c.env, userId, roomId, tag);
  return c.json({});
});
