/**
 * The `room_events` search category (client-server-api "Server Side Search"):
 * full-text matches from the FTS5 index (d1-migrations/0009_push_search.sql)
 * in rooms the user is or was in — not rooms they forgot, nor end-to-end
 * encrypted rooms ("The search will not include rooms that are end to end
 * encrypted") — keeping only events their history visibility lets them see.
 *
 * Candidates come from FTS5 in the requested order (bm25 rank or newest first),
 * in batches; each is checked against the filter and visibility until the page
 * is full. `next_batch` continues after the last candidate examined: an offset
 * into the ranking for `rank`, a stream position for `recent`. Group tokens
 * (`groups.*.*.next_batch`) continue within a room or sender and, as in Synapse,
 * exist for `recent` ordering only.
 */
import { eventMatches, type RoomEventFilter } from "../../src/filter.js";
import { isEventVisible, type VisibilityTimeline } from "../../src/history-visibility.js";
import type { JsonObject, JsonValue } from "../../src/json.js";
import {
  type SearchBatch,
  type SearchKey,
  type SearchOrder,
  encodeBatch,
  matchExpression,
  matchedWords,
  parseSearchTerm,
} from "../../src/search-query.js";
import type { Env } from "../../services/env.js";
import { type EventRow, serveEvent } from "../rooms/serve-event.js";
import { loadVisibility } from "../rooms/visibility-timelines.js";

export interface RoomEventsSearch {
  userId: string;
  deviceId: string;
  term: string;
  keys: SearchKey[];
  filter: RoomEventFilter | undefined;
  order: SearchOrder;
  context: { before: number; after: number; profile: boolean } | undefined;
  includeState: boolean;
  groupBy: Array<"room_id" | "sender">;
  batch: SearchBatch | undefined;
}

export const DEFAULT_SEARCH_LIMIT = 10;
export const MAX_SEARCH_LIMIT = 100;
/** Candidates fetched per round, and rounds per request: at most 300 candidates examined per page. */
const CANDIDATE_BATCH = 50;
const MAX_ROUNDS = 6;
/** `count` is "an approximation": matches are counted up to this many. */
const MAX_COUNT = 10_000;

const EVENT_COLUMNS = "stream_pos, event_id, room_id, type, state_key, sender, json, txn_device, txn_id, redacted_by";

interface Row extends EventRow {
  redacted_by: string | null;
}

interface Hit {
  row: Row;
  score: number;
}

export async function searchRoomEvents(env: Env, q: RoomEventsSearch): Promise<JsonObject> {
  const db = env.DB;
  const limit = Math.max(0, Math.min(q.filter?.limit ?? DEFAULT_SEARCH_LIMIT, MAX_SEARCH_LIMIT));
  const parsed = parseSearchTerm(q.term);
  const empty = (): JsonObject => ({ count: 0, highlights: [], results: [], ...(q.groupBy.length ? { groups: Object.fromEntries(q.groupBy.map((k) => [k, {}])) } : {}) });
  if (!parsed.expr || limit === 0 || q.keys.length === 0) return empty();

  // Rooms the user is or was in, with their index number; minus encrypted and filtered-out rooms.
  const { results: roomRows } = await db
    .prepare(
      "SELECT m.room_id, s.num, r.encryption FROM room_memberships m JOIN event_search_rooms s ON s.room_id = m.room_id LEFT JOIN rooms r ON r.room_id = m.room_id " +
        "WHERE m.user_id = ? AND m.membership IN ('join', 'leave', 'ban') AND m.forgotten = 0",
    )
    .bind(q.userId)
    .all<{ room_id: string; num: number; encryption: string | null }>();
  const groupRoom = q.batch?.group?.key === "room_id" ? q.batch.group.value : undefined;
  const groupSender = q.batch?.group?.key === "sender" ? q.batch.group.value : undefined;
  const rooms = roomRows.filter(
    (r) => r.encryption === null && eventMatches({ ...(q.filter?.rooms ? { rooms: q.filter.rooms } : {}), ...(q.filter?.not_rooms ? { not_rooms: q.filter.not_rooms } : {}) }, { type: "", room_id: r.room_id }) && (groupRoom === undefined || r.room_id === groupRoom),
  );
  if (rooms.length === 0) return empty();
  const match = matchExpression(parsed.expr, q.keys, rooms.map((r) => r.num));

  // Candidates, filtered until the page is full.
  const visibility = new Map<string, VisibilityTimeline>();
  const hits: Hit[] = [];
  let cursor = q.batch?.cursor ?? (q.order === "recent" ? Number.MAX_SAFE_INTEGER : 0);
  let exhausted = false;
  for (let round = 0; round < MAX_ROUNDS && hits.length < limit && !exhausted; round++) {
    const { results: cands } =
      q.order === "rank"
        ? await db
            .prepare("SELECT rowid AS pos, bm25(event_search, 1.0, 1.0, 1.0, 0.0) AS score FROM event_search WHERE event_search MATCH ? ORDER BY score, rowid DESC LIMIT ? OFFSET ?")
            .bind(match, CANDIDATE_BATCH, cursor)
            .all<{ pos: number; score: number }>()
        : await db
            .prepare("SELECT rowid AS pos, bm25(event_search, 1.0, 1.0, 1.0, 0.0) AS score FROM event_search WHERE event_search MATCH ? AND rowid < ? ORDER BY rowid DESC LIMIT ?")
            .bind(match, cursor, CANDIDATE_BATCH)
            .all<{ pos: number; score: number }>();
    if (cands.length < CANDIDATE_BATCH) exhausted = true;
    if (cands.length === 0) break;
    const { results: rows } = await db
      .prepare(`SELECT ${EVENT_COLUMNS} FROM room_events WHERE stream_pos IN (SELECT value FROM json_each(?))`)
      .bind(JSON.stringify(cands.map((c) => c.pos)))
      .all<Row>();
    const byPos = new Map(rows.map((r) => [r.stream_pos, r]));
    const unseen = [...new Set(rows.map((r) => r.room_id))].filter((r) => !visibility.has(r));
    for (const [room, t] of await loadVisibility(db, q.userId, unseen)) visibility.set(room, t);
    for (let i = 0; i < cands.length; i++) {
      const c = cands[i]!;
      cursor = q.order === "rank" ? cursor + 1 : c.pos;
      const row = byPos.get(c.pos);
      if (row && acceptable(row, q, groupSender, visibility)) hits.push({ row, score: c.score });
      if (hits.length === limit) {
        if (i < cands.length - 1) exhausted = false;
        break;
      }
    }
  }

  const now = Date.now();
  const who = { userId: q.userId, deviceId: q.deviceId };
  const countRow = await db
    .prepare("SELECT COUNT(*) AS n FROM (SELECT rowid FROM event_search WHERE event_search MATCH ? LIMIT ?)")
    .bind(match, MAX_COUNT)
    .first<{ n: number }>();
  const contexts = q.context ? await loadContexts(db, q, hits, visibility, now) : undefined;
  const highlights = new Set(parsed.highlights);
  const results: JsonObject[] = hits.map((h, i) => {
    const event = serveEvent(h.row, who, now);
    const content = event.content as JsonObject | undefined;
    for (const key of q.keys) {
      const text = content?.[key.slice("content.".length)];
      if (typeof text === "string") for (const w of matchedWords(text, parsed.highlights)) highlights.add(w);
    }
    return { rank: -h.score, result: event, ...(contexts ? { context: contexts[i]! } : {}) };
  });

  const more = !exhausted;
  const out: JsonObject = { count: Math.max(countRow?.n ?? 0, hits.length), highlights: [...highlights], results };
  if (more) out.next_batch = encodeBatch({ order: q.order, cursor, ...(q.batch?.group ? { group: q.batch.group } : {}) });
  if (q.groupBy.length) {
    const groups: JsonObject = {};
    for (const key of q.groupBy) {
      const g: Record<string, { results: string[]; order: number; next_batch?: string }> = {};
      hits.forEach((h, i) => {
        const value = key === "room_id" ? h.row.room_id : h.row.sender;
        const entry = (g[value] ??= { results: [], order: i + 1 });
        entry.results.push(h.row.event_id);
      });
      if (more && q.order === "recent") {
        for (const [value, entry] of Object.entries(g)) entry.next_batch = encodeBatch({ order: q.order, cursor, group: { key, value } });
      }
      groups[key] = g as unknown as JsonObject;
    }
    out.groups = groups;
  }
  if (q.includeState) out.state = await loadState(db, [...new Set(hits.map((h) => h.row.room_id))], who, now);
  return out;
}

function acceptable(row: Row, q: RoomEventsSearch, groupSender: string | undefined, visibility: Map<string, VisibilityTimeline>): boolean {
  if (row.redacted_by !== null) return false;
  if (groupSender !== undefined && row.sender !== groupSender) return false;
  const t = visibility.get(row.room_id);
  if (!t || !isEventVisible(t, row.stream_pos)) return false;
  if (q.filter) {
    const content = q.filter.contains_url !== undefined ? ((JSON.parse(row.json) as JsonObject).content as JsonObject | undefined) : undefined;
    if (!eventMatches(q.filter, { type: row.type, sender: row.sender, room_id: row.room_id, ...(content ? { content } : {}) })) return false;
  }
  return true;
}

const MAX_CONTEXT = 20;

/** event_context: events around each result (visible and matching the filter), tokens, and senders' profiles then. */
async function loadContexts(db: D1Database, q: RoomEventsSearch, hits: Hit[], visibility: Map<string, VisibilityTimeline>, now: number): Promise<JsonObject[]> {
  const ctx = q.context!;
  const before = Math.max(0, Math.min(ctx.before, MAX_CONTEXT));
  const after = Math.max(0, Math.min(ctx.after, MAX_CONTEXT));
  const who = { userId: q.userId, deviceId: q.deviceId };
  const statements: D1PreparedStatement[] = [];
  for (const h of hits) {
    statements.push(
      db.prepare(`SELECT ${EVENT_COLUMNS} FROM room_events WHERE room_id = ? AND stream_pos < ? ORDER BY stream_pos DESC LIMIT ?`).bind(h.row.room_id, h.row.stream_pos, before),
      db.prepare(`SELECT ${EVENT_COLUMNS} FROM room_events WHERE room_id = ? AND stream_pos > ? ORDER BY stream_pos LIMIT ?`).bind(h.row.room_id, h.row.stream_pos, after),
    );
  }
  const res = statements.length ? await db.batch(statements) : [];
  const keep = (r: Row) => {
    const t = visibility.get(r.room_id);
    return !!t && isEventVisible(t, r.stream_pos) && eventMatches(q.filter, { type: r.type, sender: r.sender, room_id: r.room_id });
  };
  const ctxRows = hits.map((h, i) => {
    const b = ((res[2 * i]?.results ?? []) as Row[]).filter(keep);
    const a = ((res[2 * i + 1]?.results ?? []) as Row[]).filter(keep);
    return { b, a, h };
  });
  // Profiles as of the last event of each context (Synapse: state at that event).
  let profiles: Array<Record<string, JsonObject>> = hits.map(() => ({}));
  if (ctx.profile && hits.length) {
    const lookups: Array<{ i: number; r: string; s: string; p: number }> = [];
    ctxRows.forEach(({ b, a, h }, i) => {
      const last = a.at(-1)?.stream_pos ?? h.row.stream_pos;
      for (const s of new Set([...b, h.row, ...a].map((r) => r.sender))) lookups.push({ i, r: h.row.room_id, s, p: last });
    });
    const { results } = await db
      .prepare(
        "SELECT j.key AS k, (SELECT e.json FROM room_events e WHERE e.room_id = j.value ->> 'r' AND e.type = 'm.room.member' AND e.state_key = j.value ->> 's' " +
          "AND e.stream_pos <= j.value ->> 'p' ORDER BY e.stream_pos DESC LIMIT 1) AS json FROM json_each(?) j",
      )
      .bind(JSON.stringify(lookups))
      .all<{ k: number; json: string | null }>();
    profiles = hits.map(() => ({}));
    for (const r of results) {
      const l = lookups[r.k];
      if (!l || !r.json) continue;
      const content = ((JSON.parse(r.json) as JsonObject).content ?? {}) as JsonObject;
      const p: JsonObject = {};
      if (typeof content.displayname === "string") p.displayname = content.displayname;
      if (typeof content.avatar_url === "string") p.avatar_url = content.avatar_url;
      profiles[l.i]![l.s] = p;
    }
  }
  const who2 = who;
  return ctxRows.map(({ b, a, h }, i) => ({
    start: `s${(b.at(-1)?.stream_pos ?? h.row.stream_pos) - 1}`,
    end: `s${a.at(-1)?.stream_pos ?? h.row.stream_pos}`,
    events_before: b.map((r) => serveEvent(r, who2, now)),
    events_after: a.map((r) => serveEvent(r, who2, now)),
    ...(ctx.profile ? { profile_info: profiles[i] as unknown as JsonValue } : {}),
  }));
}

/** include_state: the current state of each room with results. */
async function loadState(db: D1Database, roomIds: string[], who: { userId: string; deviceId: string }, now: number): Promise<JsonObject> {
  const out: JsonObject = {};
  if (roomIds.length === 0) return out;
  const { results } = await db
    .prepare(
      "SELECT e.stream_pos, e.event_id, e.room_id, e.type, e.state_key, e.sender, e.json, e.txn_device, e.txn_id FROM room_state s JOIN room_events e ON e.event_id = s.event_id " +
        "WHERE s.room_id IN (SELECT value FROM json_each(?))",
    )
    .bind(JSON.stringify(roomIds))
    .all<EventRow>();
  for (const r of results) ((out[r.room_id] ??= []) as JsonValue[]).push(serveEvent(r, who, now));
  return out;
}
