/**
 * Pushers (client-server-api "Client behaviour": GET /pushers, POST /pushers/set),
 * stored per user in D1. A pusher is identified by (app_id, pushkey) per user;
 * unless `append` is true, setting one removes the same (app_id, pushkey) of
 * every other user.
 */
import { Hono } from "hono";
import { MatrixError } from "../../src/errors.js";
import type { JsonObject } from "../../src/json.js";
import { PusherRequestSchema } from "../../src/pusher.js";
import type { AppEnv } from "../app-env.js";
import { jsonBody } from "../middleware/body.js";
import { requireAuth } from "../middleware/auth.js";
import {
  countOtherPushers,
  deletePusherOfOtherUsersStatement,
  deletePusherStatement,
  listPushers,
  upsertPusherStatement,
} from "../../services/d1/pushers.js";
import { clientV3 } from "./paths.js";

export const pusherRoutes = new Hono<AppEnv>();

/** Pushers per user (one per device is the norm). */
export const MAX_PUSHERS_PER_USER = 100;

pusherRoutes.get(clientV3("/pushers"), requireAuth(), async (c) => {
  const results = await listPushers(c.env.DB, c.get("auth").userId, MAX_PUSHERS_PER_USER);
  return c.json({
    pushers: results.map((r) => ({
      pushkey: r.pushkey,
      kind: r.kind,
      app_id: r.app_id,
      app_display_name: r.app_display_name,
      device_display_name: r.device_display_name,
      ...(r.profile_tag !== null ? { profile_tag: r.profile_tag } : {}),
      lang: r.lang,
      data: JSON.parse(r.data) as JsonObject,
    })),
  });
});

pusherRoutes.post(clientV3("/pushers/set"), requireAuth(), jsonBody(PusherRequestSchema), async (c) => {
  const { userId, deviceId } = c.get("auth");
  const req = c.req.valid("json");
  const db = c.env.DB;
  if (req.delete) {
    await deletePusherStatement(db, userId, req.app_id, req.pushkey).run();
    return c.json({});
  }
  const p = req.pusher;
  if (p.kind === "email") {
    // Synapse: an email pusher's address must be one of the user's verified 3PIDs; this server keeps none.
    throw new MatrixError("M_THREEPID_NOT_FOUND", "Email not found: this server has no verified email addresses", 400);
  }
  if ((await countOtherPushers(db, userId, p.app_id, p.pushkey)) >= MAX_PUSHERS_PER_USER) throw new MatrixError("M_FORBIDDEN", `At most ${MAX_PUSHERS_PER_USER} pushers per user`, 403);
  // Without `append`, the pushkey leaves any other user it was registered for; one batch.
  const statements: D1PreparedStatement[] = [];
  if (!req.append) statements.push(deletePusherOfOtherUsersStatement(db, userId, p.app_id, p.pushkey));
  statements.push(upsertPusherStatement(db, userId, deviceId, p, Date.now()));
  await db.batch(statements);
  return c.json({});
});
