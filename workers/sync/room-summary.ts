/**
 * The `summary` of joined rooms in /sync (src/room-heroes.ts decides what it
 * holds): counts and names from the `rooms` read model, hero candidates from
 * room_memberships. Two statements for all the rooms of a response, which the
 * sync puts into the batch it already makes; heroes are read only for rooms
 * without a name or canonical alias, the first few per membership group.
 */
import type { JsonObject } from "../../src/json.js";
import { type HeroCandidate, MAX_HEROES, syncRoomSummary } from "../../src/room-heroes.js";

export interface RoomSummaryPart {
  summary: JsonObject;
  /** m.heroes (empty when the room has a name or alias), for lazy-loaded member state. */
  heroes: string[];
  /** The heroes' current display names and avatars (sliding sync sends them). */
  profiles: Map<string, { displayname: string | null; avatar_url: string | null }>;
  /** The room's name, avatar and member counts (the `rooms` read model). */
  room: { name: string | null; avatarUrl: string | null; joined: number; invited: number };
}

export function summaryStatements(db: D1Database, userId: string, roomIds: string[]): D1PreparedStatement[] {
  const rooms = JSON.stringify(roomIds);
  return [
    db.prepare("SELECT room_id, name, avatar_url, canonical_alias, joined_members, invited_members FROM rooms WHERE room_id IN (SELECT value FROM json_each(?))").bind(rooms),
    db
      .prepare(
        "SELECT room_id, user_id, membership, stream_pos, display_name, avatar_url FROM (" +
          "SELECT m.room_id, m.user_id, m.membership, m.stream_pos, m.display_name, m.avatar_url, " +
          "ROW_NUMBER() OVER (PARTITION BY m.room_id, m.membership IN ('join', 'invite') ORDER BY m.stream_pos) AS rn " +
          "FROM rooms r JOIN room_memberships m ON m.room_id = r.room_id " +
          "WHERE r.room_id IN (SELECT value FROM json_each(?1)) AND COALESCE(r.name, '') = '' AND COALESCE(r.canonical_alias, '') = '' " +
          "AND m.user_id != ?2 AND m.membership IN ('join', 'invite', 'leave', 'ban')) WHERE rn <= ?3",
      )
      .bind(rooms, userId, MAX_HEROES),
  ];
}

interface RoomRow {
  room_id: string;
  name: string | null;
  avatar_url: string | null;
  canonical_alias: string | null;
  joined_members: number;
  invited_members: number;
}

interface MemberRow {
  room_id: string;
  user_id: string;
  membership: string;
  stream_pos: number;
  display_name: string | null;
  avatar_url: string | null;
}

/** The summaries from the results of summaryStatements (in that order). */
export function readSummaries(userId: string, roomsResult: D1Result | undefined, membersResult: D1Result | undefined): Map<string, RoomSummaryPart> {
  const candidates = new Map<string, HeroCandidate[]>();
  const profiles = new Map<string, { displayname: string | null; avatar_url: string | null }>();
  for (const m of (membersResult?.results ?? []) as MemberRow[]) {
    profiles.set(`${m.room_id}\u0000${m.user_id}`, { displayname: m.display_name, avatar_url: m.avatar_url });
    const list = candidates.get(m.room_id) ?? [];
    list.push({ userId: m.user_id, membership: m.membership, pos: m.stream_pos });
    candidates.set(m.room_id, list);
  }
  const out = new Map<string, RoomSummaryPart>();
  for (const r of (roomsResult?.results ?? []) as RoomRow[]) {
    const summary = syncRoomSummary(
      { name: r.name, canonicalAlias: r.canonical_alias, joined: r.joined_members, invited: r.invited_members, candidates: candidates.get(r.room_id) ?? [] },
      userId,
    );
    const heroes = Array.isArray(summary["m.heroes"]) ? (summary["m.heroes"] as string[]) : [];
    const own = new Map(heroes.map((h) => [h, profiles.get(`${r.room_id}\u0000${h}`) ?? { displayname: null, avatar_url: null }]));
    out.set(r.room_id, { summary, heroes, profiles: own, room: { name: r.name, avatarUrl: r.avatar_url, joined: r.joined_members, invited: r.invited_members } });
  }
  return out;
}
