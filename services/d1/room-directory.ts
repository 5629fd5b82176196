/**
 * `room_directory` (d1-migrations/0005_rooms.sql): the rooms published in this
 * server's room directory, listed with their `rooms` summary rows
 * (client-server-api "Published room directory").
 */
import { type DirectoryBound, boundClause } from "../../src/public-rooms.js";
import type { RoomSummaryRow } from "../../src/room-summary.js";

/** The room's directory visibility; undefined for a room the server does not know. */
export async function directoryVisibility(db: D1Database, roomId: string): Promise<"public" | "private" | undefined> {
  const row = await db
    .prepare("SELECT r.room_id, d.room_id AS published FROM rooms r LEFT JOIN room_directory d ON d.room_id = r.room_id WHERE r.room_id = ?")
    .bind(roomId)
    .first<{ room_id: string; published: string | null }>();
  if (!row) return undefined;
  return row.published ? "public" : "private";
}

export async function isPublished(db: D1Database, roomId: string): Promise<boolean> {
  return (await db.prepare("SELECT 1 AS x FROM room_directory WHERE room_id = ?").bind(roomId).first()) !== null;
}

/** Publishes a room (already published: unchanged), for a batch. */
export function publishRoomStatement(db: D1Database, roomId: string, now: number): D1PreparedStatement {
  return db.prepare("INSERT INTO room_directory (room_id, published_ts) VALUES (?, ?) ON CONFLICT (room_id) DO NOTHING").bind(roomId, now);
}

export function unpublishRoomStatement(db: D1Database, roomId: string): D1PreparedStatement {
  return db.prepare("DELETE FROM room_directory WHERE room_id = ?").bind(roomId);
}

export interface PublishedRoomsQuery {
  limit: number;
  bound: DirectoryBound | undefined;
  /** Matched case-insensitively; blank or absent: no search. */
  searchTerm: string | undefined;
  /** undefined or empty: any type (as Synapse); `null` in the list: rooms without a type. */
  roomTypes: (string | null)[] | undefined;
}

/** Rooms anyone could join or read (Synapse's get_largest_public_rooms). */
const LISTABLE = "(r.join_rule IN ('public', 'knock', 'knock_restricted') OR r.history_visibility = 'world_readable') AND d.joined_members > 0";

const COLUMNS =
  "r.room_id, r.room_version, r.room_type, r.name, r.topic, r.avatar_url, r.canonical_alias, r.join_rule, r.history_visibility, r.guest_access, r.encryption, d.joined_members";

function roomTypeClause(types: (string | null)[] | undefined): { sql: string; params: (string | number)[] } {
  if (!types?.length) return { sql: "", params: [] };
  const named = types.filter((t): t is string => t !== null);
  return { sql: " AND ((? = 1 AND r.room_type IS NULL) OR r.room_type IN (SELECT value FROM json_each(?)))", params: [types.includes(null) ? 1 : 0, JSON.stringify(named)] };
}

/**
 * One page of listable published rooms, largest first, `limit + 1` rows so the
 * caller can tell whether there is more, and the estimate of all listable rooms
 * of the requested types (not narrowed by the search term, as Synapse), in one batch.
 */
export async function listPublishedRooms(db: D1Database, q: PublishedRoomsQuery): Promise<{ rows: RoomSummaryRow[]; total: number }> {
  const bound = boundClause(q.bound, "d.joined_members", "d.room_id");
  const types = roomTypeClause(q.roomTypes);
  let search = "";
  const searchParams: string[] = [];
  const term = q.searchTerm?.trim().toLowerCase();
  if (term) {
    // A plain substring of the name, topic or canonical alias (Synapse matches the same columns, case-insensitively).
    search = " AND (instr(lower(coalesce(r.name, '')), ?) > 0 OR instr(lower(coalesce(r.topic, '')), ?) > 0 OR instr(lower(coalesce(r.canonical_alias, '')), ?) > 0)";
    searchParams.push(term, term, term);
  }
  const [page, count] = await db.batch<RoomSummaryRow | { n: number }>([
    db
      .prepare(
        `SELECT ${COLUMNS} FROM room_directory d JOIN rooms r ON r.room_id = d.room_id WHERE ${LISTABLE} AND ${bound.where}${search}${types.sql} ` +
          `ORDER BY ${bound.order} LIMIT ?`,
      )
      .bind(...bound.params, ...searchParams, ...types.params, q.limit + 1),
    db.prepare(`SELECT COUNT(*) AS n FROM room_directory d JOIN rooms r ON r.room_id = d.room_id WHERE ${LISTABLE}${types.sql}`).bind(...types.params),
  ]);
  return {
    rows: (page?.results ?? []) as RoomSummaryRow[],
    total: (count?.results[0] as { n: number } | undefined)?.n ?? 0,
  };
}
