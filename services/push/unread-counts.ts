/**
 * Unread notification counts of one user in some rooms, from `event_push_actions`
 * (written at publish time, durable-objects/room/push-actions.ts) after their read
 * positions (read-floors.ts), with the cached counts of src/unread-counts.ts for
 * rooms with a large backlog. Three indexed reads and at most one counting query
 * whatever the number of rooms; the cache is written only when it changes.
 */
import { CACHE_MIN_UNREAD, type CachedThread, type ThreadCounts, mergeCounts, planCounts } from "../../src/unread-counts.js";
import { readFloorsFrom, readFloorsStatements } from "./read-floors.js";

interface CacheRow {
  room_id: string;
  thread_id: string;
  floor_pos: number;
  upto_pos: number;
  notif: number;
  highlight: number;
}

export async function unreadCounts(db: D1Database, userId: string, rooms: string[], upTo: number): Promise<Map<string, Map<string, ThreadCounts>>> {
  if (rooms.length === 0) return new Map();
  return unreadCountsFrom(db, userId, rooms, upTo, await db.batch(unreadStatements(db, userId, rooms)));
}

/** The reads unreadCounts starts with (read positions, cached counts), for a caller's larger batch. */
export function unreadStatements(db: D1Database, userId: string, rooms: string[]): D1PreparedStatement[] {
  return [
    ...readFloorsStatements(db, userId, rooms),
    db
      .prepare("SELECT room_id, thread_id, floor_pos, upto_pos, notif, highlight FROM push_summary WHERE user_id = ?1 AND room_id IN (SELECT value FROM json_each(?2))")
      .bind(userId, JSON.stringify(rooms)),
  ];
}

/** The counts, given the results of unreadStatements (in order): at most one more query, and the cache write. */
export async function unreadCountsFrom(
  db: D1Database,
  userId: string,
  rooms: string[],
  upTo: number,
  [receipts, sent, summary]: D1Result[],
): Promise<Map<string, Map<string, ThreadCounts>>> {
  if (rooms.length === 0) return new Map();
  const positions = readFloorsFrom(receipts, sent);
  const cacheRows = (summary?.results ?? []) as CacheRow[];
  const caches = new Map<string, Map<string, CachedThread>>();
  for (const r of cacheRows) {
    let m = caches.get(r.room_id);
    if (!m) caches.set(r.room_id, (m = new Map()));
    m.set(r.thread_id, { floor: r.floor_pos, upto: r.upto_pos, notify: r.notif, highlight: r.highlight });
  }
  const plan = planCounts(rooms, positions, caches, upTo);
  let results: Array<{ range: number; thread: string; notify: number; highlight: number }> = [];
  if (plan.ranges.length) {
    const ranges = plan.ranges.map((r) => ({ r: r.room, t: r.thread ?? null, from: r.from, to: r.to, f: r.floors }));
    const { results: rows } = await db
      .prepare(
        "SELECT e.key AS i, a.thread_id AS t, COUNT(*) AS n, SUM(a.highlight) AS h FROM json_each(?2) e " +
          "JOIN event_push_actions a ON a.user_id = ?1 AND a.room_id = e.value ->> 'r' AND a.stream_pos > e.value ->> 'from' AND a.stream_pos <= e.value ->> 'to' " +
          "WHERE (e.value ->> 't' IS NULL OR a.thread_id = e.value ->> 't') " +
          "AND a.stream_pos > COALESCE((SELECT f.value ->> 'p' FROM json_each(e.value -> 'f') f WHERE f.value ->> 't' = a.thread_id), 0) " +
          "GROUP BY e.key, a.thread_id",
      )
      .bind(userId, JSON.stringify(ranges))
      .all<{ i: number; t: string; n: number; h: number }>();
    results = rows.map((r) => ({ range: r.i, thread: r.t, notify: r.n, highlight: r.h ?? 0 }));
  }
  const counts = mergeCounts(plan, results);
  await updateCache(db, userId, plan.ranges.map((r) => r.room), caches, counts, plan.floorOf, upTo).catch((e: unknown) =>
    console.error("unread count cache update failed", e),
  );
  return counts;
}

/** Keeps a cached count for rooms whose backlog is large; drops it for the others. */
async function updateCache(
  db: D1Database,
  userId: string,
  countedRooms: string[],
  caches: Map<string, Map<string, CachedThread>>,
  counts: Map<string, Map<string, ThreadCounts>>,
  floorOf: (room: string, thread: string) => number,
  upTo: number,
): Promise<void> {
  const touched = new Set<string>();
  const rows: Array<{ r: string; t: string; f: number; n: number; h: number }> = [];
  for (const room of new Set(countedRooms)) {
    const threads = counts.get(room) ?? new Map<string, ThreadCounts>();
    let total = 0;
    for (const c of threads.values()) total += c.notify;
    if (total >= CACHE_MIN_UNREAD) {
      touched.add(room);
      for (const [t, c] of threads) if (c.notify > 0) rows.push({ r: room, t, f: floorOf(room, t), n: c.notify, h: c.highlight });
    } else if (caches.has(room)) {
      touched.add(room);
    }
  }
  if (touched.size === 0) return;
  const statements = [
    db.prepare("DELETE FROM push_summary WHERE user_id = ?1 AND room_id IN (SELECT value FROM json_each(?2))").bind(userId, JSON.stringify([...touched])),
  ];
  if (rows.length) {
    statements.push(
      db
        .prepare(
          "INSERT INTO push_summary (user_id, room_id, thread_id, floor_pos, upto_pos, notif, highlight) " +
            "SELECT ?1, j.value ->> 'r', j.value ->> 't', j.value ->> 'f', ?2, j.value ->> 'n', j.value ->> 'h' FROM json_each(?3) j WHERE true " +
            "ON CONFLICT (user_id, room_id, thread_id) DO UPDATE SET floor_pos = excluded.floor_pos, upto_pos = excluded.upto_pos, notif = excluded.notif, highlight = excluded.highlight",
        )
        .bind(userId, upTo, JSON.stringify(rows)),
    );
  }
  await db.batch(statements);
}
