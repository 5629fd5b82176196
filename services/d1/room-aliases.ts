/**
 * `room_aliases` (d1-migrations/0005_rooms.sql): this server's aliases, written by
 * createRoom, the alias directory routes and room upgrades.
 */

/** The room an alias points to, or null. */
export async function roomIdOfAlias(db: D1Database, alias: string): Promise<string | null> {
  const row = await db.prepare("SELECT room_id FROM room_aliases WHERE alias = ?").bind(alias).first<{ room_id: string }>();
  return row?.room_id ?? null;
}

export async function aliasTaken(db: D1Database, alias: string): Promise<boolean> {
  return (await db.prepare("SELECT 1 AS x FROM room_aliases WHERE alias = ?").bind(alias).first()) !== null;
}

export interface AliasRow {
  room_id: string;
  creator: string;
}

export function aliasEntry(db: D1Database, alias: string): Promise<AliasRow | null> {
  return db.prepare("SELECT room_id, creator FROM room_aliases WHERE alias = ?").bind(alias).first<AliasRow>();
}

/** Which of `aliases` exist, and their rooms (json_each: any number of aliases in one bound parameter). */
export async function roomsOfAliases(db: D1Database, aliases: string[]): Promise<Map<string, string>> {
  const { results } = await db
    .prepare("SELECT alias, room_id FROM room_aliases WHERE alias IN (SELECT value FROM json_each(?))")
    .bind(JSON.stringify(aliases))
    .all<{ alias: string; room_id: string }>();
  return new Map(results.map((r) => [r.alias, r.room_id]));
}

/** A room's aliases in order, at most `limit`. */
export async function aliasesOfRoom(db: D1Database, roomId: string, limit: number): Promise<string[]> {
  const { results } = await db.prepare("SELECT alias FROM room_aliases WHERE room_id = ? ORDER BY alias LIMIT ?").bind(roomId, limit).all<{ alias: string }>();
  return results.map((r) => r.alias);
}

export interface NewAlias {
  alias: string;
  roomId: string;
  creator: string;
  createdTs: number;
}

/** Adds an alias unless it exists; false when it did (PUT /directory/room: 409). */
export async function insertAliasIfFree(db: D1Database, a: NewAlias): Promise<boolean> {
  const row = await db
    .prepare("INSERT INTO room_aliases (alias, room_id, creator, created_ts) VALUES (?, ?, ?, ?) ON CONFLICT (alias) DO NOTHING RETURNING alias")
    .bind(a.alias, a.roomId, a.creator, a.createdTs)
    .first();
  return row !== null;
}

/** Adds an alias; throws D1's constraint error when it exists (createRoom reserves it before the room exists). */
export async function insertAlias(db: D1Database, a: NewAlias): Promise<void> {
  await db.prepare("INSERT INTO room_aliases (alias, room_id, creator, created_ts) VALUES (?, ?, ?, ?)").bind(a.alias, a.roomId, a.creator, a.createdTs).run();
}

/** Deletes an alias; the room it pointed to, or null when there was none. */
export async function deleteAlias(db: D1Database, alias: string): Promise<string | null> {
  const row = await db.prepare("DELETE FROM room_aliases WHERE alias = ? RETURNING room_id").bind(alias).first<{ room_id: string }>();
  return row?.room_id ?? null;
}

/** Points every alias of one room at another (room upgrades), for a batch. */
export function moveAliasesStatement(db: D1Database, fromRoomId: string, toRoomId: string): D1PreparedStatement {
  return db.prepare("UPDATE room_aliases SET room_id = ? WHERE room_id = ?").bind(toRoomId, fromRoomId);
}
