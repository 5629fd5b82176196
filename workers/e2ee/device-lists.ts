import { userIdDomain } from "../../src/identifiers.js";
import type { Env } from "../../services/env.js";
import { Topic, notifyUsers } from "../../services/wake.js";
import { STREAM_POS } from "../../services/stream.js";

/**
 * Device-list tracking (spec: "Tracking the device list for a user", "Extensions
 * to /sync" device_lists, GET /keys/changes). Every change of a user's devices or
 * cross-signing keys is a row in device_list_changes at a stream position; who
 * hears about it is decided at read time from room_memberships.
 */

/**
 * The statement that records a change of `userId`'s device list at the batch's
 * stream position. The batch must have advanced the stream first
 * (`advanceStream(db)` as its first statement). `onlyFor`: tell only that user.
 */
export function recordDeviceListChange(db: D1Database, userId: string, onlyFor?: string): D1PreparedStatement {
  return db
    .prepare(`INSERT INTO device_list_changes (user_id, stream_pos, only_for) VALUES (?, ${STREAM_POS}, ?)`)
    .bind(userId, onlyFor ?? null);
}

/** Current joined-room co-members of `userId` (both joined), without the user. */
const SHARES_ROOM = (me: string, other: string) =>
  `EXISTS (SELECT 1 FROM room_memberships sx JOIN room_memberships sy ON sy.room_id = sx.room_id ` +
  `WHERE sx.user_id = ${me} AND sx.membership = 'join' AND sy.user_id = ${other} AND sy.membership = 'join')`;

/**
 * `device_lists` for an incremental sync (or /keys/changes) of `userId` covering
 * positions (since, to]:
 * - changed: users sharing a joined room with us now (and we ourselves) whose
 *   devices or cross-signing keys changed in the range, users a change was recorded
 *   for us only (our user-signing key signed them), and users who newly share a
 *   room: everyone in a room we joined in the range, everyone who joined a room
 *   we are in (the spec allows "share a new room" to be this simple);
 * - left: users whose or our leaving in the range means we now share no room.
 *
 * Every query starts from the range (device_list_changes and room_memberships by
 * stream_pos), so a sync reads rows in proportion to what changed, not to how many
 * rooms and members the user has.
 */
export async function deviceListsSince(db: D1Database, userId: string, since: number, to: number): Promise<DeviceLists> {
  if (to <= since) return { changed: [], left: [] };
  return deviceListsFromResults(await db.batch(deviceListsStatements(db, userId, since, to)));
}

export interface DeviceLists {
  changed: string[];
  left: string[];
}

/** The three reads of `deviceListsSince`, to run inside a larger batch (results: `deviceListsFromResults`). */
export function deviceListsStatements(db: D1Database, userId: string, since: number, to: number): D1PreparedStatement[] {
  return [
    db
      .prepare(
        "SELECT DISTINCT c.user_id AS u FROM device_list_changes c WHERE c.stream_pos > ?1 AND c.stream_pos <= ?2 " +
          `AND (c.only_for = ?3 OR (c.only_for IS NULL AND (c.user_id = ?3 OR ${SHARES_ROOM("?3", "c.user_id")})))`,
      )
      .bind(since, to, userId),
    // m: a join in the range, in a room where we are joined now (a); b: who we now share it with.
    // CROSS JOIN keeps m (the stream range) as the outer loop, so the cost follows the changes.
    db
      .prepare(
        "SELECT DISTINCT b.user_id AS u FROM room_memberships m " +
          "CROSS JOIN room_memberships a ON a.room_id = m.room_id AND a.user_id = ?3 AND a.membership = 'join' " +
          "CROSS JOIN room_memberships b ON b.room_id = m.room_id AND b.membership = 'join' AND b.user_id != ?3 " +
          "WHERE m.stream_pos > ?1 AND m.stream_pos <= ?2 AND m.membership = 'join' AND (m.user_id = ?3 OR m.user_id = b.user_id)",
      )
      .bind(since, to, userId),
    // m: a departure in the range, ours (then b is everyone who was there) or theirs
    // from a room we are in; reported only if no joined room is left in common.
    db
      .prepare(
        "SELECT DISTINCT b.user_id AS u FROM room_memberships m " +
          "CROSS JOIN room_memberships a ON a.room_id = m.room_id AND a.user_id = ?3 " +
          "CROSS JOIN room_memberships b ON b.room_id = m.room_id AND b.user_id != ?3 " +
          "WHERE m.stream_pos > ?1 AND m.stream_pos <= ?2 AND m.membership != 'join' AND (" +
          "(m.user_id = ?3 AND (b.membership = 'join' OR b.stream_pos > ?1)) OR " +
          "(m.user_id = b.user_id AND a.membership = 'join')) " +
          `AND NOT ${SHARES_ROOM("?3", "b.user_id")}`,
      )
      .bind(since, to, userId),
  ];
}

/** `device_lists` from the results of `deviceListsStatements`, in order. */
export function deviceListsFromResults([keyChanges, joins, leaves]: D1Result[]): DeviceLists {
  const rows = (r: D1Result | undefined) => ((r?.results ?? []) as { u: string }[]).map((x) => x.u);
  const changed = [...new Set([...rows(keyChanges), ...rows(joins)])].sort();
  const changedSet = new Set(changed);
  const left = [...new Set(rows(leaves))].filter((u) => !changedSet.has(u)).sort();
  return { changed, left };
}

/** Local users who share a joined room with `userId`, and the user. */
export async function localUsersSharingRoomsWith(env: Env, userId: string): Promise<string[]> {
  const { results } = await env.DB.prepare(
    "SELECT DISTINCT b.user_id AS u FROM room_memberships a JOIN room_memberships b ON b.room_id = a.room_id " +
      "WHERE a.user_id = ? AND a.membership = 'join' AND b.membership = 'join'",
  )
    .bind(userId)
    .all<{ u: string }>();
  const users = new Set([userId, ...results.map((r) => r.u)]);
  return [...users].filter((u) => userIdDomain(u) === env.SERVER_NAME);
}

/**
 * Wakes the long-polls of everyone who will see a device-list change of `userId`
 * recorded at `pos` (`onlyFor`: just that user). Failures are logged, never thrown:
 * the next sync reads D1 anyway.
 */
export async function notifyDeviceListChange(env: Env, userId: string, pos: number, onlyFor?: string): Promise<void> {
  try {
    const users = onlyFor !== undefined ? [onlyFor] : await localUsersSharingRoomsWith(env, userId);
    await notifyUsers(env, users, pos, Topic.DEVICE_LISTS);
  } catch (e) {
    console.error(`device-list notify for ${userId} failed`, e);
  }
}
