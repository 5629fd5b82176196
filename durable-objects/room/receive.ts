/**
 * Received PDUs (server-server-api "Checks performed on receipt of a PDU"),
 * steps 4–6, in the Room DO's write transaction. Steps 1–3 (format, signatures,
 * content hash) are done before, outside the critical section
 * (services/federation/pdu-intake.ts), and so is every network fetch: an event
 * whose auth or prev events are unknown comes back as "missing" and the caller
 * fetches them and calls again (PLATFORM.md §10.4).
 *
 * 4. auth against the event's own auth events → else rejected;
 * 5. auth against the state before the event (its prev events' state, resolved) → else rejected;
 * 6. auth against the current state → else soft-failed (kept, never shown, never an extremity).
 */
import { authStateFromEvents, authTypesForEvent, checkAuthEventsMatch, checkEventAuth, type AuthOptions } from "../../src/auth-rules.js";
import { type Pdu, type StateMap, authEventIds, prevEventIds, stateKey } from "../../src/pdu.js";
import type { RoomVersion } from "../../src/room-versions.js";
import type { PduOutcome } from "../../services/room-api.js";
import { persistEvent, stateBeforeOf } from "./persist.js";
import type { EventRow, RoomStore } from "./room-store.js";

export interface ReceiveOptions {
  /** Store as an outlier (auth or state of another event): step 4 only, no place in the DAG. */
  outlier?: boolean;
  /** Send to the other servers in the room (events accepted for a remote server's join/leave/knock). */
  federate?: boolean;
  /** Auth events that are still unknown reject the event (they could not be fetched: as Synapse), not "missing". */
  rejectMissingAuth?: boolean;
  /** Accept prev events that are unknown here (a join's prev events are the other server's). */
  stateBefore?: number;
}

function createOf(store: RoomStore, authRows: EventRow[]): Pdu | undefined {
  const inAuth = authRows.find((r) => r.type === "m.room.create");
  if (inAuth) return store.pduOf(inAuth);
  const current = store.currentStateEvent("m.room.create", "");
  if (current) return store.pduOf(current);
  // An import (join) stores the create event as an outlier first.
  const row = store.outlierCreate();
  return row ? store.pduOf(row) : undefined;
}

function authOptions(ids: Map<Pdu, string>): AuthOptions {
  return { eventId: (p) => ids.get(p) ?? (typeof p.event_id === "string" ? p.event_id : undefined) };
}

/** The state at the keys `pdu` is authorised by, each read with `at`, plus the create event. */
function authStateAt(version: RoomVersion, pdu: Pdu, create: Pdu | undefined, ids: Map<Pdu, string>, store: RoomStore, at: (type: string, key: string) => EventRow | undefined): StateMap<Pdu> {
  const state: StateMap<Pdu> = new Map();
  for (const [ty, sk] of authTypesForEvent(version, pdu)) {
    const row = at(ty, sk);
    if (!row) continue;
    const p = store.pduOf(row);
    ids.set(p, row.event_id);
    state.set(stateKey(ty, sk), p);
  }
  if (create && !state.has(stateKey("m.room.create", ""))) state.set(stateKey("m.room.create", ""), create);
  return state;
}

/** The auth state of `pdu` in state group `group`. */
function stateForAuth(store: RoomStore, version: RoomVersion, group: number, pdu: Pdu, create: Pdu | undefined, ids: Map<Pdu, string>): StateMap<Pdu> {
  return authStateAt(version, pdu, create, ids, store, (ty, sk) => {
    const nid = store.stateEntryOfGroup(group, ty, sk);
    return nid !== undefined ? store.eventByNid(nid) : undefined;
  });
}

/** The auth state of `pdu` in the current state. */
function currentForAuth(store: RoomStore, version: RoomVersion, pdu: Pdu, create: Pdu | undefined, ids: Map<Pdu, string>): StateMap<Pdu> {
  return authStateAt(version, pdu, create, ids, store, (ty, sk) => store.currentStateEvent(ty, sk));
}

/** Step 4 for one event: authorised by its own auth events ("missing": some are not here). */
export function checkOwnAuthEvents(
  store: RoomStore,
  version: RoomVersion,
  ev: { eventId: string; pdu: Pdu },
): { kind: "ok"; create: Pdu | undefined; ids: Map<Pdu, string> } | { kind: "missing"; auth: string[] } | { kind: "failed"; reason: string } {
  const { pdu, eventId } = ev;
  const authIds = authEventIds(pdu);
  const authRows = store.knownEvents(authIds);
  const missingAuth = authIds.filter((id) => !authRows.has(id));
  if (missingAuth.length) return { kind: "missing", auth: missingAuth };
  const ids = new Map<Pdu, string>([[pdu, eventId]]);
  const authPdus = authIds.map((id) => {
    const row = authRows.get(id)!;
    const p = store.pduOf(row);
    ids.set(p, id);
    return { p, rejected: row.rejected !== null };
  });
  const create = pdu.type === "m.room.create" ? undefined : createOf(store, [...authRows.values()]);
  const rejectedAuth = new Set(authPdus.filter((a) => a.rejected).map((a) => a.p));
  let verdict = checkAuthEventsMatch(version, pdu, authPdus.map((a) => a.p), (p) => rejectedAuth.has(p));
  if (verdict.ok) verdict = checkEventAuth(version, pdu, authStateFromEvents(authPdus.map((a) => a.p), create), authOptions(ids));
  return verdict.ok ? { kind: "ok", create, ids } : { kind: "failed", reason: verdict.reason };
}

/** Step 5 for one event: authorised by the state of group `before` (the state before it). */
export function checkStateBefore(store: RoomStore, version: RoomVersion, pdu: Pdu, before: number, create: Pdu | undefined, ids: Map<Pdu, string>): { ok: true } | { ok: false; reason: string } {
  return checkEventAuth(version, pdu, stateForAuth(store, version, before, pdu, create, ids), authOptions(ids));
}

/** Steps 4–6 for one event; persists it (accepted, soft-failed, rejected or outlier). Run inside transactionSync. */
export function receivePdu(store: RoomStore, version: RoomVersion, roomId: string, ev: { eventId: string; pdu: Pdu }, opts: ReceiveOptions = {}): PduOutcome {
  const { pdu, eventId } = ev;
  const known = store.eventById(eventId);
  if (known) {
    if (known.rejected) return { kind: "rejected", reason: known.rejected };
    if (!known.outlier || opts.outlier) return { kind: "duplicate" };
  }
  if (pdu.type !== "m.room.create" && pdu.room_id !== roomId) return { kind: "rejected", reason: "event is for another room" };

  // Step 4: the event's own auth events.
  const own = checkOwnAuthEvents(store, version, ev);
  if (own.kind === "missing") {
    return opts.rejectMissingAuth ? reject(store, ev, `auth events could not be fetched: ${own.auth.slice(0, 3).join(", ")}`) : { kind: "missing", auth: own.auth, prev: [] };
  }
  if (own.kind === "failed") return reject(store, ev, `auth events: ${own.reason}`);
  const { create, ids } = own;
  if (opts.outlier) {
    if (!known) store.insertEvent({ eventId, pdu, membership: membershipOf(pdu), stateGroup: 0, outlier: true });
    return { kind: "accepted" };
  }

  // Step 5: the state before the event.
  const prevIds = prevEventIds(pdu);
  // A rejected prev event in the DAG counts: its state is the state before it.
  const prevRows = [...store.knownEvents(prevIds).values()].filter((r) => !r.outlier);
  let before: number | null;
  if (opts.stateBefore !== undefined) {
    before = opts.stateBefore;
  } else {
    const missingPrev = prevIds.filter((id) => !prevRows.some((r) => r.event_id === id));
    if (missingPrev.length) return { kind: "missing", auth: [], prev: missingPrev };
    before = stateBeforeOf(store, version, prevRows);
  }
  if (pdu.type !== "m.room.create") {
    if (before === null) return reject(store, ev, "no state before the event");
    const verdict = checkStateBefore(store, version, pdu, before, create, ids);
    if (!verdict.ok) return reject(store, ev, `state before the event: ${verdict.reason}`, before);
  }

  // Step 6: the current state (soft failure).
  let softFailed: string | undefined;
  if (store.extremities().length > 0 && pdu.type !== "m.room.create") {
    const now = checkEventAuth(version, pdu, currentForAuth(store, version, pdu, create, ids), authOptions(ids));
    if (!now.ok) softFailed = now.reason;
  }
  persistEvent(store, version, ev, { prevRows, stateBefore: before, softFailed: softFailed !== undefined, federate: opts.federate === true });
  return softFailed !== undefined ? { kind: "soft_failed", reason: softFailed } : { kind: "accepted" };
}

export function membershipOf(pdu: Pdu): string | null {
  return pdu.type === "m.room.member" && typeof pdu.content.membership === "string" ? pdu.content.membership : null;
}

/** Rejected events are kept (so they are not fetched and checked again) but never used. */
export function reject(store: RoomStore, ev: { eventId: string; pdu: Pdu }, reason: string, stateBefore?: number): PduOutcome {
  const known = store.eventById(ev.eventId);
  // Rejected with a known state before it: kept in the DAG with that state (a rejected event
  // changes nothing), so events that cite it still have a state before them (as Synapse).
  if (known) {
    if (stateBefore !== undefined && known.outlier) store.deOutlier(known.nid, stateBefore, false);
    store.markRejected(known.nid, reason);
  } else {
    const inDag = stateBefore !== undefined;
    store.insertEvent({ eventId: ev.eventId, pdu: ev.pdu, membership: membershipOf(ev.pdu), stateGroup: stateBefore ?? 0, outlier: !inDag, rejected: reason });
  }
  return { kind: "rejected", reason };
}
