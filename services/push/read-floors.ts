/**
 * Where a user has read up to, per room and thread (client-server-api "Marking
 * notifications as read"): the later of their `m.read` and `m.read.private`
 * receipts (0008_ephemeral.sql `receipts`, MSC3771 threads: '' unthreaded, 'main'
 * or a thread root), and their own latest event in the thread ("either by using
 * the API or by sending an event", push_sent_reads).
 *
 * A notification in thread T is read if its position is at or before the
 * unthreaded receipt or T's own read position (spec "Threaded read receipts": an
 * unthreaded receipt marks everything before it read, a threaded one only its
 * thread).
 */
export interface RoomReadFloors {
  /** The unthreaded receipt's event position (0 when none). */
  unthreaded: number;
  /** Per thread id ('main' or a root): threaded receipt or own event, whichever is later. */
  threads: Map<string, number>;
}

export function floorOf(f: RoomReadFloors | undefined, thread: string): number {
  if (!f) return 0;
  return Math.max(f.unthreaded, f.threads.get(thread) ?? 0);
}

/** Read positions of `userId` in `roomIds`: one D1 batch of two indexed queries. */
export async function loadReadFloors(db: D1Database, userId: string, roomIds: string[]): Promise<Map<string, RoomReadFloors>> {
  if (roomIds.length === 0) return new Map();
  const [receipts, sent] = await db.batch(readFloorsStatements(db, userId, roomIds));
  return readFloorsFrom(receipts, sent);
}

/** The two queries of loadReadFloors, for a caller's larger batch (read with readFloorsFrom). */
export function readFloorsStatements(db: D1Database, userId: string, roomIds: string[]): D1PreparedStatement[] {
  const rooms = JSON.stringify(roomIds);
  return [
    db
      .prepare(
        "SELECT room_id, thread_id, MAX(event_stream_pos) AS pos FROM receipts " +
          "WHERE room_id IN (SELECT value FROM json_each(?2)) AND user_id = ?1 AND receipt_type IN ('m.read', 'm.read.private') AND event_stream_pos IS NOT NULL " +
          "GROUP BY room_id, thread_id",
      )
      .bind(userId, rooms),
    db.prepare("SELECT room_id, thread_id, stream_pos AS pos FROM push_sent_reads WHERE user_id = ?1 AND room_id IN (SELECT value FROM json_each(?2))").bind(userId, rooms),
  ];
}

export function readFloorsFrom(receipts: D1Result | undefined, sent: D1Result | undefined): Map<string, RoomReadFloors> {
  const out = new Map<string, RoomReadFloors>();
  const get = (room: string) => {
    let f = out.get(room);
    if (!f) out.set(room, (f = { unthreaded: 0, threads: new Map() }));
    return f;
  };
  for (const r of [...((receipts?.results ?? []) as Row[]), ...((sent?.results ?? []) as Row[])]) {
    const f = get(r.room_id);
    if (r.thread_id === "") f.unthreaded = Math.max(f.unthreaded, r.pos);
    else f.threads.set(r.thread_id, Math.max(f.threads.get(r.thread_id) ?? 0, r.pos));
  }
  return out;
}

interface Row {
  room_id: string;
  thread_id: string;
  pos: number;
}
