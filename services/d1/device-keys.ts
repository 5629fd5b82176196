/**
 * Device keys, one-time keys and fallback keys (d1-migrations/0006_e2ee.sql:
 * e2e_device_keys, e2e_one_time_keys, e2e_fallback_keys). Client-server-api
 * "End-to-End Encryption": /keys/upload writes them, /keys/query and /keys/claim
 * read them, /sync reports the counts. Functions returning a statement are for
 * the caller's batch; the others run on their own.
 */
import type { RowsStatement } from "./rows.js";

/** A device's stored identity keys: the canonical JSON and the ed25519 key signatures are checked with. */
export interface DeviceKeysRow {
  key_json: string;
  ed25519_key: string;
}

export async function loadDeviceKeys(db: D1Database, userId: string, deviceId: string): Promise<DeviceKeysRow | null> {
  return db
    .prepare("SELECT key_json, ed25519_key FROM e2e_device_keys WHERE user_id = ? AND device_id = ?")
    .bind(userId, deviceId)
    .first<DeviceKeysRow>();
}

/**
 * Stores a device's identity keys. An existing row takes new JSON only when the
 * ed25519 key is the same (new signatures on the same keys). Goes in a batch that
 * records the device-list change.
 */
export function storeDeviceKeysStatement(
  db: D1Database,
  userId: string,
  deviceId: string,
  keys: { canonical: string; ed25519: string },
  now: number,
): D1PreparedStatement {
  return db
    .prepare(
      "INSERT INTO e2e_device_keys (user_id, device_id, key_json, ed25519_key, created_ts) VALUES (?, ?, ?, ?, ?) " +
        "ON CONFLICT (user_id, device_id) DO UPDATE SET key_json = excluded.key_json WHERE ed25519_key = excluded.ed25519_key",
    )
    .bind(userId, deviceId, keys.canonical, keys.ed25519, now);
}

export interface UserDeviceKeysRow extends DeviceKeysRow {
  device_id: string;
}

/** Every device's keys of one user (the devices that may sign the master key, or be signed). */
export function userDeviceKeysStatement(db: D1Database, userId: string): RowsStatement<UserDeviceKeysRow> {
  return db.prepare("SELECT device_id, key_json, ed25519_key FROM e2e_device_keys WHERE user_id = ?").bind(userId);
}

export interface QueriedDeviceKeysRow {
  user_id: string;
  device_id: string;
  key_json: string;
  display_name: string | null;
}

/** The device keys of `userIds` with each device's display name, for /keys/query. */
export function queryDeviceKeysStatement(db: D1Database, userIds: string[]): RowsStatement<QueriedDeviceKeysRow> {
  return db
    .prepare(
      "SELECT k.user_id, k.device_id, k.key_json, d.display_name FROM e2e_device_keys k " +
        "LEFT JOIN devices d ON d.user_id = k.user_id AND d.device_id = k.device_id " +
        "WHERE k.user_id IN (SELECT value FROM json_each(?)) ORDER BY k.user_id, k.device_id",
    )
    .bind(JSON.stringify(userIds));
}

/** A one-time or fallback key ready to store: algorithm, key id, canonical JSON. */
export interface KeyToStore {
  algorithm: string;
  keyId: string;
  canonical: string;
}

export interface OneTimeKeyRow {
  algorithm: string;
  key_id: string;
  key_json: string;
}

/** The device's one-time keys among `ids` ("<algorithm>:<key id>"). */
export async function loadOneTimeKeys(db: D1Database, userId: string, deviceId: string, ids: string[]): Promise<OneTimeKeyRow[]> {
  const { results } = await db
    .prepare(
      "SELECT algorithm, key_id, key_json FROM e2e_one_time_keys WHERE user_id = ? AND device_id = ? " +
        "AND algorithm || ':' || key_id IN (SELECT value FROM json_each(?))",
    )
    .bind(userId, deviceId, JSON.stringify(ids))
    .all<OneTimeKeyRow>();
  return results;
}

/** Adds one-time keys in upload order (claims hand out the oldest first); ids already there are kept. */
export function storeOneTimeKeysStatement(db: D1Database, userId: string, deviceId: string, keys: KeyToStore[]): D1PreparedStatement {
  return db
    .prepare(
      "INSERT INTO e2e_one_time_keys (user_id, device_id, algorithm, key_id, key_json) " +
        "SELECT ?, ?, json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]') " +
        "FROM json_each(?) WHERE true ORDER BY key ON CONFLICT DO NOTHING",
    )
    .bind(userId, deviceId, JSON.stringify(keys.map((k) => [k.algorithm, k.keyId, k.canonical])));
}

/**
 * Sets the fallback key per algorithm. Re-uploading the current fallback key keeps
 * its `used` flag (Synapse does the same); a different key starts unused.
 */
export function storeFallbackKeysStatement(db: D1Database, userId: string, deviceId: string, keys: KeyToStore[]): D1PreparedStatement {
  return db
    .prepare(
      "INSERT INTO e2e_fallback_keys (user_id, device_id, algorithm, key_id, key_json, used) " +
        "SELECT ?, ?, json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), 0 FROM json_each(?) WHERE true " +
        "ON CONFLICT (user_id, device_id, algorithm) DO UPDATE SET key_id = excluded.key_id, key_json = excluded.key_json, used = 0 " +
        "WHERE key_id != excluded.key_id OR key_json != excluded.key_json",
    )
    .bind(userId, deviceId, JSON.stringify(keys.map((k) => [k.algorithm, k.keyId, k.canonical])));
}

export interface OneTimeKeyCountRow {
  algorithm: string;
  n: number;
}

/** How many one-time keys the device has left, per algorithm. */
export function oneTimeKeyCountsStatement(db: D1Database, userId: string, deviceId: string): RowsStatement<OneTimeKeyCountRow> {
  return db
    .prepare("SELECT algorithm, COUNT(*) AS n FROM e2e_one_time_keys WHERE user_id = ? AND device_id = ? GROUP BY algorithm")
    .bind(userId, deviceId);
}

/** The algorithms of the device's fallback keys not handed out yet. */
export function unusedFallbackKeyTypesStatement(db: D1Database, userId: string, deviceId: string): RowsStatement<{ algorithm: string }> {
  return db.prepare("SELECT algorithm FROM e2e_fallback_keys WHERE user_id = ? AND device_id = ? AND used = 0 ORDER BY algorithm").bind(userId, deviceId);
}

/** A key handed out by /keys/claim. */
export interface ClaimedKeyRow {
  user_id: string;
  device_id: string;
  algorithm: string;
  key_id: string;
  key_json: string;
}

/** [user, device, algorithm] asked for in /keys/claim. */
export type KeyClaim = [string, string, string];

/**
 * Takes the oldest one-time key of every requested device and algorithm: one
 * DELETE … RETURNING, so each key is handed out once even under concurrent claims.
 */
export async function claimOneTimeKeys(db: D1Database, wanted: KeyClaim[]): Promise<ClaimedKeyRow[]> {
  const { results } = await db
    .prepare(
      "DELETE FROM e2e_one_time_keys WHERE id IN (SELECT (SELECT k.id FROM e2e_one_time_keys k " +
        "WHERE k.user_id = json_extract(w.value, '$[0]') AND k.device_id = json_extract(w.value, '$[1]') " +
        "AND k.algorithm = json_extract(w.value, '$[2]') ORDER BY k.id LIMIT 1) FROM json_each(?) w) " +
        "RETURNING user_id, device_id, algorithm, key_id, key_json",
    )
    .bind(JSON.stringify(wanted))
    .all<ClaimedKeyRow>();
  return results;
}

/** The fallback keys of the requested devices and algorithms, marked used. */
export async function claimFallbackKeys(db: D1Database, wanted: KeyClaim[]): Promise<ClaimedKeyRow[]> {
  const { results } = await db
    .prepare(
      "UPDATE e2e_fallback_keys SET used = 1 WHERE (user_id, device_id, algorithm) IN " +
        "(SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]') FROM json_each(?)) " +
        "RETURNING user_id, device_id, algorithm, key_id, key_json",
    )
    .bind(JSON.stringify(wanted))
    .all<ClaimedKeyRow>();
  return results;
}
