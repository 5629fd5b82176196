/**
 * Unread notification counts (client-server-api "Receiving notifications",
 * MSC3773 per-thread counts) from per-user notification rows, planned so that a
 * sync counts only what it has not counted before.
 *
 * A thread's count is the number of its notification rows after its read
 * position F (the later of the unthreaded read position U and the thread's own).
 * Counting from F on every sync costs as much as the unread backlog, so rooms
 * with a large backlog keep a cached count: "n rows of thread t in (f, C]". While
 * F = f the count is n plus the rows in (C, upTo]; read positions only move
 * forward, so once F > f the cached part shrinks to the rows in (F, C] (nothing if
 * F ≥ C). A thread absent from a room's cache had no rows in (its floor, C].
 *
 * The plan is a list of ranges to count; each range names a room, optionally one
 * thread, (from, to], and the per-thread floors rows must also be above. One D1
 * query counts them all (services/push/unread-counts.ts).
 */

export interface ThreadCounts {
  notify: number;
  highlight: number;
}

export interface ReadPositions {
  unthreaded: number;
  threads: Map<string, number>;
}

export interface CachedThread {
  floor: number;
  upto: number;
  notify: number;
  highlight: number;
}

export interface CountRange {
  room: string;
  /** Only this thread's rows; all threads when absent. */
  thread?: string;
  from: number;
  to: number;
  /** Threads whose read position is above `from`: their rows must also be above it. */
  floors: Array<{ t: string; p: number }>;
}

export interface CountPlan {
  ranges: CountRange[];
  /** Counts carried over from caches, per room and thread. */
  base: Map<string, Map<string, ThreadCounts>>;
  /** Read position used per room and thread (for writing new caches). */
  floorOf: (room: string, thread: string) => number;
}

export function threadFloor(p: ReadPositions | undefined, thread: string): number {
  if (!p) return 0;
  return Math.max(p.unthreaded, p.threads.get(thread) ?? 0);
}

export function planCounts(rooms: string[], positions: Map<string, ReadPositions>, caches: Map<string, Map<string, CachedThread>>, upTo: number): CountPlan {
  const ranges: CountRange[] = [];
  const base = new Map<string, Map<string, ThreadCounts>>();
  for (const room of rooms) {
    const pos = positions.get(room);
    const u = pos?.unthreaded ?? 0;
    const floorsAbove = (from: number) =>
      [...(pos?.threads ?? [])].filter(([, p]) => p > from).map(([t, p]) => ({ t, p }));
    const cache = caches.get(room);
    if (!cache || cache.size === 0) {
      if (u < upTo) ranges.push({ room, from: u, to: upTo, floors: floorsAbove(u) });
      continue;
    }
    const c = Math.min(...[...cache.values()].map((x) => x.upto));
    const carried = new Map<string, ThreadCounts>();
    for (const [t, x] of cache) {
      const f = threadFloor(pos, t);
      if (f === x.floor) carried.set(t, { notify: x.notify, highlight: x.highlight });
      else if (f < c) ranges.push({ room, thread: t, from: f, to: c, floors: [] });
    }
    base.set(room, carried);
    const from = Math.max(c, u);
    if (from < upTo) ranges.push({ room, from, to: upTo, floors: floorsAbove(from) });
  }
  return { ranges, base, floorOf: (room, thread) => threadFloor(positions.get(room), thread) };
}

/** Adds counted ranges (`results[i]` per thread for `plan.ranges[i]`) to the carried counts. */
export function mergeCounts(plan: CountPlan, results: Array<{ range: number; thread: string; notify: number; highlight: number }>): Map<string, Map<string, ThreadCounts>> {
  const out = new Map<string, Map<string, ThreadCounts>>();
  for (const [room, threads] of plan.base) out.set(room, new Map([...threads].map(([t, c]) => [t, { ...c }])));
  for (const r of results) {
    const range = plan.ranges[r.range];
    if (!range) continue;
    let threads = out.get(range.room);
    if (!threads) out.set(range.room, (threads = new Map()));
    const cur = threads.get(r.thread) ?? { notify: 0, highlight: 0 };
    threads.set(r.thread, { notify: cur.notify + r.notify, highlight: cur.highlight + r.highlight });
  }
  return out;
}

/** The spec's Unread Notification Counts object. */
export interface UnreadNotificationCounts {
  notification_count: number;
  highlight_count: number;
}

/**
 * The per-room fields of /sync. Without `threaded`, one count over every thread;
 * with it (filter `unread_thread_notifications`), MSC3773: `unread_notifications`
 * counts the main timeline only and `unread_thread_notifications` maps each thread
 * root with unread notifications to its counts.
 */
export function syncFields(threads: Map<string, ThreadCounts> | undefined, threaded: boolean): {
  unread_notifications: UnreadNotificationCounts;
  unread_thread_notifications?: Record<string, UnreadNotificationCounts>;
} {
  const counts = (c: ThreadCounts | undefined): UnreadNotificationCounts => ({ notification_count: c?.notify ?? 0, highlight_count: c?.highlight ?? 0 });
  if (!threaded) {
    let notify = 0;
    let highlight = 0;
    for (const c of threads?.values() ?? []) {
      notify += c.notify;
      highlight += c.highlight;
    }
    return { unread_notifications: counts({ notify, highlight }) };
  }
  const perThread: Record<string, UnreadNotificationCounts> = {};
  for (const [t, c] of threads ?? []) {
    if (t !== "main" && (c.notify > 0 || c.highlight > 0)) perThread[t] = counts(c);
  }
  return { unread_notifications: counts(threads?.get("main")), unread_thread_notifications: perThread };
}

/** Rooms whose backlog is at least this many notifications keep a cached count. */
export const CACHE_MIN_UNREAD = 50;
