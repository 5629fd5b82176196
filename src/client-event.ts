/**
 * The client-server format of a room event (client-server-api "Room Events"):
 * what /sync, /messages and friends return, made from the federation PDU.
 */
import type { JsonObject } from "./json.js";
import type { Pdu } from "./pdu.js";

export interface ClientEvent {
  event_id: string;
  room_id: string;
  sender: string;
  type: string;
  state_key?: string;
  content: JsonObject;
  origin_server_ts: number;
  redacts?: string;
  unsigned?: JsonObject;
}

/**
 * `roomId` is given because v12 create events carry none. `redacts` is copied to the
 * top level for v11+ redactions too, as Synapse does for older clients.
 */
export function toClientEvent(pdu: Pdu, eventId: string, roomId: string, unsigned?: JsonObject): ClientEvent {
  const ev: ClientEvent = {
    event_id: eventId,
    room_id: roomId,
    sender: pdu.sender,
    type: pdu.type,
    content: pdu.content,
    origin_server_ts: pdu.origin_server_ts,
  };
  if (pdu.state_key !== undefined) ev.state_key = pdu.state_key;
  const redacts = typeof pdu.redacts === "string" ? pdu.redacts : typeof pdu.content.redacts === "string" ? pdu.content.redacts : undefined;
  if (pdu.type === "m.room.redaction" && redacts) ev.redacts = redacts;
  if (unsigned && Object.keys(unsigned).length) ev.unsigned = unsigned;
  return ev;
}
