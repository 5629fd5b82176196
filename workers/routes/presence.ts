/** GET/PUT /_matrix/client/v3/presence/{userId}/status (client-server-api "Presence"). */
import { Hono } from "hono";
import { z } from "zod";
import { MatrixError } from "../../src/errors.js";
import { isValidUserId } from "../../src/identifiers.js";
import { PRESENCE_STATES, presenceAfterPut, presenceContent } from "../../src/presence.js";
import type { AppEnv } from "../app-env.js";
import { jsonBody } from "../middleware/body.js";
import { requireAuth } from "../middleware/auth.js";
import { readPresence, shareARoom, writePresence } from "../../services/presence/presence.js";
import { clientV3 } from "./paths.js";

const PresenceBody = z.object({
  presence: z.enum(PRESENCE_STATES),
  // Synapse requires a string; null is taken as "no message".
  status_msg: z.string().nullable().optional(),
});

export const presenceRoutes = new Hono<AppEnv>();

presenceRoutes.put(clientV3("/presence/:userId/status"), requireAuth(), jsonBody(PresenceBody), async (c) => {
  const userId = c.req.param("userId");
  if (userId !== c.get("auth").userId) throw new MatrixError("M_FORBIDDEN", "Can only set your own presence state", 403);
  const body = c.req.valid("json");
  const update = presenceAfterPut(await readPresence(c.env.DB, userId), userId, body.presence, body.status_msg ?? null, Date.now());
  await writePresence(c.env, update, (p) => c.executionCtx.waitUntil(p));
  return c.json({});
});

presenceRoutes.get(clientV3("/presence/:userId/status"), requireAuth(), async (c) => {
  const userId = c.req.param("userId");
  if (!isValidUserId(userId)) throw new MatrixError("M_INVALID_PARAM", `${userId} is not a valid user ID`, 400);
  const me = c.get("auth").userId;
  // Presence is visible to those who share a room (spec "Security considerations"; Synapse is_visible).
  if (userId !== me && !(await shareARoom(c.env.DB, me, userId))) {
    throw new MatrixError("M_FORBIDDEN", "You are not allowed to see their presence.", 403);
  }
  return c.json(presenceContent(await readPresence(c.env.DB, userId), Date.now()));
});
