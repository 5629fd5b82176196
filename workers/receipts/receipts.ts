/**
 * Receipts in D1 (`receipts`, d1-migrations/0008_ephemeral.sql): writing one
 * (POST /receipt, /read_markers) and reading what /sync delivers. The push and
 * notification counts read the same table.
 */
import { MatrixError } from "../../src/errors.js";
import { type ReceiptRow, type RelationInfo, receiptFitsThread, receiptMovesForward, resolveThread } from "../../src/receipts.js";
import type { Env } from "../../services/env.js";
import { Topic, notifyUsers } from "../../services/wake.js";
import { STREAM_POS, advanceStream, streamPosOf } from "../../services/stream.js";

/** Most receipts one /sync carries (newest first); a bound, not a page. */
export const MAX_SYNC_RECEIPTS = 5_000;
/** Upper bound on the members of one room woken by a receipt. */
const MAX_MEMBERS = 100_000;

interface TargetRow {
  room_id: string;
  stream_pos: number;
  relates_to: string | null;
  rel_type: string | null;
}

const isLocal = (env: Env, userId: string) => userId.endsWith(`:${env.SERVER_NAME}`);

function relationOf(r: TargetRow): RelationInfo {
  return { relatesTo: r.relates_to, relType: r.rel_type };
}

/** 403 unless the user is joined to the room (receipts, read markers and typing are for members). */
export function requireJoined(membership: { membership: string } | null | undefined, roomId: string): void {
  if (membership?.membership !== "join") throw new MatrixError("M_FORBIDDEN", `You are not joined to room ${roomId}`, 403);
}

export interface ReceiptInput {
  roomId: string;
  userId: string;
  receiptType: "m.read" | "m.read.private";
  eventId: string;
  /** undefined = unthreaded; "main" or a thread root id (MSC3771). */
  threadId: string | undefined;
}

/**
 * Stores a receipt and wakes those who will see it (every joined local member
 * for m.read, only the owner for m.read.private). As Synapse does, a receipt for
 * an event this server does not have in the room is ignored, and so is one that
 * would move the receipt backwards.
 */
export async function postReceipt(env: Env, r: ReceiptInput, defer: (p: Promise<unknown>) => void): Promise<void> {
  const db = env.DB;
  const threadKey = r.threadId ?? "";
  const [member, target, current] = await db.batch([
    db.prepare("SELECT membership FROM room_memberships WHERE room_id = ? AND user_id = ?").bind(r.roomId, r.userId),
    db.prepare("SELECT room_id, stream_pos, relates_to, rel_type FROM room_events WHERE event_id = ?").bind(r.eventId),
    db
      .prepare("SELECT event_stream_pos FROM receipts WHERE room_id = ? AND user_id = ? AND receipt_type = ? AND thread_id = ?")
      .bind(r.roomId, r.userId, r.receiptType, threadKey),
  ]);
  requireJoined(member?.results[0] as { membership: string } | undefined, r.roomId);
  const event = target?.results[0] as TargetRow | undefined;
  if (!event || event.room_id !== r.roomId) return;

  if (r.threadId !== undefined) {
    const resolved = await resolveThread(r.eventId, relationOf(event), async (id) => {
      const row = await db.prepare("SELECT room_id, stream_pos, relates_to, rel_type FROM room_events WHERE event_id = ?").bind(id).first<TargetRow>();
      return row && row.room_id === r.roomId ? relationOf(row) : null;
    });
    const fits = await receiptFitsThread(r.threadId, resolved, async (root) =>
      Boolean(await db.prepare("SELECT 1 AS x FROM room_events WHERE relates_to = ? AND rel_type = 'm.thread' LIMIT 1").bind(root).first()),
    );
    if (!fits) throw new MatrixError("M_INVALID_PARAM", `event_id ${r.eventId} is not related to thread ${r.threadId}`, 400);
  }

  if (!receiptMovesForward(current?.results[0] as { event_stream_pos: number } | undefined, event.stream_pos)) return;

  const isPrivate = r.receiptType === "m.read.private";
  const statements = [
    advanceStream(db),
    // The WHERE keeps receipts monotonic even against a concurrent write.
    db
      .prepare(
        "INSERT INTO receipts (room_id, user_id, receipt_type, thread_id, event_id, event_stream_pos, ts, stream_pos) " +
          `VALUES (?, ?, ?, ?, ?, ?, ?, ${STREAM_POS}) ON CONFLICT (room_id, user_id, receipt_type, thread_id) DO UPDATE SET ` +
          "event_id = excluded.event_id, event_stream_pos = excluded.event_stream_pos, ts = excluded.ts, stream_pos = excluded.stream_pos " +
          "WHERE excluded.event_stream_pos > receipts.event_stream_pos RETURNING stream_pos",
      )
      .bind(r.roomId, r.userId, r.receiptType, threadKey, r.eventId, event.stream_pos, Date.now()),
  ];
  if (!isPrivate) {
    statements.push(
      db.prepare("SELECT user_id FROM room_memberships WHERE room_id = ? AND membership = 'join' LIMIT ?").bind(r.roomId, MAX_MEMBERS),
    );
  }
  const results = await db.batch(statements);
  if (!results[1]?.results.length) return;
  const pos = streamPosOf(results);
  const members = isPrivate ? [r.userId] : ((results[2]?.results ?? []) as { user_id: string }[]).map((m) => m.user_id).filter((u) => isLocal(env, u));
  defer(notifyUsers(env, members, pos, Topic.ROOMS));
}

/**
 * Receipts for /sync in the given rooms: those written in (since, upTo] in
 * `changedIn`, and all current ones in `fullIn` (initial sync, new joins).
 * Private receipts only ever reach their owner.
 */
export async function receiptsForSync(
  db: D1Database,
  userId: string,
  since: number | null,
  upTo: number,
  changedIn: readonly string[],
  fullIn: readonly string[],
): Promise<Map<string, ReceiptRow[]>> {
  const statements: D1PreparedStatement[] = [];
  const cols = "room_id, user_id, receipt_type, thread_id, event_id, ts";
  const visible = "(receipt_type != 'm.read.private' OR user_id = ?)";
  if (since !== null && changedIn.length) {
    statements.push(
      db
        .prepare(
          `SELECT ${cols} FROM receipts WHERE room_id IN (SELECT value FROM json_each(?)) AND stream_pos > ? AND stream_pos <= ? AND ${visible} ` +
            "ORDER BY stream_pos DESC LIMIT ?",
        )
        .bind(JSON.stringify(changedIn), since, upTo, userId, MAX_SYNC_RECEIPTS),
    );
  }
  if (fullIn.length) {
    statements.push(
      db
        .prepare(`SELECT ${cols} FROM receipts WHERE room_id IN (SELECT value FROM json_each(?)) AND stream_pos <= ? AND ${visible} ORDER BY stream_pos DESC LIMIT ?`)
        .bind(JSON.stringify(fullIn), upTo, userId, MAX_SYNC_RECEIPTS),
    );
  }
  const out = new Map<string, ReceiptRow[]>();
  if (!statements.length) return out;
  const seen = new Set<string>();
  for (const res of await db.batch(statements)) {
    for (const row of res.results as (ReceiptRow & { room_id: string })[]) {
      const key = `${row.room_id}\u0000${row.user_id}\u0000${row.receipt_type}\u0000${row.thread_id}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const list = out.get(row.room_id);
      if (list) list.push(row);
      else out.set(row.room_id, [row]);
    }
  }
  return out;
}
