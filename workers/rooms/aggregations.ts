/**
 * Bundled aggregations for a page of served events (client-server-api
 * "Aggregations of child events"), added wherever events are served: /messages,
 * /context, /event, /relations, /threads and limited /sync timelines. One D1
 * batch of two statements per page however many events it has: thread summaries
 * from room_threads (kept by triggers, d1-migrations/0011_reads.sql), and edit
 * candidates (at most a few per parent) with references, for the page's events
 * and the threads' latest events. What to bundle is decided in src/aggregations.ts.
 */
import { type Children, bundledRelations, canBundle } from "../../src/aggregations.js";
import type { JsonObject } from "../../src/json.js";
import { EVENT_COLUMNS } from "./event-page.js";
import { type EventRow, serveEvent } from "./serve-event.js";

/** Newest edits considered per parent (invalid ones are skipped, spec "Validity of replacement events"). */
const EDIT_CANDIDATES = 20;
/** References listed per parent. */
const MAX_REFERENCES = 100;

export interface Viewer {
  userId: string;
  deviceId: string;
}

type ThreadRow = EventRow & { thread_id: string; count: number; participated: number };
type ChildRow = EventRow & { parent: string; rel_type: string };

const TARGETS =
  "WITH targets(id) AS (SELECT value FROM json_each(?1) UNION ALL " +
  "SELECT l.event_id FROM room_threads t JOIN room_events l ON l.stream_pos = t.latest_pos WHERE t.thread_id IN (SELECT value FROM json_each(?1)))";

/**
 * Sets `unsigned["m.relations"]` on the events that have children to bundle.
 * `visible` hides children at positions the user may not see (in that room).
 */
export async function bundleAggregations(
  db: D1Database,
  who: Viewer,
  events: JsonObject[],
  now: number,
  visible: (pos: number, roomId: string) => boolean = () => true,
): Promise<void> {
  const targets = events.filter(canBundle);
  if (targets.length === 0) return;
  const ids = JSON.stringify([...new Set(targets.map((e) => e.event_id as string))]);
  const [threads, related] = await db.batch([
    db
      .prepare(
        `SELECT t.thread_id, t.count, EXISTS (SELECT 1 FROM room_thread_participants p WHERE p.thread_id = t.thread_id AND p.user_id = ?2) AS participated, ${EVENT_COLUMNS} ` +
          "FROM room_threads t JOIN room_events e ON e.stream_pos = t.latest_pos WHERE t.thread_id IN (SELECT value FROM json_each(?1))",
      )
      .bind(ids, who.userId),
    // Edit candidates (newest first) and references of the page's events and the threads' latest events.
    db
      .prepare(
        `${TARGETS} SELECT * FROM (SELECT targets.id AS parent, e.rel_type, ${EVENT_COLUMNS}, ` +
          "ROW_NUMBER() OVER (PARTITION BY targets.id, e.rel_type ORDER BY e.origin_server_ts DESC, e.event_id DESC) AS rn " +
          "FROM targets JOIN room_events e ON e.relates_to = targets.id AND e.rel_type IN ('m.replace', 'm.reference') WHERE e.redacted_by IS NULL) " +
          `WHERE rn <= CASE rel_type WHEN 'm.replace' THEN ${EDIT_CANDIDATES} ELSE ${MAX_REFERENCES} END`,
      )
      .bind(ids),
  ]);
  const children: Children = { edits: new Map(), threads: new Map(), references: new Map() };
  // Relations hold only within a room (spec "Forming relationships between events").
  const roomOf = new Map<string, unknown>(targets.map((e) => [e.event_id as string, e.room_id]));
  const threadRows = (threads!.results as ThreadRow[]).filter((r) => r.room_id === roomOf.get(r.thread_id) && visible(r.stream_pos, r.room_id));
  for (const r of threadRows) roomOf.set(r.event_id, r.room_id);
  const refs: ChildRow[] = [];
  for (const r of related!.results as ChildRow[]) {
    if (!visible(r.stream_pos, r.room_id) || r.room_id !== roomOf.get(r.parent)) continue;
    if (r.rel_type === "m.reference") {
      refs.push(r);
      continue;
    }
    const list = children.edits.get(r.parent) ?? [];
    list.push(serveEvent(r, who, now));
    children.edits.set(r.parent, list);
  }
  for (const r of refs.sort((a, b) => a.stream_pos - b.stream_pos)) {
    const list = children.references.get(r.parent) ?? [];
    list.push(r.event_id);
    children.references.set(r.parent, list);
  }
  for (const r of threadRows) {
    const latest = serveEvent(r, who, now);
    // The latest event's own children are bundled too (spec "Server-side aggregation of m.thread relationships").
    setRelations(latest, who.userId, children);
    children.threads.set(r.thread_id, { latest, count: r.count, participated: r.participated === 1 });
  }
  for (const ev of targets) setRelations(ev, who.userId, children);
}

function setRelations(ev: JsonObject, userId: string, children: Children): void {
  const rel = bundledRelations(ev, userId, children);
  if (!rel) return;
  const unsigned = (ev.unsigned as JsonObject | undefined) ?? {};
  unsigned["m.relations"] = rel;
  ev.unsigned = unsigned;
}

/** /sync: bundled aggregations on limited timelines (spec: "when the relevant section has a `limited` value of `true`"). */
export async function bundleSyncTimelines(
  db: D1Database,
  who: Viewer,
  sections: Array<Record<string, JsonObject>>,
  now: number,
  visible: (pos: number, roomId: string) => boolean,
): Promise<void> {
  const events: JsonObject[] = [];
  for (const section of sections) {
    for (const room of Object.values(section)) {
      const timeline = room.timeline as JsonObject | undefined;
      if (timeline?.limited === true && Array.isArray(timeline.events)) events.push(...(timeline.events as JsonObject[]));
    }
  }
  await bundleAggregations(db, who, events, now, visible);
}
