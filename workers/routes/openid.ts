/**
 * OpenID (client-server-api "OpenID"; server-server-api "OpenID"): a user asks
 * for a short-lived token to prove their identity to a third party, which checks
 * it with GET /_matrix/federation/v1/openid/userinfo.
 */
import { Hono } from "hono";
import { z } from "zod";
import { MatrixError, forbidden } from "../../src/errors.js";
import type { AppEnv } from "../app-env.js";
import { hashSecret, newSecret } from "../auth/tokens.js";
import { getConfig } from "../config.js";
import { jsonBody } from "../middleware/body.js";
import { requireAuth } from "../middleware/auth.js";
import { openIdTokenUser, storeOpenIdToken } from "../../services/d1/openid-tokens.js";
import { clientV3 } from "./paths.js";

/** Synapse issues OpenID tokens for an hour. */
const OPENID_LIFETIME_MS = 60 * 60 * 1000;

export const openIdRoutes = new Hono<AppEnv>();

/** "An empty object. Reserved for future expansion." (spec): any object, or no body at all. */
const RequestTokenBody = z.looseObject({});

/** POST /_matrix/client/v3/user/{userId}/openid/request_token */
openIdRoutes.post(clientV3("/user/:userId/openid/request_token"), requireAuth(), jsonBody(RequestTokenBody, { allowEmpty: true }), async (c) => {
  const userId = c.req.param("userId");
  if (userId !== c.get("auth").userId) throw forbidden("Cannot request OpenID tokens for other users");
  const token = newSecret("mot");
  const now = Date.now();
  await storeOpenIdToken(c.env.DB, await hashSecret(token), userId, now, now + OPENID_LIFETIME_MS);
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
  const userId = await openIdTokenUser(c.env.DB, await hashSecret(token), Date.now());
  if (userId === null) throw new MatrixError("M_UNKNOWN_TOKEN", "Access token unknown or expired", 401);
  return c.json({ sub: userId });
});
