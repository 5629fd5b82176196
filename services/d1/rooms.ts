/**
 * Reads of `rooms` (d1-migrations/0005_rooms.sql): one summary row per room the
 * server knows, kept by the Room DO outbox.
 */

export async function roomExists(db: D1Database, roomId: string): Promise<boolean> {
  return (await db.prepare("SELECT 1 AS x FROM rooms WHERE room_id = ?").bind(roomId).first()) !== null;
}

/** The room's `m.room.guest_access` (null when unset); undefined for an unknown room. */
export async function roomGuestAccess(db: D1Database, roomId: string): Promise<string | null | undefined> {
  const row = await db.prepare("SELECT guest_access FROM rooms WHERE room_id = ?").bind(roomId).first<{ guest_access: string | null }>();
  return row ? row.guest_access : undefined;
}

/** The room's `m.room.history_visibility` (null when unset); undefined for an unknown room. */
export async function roomHistoryVisibility(db: D1Database, roomId: string): Promise<string | null | undefined> {
  const row = await db.prepare("SELECT history_visibility FROM rooms WHERE room_id = ?").bind(roomId).first<{ history_visibility: string | null }>();
  return row ? row.history_visibility : undefined;
}
