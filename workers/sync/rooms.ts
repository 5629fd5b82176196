/**
 * The `rooms` part of /sync from the D1 read model: joined rooms' timelines and
 * state, invites with stripped state, knocks, and left rooms. An incremental sync
 * reads only events after `since` (one indexed range over the global stream,
 * joined to the user's memberships), so its cost follows what changed, not how
 * many rooms the user is in.
 */
import { type Filter, type RoomEventFilter, eventMatches, roomAllowed } from "../../src/filter.js";
import { ignoredUserIds } from "../../src/account-data.js";
import type { JsonObject } from "../../src/json.js";
import type { SyncBaseInputs } from "./context.js";
import type { VisibilityTimeline } from "../../src/history-visibility.js";
import { type PosRange, inRanges, visibleRanges } from "../../src/visibility-ranges.js";
import { bundleSyncTimelines } from "../rooms/aggregations.js";
import { eventPage } from "../rooms/event-page.js";
import { serveEvent, type EventRow } from "../rooms/serve-event.js";
import { readVisibility, visibilityStatements } from "../rooms/visibility-timelines.js";
import { type RoomSummaryPart, readSummaries, summaryStatements } from "./room-summary.js";

export const DEFAULT_TIMELINE_LIMIT = 10;
const MAX_TIMELINE_LIMIT = 100;

export interface MembershipRow {
  sender: string;
  room_id: string;
  membership: string;
  stream_pos: number;
  event_id: string;
  forgotten: number;
}

export interface RoomsSection {
  join: Record<string, JsonObject>;
  invite: Record<string, JsonObject>;
  knock: Record<string, JsonObject>;
  leave: Record<string, JsonObject>;
}

/** What the rooms part of a sync is computed from: the common sync inputs plus its own options. */
export type RoomsOptions = SyncBaseInputs & {
  useStateAfter: boolean;
  /** Users in the syncing user's m.ignored_user_list: their non-state events are left out. */
  ignored?: Set<string>;
};

const EVENT_COLUMNS = "e.stream_pos, e.event_id, e.room_id, e.type, e.state_key, e.sender, e.json, e.txn_device, e.txn_id";

/** Stripped state for invites and knocks (client-server-api "Stripped state"). */
export const STRIPPED_TYPES = ["m.room.create", "m.room.join_rules", "m.room.name", "m.room.avatar", "m.room.canonical_alias", "m.room.encryption", "m.room.topic"];

function timelineLimit(f: RoomEventFilter | undefined): number {
  const l = f?.limit ?? DEFAULT_TIMELINE_LIMIT;
  return Math.max(1, Math.min(l, MAX_TIMELINE_LIMIT));
}

/** What `loadSyncBase` read: the position, the memberships and events, the rooms with ephemeral changes. */
export interface SyncBase {
  upTo: number;
  memberships: MembershipRow[];
  events: EventRow[];
  candidateRooms: string[];
  ignored: Set<string>;
}

/**
 * What a sync reads first, in one D1 batch (one round trip, one snapshot): the
 * stream position and the user's memberships; for an incremental sync only the
 * memberships changed after `since`, the events after `since` in the user's rooms
 * (driven by the stream index, each row probing the membership by primary key),
 * and the rooms where typing, receipts or room account data changed. Its cost
 * follows what changed since `since`, not how many rooms the user is in.
 */
export async function loadSyncBase(db: D1Database, userId: string, since: number | null): Promise<SyncBase> {
  const UP_TO = "(SELECT pos FROM stream_counter WHERE id = 1)";
  const joinedProbe = (alias: string) =>
    `EXISTS (SELECT 1 FROM room_memberships j WHERE j.room_id = ${alias}.room_id AND j.user_id = ?1 AND j.membership = 'join')`;
  const statements = [
    db.prepare("SELECT pos FROM stream_counter WHERE id = 1"),
    // Spec "Ignoring Users": events (but not state) and invites from these users are not sent.
    db.prepare("SELECT content FROM account_data WHERE user_id = ? AND room_id = '' AND type = 'm.ignored_user_list' AND deleted = 0").bind(userId),
  ];
  if (since === null) {
    statements.push(db.prepare("SELECT room_id, membership, stream_pos, event_id, forgotten, sender FROM room_memberships WHERE user_id = ?").bind(userId));
  } else {
    statements.push(
      db.prepare("SELECT room_id, membership, stream_pos, event_id, forgotten, sender FROM room_memberships WHERE user_id = ? AND stream_pos > ?").bind(userId, since),
      db
        .prepare(
          `SELECT ${EVENT_COLUMNS}, m.membership AS m_membership, m.stream_pos AS m_stream_pos, m.event_id AS m_event_id, m.forgotten AS m_forgotten ` +
            "FROM room_events e CROSS JOIN room_memberships m ON m.room_id = e.room_id AND m.user_id = ?1 " +
            `WHERE e.stream_pos > ?2 AND e.stream_pos <= ${UP_TO} AND (m.membership = 'join' OR e.stream_pos <= m.stream_pos) ORDER BY e.stream_pos`,
        )
        .bind(userId, since),
      db
        .prepare(
          `SELECT t.room_id FROM room_typing t WHERE t.stream_pos > ?2 AND t.stream_pos <= ${UP_TO} AND ${joinedProbe("t")} ` +
            `UNION SELECT r.room_id FROM receipts r WHERE r.stream_pos > ?2 AND r.stream_pos <= ${UP_TO} AND ${joinedProbe("r")} ` +
            `UNION SELECT a.room_id FROM account_data a WHERE a.user_id = ?1 AND a.stream_pos > ?2 AND a.stream_pos <= ${UP_TO} AND ${joinedProbe("a")}`,
        )
        .bind(userId, since),
    );
  }
  const [posResult, ignoredResult, ...results] = await db.batch(statements);
  const upTo = (posResult?.results[0] as { pos: number } | undefined)?.pos ?? 0;
  const ignored = ignoredUserIds((ignoredResult?.results[0] as { content: string } | undefined)?.content);
  const memberships = (results[0]?.results ?? []) as MembershipRow[];
  if (since === null) return { upTo, memberships, events: [], candidateRooms: [], ignored };
  type Joined = EventRow & { m_membership: string; m_stream_pos: number; m_event_id: string; m_forgotten: number };
  const events = ((results[1]?.results ?? []) as Joined[]).filter((e) => e.state_key !== null || !ignored.has(e.sender));
  // Rooms with new events whose membership did not change: their current membership came with the events.
  const known = new Set(memberships.map((m) => m.room_id));
  for (const e of events) {
    if (known.has(e.room_id)) continue;
    known.add(e.room_id);
    memberships.push({ room_id: e.room_id, membership: e.m_membership, stream_pos: e.m_stream_pos, event_id: e.m_event_id, forgotten: e.m_forgotten, sender: "" });
  }
  const candidateRooms = ((results[2]?.results ?? []) as { room_id: string }[]).map((r) => r.room_id);
  return { upTo, memberships, events, candidateRooms, ignored };
}

/** What a sync does with one of the user's rooms, decided before anything per room is read. */
type RoomPlan =
  | { kind: "invite"; m: MembershipRow }
  | { kind: "knock"; m: MembershipRow }
  | { kind: "incremental"; m: MembershipRow; events: EventRow[] }
  | { kind: "full"; m: MembershipRow; section: "join" | "leave"; upTo: number };

function planRooms(o: RoomsOptions, base: { memberships: MembershipRow[]; ignored: Set<string> }, changed: Map<string, EventRow[]>): RoomPlan[] {
  const plans: RoomPlan[] = [];
  const incremental = o.since !== null && !o.fullState;
  const includeLeave = o.filter.room?.include_leave === true;
  for (const m of base.memberships) {
    if (!roomAllowed(o.filter, m.room_id) || m.stream_pos > o.upTo) continue;
    const membershipChanged = o.since === null || m.stream_pos > o.since;
    if (m.membership === "invite" || m.membership === "knock") {
      if (incremental && !membershipChanged) continue;
      // Invites from ignored users are not sent (spec "Ignoring Users").
      if (m.membership === "invite" && base.ignored.has(m.sender)) continue;
      plans.push({ kind: m.membership === "invite" ? "invite" : "knock", m });
      continue;
    }
    if (m.membership === "join") {
      const events = changed.get(m.room_id) ?? [];
      // A join event that only changed the profile is not a new join: stay incremental.
      if (incremental && (!membershipChanged || !joinedWithin(events, o.userId))) {
        if (events.length) plans.push({ kind: "incremental", m, events });
      } else {
        plans.push({ kind: "full", m, section: "join", upTo: o.upTo });
      }
      continue;
    }
    // leave / ban
    if (m.forgotten) continue;
    if ((incremental && membershipChanged) || (!incremental && includeLeave)) plans.push({ kind: "full", m, section: "leave", upTo: m.stream_pos });
  }
  return plans;
}

export async function syncRooms(
  o: RoomsOptions,
  base: Omit<SyncBase, "upTo">,
): Promise<{ rooms: RoomsSection; hasNews: boolean }> {
  const out: RoomsSection = { join: {}, invite: {}, knock: {}, leave: {} };
  const db = o.env.DB;
  const incremental = o.since !== null && !o.fullState;
  const timelineFilter = o.filter.room?.timeline;
  const now = Date.now();
  // Rooms with events since `since`, and the new events themselves.
  const changed = incremental ? groupByRoom(base.events) : new Map<string, EventRow[]>();
  const plans = planRooms(o, base, changed);

  // One round trip for what every room shown in full, or with a summary, needs first:
  // history visibility (a full room's timeline is cut to what the user may see) and
  // the room summary (when the room is new to the client or its members changed).
  const fullRooms = plans.filter((p) => p.kind === "full").map((p) => p.m.room_id);
  const summaryRooms = plans
    .filter((p) => (p.kind === "full" && p.section === "join") || (p.kind === "incremental" && p.events.some((e) => e.type === "m.room.member")))
    .map((p) => p.m.room_id);
  const { visibility, summaries } = await loadRoomHeads(db, o.userId, fullRooms, summaryRooms);
  const ranges = new Map<string, PosRange[]>();

  // The rooms side by side: through a coalescing D1 (sync.ts) their reads share round trips.
  await Promise.all(
    plans.map(async (p) => {
      const roomId = p.m.room_id;
      if (p.kind === "invite" || p.kind === "knock") {
        const stripped = await strippedState(db, roomId, p.m.event_id);
        if (p.kind === "invite") out.invite[roomId] = { invite_state: { events: stripped } };
        else out.knock[roomId] = { knock_state: { events: stripped } };
      } else if (p.kind === "incremental") {
        out.join[roomId] = await incrementalRoom(o, p.events, timelineFilter, now);
      } else {
        const visible = visibleRanges(visibility.get(roomId) ?? { visibility: [], memberships: [] }, p.upTo);
        ranges.set(roomId, visible);
        const heroes = summaries.get(roomId)?.heroes ?? [];
        out[p.section][roomId] = await fullRoom(o, roomId, p.upTo, timelineFilter, now, visible, heroes);
      }
      const summary = summaries.get(roomId);
      if (summary && out.join[roomId]) out.join[roomId]!.summary = summary.summary;
    }),
  );
  // Children of the timelines' events are bundled only where the user may see them
  // (a room left shows nothing after the leave).
  const visibleChild = (pos: number, roomId: string) => {
    const r = ranges.get(roomId);
    return r ? inRanges(r, pos) : pos <= o.upTo;
  };
  await bundleSyncTimelines(db, o, [out.join, out.leave], now, visibleChild);
  const hasNews = Object.keys(out.join).length + Object.keys(out.invite).length + Object.keys(out.knock).length + Object.keys(out.leave).length > 0;
  return { rooms: out, hasNews };
}

/**
 * Joined rooms the extensions look at: all of them on an initial sync; on an
 * incremental one, those with anything new (events, membership, typing,
 * receipts, room account data), so no part of the sync reads every room.
 */
export function extensionRooms(o: { filter: Filter; upTo: number }, base: { memberships: MembershipRow[]; candidateRooms: string[] }): string[] {
  const joinedRows = base.memberships.filter((m) => m.membership === "join" && m.stream_pos <= o.upTo && roomAllowed(o.filter, m.room_id)).map((m) => m.room_id);
  return [...new Set([...joinedRows, ...base.candidateRooms.filter((r) => roomAllowed(o.filter, r))])];
}

async function loadRoomHeads(
  db: D1Database,
  userId: string,
  fullRooms: string[],
  summaryRooms: string[],
): Promise<{ visibility: Map<string, VisibilityTimeline>; summaries: Map<string, RoomSummaryPart> }> {
  const statements: D1PreparedStatement[] = [];
  if (fullRooms.length) statements.push(...visibilityStatements(db, userId, fullRooms));
  if (summaryRooms.length) statements.push(...summaryStatements(db, userId, summaryRooms));
  const results = statements.length ? await db.batch(statements) : [];
  const visibility = fullRooms.length ? readVisibility(fullRooms, results[0], results[1]) : new Map<string, VisibilityTimeline>();
  const at = fullRooms.length ? 2 : 0;
  const summaries = summaryRooms.length ? readSummaries(userId, results[at], results[at + 1]) : new Map<string, RoomSummaryPart>();
  return { visibility, summaries };
}

/** Whether the user's membership became `join` within these events (rather than a join → join profile change). */
function joinedWithin(events: EventRow[], userId: string): boolean {
  for (const e of events) {
    if (e.type !== "m.room.member" || e.state_key !== userId) continue;
    const ev = JSON.parse(e.json) as { content?: { membership?: unknown }; unsigned?: { prev_content?: { membership?: unknown } } };
    if (ev.content?.membership === "join" && ev.unsigned?.prev_content?.membership !== "join") return true;
  }
  return false;
}

function groupByRoom(rows: EventRow[]): Map<string, EventRow[]> {
  const m = new Map<string, EventRow[]>();
  for (const r of rows) {
    const list = m.get(r.room_id);
    if (list) list.push(r);
    else m.set(r.room_id, [r]);
  }
  return m;
}

async function strippedState(db: D1Database, roomId: string, ownEventId: string): Promise<JsonObject[]> {
  const { results } = await db
    .prepare(
      `SELECT e.json FROM room_state s JOIN room_events e ON e.event_id = s.event_id WHERE s.room_id = ?1 AND (s.type IN (SELECT value FROM json_each(?2)) OR e.event_id = ?3) ` +
        // An invite to a room this server is not in: what the inviting server sent, and the invite itself.
        `UNION ALL SELECT j.value FROM remote_invites r, json_each(r.stripped_state) j WHERE r.event_id = ?3 AND NOT EXISTS (SELECT 1 FROM room_state WHERE room_id = ?1) ` +
        `UNION ALL SELECT e.json FROM room_events e WHERE e.event_id = ?3 AND NOT EXISTS (SELECT 1 FROM room_state WHERE room_id = ?1)`,
    )
    .bind(roomId, JSON.stringify(STRIPPED_TYPES), ownEventId)
    .all<{ json: string }>();
  return results.map((r) => {
    const ev = JSON.parse(r.json) as JsonObject;
    return { type: ev.type!, state_key: ev.state_key!, content: ev.content!, sender: ev.sender! };
  });
}

/** A joined room with new events since `since`. */
async function incrementalRoom(o: RoomsOptions, events: EventRow[], f: RoomEventFilter | undefined, now: number): Promise<JsonObject> {
  const limit = timelineLimit(f);
  const visible = events.filter((e) => eventMatches(f, { type: e.type, sender: e.sender }));
  const limited = visible.length > limit;
  const timeline = visible.slice(-limit);
  const start = timeline[0]?.stream_pos ?? o.upTo + 1;
  let state: JsonObject[] = [];
  if (o.useStateAfter) {
    // MSC4222: every state change between since and the end of the timeline, timeline included.
    state = latestStatePerKey(events.filter((e) => e.state_key !== null)).map((e) => serveEvent(e, o, now));
  } else if (limited) {
    // State changes in the gap between since and the timeline's start.
    state = latestStatePerKey(events.filter((e) => e.state_key !== null && e.stream_pos < start)).map((e) => serveEvent(e, o, now));
  }
  return roomBody(o, timeline, limited, start, state, now);
}

/** The last event of each state key, from rows in stream order. */
export function latestStatePerKey(rows: EventRow[]): EventRow[] {
  const m = new Map<string, EventRow>();
  for (const r of rows) m.set(`${r.type}\u0000${r.state_key}`, r);
  return [...m.values()];
}

/**
 * A room in full: the last events up to `upTo` that the user may see (history
 * visibility: `visible`, from src/visibility-ranges.ts) and the state around them
 * (initial sync, new joins, leaves).
 */
async function fullRoom(
  o: RoomsOptions,
  roomId: string,
  upTo: number,
  f: RoomEventFilter | undefined,
  now: number,
  visible: PosRange[],
  heroes: string[],
): Promise<JsonObject> {
  const db = o.env.DB;
  const limit = timelineLimit(f);
  const ignored = o.ignored;
  const filtering = f !== undefined || (ignored !== undefined && ignored.size > 0);
  const match = (e: EventRow) => eventMatches(f, { type: e.type, sender: e.sender }) && (e.state_key !== null || !ignored?.has(e.sender));
  // Each query stays inside one visible range: history the user may not see is never read.
  const page = await eventPage(db, {
    from: "room_events e",
    where: ["e.room_id = ?"],
    params: [roomId],
    dir: "b",
    lo: 0,
    hi: upTo,
    ranges: visible,
    limit,
    ...(filtering ? { match } : {}),
  });
  const timeline = page.rows.reverse();
  // More events the user may see came before the timeline.
  const limited = page.next !== null;
  const start = timeline[0]?.stream_pos ?? upTo + 1;

  const stateFilter = o.filter.room?.state;
  const lazy = stateFilter?.lazy_load_members === true;
  const { results: stateRows } = await db
    .prepare(
      `SELECT ${EVENT_COLUMNS} FROM room_state s JOIN room_events e ON e.event_id = s.event_id WHERE s.room_id = ? AND s.stream_pos <= ?`,
    )
    .bind(roomId, upTo)
    .all<EventRow>();
  let stateEvents: EventRow[];
  if (o.useStateAfter) {
    // MSC4222: the state at the end of the timeline, whether or not an event is also in it.
    stateEvents = stateRows;
  } else {
    // State at the start of the timeline: current state, with keys changed inside the timeline
    // replaced by their earlier value.
    stateEvents = stateRows.filter((s) => s.stream_pos < start);
    const changedInTimeline = stateRows.filter((s) => s.stream_pos >= start);
    if (changedInTimeline.length) {
      // One round trip for all of them.
      const earlier = await db.batch(
        changedInTimeline.map((s) =>
          db
            .prepare(`SELECT ${EVENT_COLUMNS} FROM room_events e WHERE e.room_id = ? AND e.type = ? AND e.state_key = ? AND e.stream_pos < ? ORDER BY e.stream_pos DESC LIMIT 1`)
            .bind(roomId, s.type, s.state_key, start),
        ),
      );
      for (const r of earlier) if (r.results[0]) stateEvents.push(r.results[0] as EventRow);
    }
  }
  if (lazy) {
    // Lazy-loading members: only the senders of the timeline, the user themself, and the
    // room's heroes (sync.yaml RoomSummary: their member events "MUST be included").
    const senders = new Set([...timeline.map((e) => e.sender), o.userId, ...heroes]);
    stateEvents = stateEvents.filter((s) => s.type !== "m.room.member" || senders.has(s.state_key ?? ""));
  }
  stateEvents = stateEvents.filter((s) => eventMatches(stateFilter, { type: s.type, sender: s.sender }));
  const state = stateEvents.map((e) => serveEvent(e, o, now));
  return roomBody(o, timeline, limited, start, state, now);
}

function roomBody(o: RoomsOptions, timeline: EventRow[], limited: boolean, start: number, state: JsonObject[], now: number): JsonObject {
  const body: JsonObject = {
    timeline: { events: timeline.map((e) => serveEvent(e, o, now)), limited, prev_batch: `s${start - 1}` },
  };
  body[o.useStateAfter ? "state_after" : "state"] = { events: state };
  return body;
}
