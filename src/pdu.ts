/**
 * The persistent data unit (event) as exchanged between servers
 * (spec: server-server-api "PDUs", rooms/fragments/*-event-format.md).
 */
import type { JsonObject, JsonValue } from "./json.js";

/** v1/v2 rooms reference events as `[event_id, {sha256: hash}]`; v3+ as plain ids. */
export type EventReference = string | [string, { sha256?: string }];

export interface Pdu {
  /** Absent only on the v12 create event (MSC4291: its id is the room id). */
  room_id?: string;
  sender: string;
  type: string;
  state_key?: string;
  content: JsonObject;
  origin_server_ts: number;
  depth: number;
  prev_events: EventReference[];
  auth_events: EventReference[];
  hashes: { sha256: string };
  signatures: Record<string, Record<string, string>>;
  unsigned?: JsonObject;
  /** Top-level in v1–v10; inside content from v11. */
  redacts?: string;
  /** Present only in v1/v2 events. */
  event_id?: string;
  origin?: string;
  [key: string]: JsonValue | undefined;
}

/** An event together with its id, as stored and passed around inside the server. */
export interface StoredEvent {
  eventId: string;
  pdu: Pdu;
}

export function referenceId(ref: EventReference): string {
  return typeof ref === "string" ? ref : ref[0];
}

export function authEventIds(pdu: Pdu): string[] {
  return pdu.auth_events.map(referenceId);
}

export function prevEventIds(pdu: Pdu): string[] {
  return pdu.prev_events.map(referenceId);
}

/** The key of a state event in a state map: `type` + NUL + `state_key`. */
export function stateKey(type: string, key: string): string {
  return `${type}\u0000${key}`;
}

export type StateMap<T = string> = Map<string, T>;
