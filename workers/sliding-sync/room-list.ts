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
  forgotten?: number;
  stream_pos: number;
  event_id: string | null;
  sender: string | null;
  room_type: string | null;
  encryption: string | null;
  bump_pos: number | null;
  last_stream_pos: number | null;
  name: string | null;
  avatar_url: string | null;
  canonical_alias: string | null;
  joined_members: number | null;
  invited_members: number | null;
}

const ROOM_COLUMNS = "r.room_type, r.encryption, r.bump_pos, r.last_stream_pos, r.name, r.avatar_url, r.canonical_alias, r.joined_members, r.invited_members";
// The membership event's id and sender matter for invites and knocks only (stripped state, ignored inviters).
const INVITE_ONLY = (col: string) => `CASE WHEN m.membership IN ('invite', 'knock') THEN m.${col} END`;
const MEMBER_VALUES = `m.room_id, m.membership, m.stream_pos, ${INVITE_ONLY("event_id")}, ${INVITE_ONLY("sender")}, m.forgotten`;
const MEMBER_COLUMNS = `m.room_id, m.membership, m.stream_pos, ${INVITE_ONLY("event_id")} AS event_id, ${INVITE_ONLY("sender")} AS sender, m.forgotten`;

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
          `SELECT json_group_array(json_array(${MEMBER_VALUES}, ${ROOM_COLUMNS})) AS rows FROM room_memberships m LEFT JOIN rooms r ON r.room_id = m.room_id ` +
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
      memberEventId: r.event_id,
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

/** The rows of the aggregated membership query (MEMBER_VALUES then ROOM_COLUMNS in each array). */
function fromArrays(text: string | undefined): Row[] {
  if (!text) return [];
  return (JSON.parse(text) as Array<[string, string, number, string | null, string | null, number, ...Array<string | number | null>]>).map((a) => ({
    room_id: a[0], membership: a[1], stream_pos: a[2], event_id: a[3], sender: a[4], forgotten: a[5],
    room_type: a[6] as string | null, encryption: a[7] as string | null, bump_pos: a[8] as number | null, last_stream_pos: a[9] as number | null,
    name: a[10] as string | null, avatar_url: a[11] as string | null, canonical_alias: a[12] as string | null,
    joined_members: a[13] as number | null, invited_members: a[14] as number | null,
  }));
}

/** What a list shows of the room itself, from its `rooms` row; a joined room's bump and last event fall back to the join. */
function roomFields(r: Row, memberPos: number): Omit<ListedRoom, "roomId" | "membership" | "memberPos" | "memberEventId" | "memberSender" | "isDm"> {
  return {
    roomType: r.room_type,
    encrypted: r.encryption !== null && r.encryption !== "",
    bump: Math.max(r.bump_pos ?? 0, 0) || memberPos,
    lastPos: Math.max(r.last_stream_pos ?? 0, memberPos),
    name: r.name,
    avatar: r.avatar_url,
    canonicalAlias: r.canonical_alias,
    joined: r.joined_members ?? 0,
    invited: r.invited_members ?? 0,
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
