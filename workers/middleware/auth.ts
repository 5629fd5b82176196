import type { Context, MiddlewareHandler } from "hono";
import { MatrixError } from "../../src/errors.js";
import type { AppEnv, AuthInfo } from "../app-env.js";
import { authenticateTokenHash } from "../auth/sessions.js";
import { hashSecret } from "../auth/tokens.js";
import { clientIp } from "./rate-limit.js";

/** How stale a device's last-seen time may get before an authenticated request refreshes it. */
const LAST_SEEN_REFRESH_MS = 10 * 60 * 1000;

/**
 * The access token from `Authorization: Bearer` or the deprecated `access_token`
 * query parameter (client-server-api "Using access tokens"); both at once is refused.
 */
export function accessTokenOf(c: Context<AppEnv>): string | undefined {
  const header = c.req.header("authorization");
  const query = c.req.query("access_token");
  if (header !== undefined && query !== undefined) {
    throw new MatrixError("M_MISSING_TOKEN", "Give the access token in the header or the query string, not both", 401);
  }
  if (header !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) throw new MatrixError("M_MISSING_TOKEN", "Authorization header must be 'Bearer <token>'", 401);
    return m[1];
  }
  return query || undefined;
}

/** The hash of the request's access token (what D1 keeps); 401 M_MISSING_TOKEN without one. */
export async function requestTokenHash(c: Context<AppEnv>): Promise<string> {
  const token = accessTokenOf(c);
  if (!token) throw new MatrixError("M_MISSING_TOKEN", "Missing access token", 401);
  return hashSecret(token);
}

/**
 * Authenticates the request with one D1 read (through `db`; `tokenHash`: the
 * token's hash when the caller has it already, so the read is issued at once) and
 * sets `c.get("auth")`. Guests are refused with M_GUEST_ACCESS_FORBIDDEN unless
 * the endpoint allows them.
 */
export async function authenticateRequest(c: Context<AppEnv>, opts: { allowGuest?: boolean }, db = c.env.DB, tokenHash?: string): Promise<AuthInfo> {
  const auth = await authenticateTokenHash(db, tokenHash ?? (await requestTokenHash(c)));
  if (auth.isGuest && !opts.allowGuest) {
    throw new MatrixError("M_GUEST_ACCESS_FORBIDDEN", "Guest access is not allowed for this endpoint", 403);
  }
  const info: AuthInfo = { userId: auth.userId, deviceId: auth.deviceId, isGuest: auth.isGuest, tokenId: auth.tokenId };
  c.set("auth", info);
  const plain = c.env.DB;
  const now = Date.now();
  const writes: D1PreparedStatement[] = [];
  if (auth.prevTokenId !== null) {
    // First use of a refreshed token retires the one it replaced.
    writes.push(
      plain.prepare("DELETE FROM access_tokens WHERE id = ?").bind(auth.prevTokenId),
      plain.prepare("UPDATE access_tokens SET prev_token_id = NULL WHERE id = ?").bind(auth.tokenId),
    );
  }
  if (auth.lastSeenTs === null || now - auth.lastSeenTs > LAST_SEEN_REFRESH_MS) {
    writes.push(
      plain
        .prepare("UPDATE devices SET last_seen_ts = ?, last_seen_ip = ?, last_seen_user_agent = ? WHERE user_id = ? AND device_id = ?")
        .bind(now, clientIp(c.req.raw), c.req.header("user-agent") ?? null, auth.userId, auth.deviceId),
    );
  }
  if (writes.length) c.executionCtx.waitUntil(plain.batch(writes).catch((e: unknown) => console.error("auth bookkeeping failed", e)));
  return info;
}

export function requireAuth(opts: { allowGuest?: boolean } = {}): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    await authenticateRequest(c, opts);
    await next();
  };
}
