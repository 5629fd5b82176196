/**
 * Presence (client-server-api "Presence"): the state machine of one local user's
 * presence, as Synapse runs it but with writes kept rare.
 *
 * - A sync with `set_presence=online` (the default) marks the user online and
 *   active; `unavailable` marks them unavailable; `offline` leaves presence alone
 *   (Synapse: `affect_presence = set_presence != offline`).
 * - PUT /presence sets state and status message; `online` also counts as activity.
 * - A user nobody has heard from (no sync, no PUT) for OFFLINE_AFTER_MS while no
 *   sync of theirs is in flight goes offline (Synapse: SYNC_ONLINE_TIMEOUT), from
 *   a timer in the user's Durable Object.
 * - `currently_active` is true while online (spec "Last active ago": the server
 *   sends no further last-active updates until the user stops being online, which
 *   the offline timeout guarantees to announce).
 *
 * A change others can see (state, status message) takes a stream position and
 * wakes those who share a room. Otherwise only stale timestamps are refreshed, at
 * most once per LAST_ACTIVE_GRANULARITY_MS (Synapse's LAST_ACTIVE_GRANULARITY),
 * and without a stream position: last_active_ago is always computed when served.
 *
 * Why 90 s to offline and not Synapse's 30 s: storage only learns of a sync once a
 * minute. /sync refreshes at the start and the end of each long-poll, so a user
 * who keeps syncing is never seen as older than 60 s between polls, and during a
 * poll the timer sees the poll itself; 90 s leaves a 30 s margin.
 */
import type { JsonObject } from "./json.js";

export const PRESENCE_STATES = ["online", "unavailable", "offline"] as const;
export type PresenceState = (typeof PRESENCE_STATES)[number];

/** How stale last_active / last_seen may get before a sync refreshes them in storage. */
export const LAST_ACTIVE_GRANULARITY_MS = 60_000;
/** Silence (no sync, no PUT, no sync in flight) after which a user is offline. */
export const OFFLINE_AFTER_MS = 90_000;
/**
 * Readers treat a row as offline once silent this long, in case the timer is late
 * (an alarm retried, a restart): what they see never depends on it firing.
 */
export const OFFLINE_GRACE_MS = 60_000;

export interface PresenceRow {
  user_id: string;
  state: PresenceState;
  status_msg: string | null;
  last_active_ts: number;
  last_seen_ts: number;
}

/** What a reader should believe now: online/unavailable decays to offline after long silence. */
export function effectiveState(row: PresenceRow | null | undefined, now: number): PresenceState {
  if (!row) return "offline";
  if (row.state !== "offline" && now - row.last_seen_ts > OFFLINE_AFTER_MS + OFFLINE_GRACE_MS) return "offline";
  return row.state;
}

/**
 * The presence content for GET /presence and m.presence in /sync (Synapse's
 * format_user_presence_state without user_id): presence, last_active_ago,
 * status_msg when set, currently_active when online.
 */
export function presenceContent(row: PresenceRow | null | undefined, now: number): JsonObject {
  const state = effectiveState(row, now);
  const out: JsonObject = { presence: state };
  if (!row) return out;
  if (row.last_active_ts > 0) out.last_active_ago = Math.max(0, now - row.last_active_ts);
  if (row.status_msg) out.status_msg = row.status_msg;
  if (state === "online") out.currently_active = true;
  return out;
}

export function presenceEvent(row: PresenceRow, now: number): JsonObject {
  return { type: "m.presence", sender: row.user_id, content: presenceContent(row, now) };
}

/** The outcome of an update: the new row, and whether to store it / announce it. */
export interface PresenceUpdate {
  row: PresenceRow;
  /** Store the row (timestamps or state changed enough to matter). */
  write: boolean;
  /** What others see changed: take a stream position and wake those sharing a room. */
  notify: boolean;
}

function decide(prev: PresenceRow | null | undefined, next: PresenceRow, now: number): PresenceUpdate {
  const before = effectiveState(prev, now);
  const notify = !prev || before !== next.state || (prev.status_msg ?? null) !== (next.status_msg ?? null);
  const stale =
    !prev || now - prev.last_seen_ts > LAST_ACTIVE_GRANULARITY_MS || next.last_active_ts - prev.last_active_ts > LAST_ACTIVE_GRANULARITY_MS;
  return { row: next, write: notify || stale, notify };
}

/** A /sync with `set_presence` (default online). `offline` changes nothing. */
export function presenceAfterSync(prev: PresenceRow | null | undefined, userId: string, setPresence: PresenceState, now: number): PresenceUpdate | null {
  if (setPresence === "offline") return null;
  const next: PresenceRow = {
    user_id: userId,
    state: setPresence,
    // Syncs never change the status message (Synapse: is_sync ignores status_msg).
    status_msg: prev?.status_msg ?? null,
    last_active_ts: setPresence === "online" ? now : (prev?.last_active_ts ?? 0),
    last_seen_ts: now,
  };
  return decide(prev, next, now);
}

/** PUT /presence/{userId}/status: always stored; the status message is replaced (or cleared). */
export function presenceAfterPut(
  prev: PresenceRow | null | undefined,
  userId: string,
  state: PresenceState,
  statusMsg: string | null,
  now: number,
): PresenceUpdate {
  const next: PresenceRow = {
    user_id: userId,
    state,
    status_msg: statusMsg,
    last_active_ts: state === "online" ? now : (prev?.last_active_ts ?? 0),
    last_seen_ts: now,
  };
  return { ...decide(prev, next, now), write: true };
}

/**
 * The timer's verdict at `now`: offline if silent past OFFLINE_AFTER_MS and no
 * sync is in flight, else when to look again (null: nothing to watch).
 */
export function presenceTimeout(
  row: PresenceRow | null | undefined,
  now: number,
  syncInFlight: boolean,
): { offline: PresenceRow } | { checkAt: number | null } {
  if (!row || row.state === "offline") return { checkAt: null };
  const due = row.last_seen_ts + OFFLINE_AFTER_MS;
  if (syncInFlight) return { checkAt: Math.max(due, now + OFFLINE_AFTER_MS) };
  if (now >= due) return { offline: { ...row, state: "offline" } };
  return { checkAt: due };
}
