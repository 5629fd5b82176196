/**
 * Step "persist" of the room's event pipeline: an accepted event becomes part of
 * the room — stored with the state after it (the state before it is its prev
 * events' state, resolved when there are several), a new state group if it is a
 * state event, the forward extremities and current state moved on, the txnId
 * record, and an outbox entry for D1 (and other servers).
 * Synchronous over the room's SQLite: callers run it inside transactionSync.
 */
import type { Pdu } from "../../src/pdu.js";
import { prevEventIds, stateKey } from "../../src/pdu.js";
import type { RoomVersion } from "../../src/room-versions.js";
import { redactLevel, userPowerLevel } from "../../src/power-levels.js";
import { resolveState } from "../../src/state-resolution.js";
import { redactionTarget } from "./authorize.js";
import type { EventRow, RoomStore } from "./room-store.js";

export interface TxnRef {
  deviceId: string;
  /** As the client sent it (served back as unsigned.transaction_id). */
  txnId: string;
  /** What the idempotency record is keyed by: the txnId within its endpoint's scope. */
  key: string;
}

export interface PersistOptions {
  txn?: TxnRef;
  /** The event's prev events as stored (default: the current forward extremities, as for local events). */
  prevRows?: EventRow[];
  /** The state group before the event, when the caller already has it. */
  stateBefore?: number | null;
  /**
   * Passed the checks against the state before it but not against the current state
   * (server-server-api "Soft failure"): stored in the DAG, never an extremity, never shown.
   */
  softFailed?: boolean;
  /** Other servers in the room are to be sent this event (the outbox does it). */
  federate?: boolean;
}

export function persistEvent(store: RoomStore, version: RoomVersion, ev: { eventId: string; pdu: Pdu }, opts: PersistOptions = {}): { eventId: string } {
  const oldExtremities = store.extremities();
  const prevRows = opts.prevRows ?? oldExtremities;
  const before = opts.stateBefore !== undefined ? opts.stateBefore : stateBeforeOf(store, version, prevRows);
  const membership = ev.pdu.type === "m.room.member" && typeof ev.pdu.content.membership === "string" ? ev.pdu.content.membership : null;
  const known = store.eventById(ev.eventId);
  const nid = known ? known.nid : store.insertEvent({ eventId: ev.eventId, pdu: ev.pdu, membership, stateGroup: before ?? 0 });
  let group = before;
  if (ev.pdu.state_key !== undefined) group = store.newStateGroup(before, [{ type: ev.pdu.type, stateKey: ev.pdu.state_key, nid }]);
  group ??= store.newStateGroup(null, []);
  if (known) store.deOutlier(nid, group, opts.softFailed === true);
  else store.setEventStateGroup(nid, group);
  if (opts.softFailed) return { eventId: ev.eventId };

  const prevIds = new Set(prevEventIds(ev.pdu));
  const extremities = [nid, ...oldExtremities.filter((r) => !prevIds.has(r.event_id) && r.nid !== nid).map((r) => r.nid)];
  store.setExtremities(extremities);
  const linear = oldExtremities.length === 1 && extremities.length === 1 && prevRows.length === 1 && prevRows[0]!.nid === oldExtremities[0]!.nid;
  if (linear) {
    // The common case: one chain, so the current state only changes by this event.
    if (ev.pdu.state_key !== undefined) store.setCurrentState(ev.pdu.type, ev.pdu.state_key, nid);
  } else {
    updateCurrentState(store, version, extremities, nid);
  }
  if (opts.txn) store.recordTxn(ev.pdu.sender, opts.txn.deviceId, opts.txn.key, ev.eventId);
  store.enqueue(nid, "event", opts.txn && { deviceId: opts.txn.deviceId, txnId: opts.txn.txnId }, opts.federate === true);
  if (ev.pdu.type === "m.room.redaction") {
    const target = redactionTarget(ev.pdu);
    const row = target ? store.eventById(target) : undefined;
    if (row && !row.redacted_by && !row.outlier && !row.rejected && mayApplyRedaction(store, version, ev.pdu, row, group)) {
      store.setRedactedBy(row.nid, ev.eventId);
      store.enqueue(row.nid, "redaction");
    } else if (target && (!row || (row.outlier && !row.rejected))) {
      // The target is older history this server does not have yet: backfill applies this when it comes.
      store.addPendingRedaction(target, nid);
    }
  }
  return { eventId: ev.eventId };
}

/** The state before an event whose prev events are `prevRows`: their state, resolved when they differ. */
export function stateBeforeOf(store: RoomStore, version: RoomVersion, prevRows: EventRow[]): number | null {
  return stateOverGroups(store, version, prevRows.map((r) => r.state_group));
}

/** One state group for several: the same group, or a new one holding their resolved state (null for none). */
export function stateOverGroups(store: RoomStore, version: RoomVersion, stateGroups: number[]): number | null {
  const groups = [...new Set(stateGroups)];
  if (groups.length === 0) return null;
  if (groups.length === 1) return groups[0]!;
  return store.newStateGroup(null, changesOf(store, resolveGroups(store, version, groups)));
}

/** State resolution over whole state groups (event ids keyed by stateKey). */
function resolveGroups(store: RoomStore, version: RoomVersion, groups: number[]): Map<string, string> {
  const sets = groups.map((g) => {
    const m = new Map<string, string>();
    const nids = store.stateOfGroup(g);
    const ids = store.eventIdsOf([...nids.values()]);
    for (const [k, n] of nids) m.set(k, ids.get(n)!);
    return m;
  });
  return resolveState(version, sets, {
    getEvent: (id) => {
      const row = store.eventById(id);
      return row && !row.rejected ? store.pduOf(row) : undefined;
    },
  });
}

function changesOf(store: RoomStore, resolved: Map<string, string>): Array<{ type: string; stateKey: string; nid: number }> {
  const rows = store.knownEvents([...resolved.values()]);
  return [...resolved].map(([k, id]) => {
    const [type, sk] = k.split("\u0000") as [string, string];
    return { type, stateKey: sk, nid: rows.get(id)!.nid };
  });
}

/**
 * Current state = the state after the forward extremities, resolved when there are
 * several. Entries that change to an event other than `own` are published again
 * (outbox kind "state"): state resolution moved them, no new event did.
 */
function updateCurrentState(store: RoomStore, version: RoomVersion, extremities: number[], own: number): void {
  const rows = extremities.map((n) => store.eventByNid(n)!);
  const groups = [...new Set(rows.map((r) => r.state_group))];
  let next: Map<string, number>;
  if (groups.length === 1) {
    next = store.stateOfGroup(groups[0]!);
  } else {
    next = new Map(changesOf(store, resolveGroups(store, version, groups)).map((c) => [stateKey(c.type, c.stateKey), c.nid]));
  }
  const current = new Map(store.currentStateRows().map((r) => [stateKey(r.type, r.state_key ?? ""), r.nid]));
  for (const [k, n] of next) {
    if (current.get(k) === n) continue;
    const [type, sk] = k.split("\u0000") as [string, string];
    store.setCurrentState(type, sk, n);
    if (n !== own) store.enqueue(n, "state");
  }
  for (const k of current.keys()) {
    if (!next.has(k)) {
      const [type, sk] = k.split("\u0000") as [string, string];
      store.deleteCurrentState(type, sk);
    }
  }
}

/**
 * A redaction is in the room once authorised, but it is applied to its target only
 * if its sender is on the target sender's server or holds the redact power level
 * (rooms v3+ "Redactions": the auth rules leave this to the receiving server).
 */
export function mayApplyRedaction(store: RoomStore, version: RoomVersion, redaction: Pdu, target: EventRow, group: number): boolean {
  const domain = (u: string) => u.slice(u.indexOf(":") + 1);
  if (domain(redaction.sender) === domain(target.sender)) return true;
  const at = (type: string) => {
    const nid = store.stateEntryOfGroup(group, type, "");
    const row = nid !== undefined ? store.eventByNid(nid) : undefined;
    return row ? store.pduOf(row) : undefined;
  };
  const pl = at("m.room.power_levels");
  return userPowerLevel(version, redaction.sender, at("m.room.create"), pl) >= redactLevel(version, pl);
}
