import type { JsonObject } from "../../src/json.js";
import type { EventRow } from "../../services/d1/room-events.js";

/** The row shape lives beside the room_events SQL; re-exported for the read paths. */
export type { EventRow };

/**
 * The stored client event with the per-request unsigned fields: `age`, and the
 * `transaction_id` only for the device that sent it (client-server-api
 * "Transaction identifiers").
 */
export function serveEvent(row: EventRow, who: { userId: string; deviceId: string }, now: number): JsonObject {
  const ev = JSON.parse(row.json) as JsonObject;
  const unsigned: JsonObject = { ...((ev.unsigned as JsonObject | undefined) ?? {}) };
  if (typeof ev.origin_server_ts === "number") unsigned.age = Math.max(0, now - ev.origin_server_ts);
  if (row.txn_id && row.txn_device === who.deviceId && row.sender === who.userId) unsigned.transaction_id = row.txn_id;
  ev.unsigned = unsigned;
  return ev;
}
