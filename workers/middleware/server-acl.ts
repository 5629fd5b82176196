/**
 * Server ACLs on federation requests (server-server-api "Server Access Control
 * Lists (ACLs)"): "If the server is denied access to a room, the receiving server
 * MUST reply with a 403 HTTP status code and an `errcode` of `M_FORBIDDEN`."
 *
 * The protected endpoints that name the room in their path (make_join, send_join,
 * make_leave, send_leave, invite, make_knock, send_knock, state, state_ids,
 * backfill, event_auth, get_missing_events) take `requireServerAllowedInRoom()`
 * after `requireServerAuth()`. `/send` does not refuse the request: it drops a
 * denied server's PDUs (with an error for each) and its typing and receipt EDUs
 * room by room, with roomServerAcls and serverAllowed.
 */
import type { MiddlewareHandler } from "hono";
import { MatrixError } from "../../src/errors.js";
import { serverAllowed } from "../../src/server-acl.js";
import { roomServerAcl } from "../../services/d1/server-acl.js";
import type { AppEnv } from "../app-env.js";

export const SERVER_BANNED_MESSAGE = "Server is banned from this room";

/** Throws 403 M_FORBIDDEN when the room's current ACL denies `origin`. */
export async function assertServerAllowedInRoom(db: D1Database, roomId: string, origin: string): Promise<void> {
  if (!serverAllowed(await roomServerAcl(db, roomId), origin)) throw new MatrixError("M_FORBIDDEN", SERVER_BANNED_MESSAGE, 403);
}

/** The ACL check for the room named by the route parameter `roomIdParam`, for the authenticated origin. */
export function requireServerAllowedInRoom(roomIdParam = "roomId"): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const roomId = c.req.param(roomIdParam);
    if (roomId === undefined) throw new Error(`requireServerAllowedInRoom: the route has no :${roomIdParam}`);
    const origin = c.get("origin") as string | undefined;
    if (origin === undefined) throw new Error("requireServerAllowedInRoom runs after requireServerAuth");
    await assertServerAllowedInRoom(c.env.DB, roomId, origin);
    return next();
  };
}
