import { type Context, Hono } from "hono";
import { z } from "zod";
import { MatrixError, forbidden, notFound } from "../../src/errors.js";
import { isContactableServerName } from "../../src/identifiers.js";
import { type DirectoryBound, boundClause, decodeDirectoryToken, directoryPage, pageLimit } from "../../src/public-rooms.js";
import { type RoomSummaryRow, publishedRoomChunk } from "../../src/room-summary.js";
import type { AppEnv } from "../app-env.js";
import { getConfig } from "../config.js";
import { requireAuth } from "../middleware/auth.js";
import { readJson } from "../middleware/body.js";
import { optionalAuth } from "../middleware/optional-auth.js";
import { canChangeRoomList } from "../rooms/room-power.js";
import { clientV3 } from "./paths.js";

/**
 * The published room directory (client-server-api "Published room directory",
 * list_public_rooms.yaml): publishing rooms and listing this server's directory.
 *
 * As Synapse, the list shows published rooms that someone could join or read —
 * join rule `public`, `knock` or `knock_restricted`, or world-readable history — and
 * that still have joined members, largest first. Another server's directory
 * (`server=`) needs federation, which this server does not have yet: such requests
 * get Synapse's answer for an unreachable server, 502 "Failed to fetch room list".
 */
export const publicRoomRoutes = new Hono<AppEnv>();

/** GET /_matrix/client/v3/directory/list/room/{roomId} (no auth) */
publicRoomRoutes.get(clientV3("/directory/list/room/:roomId"), async (c) => {
  const roomId = c.req.param("roomId");
  const row = await c.env.DB.prepare("SELECT r.room_id, d.room_id AS published FROM rooms r LEFT JOIN room_directory d ON d.room_id = r.room_id WHERE r.room_id = ?")
    .bind(roomId)
    .first<{ room_id: string; published: string | null }>();
  if (!row) throw notFound("Room not found");
  return c.json({ visibility: row.published ? "public" : "private" });
});

/** PUT /_matrix/client/v3/directory/list/room/{roomId}: room moderators (power to send m.room.canonical_alias) and server admins, as Synapse. */
publicRoomRoutes.put(clientV3("/directory/list/room/:roomId"), requireAuth(), async (c) => {
  const roomId = c.req.param("roomId");
  const userId = c.get("auth").userId;
  const body = await readJson(c, z.object({ visibility: z.enum(["public", "private"]).default("public") }));
  const db = c.env.DB;
  if (!(await db.prepare("SELECT 1 AS x FROM rooms WHERE room_id = ?").bind(roomId).first())) throw notFound("Room not found");
  if (!(await canChangeRoomList(db, roomId, userId))) {
    throw forbidden("This server requires you to be a moderator in the room to edit its room list entry");
  }
  if (body.visibility === "public") {
    await db.prepare("INSERT INTO room_directory (room_id, published_ts) VALUES (?, ?) ON CONFLICT (room_id) DO NOTHING").bind(roomId, Date.now()).run();
  } else {
    await db.prepare("DELETE FROM room_directory WHERE room_id = ?").bind(roomId).run();
  }
  return c.json({});
});

interface ListOptions {
  limit: number;
  bound: DirectoryBound | undefined;
  searchTerm: string | undefined;
  /** undefined: any type; `null` in the list: rooms without a type. */
  roomTypes: (string | null)[] | undefined;
}

/** Rooms anyone could join or read (Synapse's get_largest_public_rooms). */
const LISTABLE = "(r.join_rule IN ('public', 'knock', 'knock_restricted') OR r.history_visibility = 'world_readable') AND d.joined_members > 0";

const COLUMNS =
  "r.room_id, r.room_version, r.room_type, r.name, r.topic, r.avatar_url, r.canonical_alias, r.join_rule, r.history_visibility, r.guest_access, r.encryption, d.joined_members";

function roomTypeClause(types: (string | null)[] | undefined): { sql: string; params: (string | number)[] } {
  // An empty list means no filter (Synapse).
  if (!types?.length) return { sql: "", params: [] };
  const named = types.filter((t): t is string => t !== null);
  return { sql: " AND ((? = 1 AND r.room_type IS NULL) OR r.room_type IN (SELECT value FROM json_each(?)))", params: [types.includes(null) ? 1 : 0, JSON.stringify(named)] };
}

async function listLocal(db: D1Database, o: ListOptions) {
  const bound = boundClause(o.bound, "d.joined_members", "d.room_id");
  const types = roomTypeClause(o.roomTypes);
  let search = "";
  const searchParams: string[] = [];
  const term = o.searchTerm?.trim().toLowerCase();
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
      .bind(...bound.params, ...searchParams, ...types.params, o.limit + 1),
    // The estimate counts what the filter's room types allow, not the search term (as Synapse).
    db.prepare(`SELECT COUNT(*) AS n FROM room_directory d JOIN rooms r ON r.room_id = d.room_id WHERE ${LISTABLE}${types.sql}`).bind(...types.params),
  ]);
  const rows = (page?.results ?? []) as RoomSummaryRow[];
  const result = directoryPage(rows, o.limit, o.bound);
  const out: Record<string, unknown> = { chunk: result.rooms.map(publishedRoomChunk) };
  if (result.next_batch) out.next_batch = result.next_batch;
  if (result.prev_batch) out.prev_batch = result.prev_batch;
  out.total_room_count_estimate = (count?.results[0] as { n: number } | undefined)?.n ?? 0;
  return out;
}

/** A directory other than ours needs federation; a name no server can have is the client's error, 400, not 502. */
function checkServer(c: Context<AppEnv>): void {
  const server = c.req.query("server");
  if (server === undefined || server === "" || server === getConfig(c.env).serverName) return;
  if (!isContactableServerName(server)) throw new MatrixError("M_INVALID_PARAM", `Invalid server name: ${server}`, 400);
  throw new MatrixError("M_UNKNOWN", "Failed to fetch room list: other servers' directories need federation, which this server does not have yet", 502);
}

/** GET /_matrix/client/v3/publicRooms (no auth needed; a given token must be valid) */
publicRoomRoutes.get(clientV3("/publicRooms"), optionalAuth({ allowGuest: true }), async (c) => {
  checkServer(c);
  const limitText = c.req.query("limit");
  let limit: number | undefined;
  if (limitText !== undefined && limitText !== "") {
    if (!/^-?\d+$/.test(limitText)) throw new MatrixError("M_INVALID_PARAM", "limit must be an integer", 400);
    limit = Number(limitText);
  }
  const since = c.req.query("since");
  return c.json(await listLocal(c.env.DB, { limit: pageLimit(limit), bound: since ? decodeDirectoryToken(since) : undefined, searchTerm: undefined, roomTypes: undefined }));
});

const PublicRoomsBody = z.object({
  limit: z.number().int().optional(),
  since: z.string().optional(),
  filter: z
    .object({
      generic_search_term: z.string().optional(),
      room_types: z.array(z.string().nullable()).optional(),
    })
    .nullable()
    .optional(),
  include_all_networks: z.boolean().optional(),
  third_party_instance_id: z.string().optional(),
});

/** POST /_matrix/client/v3/publicRooms */
publicRoomRoutes.post(clientV3("/publicRooms"), requireAuth({ allowGuest: true }), async (c) => {
  checkServer(c);
  const body = await readJson(c, PublicRoomsBody);
  const limit = pageLimit(body.limit);
  const bound = body.since ? decodeDirectoryToken(body.since) : undefined;
  if (body.include_all_networks && body.third_party_instance_id !== undefined) {
    throw new MatrixError("M_INVALID_PARAM", "Can't use include_all_networks with an explicit network", 400);
  }
  // No application service publishes third-party networks here: a network's list is empty,
  // and all networks are just the main list.
  if (body.third_party_instance_id !== undefined) return c.json({ chunk: [], total_room_count_estimate: 0 });
  return c.json(
    await listLocal(c.env.DB, {
      limit,
      bound,
      searchTerm: body.filter?.generic_search_term,
      roomTypes: body.filter?.room_types,
    }),
  );
});
