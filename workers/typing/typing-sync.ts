/**
 * Typing for /sync: the current set of a room's typing users from D1
 * `room_typing` (written by the room's Durable Object, durable-objects/room/typing.ts).
 */

/**
 * Typing users by room: rooms in `changedIn` whose set changed in (since, upTo]
 * (an empty set included: that is how clients learn someone stopped), and rooms
 * in `fullIn` (initial sync, new joins) whose set is not empty.
 */
export async function typingForSync(
  db: D1Database,
  since: number | null,
  upTo: number,
  changedIn: readonly string[],
  fullIn: readonly string[],
): Promise<Map<string, string[]>> {
  const statements: D1PreparedStatement[] = [];
  if (since !== null && changedIn.length) {
    statements.push(
      db
        .prepare("SELECT room_id, user_ids FROM room_typing WHERE room_id IN (SELECT value FROM json_each(?)) AND stream_pos > ? AND stream_pos <= ?")
        .bind(JSON.stringify(changedIn), since, upTo),
    );
  }
  if (fullIn.length) {
    statements.push(
      db
        .prepare("SELECT room_id, user_ids FROM room_typing WHERE room_id IN (SELECT value FROM json_each(?)) AND stream_pos <= ? AND user_ids != '[]'")
        .bind(JSON.stringify(fullIn), upTo),
    );
  }
  const out = new Map<string, string[]>();
  if (!statements.length) return out;
  for (const res of await db.batch(statements)) {
    for (const row of res.results as { room_id: string; user_ids: string }[]) out.set(row.room_id, JSON.parse(row.user_ids) as string[]);
  }
  return out;
}
