/**
 * Who may read a room, and which of its events (client-server-api "History
 * visibility"). Every read path loads, in one D1 batch, the room's
 * m.room.history_visibility changes and the user's own member events (two
 * indexed queries, room_events_state_pos) with the stream head, and turns them
 * into the ranges of stream positions the user may see (src/visibility-ranges.ts).
 *
 * Reading a room at all (as Synapse's check_user_in_room_or_world_readable with
 * departed users allowed): joined users; users who left or were banned after
 * having been joined (and did not forget the room) — the spec's "weren't
 * previously a member"; and anyone while the room is world_readable. Everyone
 * else gets 403 M_FORBIDDEN.
 */
import { MatrixError } from "../../src/errors.js";
import { type VisibilityTimeline, visibilityAt } from "../../src/history-visibility.js";
import { isValidRoomId } from "../../src/identifiers.js";
import { LOWEST_EVENT_POS } from "../../src/stream-token.js";
import { type PosRange, inRanges, visibleRanges } from "../../src/visibility-ranges.js";

/** Bounds the two per-request queries; rooms never come near this many changes. */
const MAX_CHANGES = 1000;

export interface RoomAccess {
  roomId: string;
  userId: string;
  /** The stream position this request reads up to (consistent with the rest of the batch). */
  head: number;
  timeline: VisibilityTimeline;
  /** The stream positions up to head the user may see (backfilled history included: negative positions). */
  ranges: PosRange[];
  /** The user's latest member event in the room. */
  membership: { membership: string; eventId: string; pos: number } | undefined;
  joined: boolean;
  /** Left or banned after having been joined, and not forgotten: sees state as of leaving. */
  departed: boolean;
  worldReadable: boolean;
  /** May read the room at all. */
  allowed: boolean;
}

export function checkRoomId(roomId: string): void {
  if (!isValidRoomId(roomId)) throw new MatrixError("M_INVALID_PARAM", `${roomId} is not a valid room ID`, 400);
}

export async function loadRoomAccess(db: D1Database, roomId: string, userId: string): Promise<RoomAccess> {
  checkRoomId(roomId);
  const [head, vis, own, mem] = await db.batch([
    db.prepare("SELECT pos FROM stream_counter WHERE id = 1"),
    db
      .prepare(
        // With the marks below backfilled batches (d1-migrations/0017_backfill.sql): the visibility before each.
        "SELECT pos, value FROM (SELECT stream_pos AS pos, json_extract(json, '$.content.history_visibility') AS value FROM room_events " +
          "WHERE room_id = ?1 AND type = 'm.room.history_visibility' AND state_key = '' " +
          "UNION ALL SELECT stream_pos, history_visibility FROM room_visibility_marks WHERE room_id = ?1) ORDER BY pos DESC LIMIT ?2",
      )
      .bind(roomId, MAX_CHANGES),
    db
      .prepare(
        "SELECT stream_pos AS pos, json_extract(json, '$.content.membership') AS membership, event_id FROM room_events " +
          "WHERE room_id = ? AND type = 'm.room.member' AND state_key = ? ORDER BY stream_pos DESC LIMIT ?",
      )
      .bind(roomId, userId, MAX_CHANGES),
    db.prepare("SELECT forgotten FROM room_memberships WHERE room_id = ? AND user_id = ?").bind(roomId, userId),
  ]);
  const headPos = (head!.results[0] as { pos: number } | undefined)?.pos ?? 0;
  const visibility = (vis!.results as Array<{ pos: number; value: unknown }>)
    .reverse()
    .map((r) => ({ pos: r.pos, value: typeof r.value === "string" ? r.value : "shared" }));
  const ownRows = (own!.results as Array<{ pos: number; membership: unknown; event_id: string }>).reverse();
  const memberships = ownRows.map((r) => ({ pos: r.pos, membership: typeof r.membership === "string" ? r.membership : "leave" }));
  const timeline: VisibilityTimeline = { visibility, memberships };
  const last = ownRows.at(-1);
  const membership = last ? { membership: memberships.at(-1)!.membership, eventId: last.event_id, pos: last.pos } : undefined;
  const forgotten = ((mem!.results[0] as { forgotten: number } | undefined)?.forgotten ?? 0) === 1;
  const joined = membership?.membership === "join";
  const everJoined = memberships.some((m) => m.membership === "join");
  const departed = !joined && !forgotten && everJoined && (membership?.membership === "leave" || membership?.membership === "ban");
  const worldReadable = visibility.length > 0 && visibilityAt(timeline, headPos + 1) === "world_readable";
  return {
    roomId,
    userId,
    head: headPos,
    timeline,
    ranges: visibleRanges(timeline, headPos, LOWEST_EVENT_POS),
    membership,
    joined,
    departed,
    worldReadable,
    allowed: joined || departed || worldReadable,
  };
}

/** As loadRoomAccess, refusing users who may not read the room (403 M_FORBIDDEN). */
export async function requireRoomAccess(db: D1Database, roomId: string, userId: string): Promise<RoomAccess> {
  const access = await loadRoomAccess(db, roomId, userId);
  if (!access.allowed) throw new MatrixError("M_FORBIDDEN", `You aren't a member of the room ${roomId} and weren't previously a member of it`, 403);
  return access;
}

export function canSee(access: RoomAccess, pos: number): boolean {
  return access.allowed && inRanges(access.ranges, pos);
}
