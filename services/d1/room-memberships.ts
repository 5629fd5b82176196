/**
 * `room_memberships` (d1-migrations/0005_rooms.sql): every user's current
 * membership of every room, kept by the Room DO outbox; `forgotten` is the one
 * column clients write (POST /forget).
 */

/** The user's membership of the room, or null if they never had one. */
export async function membershipOf(db: D1Database, roomId: string, userId: string): Promise<string | null> {
  const row = await db.prepare("SELECT membership FROM room_memberships WHERE room_id = ? AND user_id = ?").bind(roomId, userId).first<{ membership: string }>();
  return row?.membership ?? null;
}

/** The rooms the user is joined to (all of them, or at most `limit`). */
export async function joinedRoomIds(db: D1Database, userId: string, limit?: number): Promise<string[]> {
  const stmt =
    limit === undefined
      ? db.prepare("SELECT room_id FROM room_memberships WHERE user_id = ? AND membership = 'join'").bind(userId)
      : db.prepare("SELECT room_id FROM room_memberships WHERE user_id = ? AND membership = 'join' LIMIT ?").bind(userId, limit);
  const { results } = await stmt.all<{ room_id: string }>();
  return results.map((r) => r.room_id);
}

/** The server names of the room's joined members, at most `limit` (derived from the user ids). */
export async function joinedServers(db: D1Database, roomId: string, limit: number): Promise<string[]> {
  const { results } = await db
    .prepare("SELECT DISTINCT substr(user_id, instr(user_id, ':') + 1) AS server FROM room_memberships WHERE room_id = ? AND membership = 'join' LIMIT ?")
    .bind(roomId, limit)
    .all<{ server: string }>();
  return results.map((r) => r.server);
}

/**
 * The server names of the room's joined members, those whose current join is oldest
 * first (a stand-in for "in the room the longest", which the spec suggests asking
 * first in timestamp_to_event), at most `limit`.
 */
export async function joinedServersByAge(db: D1Database, roomId: string, limit: number): Promise<string[]> {
  const { results } = await db
    .prepare(
      "SELECT substr(user_id, instr(user_id, ':') + 1) AS server, MIN(stream_pos) AS first FROM room_memberships " +
        "WHERE room_id = ? AND membership = 'join' GROUP BY server ORDER BY first LIMIT ?",
    )
    .bind(roomId, limit)
    .all<{ server: string }>();
  return results.map((r) => r.server);
}

export interface JoinedMemberRow {
  user_id: string;
  display_name: string | null;
  avatar_url: string | null;
}

/** The joined members with the profile of their member event (at most 50,000: a guard, not a page). */
export async function joinedMembers(db: D1Database, roomId: string): Promise<JoinedMemberRow[]> {
  const { results } = await db
    .prepare("SELECT user_id, display_name, avatar_url FROM room_memberships WHERE room_id = ? AND membership = 'join' LIMIT 50000")
    .bind(roomId)
    .all<JoinedMemberRow>();
  return results;
}

/** Marks the room forgotten for the user (POST /rooms/{roomId}/forget). */
export async function forgetRoom(db: D1Database, roomId: string, userId: string): Promise<void> {
  await db.prepare("UPDATE room_memberships SET forgotten = 1 WHERE room_id = ? AND user_id = ?").bind(roomId, userId).run();
}
