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
 * Cost: one batch for all rooms sent (visibility, summaries, latest events,
 * required state) beside the unread counts; a second and third round trip only
 * for rooms where history visibility hides some of the latest events.
 */
import type { JsonObject, JsonValue } from "../../src/json.js";
import { type EffectiveConfig, configKey, parseConfigKey, wantsState } from "../../src/sliding-sync.js";
import { syncFields } from "../../src/unread-counts.js";
import { type PosRange, visibleRanges } from "../../src/visibility-ranges.js";
import type { SlidingSyncRoomSent } from "../../services/user-api.js";
import { unreadCountsFrom, unreadStatements } from "../../services/push/unread-counts.js";
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
  const windows = members.map((t) => timelineWindow(t, ctx.upTo));

  // One round trip in the common case: visibility, summaries (heroes), stripped state of invites, and each
  // member room's latest events read as if all were visible, with the required state they need.
  const stmts: D1PreparedStatement[] = [];
  if (memberIds.length) stmts.push(...visibilityStatements(db, ctx.userId, memberIds));
  const summaryAt = stmts.length;
  stmts.push(...summaryStatements(db, ctx.userId, send.map((t) => t.room.roomId)));
  const timelineAt = stmts.length;
  const timelineReads = latestEventsStatements(db, members.map((t, i) => ({ roomId: t.room.roomId, ...windows[i]! })));
  stmts.push(...timelineReads.map((r) => r.statement));
  const stateAt = stmts.length;
  members.forEach((t, i) => stmts.push(stateStatement(db, ctx.userId, t, windows[i]!, null)));
  const strippedAt = stmts.length;
  for (const t of invites) stmts.push(strippedStatement(db, t.room.roomId, ctx.userId));
  const unreadAt = stmts.length;
  if (joinedIds.length) stmts.push(...unreadStatements(db, ctx.userId, joinedIds));
  const results = await db.batch(stmts);
  // The unread counts need at most one more query (from the read positions just read): beside the rest.
  const counts = unreadCountsFrom(db, ctx.userId, joinedIds, ctx.upTo, results.slice(unreadAt));
  const visibility = memberIds.length ? readVisibility(memberIds, results[0], results[1]) : new Map();
  // Name, avatar and counts of every room sent, and heroes for those without a name.
  const summaries = readSummaries(ctx.userId, results[summaryAt], results[summaryAt + 1]);
  invites.forEach((t, i) => {
    out[t.room.roomId] = inviteRoom(t, summaries.get(t.room.roomId)?.room.name ?? null, (results[strippedAt + i]?.results ?? []) as Array<{ json: string }>);
  });

  // Where history visibility hides some of the latest events, that room's page is read range by range
  // (round trip 2) and its state again for the senders of that page (round trip 3): those rooms only.
  const latestOf = members.map((): EventRow[] => []);
  timelineReads.forEach((r, k) => {
    for (const row of (results[timelineAt + k]?.results ?? []) as Array<EventRow & { i: number }>) latestOf[r.indexes[row.i]!]!.push(row);
  });
  const timelines: Array<{ rows: EventRow[]; limited: boolean }> = [];
  const stateRowsOf: EventRow[][] = [];
  const retry: Array<{ i: number; ranges: PosRange[] }> = [];
  members.forEach((t, i) => {
    const w = windows[i]!;
    const ranges = visibleRanges(visibility.get(t.room.roomId) ?? { visibility: [], memberships: [] }, w.hi);
    const latest = latestOf[i]!;
    stateRowsOf[i] = (results[stateAt + i]?.results ?? []) as EventRow[];
    if (latest.every((r) => ranges.some(([a, b]) => r.stream_pos >= a && r.stream_pos <= b))) {
      timelines[i] = { rows: latest.slice(0, w.limit).reverse(), limited: w.limit === 0 ? w.lo < w.hi : latest.length > w.limit };
    } else retry.push({ i, ranges });
  });
  const reread = async () => {
    await Promise.all(
      retry.map(async ({ i, ranges }) => {
        const w = windows[i]!;
        const page = await eventPage(db, { from: "room_events e", where: ["e.room_id = ?"], params: [members[i]!.room.roomId], dir: "b", lo: w.lo, hi: w.hi, ranges, limit: w.limit });
        timelines[i] = { rows: page.rows.reverse(), limited: page.next !== null };
      }),
    );
    const again = await db.batch(retry.map(({ i }) => stateStatement(db, ctx.userId, members[i]!, windows[i]!, timelines[i]!.rows)));
    retry.forEach(({ i }, k) => (stateRowsOf[i] = (again[k]?.results ?? []) as EventRow[]));
  };
  const [unread] = await Promise.all([counts, retry.length ? reread() : undefined]);

  members.forEach((t, i) => {
    const { rows, limited } = timelines[i]!;
    const { hi } = windows[i]!;
    const senders = new Set(rows.map((r) => r.sender));
    const stateRows = stateRowsOf[i]!;
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
    const details = summary?.room ?? { name: null, avatarUrl: null, joined: 0, invited: 0 };
    if (details.name) room.name = details.name;
    if (details.avatarUrl) room.avatar = details.avatarUrl;
    // Absent means unchanged to clients (ruma JsOption): a removal since the room was last sent is null.
    else if (!t.full && stateRows.some((s) => s.type === "m.room.avatar" && s.state_key === "" && s.stream_pos > t.prev!.upTo)) room.avatar = null;
    if (t.full) room.initial = true;
    if (t.room.isDm) room.is_dm = true;
    if (!details.name && summary?.heroes.length) {
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
    room.joined_count = details.joined;
    room.invited_count = details.invited;
    if (t.room.membership === "join") {
      const c = syncFields(unread.get(t.room.roomId), false).unread_notifications;
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

function inviteRoom(t: RoomTarget & { full: boolean }, name: string | null, rows: Array<{ json: string }>): JsonObject {
  const stripped = rows.map((r) => {
    const ev = JSON.parse(r.json) as JsonObject;
    return { type: ev.type!, state_key: ev.state_key!, content: ev.content!, sender: ev.sender! } as JsonObject;
  });
  const room: JsonObject = { invite_state: stripped as unknown as JsonValue, bump_stamp: t.room.bump };
  if (t.full) room.initial = true;
  if (t.room.isDm) room.is_dm = true;
  if (name) room.name = name;
  return room;
}

/** An invite's or knock's stripped state: the room's stripped state types and the user's own member event. */
function strippedStatement(db: D1Database, roomId: string, me: string): D1PreparedStatement {
  return db
    .prepare(
      "SELECT e.json FROM room_state s JOIN room_events e ON e.event_id = s.event_id WHERE s.room_id = ?1 AND s.type IN (SELECT value FROM json_each(?2)) AND s.state_key = '' " +
        "UNION ALL SELECT e.json FROM room_memberships m JOIN room_events e ON e.event_id = m.event_id WHERE m.room_id = ?1 AND m.user_id = ?3 " +
        // An invite to a room this server is not in: what the inviting server sent.
        "UNION ALL SELECT j.value FROM remote_invites r, json_each(r.stripped_state) j WHERE r.room_id = ?1 AND r.user_id = ?3 AND NOT EXISTS (SELECT 1 FROM room_state WHERE room_id = ?1)",
    )
    .bind(roomId, JSON.stringify(STRIPPED_TYPES), me);
}

interface TimelineWindow {
  /** Exclusive lower bound: 0 for a room sent whole or with an expanded timeline, else where it was last sent up to. */
  lo: number;
  hi: number;
  limit: number;
}

function timelineWindow(t: RoomToSend, upTo: number): TimelineWindow {
  return { lo: t.full || t.expanded ? 0 : t.prev!.upTo, hi: roomUpTo(t.room, upTo), limit: t.config.timelineLimit };
}

/**
 * Each room's latest `limit` + 1 events in its window, newest first (one more
 * tells whether the timeline is limited): one statement per distinct limit (a
 * list's rooms share theirs), each walking the (room_id, stream_pos) index of
 * every room it names. Rows carry `i`, the room's place in that statement's list.
 */
function latestEventsStatements(db: D1Database, rooms: Array<{ roomId: string } & TimelineWindow>): Array<{ statement: D1PreparedStatement; indexes: number[] }> {
  const byLimit = new Map<number, number[]>();
  rooms.forEach((r, i) => {
    if (r.limit === 0) return;
    const list = byLimit.get(r.limit);
    if (list) list.push(i);
    else byLimit.set(r.limit, [i]);
  });
  return [...byLimit].map(([limit, indexes]) => ({
    indexes,
    statement: db
      .prepare(
        `SELECT j.key AS i, ${EVENT_COLUMNS} FROM json_each(?1) j JOIN room_events e ON e.stream_pos IN ` +
          "(SELECT x.stream_pos FROM room_events x WHERE x.room_id = j.value ->> 0 AND x.stream_pos > j.value ->> 1 AND x.stream_pos <= j.value ->> 2 ORDER BY x.stream_pos DESC LIMIT ?2) " +
          "ORDER BY j.key, e.stream_pos DESC",
      )
      .bind(JSON.stringify(indexes.map((i) => [rooms[i]!.roomId, rooms[i]!.lo, rooms[i]!.hi])), limit + 1),
  }));
}

/**
 * Full, or a changed `required_state`: the room's state up to `hi` that
 * `required_state` may ask for — every non-member state event (few) and the
 * member events it names (the user, the timeline's senders, explicit keys), or
 * all members if it asks for them. Delta: state events since the room was last
 * sent, and the timeline senders' member events (for `$LAZY`). The senders are
 * those of `timeline` when it is known, else those of the latest events of the
 * window (latestEventsStatements' rows, read in the same batch): a superset of the
 * visible timeline's, which buildRooms narrows with wantsState. Only the state
 * types `required_state` names are read (all with a `*` type), with the avatar
 * (its removal is reported as `avatar: null`) and, in rooms left, the member
 * event that says so.
 */
function stateStatement(db: D1Database, me: string, t: RoomToSend, w: TimelineWindow, timeline: EventRow[] | null): D1PreparedStatement {
  const req = t.config.requiredState;
  const allMembers = req.some(([type, key]) => (type === "m.room.member" || type === "*") && key === "*");
  const senders = [...new Set((timeline ?? []).map((r) => r.sender))];
  const latest = timeline ? 0 : w.limit + 1;
  const anyType = req.some(([type]) => type === "*") ? 1 : 0;
  const types = JSON.stringify([...new Set(["m.room.avatar", ...(t.room.membership === "join" ? [] : ["m.room.member"]), ...req.map(([type]) => type)])]);
  const typeIn = (col: string) => `(?7 = 1 OR ${col} IN (SELECT value FROM json_each(?8)))`;
  const sendersOfLatest = "s.state_key IN (SELECT sender FROM (SELECT sender FROM room_events WHERE room_id = ?1 AND stream_pos > ?5 AND stream_pos <= ?2 ORDER BY stream_pos DESC LIMIT ?6))";
  if (t.full || t.prevRequiredState) {
    // A changed required_state may ask for state that is older than the last send: read current state whole.
    const memberKeys = new Set<string>([me, ...senders]);
    for (const [type, key] of req) if ((type === "m.room.member" || type === "*") && !key.startsWith("$") && key !== "*") memberKeys.add(key);
    return db
      .prepare(
        `SELECT ${EVENT_COLUMNS} FROM room_state s JOIN room_events e ON e.event_id = s.event_id WHERE s.room_id = ?1 AND s.stream_pos <= ?2 AND ${typeIn("s.type")} AND ` +
          `(s.type != 'm.room.member' OR ?3 = 1 OR s.state_key IN (SELECT value FROM json_each(?4)) OR ${sendersOfLatest})`,
      )
      .bind(t.room.roomId, w.hi, allMembers ? 1 : 0, JSON.stringify([...memberKeys]), w.lo, latest, anyType, types);
  }
  // Members of the new timeline's senders may be unchanged: read them from current state too.
  return db
    .prepare(
      `SELECT ${EVENT_COLUMNS} FROM room_events e WHERE e.room_id = ?1 AND e.stream_pos > ?5 AND e.stream_pos <= ?2 AND e.state_key IS NOT NULL AND ${typeIn("e.type")} ` +
        `UNION SELECT ${EVENT_COLUMNS} FROM room_state s JOIN room_events e ON e.event_id = s.event_id WHERE s.room_id = ?1 AND s.stream_pos <= ?2 AND s.type = 'm.room.member' AND ` +
        `${typeIn("s.type")} AND (s.state_key IN (SELECT value FROM json_each(?4)) OR ${sendersOfLatest}) ORDER BY 1`,
    )
    .bind(t.room.roomId, w.hi, 0, JSON.stringify(senders), w.lo, latest, anyType, types);
}

/** Sliding sync serves events without `room_id` (Synapse: ClientV2WithoutRoomId). */
function withoutRoomId(ev: JsonObject): JsonObject {
  const { room_id: _omit, ...rest } = ev;
  return rest;
}
