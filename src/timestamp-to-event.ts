/**
 * Jumping to a date in a room (MSC3030): the client endpoint
 * `GET /_matrix/client/v1/rooms/{roomId}/timestamp_to_event` and its federation
 * twin `GET /_matrix/federation/v1/timestamp_to_event/{roomId}`
 * (server-server-api "Retrieving events": `getEventByTimestamp`). Both take
 * `ts` (ms) and `dir` (`f`: the first event at or after `ts`, `b`: the last at or
 * before) and answer `{event_id, origin_server_ts}`, or 404 M_NOT_FOUND.
 *
 * The spec leaves when to ask other servers to the implementation. As Synapse
 * (`TimestampLookupHandler.get_event_for_timestamp`): when there is no local
 * answer, or the local answer sits next to a gap in the room's DAG (events this
 * server never received could be closer), ask the other servers in the room, and
 * take a remote answer only if it is strictly closer to `ts`.
 *
 * Pure: no Workers APIs.
 */
import { z } from "zod";
import { MatrixError } from "./errors.js";
import { isValidEventId } from "./identifiers.js";

export type TimestampDirection = "f" | "b";

export interface TimestampQuery {
  ts: number;
  dir: TimestampDirection;
}

/** An event found for a timestamp. */
export interface TimestampMatch {
  eventId: string;
  originServerTs: number;
}

/**
 * `ts` and `dir` of either endpoint: a missing one is 400 M_MISSING_PARAM, a
 * malformed one 400 M_INVALID_PARAM (`ts` a non-negative integer of ms).
 */
export function parseTimestampQuery(q: { ts?: string | undefined; dir?: string | undefined }): TimestampQuery {
  if (q.dir === undefined) throw new MatrixError("M_MISSING_PARAM", "Missing dir parameter", 400);
  if (q.dir !== "f" && q.dir !== "b") throw new MatrixError("M_INVALID_PARAM", "dir must be 'f' or 'b'", 400);
  if (q.ts === undefined) throw new MatrixError("M_MISSING_PARAM", "Missing ts parameter", 400);
  if (!/^\d{1,16}$/.test(q.ts) || !Number.isSafeInteger(Number(q.ts))) throw new MatrixError("M_INVALID_PARAM", "ts must be a timestamp in milliseconds", 400);
  return { ts: Number(q.ts), dir: q.dir };
}

/** The spec's 404 wording (getEventByTimestamp). */
export function noEventError(q: TimestampQuery): MatrixError {
  return new MatrixError("M_NOT_FOUND", `Unable to find event from ${q.ts} in direction ${q.dir}`, 404);
}

const RemoteAnswer = z.object({ event_id: z.string(), origin_server_ts: z.number().int().nonnegative() });

/** Another server's 200 answer, if well formed (an event id and an integer timestamp). */
export function parseRemoteAnswer(body: unknown): TimestampMatch | undefined {
  const parsed = RemoteAnswer.safeParse(body);
  if (!parsed.success || !isValidEventId(parsed.data.event_id)) return undefined;
  return { eventId: parsed.data.event_id, originServerTs: parsed.data.origin_server_ts };
}

/** Whether an event at `eventTs` answers the query at all: at or after `ts` forwards, at or before it backwards. */
export function inDirection(q: TimestampQuery, eventTs: number): boolean {
  return q.dir === "f" ? eventTs >= q.ts : eventTs <= q.ts;
}

/** Whether `candidateTs` is strictly closer to the query's `ts` than the local answer (any candidate beats no answer). */
export function closerThan(q: TimestampQuery, candidateTs: number, local: TimestampMatch | undefined): boolean {
  return local === undefined || Math.abs(candidateTs - q.ts) < Math.abs(local.originServerTs - q.ts);
}
