/**
 * `remote_invites` (d1-migrations/0016_federation_rooms.sql): invites of our users
 * to rooms this server is not in yet (written by workers/federation/remote-membership.ts).
 */

/** Whether the user holds a pending invite from another server to the room. */
export async function hasRemoteInvite(db: D1Database, roomId: string, userId: string): Promise<boolean> {
  return (await db.prepare("SELECT 1 AS x FROM remote_invites WHERE room_id = ? AND user_id = ?").bind(roomId, userId).first()) !== null;
}
