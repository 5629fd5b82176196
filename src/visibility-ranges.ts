/**
 * History visibility as ranges of stream positions (client-server-api "History
 * visibility"). Whether a user may see an event depends only on the room's
 * m.room.history_visibility changes and the user's own membership events
 * (src/history-visibility.ts), so visibility is constant between consecutive
 * change points: the visible positions are a short list of ranges that a read
 * path can put straight into its SQL bounds instead of checking event by event.
 */
import { type VisibilityTimeline, isEventVisible } from "./history-visibility.js";

/** Inclusive [lo, hi] stream positions. */
export type PosRange = [number, number];

/**
 * The positions in [lower, upper] the user may see, ascending and merged. `lower`
 * is 1 for /sync, which never reads backfilled history (negative positions); the
 * room reads pass LOWEST_EVENT_POS (src/stream-token.ts) to page into it.
 */
export function visibleRanges(t: VisibilityTimeline, upper: number, lower = 1): PosRange[] {
  const out: PosRange[] = [];
  if (upper < lower) return out;
  const points = [...new Set([...t.visibility.map((v) => v.pos), ...t.memberships.map((m) => m.pos)])]
    .filter((p) => p >= lower && p <= upper)
    .sort((a, b) => a - b);
  const add = (lo: number, hi: number) => {
    if (lo > hi || !isEventVisible(t, lo)) return;
    const last = out.at(-1);
    if (last && last[1] === lo - 1) last[1] = hi;
    else out.push([lo, hi]);
  };
  let cur = lower;
  for (const p of points) {
    add(cur, p - 1);
    add(p, p);
    cur = p + 1;
  }
  add(cur, upper);
  return out;
}

/** The part of `ranges` inside [lo, hi]. */
export function clipRanges(ranges: PosRange[], lo: number, hi: number): PosRange[] {
  const out: PosRange[] = [];
  for (const [a, b] of ranges) {
    const x = Math.max(a, lo);
    const y = Math.min(b, hi);
    if (x <= y) out.push([x, y]);
  }
  return out;
}

export function inRanges(ranges: PosRange[], pos: number): boolean {
  return ranges.some(([a, b]) => pos >= a && pos <= b);
}
