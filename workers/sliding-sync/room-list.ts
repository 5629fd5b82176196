/**
 * The rooms a sliding-sync connection can list (MSC4186 "Lists"): the user's
 * joined, invited and knocked rooms, and rooms left or banned from since the
 * connection's last response (so the client learns it left), with what lists
 * sort and filter them by — `bump_stamp`, room type, encryption, DM-ness. One D1
 * batch: the stream position, the memberships joined to the `rooms` read model,
 * and the `m.direct` and `m.ignored_user_list` account data.
 */
import { matchesFilters, type ListFilters } from "../../src/sliding-sync.js";

export interface ListedRoom {
  roomId: string;
  membership: string;
  /** Stream position and id of the user's membership event. */
  memberPos: number;
  memberEventId: string;
  /** Who sent the membership event (the inviter, for invites). */
  memberSender: string;
  roomType: string | null;
  encrypted: boolean;
  isDm: boolean;
  /** MSC4186 bump_stamp: the latest bump event for joined rooms, the membership change otherwise. */
  bump: number;
  /** Latest event of the room (or the membership, if not joined): what a delta is measured against. */
  lastPos: number;
  name: string | null;
  avatar: string | null;
  canonicalAlias: string | null;
  joined: number;
  invited: number;
}

interface Row {
  room_id: string;
  membership: string;
  stream_pos: number;
  event_id: string;
  sender: string;
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

/** Rooms listed most recent first (bump_stamp, then room id for a stable order). */
export async function loadRoomList(db: D1Database, userId: string, since: number | null): Promise<{ upTo: number; rooms: ListedRoom[] }> {
  const [pos, members, direct, ignored] = await db.batch([
    db.prepare("SELECT pos FROM stream_counter WHERE id = 1"),
    db
      .prepare(
        "SELECT m.room_id, m.membership, m.stream_pos, m.event_id, m.sender, r.room_type, r.encryption, r.bump_pos, r.last_stream_pos, r.name, r.avatar_url, r.canonical_alias, " +
          "r.joined_members, r.invited_members FROM room_memberships m LEFT JOIN rooms r ON r.room_id = m.room_id " +
          "WHERE m.user_id = ?1 AND (m.membership IN ('join', 'invite', 'knock') OR (m.membership IN ('leave', 'ban') AND m.stream_pos > ?2 AND m.forgotten = 0))",
      )
      .bind(userId, since ?? Number.MAX_SAFE_INTEGER),
    db.prepare("SELECT content FROM account_data WHERE user_id = ? AND room_id = '' AND type = 'm.direct' AND deleted = 0").bind(userId),
    db.prepare("SELECT content FROM account_data WHERE user_id = ? AND room_id = '' AND type = 'm.ignored_user_list' AND deleted = 0").bind(userId),
  ]);
  const upTo = (pos?.results[0] as { pos: number } | undefined)?.pos ?? 0;
  const dmRooms = directRooms((direct?.results[0] as { content: string } | undefined)?.content);
  const ignoredUsers = ignoredSet((ignored?.results[0] as { content: string } | undefined)?.content);
  const rooms: ListedRoom[] = [];
  for (const r of (members?.results ?? []) as Row[]) {
    if (r.stream_pos > upTo) continue;
    // Spec "Ignoring Users": invites from them are not sent.
    if (r.membership === "invite" && ignoredUsers.has(r.sender)) continue;
    const joined = r.membership === "join";
    rooms.push({
      roomId: r.room_id,
      membership: r.membership,
      memberPos: r.stream_pos,
      memberEventId: r.event_id,
      memberSender: r.sender,
      roomType: r.room_type,
      encrypted: r.encryption !== null && r.encryption !== "",
      isDm: dmRooms.has(r.room_id),
      bump: joined ? Math.max(r.bump_pos ?? 0, 0) || r.stream_pos : r.stream_pos,
      lastPos: joined ? Math.max(r.last_stream_pos ?? 0, r.stream_pos) : r.stream_pos,
      name: r.name,
      avatar: r.avatar_url,
      canonicalAlias: r.canonical_alias,
      joined: r.joined_members ?? 0,
      invited: r.invited_members ?? 0,
    });
  }
  rooms.sort((a, b) => b.bump - a.bump || (a.roomId < b.roomId ? -1 : a.roomId > b.roomId ? 1 : 0));
  return { upTo, rooms };
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

function ignoredSet(content: string | undefined): Set<string> {
  if (!content) return new Set();
  try {
    const list = (JSON.parse(content) as { ignored_users?: unknown }).ignored_users;
    return new Set(list && typeof list === "object" && !Array.isArray(list) ? Object.keys(list) : []);
  } catch {
    return new Set();
  }
}
