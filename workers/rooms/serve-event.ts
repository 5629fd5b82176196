import type { JsonObject } from "../../src/json.js";

/** A row of room_events as the read paths select it. */
export interface EventRow {
  stream_pos: number;
  event_id: string;
  room_id: string;
  type: string;
  state_key: string | null;
  sender: string;
  json: string;
  txn_device: string | null;
  txn_id: string | null;
}

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
