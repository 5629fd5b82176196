/** PUT /_matrix/client/v3/rooms/{roomId}/typing/{userId} (client-server-api "Typing Notifications"). */
import { Hono } from "hono";
import { z } from "zod";
import { MatrixError } from "../../src/errors.js";
import { clampTypingTimeout } from "../../src/typing.js";
import type { AppEnv } from "../app-env.js";
import { jsonBody } from "../middleware/body.js";
import { requireAuth } from "../middleware/auth.js";
import { roomStub } from "../rooms/room-rpc.js";
import { unwrap } from "../../src/room-result.js";
import { clientV3 } from "./paths.js";

const TypingBody = z.object({
  typing: z.boolean(),
  timeout: z.number().nonnegative().optional(),
});

export const typingRoutes = new Hono<AppEnv>();

typingRoutes.put(clientV3("/rooms/:roomId/typing/:userId"), requireAuth(), jsonBody(TypingBody), async (c) => {
  const { roomId, userId } = c.req.param();
  if (userId !== c.get("auth").userId) throw new MatrixError("M_FORBIDDEN", "Cannot set another user's typing state", 403);
  const body = c.req.valid("json");
  const stub = roomStub(c.env, roomId);
  await unwrap(stub.setTyping({ userId, typing: body.typing, timeoutMs: Math.floor(clampTypingTimeout(body.timeout)) })).catch((e: unknown) => {
    // A room this server does not know is, to the client, a room it is not in.
    if (e instanceof MatrixError && e.errcode === "M_NOT_FOUND") throw new MatrixError("M_FORBIDDEN", `You are not in room ${roomId}`, 403);
    throw e;
  });
  return c.json({});
});
