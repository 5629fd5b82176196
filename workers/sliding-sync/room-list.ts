/**
 * The rooms a sliding-sync connection can list (MSC4186 "Lists"): the user's
 * joined, invited and knocked rooms, and rooms left or banned from since the
 * connection's last response (so the client learns it left), with what lists
 * sort and filter them by — `bump_stamp`, room type, encryption, DM-ness. One D1
 * batch: the stream position, the memberships joined to the `rooms` read model
 * (or only what changed, given the list a connection kept), and the `m.direct`
 * and `m.ignored_user_list` account data.
 */
import { ignoredUserIds } from "../../src/account-data.js";
import { type ListFilters, type ListedRoom, matchesFilters } from "../../src/sliding-sync.js";

export type { ListedRoom };

interface Row {
  room_id: string;
  membership: string;
  stream_pos: number;
  sender: string | null;
  forgotten: number;
  room_type: string | null;
  encrypted: number | null;
  bump_pos: number | null;
  last_stream_pos: number | null;
}

// What ranks and filters a room, nothing more: this is read for every room of the user. An invite's sender
// matters (an ignored inviter's invites are left out); other memberships' is not read.
const MEMBER_VALUES = ["m.room_id", "m.membership", "m.stream_pos", "CASE WHEN m.membership = 'invite' THEN m.sender END", "m.forgotten"];
const ROOM_VALUES = ["r.room_type", "COALESCE(r.encryption, '') != ''", "r.bump_pos", "r.last_stream_pos"];
/** The same values as named columns (Row), for the queries that return few rows. */
const named = (values: string[], names: string[]) => values.map((v, i) => `${v} AS ${names[i]}`).join(", ");
const MEMBER_COLUMNS = named(MEMBER_VALUES, ["room_id", "membership", "stream_pos", "sender", "forgotten"]);
const ROOM_COLUMNS = named(ROOM_VALUES, ["room_type", "encrypted", "bump_pos", "last_stream_pos"]);

/**
 * Rooms listed most recent first (bump_stamp, then room id for a stable order).
 * Without `cached` (a new connection, or one recorded before lists were kept) every
 * membership of the user is read; with the list the connection kept at `since`,
 * only what changed since: the user's membership changes and the rooms with new
 * events (driven by the stream index, each probing the user's membership), so an
 * incremental response reads rows in proportion to what happened, not to how many
 * rooms the user is in.
 */
export async function loadRoomList(
  db: D1Database,
  userId: string,
  since: number | null,
  cached: ListedRoom[] | null,
): Promise<{ upTo: number; rooms: ListedRoom[] }> {
  const incremental = since !== null && cached !== null;
  const statements = [
    db.prepare("SELECT pos FROM stream_counter WHERE id = 1"),
    db.prepare("SELECT content FROM account_data WHERE user_id = ? AND room_id = '' AND type = 'm.direct' AND deleted = 0").bind(userId),
    db.prepare("SELECT content FROM account_data WHERE user_id = ? AND room_id = '' AND type = 'm.ignored_user_list' AND deleted = 0").bind(userId),
  ];
  if (!incremental) {
    statements.push(
      db
        .prepare(
          // Every room of the user as one JSON text: a thousand rows cost one row to hand over, not a thousand objects.
          `SELECT json_group_array(json_array(${[...MEMBER_VALUES, ...ROOM_VALUES].join(", ")})) AS rows FROM room_memberships m LEFT JOIN rooms r ON r.room_id = m.room_id ` +
            "WHERE m.user_id = ?1 AND (m.membership IN ('join', 'invite', 'knock') OR (m.membership IN ('leave', 'ban') AND m.stream_pos > ?2 AND m.forgotten = 0))",
        )
        .bind(userId, since ?? Number.MAX_SAFE_INTEGER),
    );
  } else {
    statements.push(
      db
        .prepare(`SELECT ${MEMBER_COLUMNS}, ${ROOM_COLUMNS} FROM room_memberships m LEFT JOIN rooms r ON r.room_id = m.room_id WHERE m.user_id = ?1 AND m.stream_pos > ?2`)
        .bind(userId, since),
      db
        .prepare(
          // No DISTINCT in the subquery: with it SQLite walks the (room_id, …) index over every event;
          // without it, the stream's primary key from `since` on (IN removes the duplicates).
          `SELECT r.room_id, ${ROOM_COLUMNS} FROM rooms r WHERE r.room_id IN (SELECT e.room_id FROM room_events e WHERE e.stream_pos > ?2 AND ` +
            "EXISTS (SELECT 1 FROM room_memberships j WHERE j.room_id = e.room_id AND j.user_id = ?1 AND j.membership = 'join'))",
        )
        .bind(userId, since),
    );
  }
  const [pos, direct, ignored, members, active] = await db.batch(statements);
  const upTo = (pos?.results[0] as { pos: number } | undefined)?.pos ?? 0;
  const dmRooms = directRooms((direct?.results[0] as { content: string } | undefined)?.content);
  const ignoredUsers = ignoredUserIds((ignored?.results[0] as { content: string } | undefined)?.content);
  const byId = new Map<string, ListedRoom>();
  if (incremental) {
    // Rooms left before `since` were shown once, in the response that moved past their leave.
    for (const r of cached) if (r.membership !== "leave" && r.membership !== "ban") byId.set(r.roomId, { ...r });
    for (const r of (active?.results ?? []) as Row[]) {
      const known = byId.get(r.room_id);
      if (known?.membership === "join") byId.set(r.room_id, { ...known, ...roomFields(r, known.memberPos) });
    }
  }
  const memberRows = incremental ? ((members?.results ?? []) as Row[]) : fromArrays((members?.results[0] as { rows: string } | undefined)?.rows);
  for (const r of memberRows) {
    if (r.stream_pos > upTo) continue;
    if ((r.membership === "leave" || r.membership === "ban") && r.forgotten) {
      byId.delete(r.room_id);
      continue;
    }
    byId.set(r.room_id, {
      roomId: r.room_id,
      membership: r.membership,
      memberPos: r.stream_pos,
      memberSender: r.sender,
      isDm: false,
      ...(r.membership === "join" ? roomFields(r, r.stream_pos) : { ...roomFields(r, r.stream_pos), bump: r.stream_pos, lastPos: r.stream_pos }),
    });
  }
  const rooms: ListedRoom[] = [];
  for (const room of byId.values()) {
    // Spec "Ignoring Users": invites from them are not sent.
    if (room.membership === "invite" && room.memberSender !== null && ignoredUsers.has(room.memberSender)) continue;
    room.isDm = dmRooms.has(room.roomId);
    rooms.push(room);
  }
  rooms.sort((a, b) => b.bump - a.bump || (a.roomId < b.roomId ? -1 : a.roomId > b.roomId ? 1 : 0));
  return { upTo, rooms };
}

/** The rows of the aggregated membership query (MEMBER_VALUES then ROOM_VALUES in each array). */
function fromArrays(text: string | undefined): Row[] {
  if (!text) return [];
  return (JSON.parse(text) as Array<[string, string, number, string | null, number, string | null, number, number | null, number | null]>).map((a) => ({
    room_id: a[0], membership: a[1], stream_pos: a[2], sender: a[3], forgotten: a[4], room_type: a[5], encrypted: a[6], bump_pos: a[7], last_stream_pos: a[8],
  }));
}

/** How the room ranks and filters, from its `rooms` row; a joined room's bump and last event fall back to the join. */
function roomFields(r: Row, memberPos: number): Pick<ListedRoom, "roomType" | "encrypted" | "bump" | "lastPos"> {
  return {
    roomType: r.room_type,
    encrypted: r.encrypted === 1,
    bump: Math.max(r.bump_pos ?? 0, 0) || memberPos,
    lastPos: Math.max(r.last_stream_pos ?? 0, memberPos),
  };
}

/** The rooms a list keeps, in list order. */
export function filterRooms(rooms: ListedRoom[], filters: ListFilters | undefined): ListedRoom[] {
  return rooms.filter((r) =>
    matchesFilters(filters, { isDm: r.isDm, isEncrypted: r.encrypted, isInvite: r.membership === "invite", roomType: r.roomType }),
  );
}

/** Room ids named in `m.direct` (user id → [room ids]). */
function directRooms(content: string | undefined): Set<string> {
  const out = new Set<string>();
  if (!content) return out;
  try {
    const parsed = JSON.parse(content) as unknown;
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) return out;
    for (const v of Object.values(parsed)) if (Array.isArray(v)) for (const id of v) if (typeof id === "string") out.add(id);
  } catch {
    /* unreadable m.direct: no DMs */
  }
  return out;
}
