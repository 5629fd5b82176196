/**
 * Presence in D1 (`presence`, d1-migrations/0008_ephemeral.sql): reading,
 * writing an update decided by src/presence.ts, and who sees it — users who share
 * a joined room (client-server-api "Presence": "sent to interested parties where
 * users share a room membership").
 */
import { OFFLINE_AFTER_MS, type PresenceRow, type PresenceUpdate } from "../../src/presence.js";
import type { Env } from "../env.js";
import { Topic, notifyUsers } from "../wake.js";
import { STREAM_POS, advanceStream, streamPosOf } from "../stream.js";

/** Most presence events one /sync carries; a bound, not a page. */
export const MAX_SYNC_PRESENCE = 1_000;
/** Upper bound on the users woken by one presence change. */
const MAX_AUDIENCE = 100_000;

const COLS = "user_id, state, status_msg, last_active_ts, last_seen_ts";

/** Users who share a joined room with `?` (the user included, if joined anywhere). */
const CO_MEMBERS =
  "SELECT b.user_id FROM room_memberships a JOIN room_memberships b ON b.room_id = a.room_id " +
  "WHERE a.user_id = ? AND a.membership = 'join' AND b.membership = 'join'";

export async function readPresence(db: D1Database, userId: string): Promise<PresenceRow | null> {
  return db.prepare(`SELECT ${COLS} FROM presence WHERE user_id = ?`).bind(userId).first<PresenceRow>();
}

/** Whether two users share a joined room (who may see whose presence). */
export async function shareARoom(db: D1Database, a: string, b: string): Promise<boolean> {
  const row = await db
    .prepare(
      "SELECT 1 AS x FROM room_memberships m1 JOIN room_memberships m2 ON m2.room_id = m1.room_id AND m2.user_id = ? " +
        "WHERE m1.user_id = ? AND m1.membership = 'join' AND m2.membership = 'join' LIMIT 1",
    )
    .bind(b, a)
    .first();
  return row !== null;
}

const UPSERT =
  `INSERT INTO presence (${COLS}, stream_pos) VALUES (?, ?, ?, ?, ?, ${STREAM_POS}) ON CONFLICT (user_id) DO UPDATE SET ` +
  "state = excluded.state, status_msg = excluded.status_msg, last_active_ts = excluded.last_active_ts, last_seen_ts = excluded.last_seen_ts";

/**
 * Stores an update. A change others can see takes a stream position and wakes
 * the user and everyone sharing a room with them; a refresh of timestamps is one
 * plain write that wakes no one. A user who is not offline gets their timeout
 * armed in their Durable Object.
 */
export async function writePresence(env: Env, update: PresenceUpdate, defer: (p: Promise<unknown>) => void): Promise<void> {
  if (!update.write) return;
  const db = env.DB;
  const r = update.row;
  const values = [r.user_id, r.state, r.status_msg, r.last_active_ts, r.last_seen_ts] as const;
  if (update.notify) {
    const results = await db.batch([
      advanceStream(db),
      db.prepare(`${UPSERT}, stream_pos = excluded.stream_pos`).bind(...values),
      db.prepare(`SELECT DISTINCT user_id FROM (${CO_MEMBERS}) LIMIT ?`).bind(r.user_id, MAX_AUDIENCE),
    ]);
    const audience = ((results[2]?.results ?? []) as { user_id: string }[]).map((m) => m.user_id).filter((u) => u.endsWith(`:${env.SERVER_NAME}`));
    defer(notifyUsers(env, [r.user_id, ...audience], streamPosOf(results), Topic.PRESENCE));
  } else {
    // A row always exists here (a first write always notifies), so stream_pos is kept.
    await db.prepare(UPSERT.replace(STREAM_POS, "0")).bind(...values).run();
  }
  if (r.state !== "offline") {
    defer(
      env.USER.getByName(r.user_id)
        .schedulePresenceCheck(r.user_id, r.last_seen_ts + OFFLINE_AFTER_MS)
        .catch((e: unknown) => console.error(`presence timer for ${r.user_id} failed`, e)),
    );
  }
}

/**
 * The timer's transition to offline, written only if nobody refreshed the row
 * since it was read (`seenTs`). Returns whether it was written.
 */
export async function markOffline(env: Env, userId: string, seenTs: number): Promise<boolean> {
  const db = env.DB;
  const results = await db.batch([
    advanceStream(db),
    db
      .prepare(`UPDATE presence SET state = 'offline', stream_pos = ${STREAM_POS} WHERE user_id = ? AND last_seen_ts = ? AND state != 'offline' RETURNING user_id`)
      .bind(userId, seenTs),
    db.prepare(`SELECT DISTINCT user_id FROM (${CO_MEMBERS}) LIMIT ?`).bind(userId, MAX_AUDIENCE),
  ]);
  if (!results[1]?.results.length) return false;
  const audience = ((results[2]?.results ?? []) as { user_id: string }[]).map((m) => m.user_id).filter((u) => u.endsWith(`:${env.SERVER_NAME}`));
  await notifyUsers(env, [userId, ...audience], streamPosOf(results), Topic.PRESENCE);
  return true;
}

/**
 * Presence rows /sync shows `userId`. Initial sync (`since` null): everyone who
 * shares a room, and the user. Incremental: rows changed in (since, upTo] of those
 * users, plus everyone in rooms the user newly joined and everyone who joined one
 * of the user's rooms in that range (Synapse sends those too, so clients learn the
 * presence of people they just met).
 */
export async function presenceForSync(
  db: D1Database,
  userId: string,
  since: number | null,
  upTo: number,
  joinedRooms: readonly string[],
  newlyJoinedRooms: readonly string[],
): Promise<PresenceRow[]> {
  if (since === null) {
    const { results } = await db
      .prepare(`SELECT ${COLS} FROM presence WHERE user_id IN (${CO_MEMBERS} UNION SELECT ?) AND stream_pos <= ? LIMIT ?`)
      .bind(userId, userId, upTo, MAX_SYNC_PRESENCE)
      .all<PresenceRow>();
    return results;
  }
  const parts = [
    // Driven by the changed presence rows: each probes the changed user's rooms
    // (few) for one the syncing user is also joined to (primary-key lookup).
    `SELECT ${COLS} FROM presence p WHERE p.stream_pos > ?1 AND p.stream_pos <= ?2 AND (p.user_id = ?3 OR EXISTS (` +
      "SELECT 1 FROM room_memberships b CROSS JOIN room_memberships a ON a.room_id = b.room_id AND a.user_id = ?3 " +
      "WHERE b.user_id = p.user_id AND b.membership = 'join' AND a.membership = 'join'))",
  ];
  if (newlyJoinedRooms.length) {
    parts.push(
      `SELECT ${COLS} FROM presence WHERE stream_pos <= ?2 AND user_id IN (` +
        "SELECT user_id FROM room_memberships WHERE room_id IN (SELECT value FROM json_each(?4)) AND membership = 'join')",
    );
  }
  if (joinedRooms.length) {
    parts.push(
      `SELECT ${COLS} FROM presence WHERE stream_pos <= ?2 AND user_id IN (` +
        "SELECT state_key FROM room_events WHERE room_id IN (SELECT value FROM json_each(?5)) AND stream_pos > ?1 AND stream_pos <= ?2 AND type = 'm.room.member')",
    );
  }
  const { results } = await db
    .prepare(`${parts.join(" UNION ")} LIMIT ?6`)
    .bind(since, upTo, userId, JSON.stringify(newlyJoinedRooms), JSON.stringify(joinedRooms), MAX_SYNC_PRESENCE)
    .all<PresenceRow>();
  return results;
}
