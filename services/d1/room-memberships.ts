/**
 * `room_memberships` (d1-migrations/0005_rooms.sql): every user's current
 * membership of every room, kept by the Room DO outbox.
 */

/** The rooms the user is joined to (all of them, or at most `limit`). */
export async function joinedRoomIds(db: D1Database, userId: string, limit?: number): Promise<string[]> {
  const stmt =
    limit === undefined
      ? db.prepare("SELECT room_id FROM room_memberships WHERE user_id = ? AND membership = 'join'").bind(userId)
      : db.prepare("SELECT room_id FROM room_memberships WHERE user_id = ? AND membership = 'join' LIMIT ?").bind(userId, limit);
  const { results } = await stmt.all<{ room_id: string }>();
  return results.map((r) => r.room_id);
}
