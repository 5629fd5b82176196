/**
 * Send-to-device messages (d1-migrations/0006_e2ee.sql: to_device_messages,
 * to_device_txns). PUT /sendToDevice queues them here at one stream position;
 * /sync hands them out and deletes them once acknowledged
 * (workers/e2ee/sync-extension.ts); deleting a device drops its inbox.
 * The statements below go in one batch after `advanceStream(db)`.
 */
import { STREAM_POS } from "../stream.js";
import type { RowsStatement } from "./rows.js";

/** Forgets the sending device's transaction ids older than `before`. */
export function pruneToDeviceTxnsStatement(db: D1Database, userId: string, deviceId: string, before: number): D1PreparedStatement {
  return db.prepare("DELETE FROM to_device_txns WHERE user_id = ? AND device_id = ? AND created_ts < ?").bind(userId, deviceId, before);
}

/**
 * Records the transaction id at the batch's stream position, the first time only:
 * a retry finds its row already there with an older position.
 */
export function claimToDeviceTxnStatement(db: D1Database, userId: string, deviceId: string, txnId: string, now: number): D1PreparedStatement {
  return db
    .prepare(`INSERT INTO to_device_txns (user_id, device_id, txn_id, stream_pos, created_ts) VALUES (?, ?, ?, ${STREAM_POS}, ?) ON CONFLICT DO NOTHING`)
    .bind(userId, deviceId, txnId, now);
}

/** A message for a local user: [user, device or "*", canonical content JSON]. */
export type ToDeviceMessage = [string, string, string];

/**
 * Queues the messages if the transaction was claimed in this batch (so a retry
 * queues nothing); "*" expands to the target's current devices, unknown devices
 * get nothing. Returns a row per queued message with its recipient.
 */
export function queueToDeviceMessagesStatement(
  db: D1Database,
  sender: { userId: string; deviceId: string; txnId: string },
  eventType: string,
  messages: ToDeviceMessage[],
): RowsStatement<{ user_id: string }> {
  return db
    .prepare(
      "INSERT INTO to_device_messages (user_id, device_id, stream_pos, sender, type, content) " +
        `SELECT d.user_id, d.device_id, ${STREAM_POS}, ?, ?, json_extract(m.value, '$[2]') ` +
        "FROM json_each(?) m JOIN devices d ON d.user_id = json_extract(m.value, '$[0]') " +
        "AND (json_extract(m.value, '$[1]') = '*' OR d.device_id = json_extract(m.value, '$[1]')) " +
        `WHERE EXISTS (SELECT 1 FROM to_device_txns t WHERE t.user_id = ? AND t.device_id = ? AND t.txn_id = ? AND t.stream_pos = ${STREAM_POS}) ` +
        "ORDER BY m.key, d.device_id " +
        "RETURNING user_id",
    )
    .bind(sender.userId, eventType, JSON.stringify(messages), sender.userId, sender.deviceId, sender.txnId);
}
