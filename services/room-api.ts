/**
 * The Room Durable Object's RPC surface (durable-objects/room/room.ts implements
 * it). The Worker and the services see only this interface, so nothing beneath
 * the Durable Objects imports their classes.
 */
import type { EventTemplate } from "../src/event-builder.js";
import type { JsonObject } from "../src/json.js";
import type { Pdu, StoredEvent } from "../src/pdu.js";
import type { RoomResult } from "../src/room-result.js";
import type { TimestampDirection, TimestampMatch } from "../src/timestamp-to-event.js";

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

/** What became of a received PDU (server-server-api "Checks performed on receipt of a PDU"). */
export type PduOutcome =
  | { kind: "accepted" }
  | { kind: "soft_failed"; reason: string }
  | { kind: "rejected"; reason: string }
  | { kind: "duplicate" }
  /** Known only after the caller fetches these events (auth events first). */
  | { kind: "missing"; auth: string[]; prev: string[] };

/** The reads other servers make of a room (each checks the requesting server is in it). */
export type FederationRead =
  | { kind: "event"; eventId: string }
  | { kind: "state"; eventId: string }
  | { kind: "event_auth"; eventId: string }
  | { kind: "missing"; earliest: string[]; latest: string[]; limit: number; minDepth: number };

/** A batch from another server's /backfill, for the Room DO (steps 1–3 done by the caller). */
export interface BackfillInput {
  events: StoredEvent[];
  /** For events whose prev events this server may not have: the ids of the state before them, as the remote gave them (/state_ids, /state). */
  states: Record<string, string[]>;
  /** State and auth events fetched for those (/state), stored as outliers first. */
  outliers: StoredEvent[];
}

export interface BackfillResult {
  /** Accepted into the DAG (as history). */
  stored: string[];
  /** Failed the auth checks (kept as rejected, never shown). */
  rejected: string[];
  /** Their prev events are not here and the state before them is not (fully) known: fetch it (/state) and call again. */
  needState: string[];
  /** Their auth events are not here. */
  missingAuth: string[];
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

  // Federation (durable-objects/room/federation-room.ts, receive.ts).
  receive(origin: string, pdus: StoredEvent[], opts?: { outlier?: boolean; federate?: boolean; rejectMissingAuth?: boolean }): Promise<RoomResult<{ outcomes: Record<string, PduOutcome>; extremities: string[] }>>;
  makeMembership(origin: string, userId: string, membership: "join" | "leave" | "knock", versions: string[]): Promise<RoomResult<{ event: JsonObject; roomVersion: string }>>;
  sendMembership(origin: string, ev: StoredEvent, membership: "join" | "leave" | "knock"): Promise<RoomResult<{ event: Pdu; state: Pdu[]; authChain: Pdu[]; strippedState: Pdu[] }>>;
  catchUp(destination: string): Promise<RoomResult<{ pdus: StoredEvent[] }>>;
  receiveAcrossGap(origin: string, ev: StoredEvent, stateIds: string[], fetched: StoredEvent[]): Promise<RoomResult<{ outcome: PduOutcome }>>;
  unknownEvents(eventIds: string[]): Promise<string[]>;
  importJoin(input: { roomId: string; roomVersion: string; join: StoredEvent; state: StoredEvent[]; authChain: StoredEvent[] }): Promise<RoomResult<{ eventId: string }>>;
  buildForRemote(t: EventTemplate): Promise<RoomResult<{ event: StoredEvent; roomVersion: string; strippedState: Pdu[] }>>;
  federationRead(origin: string, read: FederationRead): Promise<RoomResult<{ pdus: Pdu[]; authChain: Pdu[]; ids?: { pdus: string[]; authChain: string[] } }>>;

  // timestamp_to_event (durable-objects/room/timestamp-lookup.ts).
  /** The closest event `origin` may see (403 unless it has a joined user here); null when there is none. */
  closestEventForServer(origin: string, ts: number, dir: TimestampDirection): Promise<RoomResult<TimestampMatch | null>>;
  /** Whether events this server lacks could be closer than `eventId` to a timestamp searched for in `dir` (true if it is not in the DAG). */
  timestampGap(eventId: string, dir: TimestampDirection): Promise<boolean>;
  /** History fetched from another server: checked and stored below what the room has (durable-objects/room/backfill.ts). */
  backfill(input: BackfillInput): Promise<RoomResult<BackfillResult>>;
}
