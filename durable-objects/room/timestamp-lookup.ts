/**
 * timestamp_to_event over the room's DAG (MSC3030; server-server-api
 * `GET /timestamp_to_event/{roomId}`, src/timestamp-to-event.ts): the closest event
 * another server may see, and whether an event sits next to a gap, the spec's
 * hint for when to ask other servers ("the closest event is a forward/backward
 * extremity indicating it's next to a gap of events").
 * Synchronous over the room's SQLite.
 */
import { prevEventIds } from "../../src/pdu.js";
import { eventVisibleToServer } from "../../src/server-history-visibility.js";
import type { TimestampDirection, TimestampMatch } from "../../src/timestamp-to-event.js";
import { serverVisibility } from "./federation-room.js";
import type { RoomStore } from "./room-store.js";

/**
 * Events looked at before giving up: those `server` may not see are passed over
 * (their id and time are not given away), and a long stretch of them ends in 404.
 */
export const SERVER_SCAN_LIMIT = 100;

/** The closest DAG event at/after (`f`) or at/before (`b`) `ts` that `server` may see in full, if any. */
export function closestEventForServer(store: RoomStore, server: string, ts: number, dir: TimestampDirection): TimestampMatch | undefined {
  const at = serverVisibility(store, server);
  for (const row of store.dagEventsFromTimestamp(ts, dir, SERVER_SCAN_LIMIT)) {
    if (eventVisibleToServer(at(row))) return { eventId: row.event_id, originServerTs: row.origin_server_ts };
  }
  return undefined;
}

/** How far above an event's depth the events citing it are looked for. */
const SUCCESSOR_DEPTH_SPAN = 3;
const SUCCESSOR_SCAN_LIMIT = 200;

/**
 * Whether events this server does not have could lie between `eventId` and the
 * timestamp searched for in direction `dir` (Synapse's is_event_next_to_backward_gap
 * / is_event_next_to_forward_gap):
 * - an event known only as an outlier (a joined room's state) or not at all has no place in the DAG: a gap on both sides;
 * - searching forwards, the event found is after `ts`: a gap behind it if one of its prev events is not in the DAG
 *   (our first join to a room cites events we never received);
 * - searching backwards, a gap in front of it if it is no forward extremity and nothing we have cites it
 *   (the history we missed between leaving and rejoining). Events citing it are looked for a few depths above.
 */
export function nextToGap(store: RoomStore, eventId: string, dir: TimestampDirection): boolean {
  const row = store.eventById(eventId);
  if (!row || row.outlier || row.rejected) return true;
  if (dir === "f") {
    const prevs = prevEventIds(store.pduOf(row));
    const known = store.knownEvents(prevs);
    return prevs.some((id) => {
      const r = known.get(id);
      return !r || r.outlier === 1 || r.rejected !== null;
    });
  }
  if (store.isExtremity(row.nid)) return false;
  return !store
    .dagEventsAboveDepth(row.depth, SUCCESSOR_DEPTH_SPAN, SUCCESSOR_SCAN_LIMIT)
    .some((r) => r.rejected === null && prevEventIds(store.pduOf(r)).includes(eventId));
}
