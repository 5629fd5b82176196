/**
 * Long-poll wake-ups (durable-objects/wake/wake.ts): the Worker waits, a shard of
 * the Wake Durable Object wakes it. `waitForChange` holds a sync until something
 * for the user is written past `since` or the timeout passes; `notifyUsers` is
 * called after every such write, one call per shard that has any of the users.
 */
import type { Env } from "./env.js";

/**
 * How many Wake objects users are spread over unless `WAKE_SHARDS` says otherwise:
 * the most calls one write's wake-ups cost. Every call is a billed Durable Object
 * request, and a room's members fall on nearly every shard, so for a small
 * community one object is cheapest (the cost bench: 12.7 M DO requests a month
 * against 16.6 M with 4); more spread the connects and notifies of a large server.
 */
export const DEFAULT_WAKE_SHARDS = 1;
const MAX_WAKE_SHARDS = 256;

/** The configured shard count (changing it on a running server only delays the waits then open to their timeout). */
export function wakeShards(env: Pick<Env, "WAKE_SHARDS">): number {
  const n = Number(env.WAKE_SHARDS ?? DEFAULT_WAKE_SHARDS);
  return Number.isInteger(n) && n >= 1 && n <= MAX_WAKE_SHARDS ? n : DEFAULT_WAKE_SHARDS;
}

/** The shard of a user: FNV-1a of the user id, so it is the same in every isolate. */
export function wakeShard(userId: string, shards: number): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < userId.length; i++) {
    h ^= userId.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return `wake-${(h >>> 0) % shards}`;
}

/**
 * What a write is about, so a wait wakes only for what it would send: Element X's
 * `encryption` connection (to-device and device lists) sleeps through room
 * messages, which would otherwise wake it, have it read D1 for nothing and wait
 * again. A bit set; /sync waits on all of them.
 */
export const Topic = {
  /** Room events and memberships, receipts, typing, room account data. */
  ROOMS: 1,
  TO_DEVICE: 2,
  /** Device and cross-signing key changes, and joins and leaves (device_lists.changed / left). */
  DEVICE_LISTS: 4,
  /** Global account data, push rules. */
  ACCOUNT_DATA: 8,
  PRESENCE: 16,
} as const;
/** How many topic bits there are (durable-objects/wake/wake.ts keeps one position per topic). */
export const TOPIC_COUNT = Object.keys(Topic).length;
export const ALL_TOPICS = (1 << TOPIC_COUNT) - 1;

/**
 * Wakes the long-polls of local users, waiting on one of `topics`, after a write
 * at stream position `pos` concerns them. Failures only delay a wake-up (the wait
 * ends at its timeout and the next sync still reads D1).
 */
export async function notifyUsers(env: Env, userIds: Iterable<string>, pos: number, topics: number): Promise<void> {
  const byShard = new Map<string, string[]>();
  const shards = wakeShards(env);
  for (const u of new Set(userIds)) {
    const shard = wakeShard(u, shards);
    const list = byShard.get(shard);
    if (list) list.push(u);
    else byShard.set(shard, [u]);
  }
  await Promise.all(
    [...byShard].map(([shard, users]) =>
      env.WAKE.getByName(shard)
        .notify(users, pos, topics)
        .catch((e: unknown) => console.error(`wake-up of ${users.length} users on ${shard} failed`, e)),
    ),
  );
}

/** Whether a sync of the user is waiting right now. */
export function isWaiting(env: Env, userId: string): Promise<boolean> {
  return env.WAKE.getByName(wakeShard(userId, wakeShards(env))).isWaiting(userId);
}

/**
 * Waits until something for `userId` on one of `topics` is written past stream
 * position `since`, or `timeoutMs` passes: the position notified, or `since` at the
 * timeout. Callers re-read D1 either way: this is only a wake-up.
 */
export async function waitForChange(env: Env, userId: string, since: number, timeoutMs: number, topics: number = ALL_TOPICS): Promise<number> {
  if (timeoutMs <= 0) return since;
  const res = await env.WAKE.getByName(wakeShard(userId, wakeShards(env))).fetch(
    `https://wake/wait?${new URLSearchParams({ user: userId, since: String(since), topics: String(topics) })}`,
    { headers: { Upgrade: "websocket" } },
  );
  const ws = res.webSocket;
  if (!ws) throw new Error(`wake-up socket refused: ${res.status}`);
  ws.accept();
  return new Promise<number>((resolve) => {
    const done = (pos: number) => {
      clearTimeout(timer);
      try {
        ws.close(1000, "done");
      } catch {
        /* already closed */
      }
      resolve(pos);
    };
    const timer = setTimeout(() => done(since), timeoutMs);
    ws.addEventListener("message", (m) => {
      const pos = Number(m.data);
      done(Number.isSafeInteger(pos) && pos > since ? pos : since);
    });
    // Closed without a message: the shard went away (a deploy, an eviction); the caller reads D1 again.
    ws.addEventListener("close", () => done(since));
    ws.addEventListener("error", () => done(since));
  });
}
