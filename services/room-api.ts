/**
 * The Room Durable Object's RPC surface (durable-objects/room/room.ts implements
 * it). The Worker and the services see only this interface, so nothing beneath
 * the Durable Objects imports their classes.
 */
import type { EventTemplate } from "../src/event-builder.js";
import type { JsonObject } from "../src/json.js";
import type { Pdu } from "../src/pdu.js";
import type { RoomResult } from "../src/room-result.js";

export interface SendInput extends EventTemplate {
  deviceId?: string;
  txnId?: string;
}

export interface CreateRoomInput {
  roomId: string;
  roomVersion: string;
  /** v12: the create event, already built and signed by the Worker (its hash is the room id). */
  createEvent?: { eventId: string; pdu: Pdu };
  /** Events after the create event, in order (createRoom's steps 2–9). */
  events: EventTemplate[];
}

export interface RoomApi extends Rpc.DurableObjectBranded {
  createRoom(input: CreateRoomInput): Promise<RoomResult<{ roomId: string; eventIds: string[] }>>;
  send(input: SendInput): Promise<RoomResult<{ eventId: string }>>;
  join(input: { sender: string; content: JsonObject; deviceId?: string }): Promise<RoomResult<{ eventId: string }>>;
  info(): Promise<{ roomId: string; roomVersion: string } | null>;
  currentState(): Promise<Record<string, { eventId: string; pdu: Pdu }>>;
  /**
   * The state before `eventId` (its state group), as (type, state key, event id).
   * `only.types` keeps those types; `only.members` keeps only those member keys.
   * Null if the event is not in this room.
   */
  stateAt(eventId: string, only?: { types?: string[]; members?: string[] }): Promise<Array<{ type: string; stateKey: string; eventId: string }> | null>;
  setTyping(input: { userId: string; typing: boolean; timeoutMs: number }): Promise<RoomResult<null>>;
}
