/**
 * GET /_matrix/federation/v1/hierarchy/{roomId}?suggested_only= (server-server-api
 * "Spaces", space_hierarchy.yaml): a space on this server and its children, for
 * another server walking it for its users (workers/federation/hierarchy-for-server.ts).
 * X-Matrix authenticated; a server the room's ACL denies gets 403 M_FORBIDDEN.
 */
import { Hono } from "hono";
import { parseSuggestedOnly } from "../../src/space-hierarchy.js";
import type { AppEnv } from "../app-env.js";
import { hierarchyForServer } from "../federation/hierarchy-for-server.js";
import { requireServerAuth } from "../middleware/federation-auth.js";
import { requireServerAllowedInRoom } from "../middleware/server-acl.js";
import { checkRoomId } from "../rooms/room-access.js";

export const federationHierarchyRoutes = new Hono<AppEnv>();

federationHierarchyRoutes.get("/_matrix/federation/v1/hierarchy/:roomId", requireServerAuth(), requireServerAllowedInRoom(), async (c) => {
  const roomId = c.req.param("roomId");
  checkRoomId(roomId);
  const suggestedOnly = parseSuggestedOnly(c.req.query("suggested_only"));
  return c.json(await hierarchyForServer(c.env, c.get("origin"), roomId, suggestedOnly));
});
