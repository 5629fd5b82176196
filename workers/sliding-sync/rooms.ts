/**
 * The `rooms` of a sliding-sync response (MSC4186 "Room results", in the shape
 * matrix-rust-sdk reads: ../shared design CLIENTS.md §2.1). A room the connection
 * has not sent before (or sent under another membership) goes out in full with
 * `initial: true`; otherwise only what changed since it was last sent: new
 * timeline events, state changes that `required_state` asks for. A larger
 * `timeline_limit` than last time re-sends the latest events
 * (`unstable_expanded_timeline`); a changed `required_state` sends the current
 * state that only the new one asks for (MSC4186 "Changing room configs"). Timelines obey history visibility exactly as
 * every other read path (src/visibility-ranges.ts); invites carry stripped state.
 *
 * Cost: one batch for visibility, room summaries and unread counts of all rooms
 * sent, one timeline page per room (in parallel), one batch for all their state.
 */
import type { JsonObject, JsonValue } from "../../src/json.js";
import { type EffectiveConfig, configKey, parseConfigKey, wantsState } from "../../src/sliding-sync.js";
import { syncFields } from "../../src/unread-counts.js";
import { visibleRanges } from "../../src/visibility-ranges.js";
import type { SlidingSyncRoomSent } from "../../services/user-api.js";
import { unreadCounts } from "../../services/push/unread-counts.js";
import { EVENT_COLUMNS, eventPage } from "../rooms/event-page.js";
import { type EventRow, serveEvent } from "../rooms/serve-event.js";
import { readVisibility, visibilityStatements } from "../rooms/visibility-timelines.js";
import { readSummaries, summaryStatements } from "../sync/room-summary.js";
import { STRIPPED_TYPES, latestStatePerKey } from "../sync/rooms.js";
import type { ListedRoom } from "./room-list.js";


export interface RoomTarget {
  room: ListedRoom;
  config: EffectiveConfig;
  /** What the connection last sent for this room, if anything. */
  prev: SlidingSyncRoomSent | undefined;
}

export interface RoomsContext {
  db: D1Database;
  userId: string;
  deviceId: string;
  /** The stream position of the connection's last response (null for a new connection): later events are live. */
  since: number | null;
  upTo: number;
  now: number;
}

export interface RoomToSend extends RoomTarget {
  full: boolean;
  /** A larger timeline_limit than last sent: the latest events again (MSC4186 "Changes to timeline_limit"). */
  expanded: boolean;
  /** The required_state last sent with, when it changed (MSC4186 "Changes to required_state"). */
  prevRequiredState?: Array<[string, string]>;
}

/** Which rooms the response carries, and how (full or delta); rooms with nothing new are left out. */
export function roomsToSend(targets: RoomTarget[]): RoomToSend[] {
  const out: RoomToSend[] = [];
  for (const t of targets) {
    const full = !t.prev || t.prev.membership !== t.room.membership;
    const configChanged = !full && t.prev!.config !== configKey(t.config);
    const expanded = !full && configChanged && t.config.timelineLimit > t.prev!.timelineLimit;
    if (!(full || configChanged || t.room.lastPos > t.prev!.upTo)) continue;
    const send: RoomToSend = { ...t, full, expanded };
    if (configChanged) {
      const prevState = parseConfigKey(t.prev!.config)?.requiredState ?? [];
      if (JSON.stringify(prevState) !== JSON.stringify(t.config.requiredState)) send.prevRequiredState = prevState;
    }
    out.push(send);
  }
  return out;
}

/** Where a room's view ends: now for members and invitees, at the membership change for rooms left. */
export function roomUpTo(room: ListedRoom, upTo: number): number {
  return room.membership === "leave" || room.membership === "ban" ? Math.min(room.memberPos, upTo) : upTo;
}

export async function buildRooms(ctx: RoomsContext, send: RoomToSend[]): Promise<Record<string, JsonObject>> {
  const { db } = ctx;
  const out: Record<string, JsonObject> = {};
  if (send.length === 0) return out;
  const invites = send.filter((t) => t.room.membership === "invite" || t.room.membership === "knock");
  const members = send.filter((t) => !(t.room.membership === "invite" || t.room.membership === "knock"));
  const memberIds = members.map((t) => t.room.roomId);
  const joinedIds = members.filter((t) => t.room.membership === "join").map((t) => t.room.roomId);

  // Round trip 1: visibility (members' rooms), summaries (heroes), stripped state (invites).
  const stmts: D1PreparedStatement[] = [];
  if (memberIds.length) stmts.push(...visibilityStatements(db, ctx.userId, memberIds), ...summaryStatements(db, ctx.userId, memberIds));
  for (const t of invites) stmts.push(strippedStatement(db, t.room));
  const [results, counts] = await Promise.all([stmts.length ? db.batch(stmts) : Promise.resolve([]), unreadCounts(db, ctx.userId, joinedIds, ctx.upTo)]);
  const visibility = memberIds.length ? readVisibility(memberIds, results[0], results[1]) : new Map();
  const summaries = memberIds.length ? readSummaries(ctx.userId, results[2], results[3]) : new Map();
  const strippedAt = memberIds.length ? 4 : 0;
  invites.forEach((t, i) => {
    out[t.room.roomId] = inviteRoom(t, (results[strippedAt + i]?.results ?? []) as Array<{ json: string }>);
  });

  // Round trip 2 (parallel pages): each member room's timeline.
  const timelines = await Promise.all(
    members.map(async (t) => {
      const hi = roomUpTo(t.room, ctx.upTo);
      const limit = t.config.timelineLimit;
      const lo = t.full || t.expanded ? 0 : t.prev!.upTo;
      if (limit === 0) return { rows: [] as EventRow[], limited: lo < hi, hi, lo };
      const ranges = visibleRanges(visibility.get(t.room.roomId) ?? { visibility: [], memberships: [] }, hi);
      const page = await eventPage(db, { from: "room_events e", where: ["e.room_id = ?"], params: [t.room.roomId], dir: "b", lo, hi, ranges, limit });
      return { rows: page.rows.reverse(), limited: page.next !== null, hi, lo };
    }),
  );

  // Round trip 3: required state of every member room (current state, or changes since last sent).
  const stateStmts = members.map((t, i) => stateStatement(db, ctx.userId, t, timelines[i]!.rows, timelines[i]!.hi));
  const stateResults = stateStmts.length ? await db.batch(stateStmts) : [];

  members.forEach((t, i) => {
    const { rows, limited, hi } = timelines[i]!;
    const senders = new Set(rows.map((r) => r.sender));
    const stateRows = (stateResults[i]?.results ?? []) as EventRow[];
    let state = stateRows.filter(
      (s) => s.state_key !== null && (wantsState(t.config.requiredState, s.type, s.state_key, ctx.userId, senders) || isOwnMembership(t, s, ctx.userId)),
    );
    if (!t.full && t.prevRequiredState) {
      // Current state read whole: keep what changed since last sent, the timeline's senders, and what only the new config asks for.
      const old = t.prevRequiredState;
      const noSenders = new Set<string>();
      state = state.filter(
        (s) => s.stream_pos > t.prev!.upTo || (s.type === "m.room.member" && senders.has(s.state_key!)) || !wantsState(old, s.type, s.state_key!, ctx.userId, noSenders),
      );
    }
    // Delta rows come in stream order (ORDER BY 1); current-state rows have one per key already.
    if (!t.full) state = latestStatePerKey(state);
    const room: JsonObject = {};
    const summary = summaries.get(t.room.roomId);
    if (t.room.name) room.name = t.room.name;
    if (t.room.avatar) room.avatar = t.room.avatar;
    // Absent means unchanged to clients (ruma JsOption): a removal since the room was last sent is null.
    else if (!t.full && stateRows.some((s) => s.type === "m.room.avatar" && s.state_key === "" && s.stream_pos > t.prev!.upTo)) room.avatar = null;
    if (t.full) room.initial = true;
    if (t.room.isDm) room.is_dm = true;
    if (!t.room.name && summary?.heroes.length) {
      room.heroes = summary.heroes.map((h: string) => {
        const p = summary.profiles.get(h);
        const hero: JsonObject = { user_id: h };
        if (p?.displayname) hero.displayname = p.displayname;
        if (p?.avatar_url) hero.avatar_url = p.avatar_url;
        return hero;
      });
    }
    room.timeline = rows.map((r) => withoutRoomId(serveEvent(r, ctx, ctx.now))) as unknown as JsonValue;
    room.required_state = state.map((r) => withoutRoomId(serveEvent(r, ctx, ctx.now))) as unknown as JsonValue;
    if (t.config.timelineLimit > 0) {
      const start = rows[0]?.stream_pos ?? hi + 1;
      room.prev_batch = `s${start - 1}`;
      room.limited = limited;
    }
    if (t.expanded) room.unstable_expanded_timeline = true;
    // Live: events since the connection's last response, also in a room new to it (MSC4186 num_live: a room
    // bumped into the window by a new event is initial with that event live). A new connection has none.
    const since = ctx.since;
    room.num_live = since === null ? 0 : rows.filter((r) => r.stream_pos > since).length;
    room.joined_count = t.room.joined;
    room.invited_count = t.room.invited;
    if (t.room.membership === "join") {
      const c = syncFields(counts.get(t.room.roomId), false).unread_notifications;
      room.notification_count = c.notification_count;
      room.highlight_count = c.highlight_count;
    }
    room.bump_stamp = t.room.bump;
    out[t.room.roomId] = room;
  });
  return out;
}

/** Left and banned rooms carry the user's own membership event: clients take a room without it as still joined. */
function isOwnMembership(t: RoomTarget, s: EventRow, me: string): boolean {
  return t.room.membership !== "join" && s.type === "m.room.member" && s.state_key === me;
}

function inviteRoom(t: RoomTarget & { full: boolean }, rows: Array<{ json: string }>): JsonObject {
  const stripped = rows.map((r) => {
    const ev = JSON.parse(r.json) as JsonObject;
    return { type: ev.type!, state_key: ev.state_key!, content: ev.content!, sender: ev.sender! } as JsonObject;
  });
  const room: JsonObject = { invite_state: stripped as unknown as JsonValue, bump_stamp: t.room.bump };
  if (t.full) room.initial = true;
  if (t.room.isDm) room.is_dm = true;
  if (t.room.name) room.name = t.room.name;
  return room;
}

function strippedStatement(db: D1Database, room: ListedRoom): D1PreparedStatement {
  return db
    .prepare(
      "SELECT e.json FROM room_state s JOIN room_events e ON e.event_id = s.event_id WHERE s.room_id = ? AND s.type IN (SELECT value FROM json_each(?)) AND s.state_key = '' " +
        "UNION ALL SELECT e.json FROM room_events e WHERE e.event_id = ?",
    )
    .bind(room.roomId, JSON.stringify(STRIPPED_TYPES), room.memberEventId);
}

/**
 * Full, or a changed `required_state`: the room's state up to `hi` that
 * `required_state` may ask for — every non-member state event (few) and the
 * member events it names (the user, the timeline's senders, explicit keys), or
 * all members if it asks for them. Delta: state events since the room was last
 * sent, and the timeline senders' member events (for `$LAZY`).
 */
function stateStatement(db: D1Database, me: string, t: RoomToSend, timeline: EventRow[], hi: number): D1PreparedStatement {
  const req = t.config.requiredState;
  const allMembers = req.some(([type, key]) => (type === "m.room.member" || type === "*") && key === "*");
  const memberKeys = new Set<string>([me, ...timeline.map((r) => r.sender)]);
  for (const [type, key] of req) if ((type === "m.room.member" || type === "*") && !key.startsWith("$") && key !== "*") memberKeys.add(key);
  const current =
    `SELECT ${EVENT_COLUMNS} FROM room_state s JOIN room_events e ON e.event_id = s.event_id WHERE s.room_id = ?1 AND s.stream_pos <= ?2 AND ` +
    "(s.type != 'm.room.member' OR ?3 = 1 OR s.state_key IN (SELECT value FROM json_each(?4)))";
  // A changed required_state may ask for state that is older than the last send: read current state whole.
  if (t.full || t.prevRequiredState) return db.prepare(current).bind(t.room.roomId, hi, allMembers ? 1 : 0, JSON.stringify([...memberKeys]));
  // Members of the new timeline's senders may be unchanged: read them from current state too.
  const senders = JSON.stringify([...new Set(timeline.map((r) => r.sender))]);
  return db
    .prepare(
      `SELECT ${EVENT_COLUMNS} FROM room_events e WHERE e.room_id = ?1 AND e.stream_pos > ?2 AND e.stream_pos <= ?3 AND e.state_key IS NOT NULL ` +
        `UNION SELECT ${EVENT_COLUMNS} FROM room_state s JOIN room_events e ON e.event_id = s.event_id WHERE s.room_id = ?1 AND s.stream_pos <= ?3 AND s.type = 'm.room.member' AND s.state_key IN (SELECT value FROM json_each(?4)) ` +
        "ORDER BY 1",
    )
    .bind(t.room.roomId, t.prev!.upTo, hi, senders);
}

/** Sliding sync serves events without `room_id` (Synapse: ClientV2WithoutRoomId). */
function withoutRoomId(ev: JsonObject): JsonObject {
  const { room_id: _omit, ...rest } = ev;
  return rest;
}
