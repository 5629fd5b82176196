/**
 * Devices (d1-migrations/0002_accounts.sql: devices). Client-server-api "Device
 * management": login and registration create them (workers/auth/sessions.ts),
 * the device routes list, rename and delete them, the auth middleware keeps
 * their last-seen time.
 */

export interface DeviceRow {
  device_id: string;
  display_name: string | null;
  last_seen_ts: number | null;
  last_seen_ip: string | null;
}

const DEVICE_COLUMNS = "device_id, display_name, last_seen_ts, last_seen_ip";

/** A user's devices, oldest first. */
export async function listDevices(db: D1Database, userId: string): Promise<DeviceRow[]> {
  const { results } = await db.prepare(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE user_id = ? ORDER BY created_ts`).bind(userId).all<DeviceRow>();
  return results;
}

export async function loadDevice(db: D1Database, userId: string, deviceId: string): Promise<DeviceRow | null> {
  return db.prepare(`SELECT ${DEVICE_COLUMNS} FROM devices WHERE user_id = ? AND device_id = ?`).bind(userId, deviceId).first<DeviceRow>();
}

/** The device's display name: null when the device does not exist, `{display_name: null}` when it has none. */
export async function loadDeviceDisplayName(db: D1Database, userId: string, deviceId: string): Promise<{ display_name: string | null } | null> {
  return db.prepare("SELECT display_name FROM devices WHERE user_id = ? AND device_id = ?").bind(userId, deviceId).first<{ display_name: string | null }>();
}

export async function deviceExists(db: D1Database, userId: string, deviceId: string): Promise<boolean> {
  return (await db.prepare("SELECT 1 AS x FROM devices WHERE user_id = ? AND device_id = ?").bind(userId, deviceId).first()) !== null;
}

/** Renames a device; for a batch that records the device-list change. */
export function renameDeviceStatement(db: D1Database, userId: string, deviceId: string, displayName: string): D1PreparedStatement {
  return db.prepare("UPDATE devices SET display_name = ? WHERE user_id = ? AND device_id = ?").bind(displayName, userId, deviceId);
}

/** One of `deviceIds` that is a device of the user, if any (cross-signing keys share the device id namespace). */
export async function anyDeviceIdOf(db: D1Database, userId: string, deviceIds: string[]): Promise<string | null> {
  const row = await db
    .prepare("SELECT device_id FROM devices WHERE user_id = ? AND device_id IN (SELECT value FROM json_each(?)) LIMIT 1")
    .bind(userId, JSON.stringify(deviceIds))
    .first<{ device_id: string }>();
  return row?.device_id ?? null;
}
