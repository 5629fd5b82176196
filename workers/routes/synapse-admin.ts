import { Hono, type MiddlewareHandler } from "hono";
import { z } from "zod";
import { encodeBase64Url } from "../../src/base64.js";
import { MatrixError, notFound } from "../../src/errors.js";
import { hashPassword, timingSafeEqual } from "../../src/password.js";
import type { AppEnv } from "../app-env.js";
import { createUserStatements, isUniqueViolation, userInUse, validateNewUsername } from "../auth/accounts.js";
import { issueSession } from "../auth/sessions.js";
import { getConfig } from "../config.js";
import { jsonBody } from "../middleware/body.js";
import { requireAdmin } from "../middleware/admin.js";
import { consumeAdminRegisterNonce, saveAdminRegisterNonce } from "../../services/d1/admin-register-nonces.js";
import {
  type RegistrationTokenRow,
  deleteRegistrationToken,
  insertRegistrationToken,
  listRegistrationTokens,
  registrationToken,
  updateRegistrationToken,
} from "../../services/d1/registration-tokens.js";

/**
 * The parts of Synapse's admin API that admin tools rely on to bootstrap a server:
 * shared-secret registration (`register_new_matrix_user` works unchanged) and
 * registration tokens.
 */
export const synapseAdminRoutes = new Hono<AppEnv>();

/** Nonces are good for one registration within this window (Synapse: 60 s). */
const NONCE_LIFETIME_MS = 60_000;

/** Without a configured shared secret both halves answer as Synapse does, before any body is read. */
const requireSharedSecret = (): MiddlewareHandler<AppEnv> => async (c, next) => {
  if (!getConfig(c.env).registrationSharedSecret) throw new MatrixError("M_UNKNOWN", "Shared secret registration is not enabled", 400);
  await next();
};

/** GET /_synapse/admin/v1/register */
synapseAdminRoutes.get("/_synapse/admin/v1/register", requireSharedSecret(), async (c) => {
  const nonce = encodeBase64Url(crypto.getRandomValues(new Uint8Array(24)));
  await saveAdminRegisterNonce(c.env.DB, nonce, Date.now(), NONCE_LIFETIME_MS);
  return c.json({ nonce });
});

const SharedSecretRegister = z.object({
  nonce: z.string(),
  username: z.string(),
  password: z.string(),
  displayname: z.string().max(256).optional(),
  admin: z.boolean().optional(),
  user_type: z.string().nullable().optional(),
  mac: z.string(),
});

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** POST /_synapse/admin/v1/register: HMAC-SHA1 over nonce, user, password, admin flag (and user_type). */
synapseAdminRoutes.post("/_synapse/admin/v1/register", requireSharedSecret(), jsonBody(SharedSecretRegister), async (c) => {
  const config = getConfig(c.env);
  const secret = config.registrationSharedSecret!; // set: requireSharedSecret
  const body = c.req.valid("json");
  const db = c.env.DB;
  // Each nonce is consumed by the statement that checks it.
  if (!(await consumeAdminRegisterNonce(db, body.nonce, Date.now() - NONCE_LIFETIME_MS))) throw new MatrixError("M_UNKNOWN", "unrecognised nonce", 400);

  const parts = [body.nonce, body.username, body.password, body.admin ? "admin" : "notadmin"];
  if (body.user_type) parts.push(body.user_type);
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-1" }, false, ["sign"]);
  const want = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(parts.join("\x00"))));
  if (!timingSafeEqual(new TextEncoder().encode(hex(want)), new TextEncoder().encode(body.mac.toLowerCase()))) {
    throw new MatrixError("M_FORBIDDEN", "HMAC incorrect", 403);
  }

  const localpart = validateNewUsername(config, body.username, { fromAdmin: true });
  const { userId, statements } = createUserStatements(db, config.serverName, {
    localpart,
    passwordHash: await hashPassword(body.password),
    isAdmin: body.admin === true,
    userType: body.user_type ?? null,
    ...(body.displayname !== undefined ? { displayName: body.displayname } : {}),
  });
  try {
    await db.batch(statements);
  } catch (e) {
    if (isUniqueViolation(e)) throw userInUse();
    throw e;
  }
  const tokens = await issueSession(db, { userId, withRefreshToken: false });
  return c.json({ user_id: userId, home_server: config.serverName, access_token: tokens.access_token, device_id: tokens.device_id });
});

synapseAdminRoutes.use("/_synapse/admin/v1/registration_tokens/*", requireAdmin());

/** GET /_synapse/admin/v1/registration_tokens[?valid=true|false] */
synapseAdminRoutes.get("/_synapse/admin/v1/registration_tokens", async (c) => {
  const valid = c.req.query("valid");
  const results = await listRegistrationTokens(c.env.DB);
  const now = Date.now();
  const isValid = (t: RegistrationTokenRow) =>
    (t.uses_allowed === null || t.pending + t.completed < t.uses_allowed) && (t.expiry_time === null || t.expiry_time > now);
  const filtered = valid === undefined ? results : results.filter((t) => isValid(t) === (valid === "true"));
  return c.json({ registration_tokens: filtered });
});

const NewToken = z.object({
  token: z.string().regex(/^[A-Za-z0-9._~-]{1,64}$/).optional(),
  uses_allowed: z.number().int().nonnegative().nullable().optional(),
  expiry_time: z.number().int().nullable().optional(),
  length: z.number().int().min(1).max(64).optional(),
});

/** POST /_synapse/admin/v1/registration_tokens/new */
synapseAdminRoutes.post("/_synapse/admin/v1/registration_tokens/new", jsonBody(NewToken, { allowEmpty: true }), async (c) => {
  const body = c.req.valid("json");
  if (body.expiry_time != null && body.expiry_time < Date.now()) {
    throw new MatrixError("M_INVALID_PARAM", "expiry_time must not be in the past", 400);
  }
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-";
  const token =
    body.token ?? Array.from(crypto.getRandomValues(new Uint8Array(body.length ?? 16)), (b) => alphabet[b % alphabet.length]).join("");
  try {
    await insertRegistrationToken(c.env.DB, { token, usesAllowed: body.uses_allowed ?? null, expiryTime: body.expiry_time ?? null });
  } catch (e) {
    if (isUniqueViolation(e)) throw new MatrixError("M_INVALID_PARAM", `Token already exists: ${token}`, 400);
    throw e;
  }
  return c.json({ token, uses_allowed: body.uses_allowed ?? null, pending: 0, completed: 0, expiry_time: body.expiry_time ?? null });
});

async function getToken(db: D1Database, token: string): Promise<RegistrationTokenRow> {
  const row = await registrationToken(db, token);
  if (!row) throw notFound(`No such registration token: ${token}`);
  return row;
}

/** GET /_synapse/admin/v1/registration_tokens/{token} */
synapseAdminRoutes.get("/_synapse/admin/v1/registration_tokens/:token", async (c) => c.json(await getToken(c.env.DB, c.req.param("token"))));

/** PUT /_synapse/admin/v1/registration_tokens/{token} */
synapseAdminRoutes.put("/_synapse/admin/v1/registration_tokens/:token", jsonBody(NewToken.pick({ uses_allowed: true, expiry_time: true })), async (c) => {
  const token = c.req.param("token");
  const body = c.req.valid("json");
  await getToken(c.env.DB, token);
  await updateRegistrationToken(c.env.DB, token, { usesAllowed: body.uses_allowed, expiryTime: body.expiry_time });
  return c.json(await getToken(c.env.DB, token));
});

/** DELETE /_synapse/admin/v1/registration_tokens/{token} */
synapseAdminRoutes.delete("/_synapse/admin/v1/registration_tokens/:token", async (c) => {
  if (!(await deleteRegistrationToken(c.env.DB, c.req.param("token")))) throw notFound("No such registration token");
  return c.json({});
});
