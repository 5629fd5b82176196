import { recordDeviceListChange } from "./device-lists.js";

/** Which of a user's devices are going away. */
export type DeviceSelection = { all: true } | { only: string[] } | { except: string };

/**
 * Statements that remove everything end-to-end encryption keeps per device — device
 * keys, one-time and fallback keys, the to-device inbox and transaction ids, and
 * cross-signatures of or by the device — and record a device-list change of the
 * user so that everyone sharing a room re-queries the keys. The batch they go into
 * must start with `advanceStream(db)` (the change row takes the batch's position).
 * Cross-signing keys and key backups are the user's, not a device's: they stay.
 */
export function deviceKeysDeletionStatements(db: D1Database, userId: string, which: DeviceSelection): D1PreparedStatement[] {
  // ?1 is the user, ?2 the device list (JSON) or the device to keep.
  let cond: string;
  let arg: string | undefined;
  if ("all" in which) {
    cond = "";
  } else if ("only" in which) {
    cond = " AND device_id IN (SELECT value FROM json_each(?2))";
    arg = JSON.stringify(which.only);
  } else {
    cond = " AND device_id != ?2";
    arg = which.except;
  }
  const stmt = (sql: string) => (arg === undefined ? db.prepare(sql).bind(userId) : db.prepare(sql).bind(userId, arg));
  const keyedDevices = `SELECT device_id FROM e2e_device_keys WHERE user_id = ?1${cond}`;
  return [
    recordDeviceListChange(db, userId),
    // Signatures first: they find their devices through e2e_device_keys.
    stmt(`DELETE FROM e2e_cross_signing_signatures WHERE target_user_id = ?1 AND target_key_id IN (${keyedDevices})`),
    stmt(
      `DELETE FROM e2e_cross_signing_signatures WHERE signer_user_id = ?1 AND signer_key_id IN (SELECT 'ed25519:' || device_id FROM (${keyedDevices}))`,
    ),
    ...["e2e_device_keys", "e2e_one_time_keys", "e2e_fallback_keys", "to_device_messages", "to_device_txns"].map((t) =>
      stmt(`DELETE FROM ${t} WHERE user_id = ?1${cond}`),
    ),
  ];
}

/** Deactivation also drops the user's key backups (as Synapse does); cross-signing keys are kept. */
export function deactivationE2eeStatements(db: D1Database, userId: string): D1PreparedStatement[] {
  return ["room_key_backup_keys", "room_key_backup_versions"].map((t) => db.prepare(`DELETE FROM ${t} WHERE user_id = ?`).bind(userId));
}
