/**
 * One page of room events in stream order, for /messages, /context and
 * /relations: events with lo < stream_pos <= hi, inside the ranges the user may
 * see, backwards (`b`, newest first) or forwards (`f`), optionally matching a
 * filter applied in JS. The SQL bounds are clipped to the visible ranges, so a
 * page never scans history the user cannot see beyond its edges; a filter that
 * matches little scans a bounded number of rows and hands back a token to go on.
 */
import { type PosRange, clipRanges } from "../../src/visibility-ranges.js";
import type { EventRow } from "./serve-event.js";

export const EVENT_COLUMNS = "e.stream_pos, e.event_id, e.room_id, e.type, e.state_key, e.sender, e.json, e.txn_device, e.txn_id";

/** Most queries one page may take when a filter keeps rejecting rows. */
const MAX_SCANS = 4;

export interface PageSpec {
  /** `WITH …` prefix, if the rows come from a CTE. */
  with?: string;
  /** FROM clause naming room_events as `e`. */
  from: string;
  where: string[];
  params: unknown[];
  dir: "b" | "f";
  /** Exclusive lower bound. */
  lo: number;
  /** Inclusive upper bound. */
  hi: number;
  ranges: PosRange[];
  limit: number;
  match?: (row: EventRow) => boolean;
}

export interface Page {
  rows: EventRow[];
  /** Where to continue (a stream position for the next token), or null when there is nothing more. */
  next: number | null;
}

export async function eventPage(db: D1Database, spec: PageSpec): Promise<Page> {
  const clipped = clipRanges(spec.ranges, spec.lo + 1, spec.hi);
  if (clipped.length === 0) return { rows: [], next: null };
  let lo = clipped[0]![0] - 1;
  let hi = clipped.at(-1)![1];
  const back = spec.dir === "b";
  const batch = spec.match ? Math.min(Math.max(2 * (spec.limit + 1), 50), 500) : spec.limit + 1;
  const rangeClause =
    clipped.length > 1
      ? ["EXISTS (SELECT 1 FROM json_each(?) r WHERE e.stream_pos BETWEEN json_extract(r.value, '$[0]') AND json_extract(r.value, '$[1]'))"]
      : [];
  const sql =
    `${spec.with ?? ""} SELECT ${EVENT_COLUMNS} FROM ${spec.from} WHERE ` +
    [...spec.where, "e.stream_pos > ?", "e.stream_pos <= ?", ...rangeClause].join(" AND ") +
    ` ORDER BY e.stream_pos ${back ? "DESC" : "ASC"} LIMIT ?`;
  const rangesJson = JSON.stringify(clipped);
  const rows: EventRow[] = [];
  for (let scan = 0; scan < MAX_SCANS; scan++) {
    const params = [...spec.params, lo, hi, ...(rangeClause.length ? [rangesJson] : []), batch];
    const { results } = await db.prepare(sql).bind(...params).all<EventRow>();
    for (const r of results) {
      if (spec.match && !spec.match(r)) continue;
      rows.push(r);
      if (rows.length > spec.limit) {
        const page = rows.slice(0, spec.limit);
        const last = page.at(-1);
        const next = last ? (back ? last.stream_pos - 1 : last.stream_pos) : back ? spec.hi : spec.lo;
        return { rows: page, next };
      }
    }
    const last = results.at(-1);
    if (results.length < batch || !last) return { rows, next: null };
    if (back) hi = last.stream_pos - 1;
    else lo = last.stream_pos;
  }
  // Scanned enough for one request: hand back where to go on.
  return { rows, next: back ? hi : lo };
}
