/**
 * OpenID (client-server-api "OpenID"; server-server-api "OpenID"): a user asks
 * for a short-lived token to prove their identity to a third party, which checks
 * it with GET /_matrix/federation/v1/openid/userinfo.
 */
import { Hono } from "hono";
import { MatrixError, forbidden } from "../../src/errors.js";
import type { AppEnv } from "../app-env.js";
import { hashSecret, newSecret } from "../auth/tokens.js";
import { getConfig } from "../config.js";
import { readJsonObject } from "../middleware/body.js";
import { requireAuth } from "../middleware/auth.js";
import { clientV3 } from "./paths.js";

/** Synapse issues OpenID tokens for an hour. */
const OPENID_LIFETIME_MS = 60 * 60 * 1000;

export const openIdRoutes = new Hono<AppEnv>();

/** POST /_matrix/client/v3/user/{userId}/openid/request_token */
openIdRoutes.post(clientV3("/user/:userId/openid/request_token"), requireAuth(), async (c) => {
  const userId = c.req.param("userId");
  if (userId !== c.get("auth").userId) throw forbidden("Cannot request OpenID tokens for other users");
  await readJsonObject(c, { allowEmpty: true });
  const token = newSecret("mot");
  const now = Date.now();
  await c.env.DB.batch([
    c.env.DB.prepare("DELETE FROM openid_tokens WHERE expires_ts < ?").bind(now),
    c.env.DB.prepare("INSERT INTO openid_tokens (token_hash, user_id, expires_ts) VALUES (?, ?, ?)").bind(await hashSecret(token), userId, now + OPENID_LIFETIME_MS),
  ]);
  return c.json({
    access_token: token,
    token_type: "Bearer",
    matrix_server_name: getConfig(c.env).serverName,
    expires_in: OPENID_LIFETIME_MS / 1000,
  });
});

/** GET /_matrix/federation/v1/openid/userinfo?access_token=… (unauthenticated by design) */
openIdRoutes.get("/_matrix/federation/v1/openid/userinfo", async (c) => {
  const token = c.req.query("access_token");
  if (!token) throw new MatrixError("M_MISSING_TOKEN", "Missing access_token", 401);
  const row = await c.env.DB.prepare("SELECT user_id FROM openid_tokens WHERE token_hash = ? AND expires_ts > ?")
    .bind(await hashSecret(token), Date.now())
    .first<{ user_id: string }>();
  if (!row) throw new MatrixError("M_UNKNOWN_TOKEN", "Access token unknown or expired", 401);
  return c.json({ sub: row.user_id });
});
