import { Hono } from "hono";
import { z } from "zod";
import { MatrixError } from "../../src/errors.js";
import type { JsonObject } from "../../src/json.js";
import { hashPassword } from "../../src/password.js";
import type { AppEnv } from "../app-env.js";
import {
  createUserStatements,
  isUniqueViolation,
  randomNumericLocalpart,
  userExists,
  userInUse,
  validateNewUsername,
} from "../auth/accounts.js";
import { AUTH_PERIOD_MS } from "../auth/password-login.js";
import { registrationTokenStatus, releaseRegistrationTokenStatement, useRegistrationTokenStatement } from "../auth/registration-tokens.js";
import { issueSessionForRequest } from "../auth/sessions.js";
import { endUiaSession, type Stage, uiaBody, userInteractiveAuth } from "../auth/uia.js";
import { getConfig } from "../config.js";
import { jsonBody } from "../middleware/body.js";
import { clientIp, enforceRateLimit } from "../middleware/rate-limit.js";
import { clientV3 } from "./paths.js";

/** `password` is optional in the schema: the first round (no auth yet) need not carry it (spec "Account registration"). */
const RegisterBody = uiaBody({
  username: z.string().optional(),
  password: z.string().optional(),
  device_id: z.string().min(1).max(255).optional(),
  initial_device_display_name: z.string().max(1024).optional(),
  inhibit_login: z.boolean().optional(),
  refresh_token: z.boolean().optional(),
});

export const registerRoutes = new Hono<AppEnv>();

/** POST /_matrix/client/v3/register (client-server-api "Account registration") */
registerRoutes.post(clientV3("/register"), jsonBody(RegisterBody, { allowEmpty: true }), async (c) => {
  const config = getConfig(c.env);
  const db = c.env.DB;
  const kind = c.req.query("kind") ?? "user";
  if (kind !== "user" && kind !== "guest") throw new MatrixError("M_INVALID_PARAM", "kind must be 'user' or 'guest'", 400);
  const body = c.req.valid("json");
  await enforceRateLimit(c.env.RL_AUTH, `ip:${clientIp(c.req.raw)}`, AUTH_PERIOD_MS);

  if (kind === "guest") {
    if (!config.allowGuests) throw new MatrixError("M_GUEST_ACCESS_FORBIDDEN", "Guest access is disabled", 403);
    // Guests get an all-digit id and no password; no UIA (spec "Guest access").
    for (let attempt = 0; ; attempt++) {
      const { userId, statements } = createUserStatements(db, config.serverName, {
        localpart: randomNumericLocalpart(),
        passwordHash: null,
        isGuest: true,
      });
      try {
        await db.batch(statements);
      } catch (e) {
        if (isUniqueViolation(e) && attempt < 3) continue;
        throw e;
      }
      // Guests get a fresh device; a device_id in the body is not honoured for them.
      const tokens = await issueSessionForRequest(db, c.req.raw, userId, { ...body, device_id: undefined });
      return c.json({ user_id: userId, home_server: config.serverName, ...tokens });
    }
  }

  if (config.registration === "closed") throw new MatrixError("M_FORBIDDEN", "Registration has been disabled", 403);

  // Username problems are reported before any auth stage, as Synapse does.
  let localpart: string | undefined;
  if (body.username !== undefined) {
    localpart = validateNewUsername(config, body.username);
    if (await userExists(db, `@${localpart}:${config.serverName}`)) throw userInUse();
  }

  const stages: Stage[] = config.registration === "token" ? ["m.login.registration_token"] : ["m.login.dummy"];
  const params: Record<string, JsonObject> = {};
  if (Object.keys(config.termsPolicies).length > 0) {
    stages.push("m.login.terms");
    params["m.login.terms"] = { policies: config.termsPolicies as JsonObject };
  }
  const uia = await userInteractiveAuth(c, body.auth, {
    flows: [stages],
    params,
    stageHook: async (stage, auth, data) => {
      if (stage !== "m.login.registration_token") return;
      if (typeof auth.token !== "string") throw new MatrixError("M_MISSING_PARAM", "Missing registration token", 401);
      if (!(await registrationTokenStatus(db, auth.token)).valid) {
        throw new MatrixError("M_UNAUTHORIZED", "Invalid registration token", 401);
      }
      data.registration_token = auth.token;
    },
  });

  if (body.password === undefined) throw new MatrixError("M_MISSING_PARAM", "Missing params: password", 400);
  if (body.password.length < config.passwordMinLength) {
    throw new MatrixError("M_WEAK_PASSWORD", `Password must be at least ${config.passwordMinLength} characters`, 400);
  }
  localpart ??= randomNumericLocalpart();
  const { userId, statements } = createUserStatements(db, config.serverName, {
    localpart,
    passwordHash: await hashPassword(body.password),
  });
  const token = uia.data.registration_token;
  if (typeof token === "string") {
    // Count the use first: a token that ran out since its stage was completed stops here.
    const used = await useRegistrationTokenStatement(db, token).run();
    if (used.meta.changes !== 1) throw new MatrixError("M_UNAUTHORIZED", "Registration token is no longer valid", 401);
  }
  try {
    await db.batch(statements);
  } catch (e) {
    if (typeof token === "string") await releaseRegistrationTokenStatement(db, token).run();
    if (isUniqueViolation(e)) throw userInUse();
    throw e;
  }
  await endUiaSession(db, uia.sessionId);

  if (body.inhibit_login) return c.json({ user_id: userId, home_server: config.serverName });
  const tokens = await issueSessionForRequest(db, c.req.raw, userId, body);
  return c.json({ user_id: userId, home_server: config.serverName, ...tokens });
});

/** GET /_matrix/client/v3/register/available */
registerRoutes.get(clientV3("/register/available"), async (c) => {
  const config = getConfig(c.env);
  const username = c.req.query("username");
  if (!username) throw new MatrixError("M_MISSING_PARAM", "Missing username", 400);
  await enforceRateLimit(c.env.RL_AUTH, `ip:${clientIp(c.req.raw)}`, AUTH_PERIOD_MS);
  const localpart = validateNewUsername(config, username);
  if (await userExists(c.env.DB, `@${localpart}:${config.serverName}`)) throw userInUse();
  return c.json({ available: true });
});

/** GET /_matrix/client/v1/register/m.login.registration_token/validity */
registerRoutes.get("/_matrix/client/v1/register/m.login.registration_token/validity", async (c) => {
  const config = getConfig(c.env);
  if (config.registration !== "token") throw new MatrixError("M_FORBIDDEN", "Registration tokens are not used on this server", 403);
  const token = c.req.query("token");
  if (token === undefined) throw new MatrixError("M_MISSING_PARAM", "Missing token", 400);
  await enforceRateLimit(c.env.RL_AUTH, `ip:${clientIp(c.req.raw)}`, AUTH_PERIOD_MS);
  return c.json({ valid: (await registrationTokenStatus(c.env.DB, token)).valid });
});
