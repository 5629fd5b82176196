import { MatrixError } from "../../src/errors.js";
import type { AuthInfo } from "../app-env.js";
import { deviceKeysDeletionStatements } from "../e2ee/device-cleanup.js";
import { isCrossSigningKeyOf } from "../../services/d1/cross-signing.js";
import { advanceStream } from "../../services/stream.js";
import { rememberTokenUser } from "./token-hints.js";
import { hashSecret, newDeviceId, newSecret } from "./tokens.js";

/** Lifetime of an access token issued together with a refresh token. */
export const ACCESS_TOKEN_LIFETIME_MS = 5 * 60 * 1000;

export interface IssuedTokens {
  access_token: string;
  device_id: string;
  refresh_token?: string;
  expires_in_ms?: number;
}

export interface NewSession {
  userId: string;
  deviceId?: string | undefined;
  displayName?: string | undefined;
  withRefreshToken: boolean;
  ip?: string | undefined;
  userAgent?: string | undefined;
}

/**
 * Creates (or reuses) the device and issues its tokens in one D1 batch. A
 * device id the user already has is reused with its keys, as the spec says for
 * `device_id` on /login and /register.
 */
export async function issueSession(db: D1Database, s: NewSession): Promise<IssuedTokens> {
  const now = Date.now();
  const deviceId = s.deviceId ?? newDeviceId();
  const access = newSecret("mat");
  const accessHash = await hashSecret(access);
  const stmts: D1PreparedStatement[] = [
    db
      .prepare(
        "INSERT INTO devices (user_id, device_id, display_name, created_ts, last_seen_ts, last_seen_ip, last_seen_user_agent) VALUES (?, ?, ?, ?, ?, ?, ?) " +
          "ON CONFLICT (user_id, device_id) DO UPDATE SET last_seen_ts = excluded.last_seen_ts, last_seen_ip = excluded.last_seen_ip, " +
          "last_seen_user_agent = excluded.last_seen_user_agent, display_name = COALESCE(devices.display_name, excluded.display_name)",
      )
      .bind(s.userId, deviceId, s.displayName ?? null, now, now, s.ip ?? null, s.userAgent ?? null),
  ];
  const out: IssuedTokens = { access_token: access, device_id: deviceId };
  if (s.withRefreshToken) {
    const refresh = newSecret("mar");
    const refreshHash = await hashSecret(refresh);
    stmts.push(
      db
        .prepare("INSERT INTO refresh_tokens (token_hash, user_id, device_id, created_ts) VALUES (?, ?, ?, ?)")
        .bind(refreshHash, s.userId, deviceId, now),
      db
        .prepare(
          "INSERT INTO access_tokens (token_hash, user_id, device_id, created_ts, expires_ts, refresh_token_id) " +
            "VALUES (?, ?, ?, ?, ?, (SELECT id FROM refresh_tokens WHERE token_hash = ?))",
        )
        .bind(accessHash, s.userId, deviceId, now, now + ACCESS_TOKEN_LIFETIME_MS, refreshHash),
    );
    out.refresh_token = refresh;
    out.expires_in_ms = ACCESS_TOKEN_LIFETIME_MS;
  } else {
    stmts.push(
      db
        .prepare("INSERT INTO access_tokens (token_hash, user_id, device_id, created_ts) VALUES (?, ?, ?, ?)")
        .bind(accessHash, s.userId, deviceId, now),
    );
  }
  await db.batch(stmts);
  return out;
}

/** The device fields every login-like request may carry (spec: /login and /register bodies). */
export interface DeviceRequest {
  device_id?: string | undefined;
  initial_device_display_name?: string | undefined;
  refresh_token?: boolean | undefined;
}

/** issueSession for a /login or /register request: device fields from the body, last-seen from the request. */
export async function issueSessionForRequest(db: D1Database, req: Request, userId: string, body: DeviceRequest): Promise<IssuedTokens> {
  if (body.device_id !== undefined) {
    // "The given device ID must not be the same as a cross-signing key ID" (spec /login, /register).
    if (await isCrossSigningKeyOf(db, userId, body.device_id)) throw new MatrixError("M_INVALID_PARAM", "device_id is the ID of one of your cross-signing keys", 400);
  }
  return issueSession(db, {
    userId,
    deviceId: body.device_id,
    displayName: body.initial_device_display_name,
    withRefreshToken: body.refresh_token === true,
    ip: req.headers.get("cf-connecting-ip") ?? undefined,
    userAgent: req.headers.get("user-agent") ?? undefined,
  });
}

interface TokenRow {
  id: number;
  user_id: string;
  device_id: string;
  expires_ts: number | null;
  prev_token_id: number | null;
  is_guest: number;
  deactivated: number;
  last_seen_ts: number | null;
}

export interface AuthenticatedToken extends AuthInfo {
  /** When the device was last seen, to refresh it only now and then. */
  lastSeenTs: number | null;
  /** The previous access token of a refresh, to retire on first use of this one. */
  prevTokenId: number | null;
}

/**
 * Resolves an access token with exactly one D1 query (token, user and device
 * joined). Unknown and revoked tokens are M_UNKNOWN_TOKEN; an expired one also
 * says `soft_logout: true` so the client refreshes instead of logging out
 * (spec "Soft logout").
 */
export async function authenticateToken(db: D1Database, token: string): Promise<AuthenticatedToken> {
  return authenticateTokenHash(db, await hashSecret(token));
}

/** `authenticateToken` for a token already hashed: its one query is issued before this returns (a coalescing D1 can batch it). */
export async function authenticateTokenHash(db: D1Database, tokenHash: string): Promise<AuthenticatedToken> {
  const row = await db
    .prepare(
      "SELECT t.id, t.user_id, t.device_id, t.expires_ts, t.prev_token_id, u.is_guest, u.deactivated, d.last_seen_ts " +
        "FROM access_tokens t JOIN users u ON u.user_id = t.user_id " +
        "LEFT JOIN devices d ON d.user_id = t.user_id AND d.device_id = t.device_id WHERE t.token_hash = ?",
    )
    .bind(tokenHash)
    .first<TokenRow>();
  if (!row || row.deactivated) {
    throw new MatrixError("M_UNKNOWN_TOKEN", "Unknown access token", 401, { soft_logout: false });
  }
  if (row.expires_ts !== null && row.expires_ts <= Date.now()) {
    throw new MatrixError("M_UNKNOWN_TOKEN", "Access token has expired", 401, { soft_logout: true });
  }
  rememberTokenUser(tokenHash, row.user_id);
  return {
    userId: row.user_id,
    deviceId: row.device_id,
    isGuest: row.is_guest === 1,
    tokenId: row.id,
    lastSeenTs: row.last_seen_ts,
    prevTokenId: row.prev_token_id,
  };
}

/**
 * POST /refresh: exchanges a refresh token for a new access and refresh token.
 * The old refresh token is marked used in the same statement that checks it, so
 * two racing refreshes cannot both succeed, and a replay is refused.
 */
export async function refreshSession(db: D1Database, refreshToken: string): Promise<IssuedTokens> {
  const now = Date.now();
  const used = await db
    .prepare(
      "UPDATE refresh_tokens SET used_ts = ? WHERE token_hash = ? AND used_ts IS NULL " +
        "AND EXISTS (SELECT 1 FROM users u WHERE u.user_id = refresh_tokens.user_id AND u.deactivated = 0) " +
        "RETURNING id, user_id, device_id",
    )
    .bind(now, await hashSecret(refreshToken))
    .first<{ id: number; user_id: string; device_id: string }>();
  if (!used) throw new MatrixError("M_UNKNOWN_TOKEN", "Unknown or already used refresh token", 401, { soft_logout: false });

  const access = newSecret("mat");
  const refresh = newSecret("mar");
  const refreshHash = await hashSecret(refresh);
  await db.batch([
    db
      .prepare("INSERT INTO refresh_tokens (token_hash, user_id, device_id, created_ts) VALUES (?, ?, ?, ?)")
      .bind(refreshHash, used.user_id, used.device_id, now),
    db
      .prepare(
        "INSERT INTO access_tokens (token_hash, user_id, device_id, created_ts, expires_ts, refresh_token_id, prev_token_id) " +
          "VALUES (?, ?, ?, ?, ?, (SELECT id FROM refresh_tokens WHERE token_hash = ?), " +
          "(SELECT id FROM access_tokens WHERE refresh_token_id = ?))",
      )
      .bind(await hashSecret(access), used.user_id, used.device_id, now, now + ACCESS_TOKEN_LIFETIME_MS, refreshHash, used.id),
  ]);
  return { access_token: access, refresh_token: refresh, expires_in_ms: ACCESS_TOKEN_LIFETIME_MS, device_id: used.device_id };
}

/**
 * Statements that delete devices and every token they hold (logout, device deletion,
 * deactivation), with the devices' end-to-end keys and to-device inbox, and a
 * device-list change of the user. The first statement is `advanceStream(db)`:
 * put these first in the batch, and `streamPosOf(results)` is the change's position
 * (for `notifyDeviceListChange`).
 */
export function deleteDevicesStatements(db: D1Database, userId: string, deviceIds?: string[]): D1PreparedStatement[] {
  if (deviceIds === undefined) {
    return [
      advanceStream(db),
      ...deviceKeysDeletionStatements(db, userId, { all: true }),
      ...["access_tokens", "refresh_tokens", "devices", "pushers"].map((t) => db.prepare(`DELETE FROM ${t} WHERE user_id = ?`).bind(userId)),
    ];
  }
  const list = JSON.stringify(deviceIds);
  return [
    advanceStream(db),
    ...deviceKeysDeletionStatements(db, userId, { only: deviceIds }),
    // A device's pushers go with it, as in Synapse.
    ...["access_tokens", "refresh_tokens", "devices", "pushers"].map((t) =>
      db.prepare(`DELETE FROM ${t} WHERE user_id = ? AND device_id IN (SELECT value FROM json_each(?))`).bind(userId, list),
    ),
  ];
}

/**
 * Revokes every access and refresh token of a user except those of one device, and
 * deletes those devices with their keys (first statement `advanceStream(db)`, as above).
 */
export function revokeOtherDevicesStatements(db: D1Database, userId: string, keepDeviceId: string): D1PreparedStatement[] {
  return [
    advanceStream(db),
    ...deviceKeysDeletionStatements(db, userId, { except: keepDeviceId }),
    ...["access_tokens", "refresh_tokens", "devices", "pushers"].map((t) =>
      db.prepare(`DELETE FROM ${t} WHERE user_id = ? AND device_id != ?`).bind(userId, keepDeviceId),
    ),
  ];
}
