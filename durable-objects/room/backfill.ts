/**
 * Backfilled events in the Room DO (server-server-api "Backfilling and
 * retrieving missing events"). The Worker fetches them (`/backfill`, and the
 * state before the batch's oldest events with `/state_ids` or `/state`), runs
 * steps 1–3 on them, and hands them here; this file runs, in the room's write
 * transaction and with no network:
 *
 * 4. auth against the event's own auth events → else rejected;
 * 5. auth against the state before the event → else rejected. That state is the
 *    prev events' state (resolved when they differ); for an event whose prev
 *    events are not here, the state the remote gave for it (resolved with the
 *    prev events that are here);
 * and no step 6: the events are history, so they are never soft-failed against
 * the current state, and they move neither the current state nor the forward
 * extremities. They enter the DAG with their state groups (so /context and
 * /members?at= read their state), their missing prev events become backward
 * extremities, and those new to the read model are published as one group below
 * every other stream position (./outbox.ts), never to /sync, push or other servers.
 */
import { backfillOrder } from "../../src/backfill.js";
import { type StoredEvent, prevEventIds } from "../../src/pdu.js";
import type { RoomVersion } from "../../src/room-versions.js";
import type { BackfillInput, BackfillResult } from "../../services/room-api.js";
import { redactionTarget } from "./authorize.js";
import { mayApplyRedaction, stateOverGroups } from "./persist.js";
import { checkOwnAuthEvents, checkStateBefore, membershipOf, receivePdu, reject } from "./receive.js";
import type { RoomStore } from "./room-store.js";

/** Events known only as auth or state of others (outliers): step 4 each, auth events before those they authorise. */
export function storeOutliers(store: RoomStore, version: RoomVersion, roomId: string, events: StoredEvent[]): void {
  const pending = new Map<string, StoredEvent>();
  for (const e of events) pending.set(e.eventId, e);
  // Repeat while something new gets in: any order settles.
  for (let progress = true; progress && pending.size; ) {
    progress = false;
    for (const e of [...pending.values()].sort((a, b) => a.pdu.depth - b.pdu.depth)) {
      const r = receivePdu(store, version, roomId, e, { outlier: true });
      if (r.kind === "missing") continue;
      pending.delete(e.eventId);
      progress = true;
    }
  }
}

/**
 * Backward extremities after `events` entered the DAG: they are no longer one,
 * and their prev events that are not in the DAG here (unknown, or outliers)
 * are; `settled` (rejected: nothing behind them is wanted) are not either.
 * Enqueues the rewrite of D1's copy when anything changed.
 */
export function noteBackwardExtremities(store: RoomStore, events: StoredEvent[], settled: string[] = []): void {
  let changed = false;
  for (const id of [...events.map((e) => e.eventId), ...settled]) if (store.removeBackwardExtremity(id)) changed = true;
  for (const e of events) {
    for (const p of prevEventIds(e.pdu)) {
      const row = store.eventById(p);
      if (row && (row.rejected !== null || !row.outlier)) continue;
      store.addBackwardExtremity(p, Math.max(e.pdu.depth - 1, 0));
      changed = true;
    }
  }
  if (changed) store.enqueue(0, "gaps");
}

/** The remote's state before an event as a state group, or undefined while some of it is not here. */
function remoteStateGroup(store: RoomStore, ids: string[] | undefined): number | undefined {
  if (!ids) return undefined;
  const rows = store.knownEvents(ids);
  if (ids.some((id) => !rows.has(id))) return undefined;
  // Rejected events are never state; one event per key.
  const byKey = new Map<string, { type: string; stateKey: string; nid: number }>();
  for (const r of rows.values()) {
    if (r.rejected !== null || r.state_key === null) continue;
    byKey.set(`${r.type}\u0000${r.state_key}`, { type: r.type, stateKey: r.state_key, nid: r.nid });
  }
  return store.newStateGroup(null, [...byKey.values()]);
}

/** The history visibility in a state group (the spec's default "shared" when there is none). */
function visibilityIn(store: RoomStore, group: number | null): string {
  const nid = group !== null ? store.stateEntryOfGroup(group, "m.room.history_visibility", "") : undefined;
  const row = nid !== undefined ? store.eventByNid(nid) : undefined;
  const v = row ? store.pduOf(row).content.history_visibility : undefined;
  return typeof v === "string" ? v : "shared";
}

/** Redactions between this event and what is here, in either order (the target may arrive after its redaction). */
function applyRedactions(store: RoomStore, version: RoomVersion, nid: number, ev: StoredEvent, group: number): void {
  if (ev.pdu.type === "m.room.redaction") {
    const target = redactionTarget(ev.pdu);
    const row = target ? store.eventById(target) : undefined;
    if (row && !row.redacted_by && !row.outlier && !row.rejected && mayApplyRedaction(store, version, ev.pdu, row, group)) {
      store.setRedactedBy(row.nid, ev.eventId);
      // Already in D1: rewritten there; otherwise published redacted with its group.
      if (row.stream_pos !== null) store.enqueue(row.nid, "redaction");
    } else if (target && (!row || (row.outlier && !row.rejected))) {
      store.addPendingRedaction(target, nid);
    }
  }
  for (const rnid of store.takePendingRedactions(ev.eventId)) {
    const redaction = store.eventByNid(rnid);
    const row = store.eventByNid(nid)!;
    if (!redaction || redaction.rejected || redaction.outlier || row.redacted_by) continue;
    if (!mayApplyRedaction(store, version, store.pduOf(redaction), row, redaction.state_group)) continue;
    store.setRedactedBy(nid, redaction.event_id);
    if (row.stream_pos !== null) store.enqueue(nid, "redaction");
  }
}

/** Steps 4–5 and storage for a batch from /backfill (steps 1–3 done by the caller). Run inside transactionSync. */
export function storeBackfill(store: RoomStore, version: RoomVersion, roomId: string, input: BackfillInput): BackfillResult {
  storeOutliers(store, version, roomId, input.outliers);
  const result: BackfillResult = { stored: [], rejected: [], needState: [], missingAuth: [] };
  const stored: StoredEvent[] = [];
  /** Events new to the read model, oldest first, with the state group before each. */
  const toPublish: Array<{ nid: number; before: number | null }> = [];
  const nodes = input.events
    .filter((e) => (e.pdu.type === "m.room.create" && e.pdu.room_id === undefined) || e.pdu.room_id === roomId)
    .map((ev) => ({ eventId: ev.eventId, prevs: prevEventIds(ev.pdu), depth: ev.pdu.depth, ev }));
  /** Events of the batch left out: what cites them waits with them (it is not reported). */
  const waiting = new Set<string>();
  for (const { ev, prevs } of backfillOrder(nodes)) {
    const { pdu, eventId } = ev;
    const known = store.eventById(eventId);
    if (known && (known.rejected !== null || !known.outlier)) continue; // Had it already.
    // The state before it comes from its prev events here (rejected ones do not count,
    // rooms v1+ "Rejection"), or from the remote where some are not here.
    const prevRows = [...store.knownEvents(prevs).values()];
    const inDag = prevRows.filter((r) => !r.outlier && r.rejected === null);
    const absent = [...new Set(prevs)].filter((p) => !prevRows.some((r) => r.event_id === p && (r.rejected !== null || !r.outlier)));
    if (absent.some((p) => waiting.has(p))) {
      waiting.add(eventId);
      continue;
    }
    // Step 4: the event's own auth events.
    const own = checkOwnAuthEvents(store, version, ev);
    if (own.kind === "missing") {
      result.missingAuth.push(eventId);
      waiting.add(eventId);
      continue;
    }
    if (own.kind === "failed") {
      reject(store, ev, `auth events: ${own.reason}`);
      result.rejected.push(eventId);
      continue;
    }
    const groups = inDag.map((r) => r.state_group);
    if (absent.length || inDag.length === 0) {
      const remote = pdu.type === "m.room.create" ? undefined : remoteStateGroup(store, input.states[eventId]);
      if (remote !== undefined) groups.push(remote);
      else if (pdu.type !== "m.room.create") {
        result.needState.push(eventId);
        waiting.add(eventId);
        continue;
      }
    }
    const before = stateOverGroups(store, version, groups);
    // Step 5: the state before the event (the create event has none).
    if (pdu.type !== "m.room.create") {
      const verdict = before === null ? { ok: false as const, reason: "no state before the event" } : checkStateBefore(store, version, pdu, before, own.create, own.ids);
      if (!verdict.ok) {
        // An outlier may be state the room uses (a join imported it): it stays one, out of the DAG.
        if (known) waiting.add(eventId);
        else reject(store, ev, `state before the event: ${verdict.reason}`);
        result.rejected.push(eventId);
        continue;
      }
    }
    // Into the DAG with the state after it; no extremity, no current state (history).
    const nid = known ? known.nid : store.insertEvent({ eventId, pdu, membership: membershipOf(pdu), stateGroup: before ?? 0 });
    let group = before;
    if (pdu.state_key !== undefined) group = store.newStateGroup(before, [{ type: pdu.type, stateKey: pdu.state_key, nid }]);
    group ??= store.newStateGroup(null, []);
    if (known) store.deOutlier(nid, group, false);
    else store.setEventStateGroup(nid, group);
    applyRedactions(store, version, nid, ev, group);
    stored.push(ev);
    result.stored.push(eventId);
    // State events a join imported are in the read model already (where the join put them).
    if (!known || known.stream_pos === null) toPublish.push({ nid, before });
  }
  if (toPublish.length) {
    const group = store.newBackfillGroup(visibilityIn(store, toPublish[0]!.before));
    for (const p of toPublish) store.enqueue(p.nid, "backfill", undefined, false, group);
  }
  noteBackwardExtremities(store, stored, result.rejected);
  return result;
}
