/**
 * Receipts (client-server-api "Receipts", threaded receipts from MSC3771 / spec
 * v1.4): request validation, which thread an event belongs to, the "never move
 * backwards" rule, and the `m.receipt` event /sync delivers.
 */
import { z } from "zod";
import { MatrixError } from "./errors.js";
import type { JsonObject } from "./json.js";

/** Receipt types a client may send to /receipt (m.fully_read is a read marker, not a receipt). */
export const RECEIPT_TYPES = ["m.read", "m.read.private", "m.fully_read"] as const;
export type ReceiptType = (typeof RECEIPT_TYPES)[number];

/** The main timeline's pseudo thread id (spec "Threaded read receipts"). */
export const MAIN_THREAD = "main";

/** Synapse follows relations this many hops up; the spec recommends at least 3. */
export const MAX_RELATION_HOPS = 3;

export function isReceiptType(t: string): t is ReceiptType {
  return (RECEIPT_TYPES as readonly string[]).includes(t);
}

/**
 * A /receipt body: `thread_id` absent for an unthreaded receipt; present but
 * non-string or empty is 400 M_INVALID_PARAM (receipts.yaml, MSC3771 "Proposal").
 * Other keys are ignored.
 */
export const ReceiptBody = z.looseObject({
  thread_id: z
    .custom<string>((t) => typeof t === "string" && t !== "", { message: "thread_id field must be a non-empty string", params: { errcode: "M_INVALID_PARAM" } })
    .optional(),
});

/** Any thread on m.fully_read is 400 M_INVALID_PARAM (MSC3771: read markers are not threaded). */
export function checkReceiptThread(receiptType: ReceiptType, threadId: string | undefined): void {
  if (threadId !== undefined && receiptType === "m.fully_read") {
    throw new MatrixError("M_INVALID_PARAM", "thread_id is not compatible with m.fully_read receipts", 400);
  }
}

/** What thread resolution needs to know about one event. */
export interface RelationInfo {
  relatesTo: string | null;
  relType: string | null;
}

/**
 * Follows an event's relations upwards (at most `MAX_RELATION_HOPS` hops, spec:
 * "a maximum of 3 hops is recommended"). `thread` is the root of the first
 * m.thread relation met, or null when the event is in the main timeline; `top` is
 * the top-most event reached.
 */
export async function resolveThread(
  eventId: string,
  first: RelationInfo,
  lookup: (eventId: string) => Promise<RelationInfo | null>,
): Promise<{ thread: string | null; top: string }> {
  let id = eventId;
  let info: RelationInfo | null = first;
  for (let hop = 0; info?.relatesTo && hop <= MAX_RELATION_HOPS; hop++) {
    if (info.relType === "m.thread") return { thread: info.relatesTo, top: info.relatesTo };
    id = info.relatesTo;
    if (hop === MAX_RELATION_HOPS) break;
    info = await lookup(id);
  }
  return { thread: null, top: id };
}

/**
 * Whether a receipt for thread `threadId` may target an event (as Synapse
 * decides): a `main` receipt needs an event outside every thread; a receipt for
 * thread X an event in X, or X itself (or an event related to it) when X is a
 * thread root, i.e. has thread replies.
 */
export async function receiptFitsThread(
  threadId: string,
  resolved: { thread: string | null; top: string },
  hasThreadReplies: (rootId: string) => Promise<boolean>,
): Promise<boolean> {
  if (threadId === MAIN_THREAD) return resolved.thread === null;
  if (resolved.thread !== null) return resolved.thread === threadId;
  return resolved.top === threadId && (await hasThreadReplies(threadId));
}

/**
 * A receipt only moves forwards: one for an event at or before the current one is
 * accepted and ignored (Synapse compares stream orderings the same way).
 */
export function receiptMovesForward(current: { event_stream_pos: number } | null | undefined, newEventStreamPos: number): boolean {
  return !current || newEventStreamPos > current.event_stream_pos;
}

export interface ReceiptRow {
  user_id: string;
  receipt_type: string;
  /** '' = unthreaded. */
  thread_id: string;
  event_id: string;
  ts: number;
}

/**
 * The `m.receipt` events for a room's receipts: `{event_id: {type: {user_id:
 * {ts, thread_id?}}}}`, one event per thread (spec: "receipts SHOULD be batched
 * into one event per room and thread"), so an unthreaded and a threaded receipt of
 * one user on one event never overwrite each other. Unthreaded first.
 */
export function receiptEvents(rows: readonly ReceiptRow[]): JsonObject[] {
  const byThread = new Map<string, Record<string, Record<string, Record<string, JsonObject>>>>();
  for (const r of [...rows].sort((a, b) => (a.thread_id < b.thread_id ? -1 : a.thread_id > b.thread_id ? 1 : 0))) {
    let content = byThread.get(r.thread_id);
    if (!content) byThread.set(r.thread_id, (content = {}));
    const byType = (content[r.event_id] ??= {});
    const byUser = (byType[r.receipt_type] ??= {});
    const receipt: JsonObject = { ts: r.ts };
    if (r.thread_id !== "") receipt.thread_id = r.thread_id;
    byUser[r.user_id] = receipt;
  }
  return [...byThread.values()].map((content) => ({ type: "m.receipt", content: content as unknown as JsonObject }));
}
