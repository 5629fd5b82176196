import { Hono } from "hono";
import { z } from "zod";
import { MatrixError } from "../../src/errors.js";
import type { AppEnv } from "../app-env.js";
import { AUTH_PERIOD_MS, checkPassword, resolveLoginIdentifier } from "../auth/password-login.js";
import { deleteDevicesStatements, issueSessionForRequest, refreshSession } from "../auth/sessions.js";
import { hashSecret, newSecret } from "../auth/tokens.js";
import { endUiaSession, uiaBody, userInteractiveAuth } from "../auth/uia.js";
import { getConfig } from "../config.js";
import { notifyDeviceListChange } from "../e2ee/device-lists.js";
import { jsonBody } from "../middleware/body.js";
import { requireAuth } from "../middleware/auth.js";
import { clientIp, enforceRateLimit } from "../middleware/rate-limit.js";
import { consumeLoginToken, storeLoginToken } from "../../services/d1/login-tokens.js";
import { loadDeactivated } from "../../services/d1/users.js";
import { streamPosOf } from "../../services/stream.js";
import { clientV3 } from "./paths.js";

/** Lifetime of a token from /login/get_token (Synapse: 2 minutes). */
const LOGIN_TOKEN_LIFETIME_MS = 2 * 60 * 1000;

/** Loose: the login type's own keys (identifier, password, …) are checked by that type. */
const LoginBody = z.looseObject({
  type: z.string(),
  device_id: z.string().min(1).max(255).optional(),
  initial_device_display_name: z.string().max(1024).optional(),
  refresh_token: z.boolean().optional(),
  token: z.string().optional(),
});

export const loginRoutes = new Hono<AppEnv>();

/** GET /_matrix/client/v3/login: the login types we serve. */
loginRoutes.get(clientV3("/login"), (c) =>
  c.json({ flows: [{ type: "m.login.password" }, { type: "m.login.token", get_login_token: true }] }),
);

/** POST /_matrix/client/v3/login */
loginRoutes.post(clientV3("/login"), jsonBody(LoginBody), async (c) => {
  const db = c.env.DB;
  const body = c.req.valid("json");
  await enforceRateLimit(c.env.RL_AUTH, `ip:${clientIp(c.req.raw)}`, AUTH_PERIOD_MS);

  let userId: string;
  switch (body.type) {
    case "m.login.password":
      userId = await resolveLoginIdentifier(c, body);
      await checkPassword(c, userId, body.password);
      break;
    case "m.login.token": {
      if (typeof body.token !== "string") throw new MatrixError("M_MISSING_PARAM", "Missing token", 400);
      const tokenUser = await consumeLoginToken(db, await hashSecret(body.token), Date.now());
      if (tokenUser === null) throw new MatrixError("M_FORBIDDEN", "Invalid login token", 403);
      userId = tokenUser;
      if ((await loadDeactivated(db, userId)) !== false) throw new MatrixError("M_USER_DEACTIVATED", "This account has been deactivated", 403);
      break;
    }
    default:
      throw new MatrixError("M_UNKNOWN", "Unknown login type", 400);
  }

  const tokens = await issueSessionForRequest(db, c.req.raw, userId, body);
  const { serverName, publicBaseUrl } = getConfig(c.env);
  return c.json({
    user_id: userId,
    home_server: serverName,
    well_known: { "m.homeserver": { base_url: publicBaseUrl } },
    ...tokens,
  });
});

/** POST /_matrix/client/v1/login/get_token (spec "Login token", UIA-protected; the first request may have no body) */
loginRoutes.post("/_matrix/client/v1/login/get_token", requireAuth(), jsonBody(uiaBody({}), { allowEmpty: true }), async (c) => {
  const auth = c.get("auth");
  const uia = await userInteractiveAuth(c, c.req.valid("json").auth, { flows: [["m.login.password"]], userId: auth.userId });
  await endUiaSession(c.env.DB, uia.sessionId);
  const token = newSecret("mlt");
  await storeLoginToken(c.env.DB, await hashSecret(token), auth.userId, Date.now() + LOGIN_TOKEN_LIFETIME_MS);
  return c.json({ login_token: token, expires_in_ms: LOGIN_TOKEN_LIFETIME_MS });
});

/** POST /_matrix/client/v3/refresh */
loginRoutes.post(clientV3("/refresh"), jsonBody(z.object({ refresh_token: z.string() })), async (c) => {
  const tokens = await refreshSession(c.env.DB, c.req.valid("json").refresh_token);
  return c.json({ access_token: tokens.access_token, refresh_token: tokens.refresh_token, expires_in_ms: tokens.expires_in_ms });
});

/** POST /_matrix/client/v3/logout: revokes the token and deletes its device (and the device's keys). */
loginRoutes.post(clientV3("/logout"), requireAuth({ allowGuest: true }), async (c) => {
  const { userId, deviceId } = c.get("auth");
  const results = await c.env.DB.batch(deleteDevicesStatements(c.env.DB, userId, [deviceId]));
  c.executionCtx.waitUntil(notifyDeviceListChange(c.env, userId, streamPosOf(results)));
  return c.json({});
});

/** POST /_matrix/client/v3/logout/all */
loginRoutes.post(clientV3("/logout/all"), requireAuth({ allowGuest: true }), async (c) => {
  const { userId } = c.get("auth");
  const results = await c.env.DB.batch(deleteDevicesStatements(c.env.DB, userId));
  c.executionCtx.waitUntil(notifyDeviceListChange(c.env, userId, streamPosOf(results)));
  return c.json({});
});

/** GET /_matrix/client/v3/account/whoami */
loginRoutes.get(clientV3("/account/whoami"), requireAuth({ allowGuest: true }), (c) => {
  const { userId, deviceId, isGuest } = c.get("auth");
  return c.json({ user_id: userId, device_id: deviceId, is_guest: isGuest });
});
