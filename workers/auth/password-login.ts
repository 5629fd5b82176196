import type { Context } from "hono";
import { MatrixError } from "../../src/errors.js";
import { isValidUserId, parseUserId } from "../../src/identifiers.js";
import { isJsonObject } from "../../src/json.js";
import { DUMMY_PASSWORD_HASH, verifyPassword } from "../../src/password.js";
import type { AppEnv } from "../app-env.js";
import { getConfig } from "../config.js";
import { clientIp, enforceRateLimit } from "../middleware/rate-limit.js";

/** Must match `simple.period` of RL_AUTH in wrangler.toml. */
export const AUTH_PERIOD_MS = 60_000;

const badCredentials = () => new MatrixError("M_FORBIDDEN", "Invalid username or password", 403);

/**
 * The user an `m.login.password` auth dict names: `identifier` of type m.id.user
 * (localpart or full user id), the deprecated top-level `user`, or third-party ids,
 * which this server has none of (spec "Identifier types").
 */
export async function resolveLoginIdentifier(c: Context<AppEnv>, auth: Readonly<Record<string, unknown>>): Promise<string> {
  const { serverName } = getConfig(c.env);
  const identifier = auth.identifier;
  let user: unknown;
  if (identifier !== undefined) {
    if (!isJsonObject(identifier)) throw new MatrixError("M_BAD_JSON", "identifier must be an object", 400);
    switch (identifier.type) {
      case "m.id.user":
        user = identifier.user;
        break;
      case "m.id.thirdparty":
      case "m.id.phone":
        // No third-party identifiers are bound on this server.
        throw badCredentials();
      default:
        throw new MatrixError("M_UNKNOWN", "Unknown login identifier type", 400);
    }
  } else if (auth.user !== undefined) {
    user = auth.user;
  } else if (auth.medium !== undefined || auth.address !== undefined) {
    throw badCredentials();
  } else {
    throw new MatrixError("M_MISSING_PARAM", "Missing identifier", 400);
  }
  if (typeof user !== "string" || user.length === 0) throw new MatrixError("M_BAD_JSON", "identifier.user must be a string", 400);
  const userId = user.startsWith("@") ? user : `@${user.toLowerCase()}:${serverName}`;
  if (!isValidUserId(userId)) throw badCredentials();
  // Synapse lower-cases the localpart of user ids given in full, too.
  const parsed = parseUserId(userId);
  return parsed ? `@${parsed.localpart.toLowerCase()}:${parsed.domain}` : userId;
}

/**
 * Checks a password for a user with per-IP and per-account rate limits; unknown
 * users cost the same KDF work as known ones. Deactivated accounts are
 * M_USER_DEACTIVATED only once the password is right, as in Synapse.
 */
export async function checkPassword(c: Context<AppEnv>, userId: string, password: unknown): Promise<void> {
  if (typeof password !== "string") throw new MatrixError("M_BAD_JSON", "password must be a string", 400);
  await enforceRateLimit(c.env.RL_AUTH, `ip:${clientIp(c.req.raw)}`, AUTH_PERIOD_MS);
  await enforceRateLimit(c.env.RL_AUTH, `user:${userId}`, AUTH_PERIOD_MS);
  const row = await c.env.DB.prepare("SELECT password_hash, deactivated FROM users WHERE user_id = ?")
    .bind(userId)
    .first<{ password_hash: string | null; deactivated: number }>();
  const ok = await verifyPassword(password, row?.password_hash ?? DUMMY_PASSWORD_HASH);
  if (!row || !row.password_hash || !ok) throw badCredentials();
  if (row.deactivated) throw new MatrixError("M_USER_DEACTIVATED", "This account has been deactivated", 403);
}
