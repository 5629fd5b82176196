/**
 * The pure part of backfill (server-server-api "Backfilling and retrieving
 * missing events"): which events of a `/backfill` answer to take, the order to
 * check and store them in, and which of them need the state before them from
 * the remote (their prev events are neither in the answer nor here).
 *
 * A `/backfill` answer is "the PDUs given in `v` and the PDUs that preceded
 * them": events that are not ancestors of the requested ones (through
 * prev_events, inside the answer) are not history we asked for and are dropped
 * before any check, so a server cannot slip a side branch of its own making
 * into the room's past.
 */

/** What ordering needs of an event: its id, its prev events and its claimed depth. */
export interface DagNode {
  eventId: string;
  prevs: string[];
  depth: number;
}

/** Backfill at most this many events per request (Synapse asks for 100). */
export const MAX_BACKFILL_EVENTS = 100;

/** The events of `events` that are `requested` or their ancestors inside `events` (breadth first over prev_events). */
export function requestedHistory<T extends DagNode>(requested: string[], events: T[]): T[] {
  const byId = new Map(events.map((e) => [e.eventId, e]));
  const keep = new Set<string>();
  let frontier = requested.filter((id) => byId.has(id));
  while (frontier.length) {
    const next: string[] = [];
    for (const id of frontier) {
      if (keep.has(id)) continue;
      keep.add(id);
      for (const p of byId.get(id)!.prevs) if (byId.has(p) && !keep.has(p)) next.push(p);
    }
    frontier = next;
  }
  return events.filter((e) => keep.has(e.eventId));
}

/**
 * Oldest first, each event after every prev event of it in the batch (Kahn's
 * algorithm; ties by depth, then event id, so the order is deterministic).
 * Events on a prev-event cycle (impossible for honest servers) come last, by
 * depth: their prev events are never stored first, so they are never stored.
 */
export function backfillOrder<T extends DagNode>(events: T[]): T[] {
  const byId = new Map<string, T>();
  for (const e of events) if (!byId.has(e.eventId)) byId.set(e.eventId, e);
  const waiting = new Map<string, number>();
  const children = new Map<string, string[]>();
  for (const e of byId.values()) {
    const prevs = [...new Set(e.prevs)].filter((p) => byId.has(p) && p !== e.eventId);
    waiting.set(e.eventId, prevs.length);
    for (const p of prevs) {
      const list = children.get(p);
      if (list) list.push(e.eventId);
      else children.set(p, [e.eventId]);
    }
  }
  const cmp = (a: T, b: T) => a.depth - b.depth || (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0);
  const ready = [...byId.values()].filter((e) => waiting.get(e.eventId) === 0).sort(cmp);
  const out: T[] = [];
  while (ready.length) {
    const e = ready.shift()!;
    out.push(e);
    let added = false;
    for (const c of children.get(e.eventId) ?? []) {
      const left = waiting.get(c)! - 1;
      waiting.set(c, left);
      if (left === 0) {
        ready.push(byId.get(c)!);
        added = true;
      }
    }
    if (added) ready.sort(cmp);
  }
  if (out.length < byId.size) {
    const placed = new Set(out.map((e) => e.eventId));
    out.push(...[...byId.values()].filter((e) => !placed.has(e.eventId)).sort(cmp));
  }
  return out;
}

/**
 * The events whose prev events are not all in the batch (the batch's oldest
 * edge): unless this server has those prev events, the state before them must
 * come from the remote. Newest first (the history nearest what we have).
 */
export function batchEdges<T extends DagNode>(events: T[]): T[] {
  const ids = new Set(events.map((e) => e.eventId));
  return events.filter((e) => e.prevs.some((p) => !ids.has(p))).sort((a, b) => b.depth - a.depth);
}
