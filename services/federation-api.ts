import type { JsonObject } from "../src/json.js";
import type { Pdu } from "../src/pdu.js";

/** An ephemeral data unit (server-server-api "EDUs"): typing, receipts, presence, device lists, to-device. */
export interface Edu {
  edu_type: string;
  content: JsonObject;
}

/** What an operator (and the admin API) sees of one destination's outbound queue. */
export interface DestinationStatus {
  destination: string | null;
  /** PDUs and EDUs waiting to be sent. */
  pendingPdus: number;
  pendingEdus: number;
  /** Consecutive failed attempts; 0 when the destination is healthy. */
  failures: number;
  /** When the next attempt is due (ms since epoch), null when nothing is queued. */
  retryAtTs: number | null;
  lastError: string | null;
  /** When a transaction last succeeded (ms since epoch). */
  lastSuccessTs: number | null;
  /** PDUs dropped unsent because the queue was over its cap (since the object began). */
  droppedPdus?: number;
  /** EDUs dropped unsent: past their age or over the cap. */
  droppedEdus?: number;
  /** Rooms with dropped PDUs, which a catch-up should bring the destination up to date in. */
  catchUpRooms?: number;
}

/** The Federation Durable Object's RPC surface (durable-objects/federation/federation.ts implements it). One object per destination. */
export interface FederationApi extends Rpc.DurableObjectBranded {
  /** The destination server name once bound to this object, or null. */
  destination(): Promise<string | null>;
  /**
   * Queues PDUs (already persisted in their room) and EDUs for `destination`.
   * Durable when it resolves; idempotent per event id, so a Room DO retrying
   * after an unknown outcome never sends an event twice. Sending happens
   * after it returns (an alarm), in queue order.
   */
  enqueue(destination: string, items: { pdus?: Array<{ eventId: string; pdu: Pdu }>; edus?: Edu[] }): Promise<void>;
  /** The queue and backoff state, for operators. */
  status(): Promise<DestinationStatus>;
  /** Forgets the backoff and tries now (e.g. the destination was seen sending to us). */
  retryNow(): Promise<void>;
}
