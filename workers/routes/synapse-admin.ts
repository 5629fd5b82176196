import { Hono } from "hono";
import { z } from "zod";
import { encodeBase64Url } from "../../src/base64.js";
import { MatrixError, notFound } from "../../src/errors.js";
import { hashPassword, timingSafeEqual } from "../../src/password.js";
import type { AppEnv } from "../app-env.js";
import { createUserStatements, isUniqueViolation, userInUse, validateNewUsername } from "../auth/accounts.js";
import { issueSession } from "../auth/sessions.js";
import { getConfig } from "../config.js";
import { readJson } from "../middleware/body.js";
import { requireAdmin } from "../middleware/admin.js";

/**
 * The parts of Synapse's admin API that admin tools rely on to bootstrap a server:
 * shared-secret registration (`register_new_matrix_user` works unchanged) and
 * registration tokens.
 */
export const synapseAdminRoutes = new Hono<AppEnv>();

/** Nonces are good for one registration within this window (Synapse: 60 s). */
const NONCE_LIFETIME_MS = 60_000;

/** GET /_synapse/admin/v1/register */
synapseAdminRoutes.get("/_synapse/admin/v1/register", async (c) => {
  if (!getConfig(c.env).registrationSharedSecret) {
    throw new MatrixError("M_UNKNOWN", "Shared secret registration is not enabled", 400);
  }
  const nonce = encodeBase64Url(crypto.getRandomValues(new Uint8Array(24)));
  const now = Date.now();
  await c.env.DB.batch([
    c.env.DB.prepare("DELETE FROM admin_register_nonces WHERE created_ts < ?").bind(now - NONCE_LIFETIME_MS),
    c.env.DB.prepare("INSERT INTO admin_register_nonces (nonce, created_ts) VALUES (?, ?)").bind(nonce, now),
  ]);
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
synapseAdminRoutes.post("/_synapse/admin/v1/register", async (c) => {
  const config = getConfig(c.env);
  const secret = config.registrationSharedSecret;
  if (!secret) throw new MatrixError("M_UNKNOWN", "Shared secret registration is not enabled", 400);
  const body = await readJson(c, SharedSecretRegister);
  const db = c.env.DB;
  // Each nonce is consumed by the statement that checks it.
  const used = await db
    .prepare("DELETE FROM admin_register_nonces WHERE nonce = ? AND created_ts >= ? RETURNING nonce")
    .bind(body.nonce, Date.now() - NONCE_LIFETIME_MS)
    .first();
  if (!used) throw new MatrixError("M_UNKNOWN", "unrecognised nonce", 400);

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

interface TokenRow {
  token: string;
  uses_allowed: number | null;
  pending: number;
  completed: number;
  expiry_time: number | null;
}
const TOKEN_COLUMNS = "token, uses_allowed, pending, completed, expiry_time";

synapseAdminRoutes.use("/_synapse/admin/v1/registration_tokens/*", requireAdmin());

/** GET /_synapse/admin/v1/registration_tokens[?valid=true|false] */
synapseAdminRoutes.get("/_synapse/admin/v1/registration_tokens", async (c) => {
  const valid = c.req.query("valid");
  const { results } = await c.env.DB.prepare(`SELECT ${TOKEN_COLUMNS} FROM registration_tokens ORDER BY token`).all<TokenRow>();
  const now = Date.now();
  const isValid = (t: TokenRow) =>
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
synapseAdminRoutes.post("/_synapse/admin/v1/registration_tokens/new", async (c) => {
  const body = await readJson(c, NewToken, { allowEmpty: true });
  if (body.expiry_time != null && body.expiry_time < Date.now()) {
    throw new MatrixError("M_INVALID_PARAM", "expiry_time must not be in the past", 400);
  }
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-";
  const token =
    body.token ?? Array.from(crypto.getRandomValues(new Uint8Array(body.length ?? 16)), (b) => alphabet[b % alphabet.length]).join("");
  try {
    await c.env.DB.prepare("INSERT INTO registration_tokens (token, uses_allowed, expiry_time) VALUES (?, ?, ?)")
      .bind(token, body.uses_allowed ?? null, body.expiry_time ?? null)
      .run();
  } catch (e) {
    if (isUniqueViolation(e)) throw new MatrixError("M_INVALID_PARAM", `Token already exists: ${token}`, 400);
    throw e;
  }
  return c.json({ token, uses_allowed: body.uses_allowed ?? null, pending: 0, completed: 0, expiry_time: body.expiry_time ?? null });
});

async function getToken(db: D1Database, token: string): Promise<TokenRow> {
  const row = await db.prepare(`SELECT ${TOKEN_COLUMNS} FROM registration_tokens WHERE token = ?`).bind(token).first<TokenRow>();
  if (!row) throw notFound(`No such registration token: ${token}`);
  return row;
}

/** GET /_synapse/admin/v1/registration_tokens/{token} */
synapseAdminRoutes.get("/_synapse/admin/v1/registration_tokens/:token", async (c) => c.json(await getToken(c.env.DB, c.req.param("token"))));

/** PUT /_synapse/admin/v1/registration_tokens/{token} */
synapseAdminRoutes.put("/_synapse/admin/v1/registration_tokens/:token", async (c) => {
  const token = c.req.param("token");
  const body = await readJson(c, NewToken.pick({ uses_allowed: true, expiry_time: true }));
  await getToken(c.env.DB, token);
  const sets: string[] = [];
  const args: (number | null)[] = [];
  if (body.uses_allowed !== undefined) (sets.push("uses_allowed = ?"), args.push(body.uses_allowed));
  if (body.expiry_time !== undefined) (sets.push("expiry_time = ?"), args.push(body.expiry_time));
  if (sets.length) {
    await c.env.DB.prepare(`UPDATE registration_tokens SET ${sets.join(", ")} WHERE token = ?`).bind(...args, token).run();
  }
  return c.json(await getToken(c.env.DB, token));
});

/** DELETE /_synapse/admin/v1/registration_tokens/{token} */
synapseAdminRoutes.delete("/_synapse/admin/v1/registration_tokens/:token", async (c) => {
  const res = await c.env.DB.prepare("DELETE FROM registration_tokens WHERE token = ?").bind(c.req.param("token")).run();
  if (res.meta.changes === 0) throw notFound("No such registration token");
  return c.json({});
});
