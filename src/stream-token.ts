/**
 * Pagination tokens of the global stream (services/stream.ts): `s<pos>` means
 * "after stream position pos". /sync's next_batch and prev_batch, /messages'
 * start and end, /context, /relations and /threads all use it, so a token from
 * one endpoint is valid for the others (client-server-api "Syncing": tokens
 * from /sync may be passed to /messages).
 */
import { MatrixError } from "./errors.js";

export function streamToken(pos: number): string {
  return `s${pos}`;
}

/**
 * Parses `s<pos>` for the named query parameter; anything else, or a position
 * the stream has not reached, is 400 M_INVALID_PARAM.
 */
export function parseStreamToken(token: string, name: string, head: number): number {
  const m = /^s(\d{1,15})$/.exec(token);
  if (!m) throw new MatrixError("M_INVALID_PARAM", `Invalid ${name} token`, 400);
  const pos = Number(m[1]);
  if (pos > head) throw new MatrixError("M_INVALID_PARAM", `${name} token is from the future`, 400);
  return pos;
}

/**
 * History fetched from other servers (backfill) sorts below every stream
 * position: it takes negative positions, decreasing, as Synapse's backfilled
 * stream orderings. No event is below this one; room reads that page into
 * history use `BEFORE_ALL_EVENTS` as their exclusive lower bound (/sync does not:
 * it reads positions above its token, so backfilled events never come to it).
 */
export const LOWEST_EVENT_POS = -Number.MAX_SAFE_INTEGER + 1;
export const BEFORE_ALL_EVENTS = LOWEST_EVENT_POS - 1;

/**
 * A token of the room reads (/messages, /context, /relations, /members?at=,
 * /threads): as parseStreamToken, and also `s-<pos>`, a place inside
 * backfilled history.
 */
export function parseRoomToken(token: string, name: string, head: number): number {
  const m = /^s(-?\d{1,15})$/.exec(token);
  if (!m) throw new MatrixError("M_INVALID_PARAM", `Invalid ${name} token`, 400);
  const pos = Number(m[1]);
  if (pos > head) throw new MatrixError("M_INVALID_PARAM", `${name} token is from the future`, 400);
  return pos;
}

/** `dir` of /messages, /relations and timestamp_to_event. */
export function parseDirection(value: string | undefined, required: boolean): "b" | "f" {
  if (value === undefined) {
    if (required) throw new MatrixError("M_MISSING_PARAM", "Missing dir parameter", 400);
    return "b";
  }
  if (value !== "b" && value !== "f") throw new MatrixError("M_INVALID_PARAM", "dir must be 'b' or 'f'", 400);
  return value;
}

/** A non-negative integer `limit` (default when absent), capped at `max`. */
export function parseLimit(value: string | undefined, def: number, max: number, opts: { min?: number } = {}): number {
  if (value === undefined) return def;
  const min = opts.min ?? 0;
  if (!/^-?\d{1,15}$/.test(value) || Number(value) < min) {
    throw new MatrixError("M_INVALID_PARAM", `limit must be an integer of at least ${min}`, 400);
  }
  return Math.min(Number(value), max);
}
