/**
 * One page of room events in stream order, for /messages, /context and
 * /relations: events with lo < stream_pos <= hi, inside the ranges the user may
 * see, backwards (`b`, newest first) or forwards (`f`), optionally matching a
 * filter applied in JS. Each query is bounded to one visible range, so a page
 * never reads history the user cannot see; a filter that matches little reads a
 * bounded number of rows and hands back a token to go on.
 */
import { type PosRange, clipRanges } from "../../src/visibility-ranges.js";
import { EVENT_COLUMNS, type EventRow } from "../../services/d1/room-events.js";

/** The columns live beside the room_events SQL; re-exported for the read paths. */
export { EVENT_COLUMNS };

/** Most queries one page may take (many visible ranges, or a filter that keeps rejecting rows). */
const MAX_QUERIES = 6;

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
  const back = spec.dir === "b";
  const ranges = clipRanges(spec.ranges, spec.lo + 1, spec.hi);
  if (back) ranges.reverse();
  const batch = spec.match ? Math.min(Math.max(2 * (spec.limit + 1), 50), 500) : 0;
  const sql =
    `${spec.with ?? ""} SELECT ${EVENT_COLUMNS} FROM ${spec.from} WHERE ` +
    [...spec.where, "e.stream_pos >= ?", "e.stream_pos <= ?"].join(" AND ") +
    ` ORDER BY e.stream_pos ${back ? "DESC" : "ASC"} LIMIT ?`;
  const rows: EventRow[] = [];
  let queries = 0;
  // One visible range at a time: the gaps between them are never scanned.
  for (const [a, b] of ranges) {
    let lo = a;
    let hi = b;
    while (lo <= hi) {
      // Read enough for one request: hand back where to go on.
      if (queries++ === MAX_QUERIES) return { rows, next: back ? hi : lo - 1 };
      const want = batch || spec.limit + 1 - rows.length;
      const { results } = await db.prepare(sql).bind(...spec.params, lo, hi, want).all<EventRow>();
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
      if (results.length < want || !last) break;
      if (back) hi = last.stream_pos - 1;
      else lo = last.stream_pos + 1;
    }
  }
  return { rows, next: null };
}
