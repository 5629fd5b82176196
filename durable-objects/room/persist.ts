/**
 * Step "persist" of the room's event pipeline: an accepted event becomes part of
 * the room — stored with the state before it (state resolution over the forward
 * extremities when there are several), a new state group if it is a state event,
 * the new forward extremity, the txnId record, and an outbox entry for D1.
 * Synchronous over the room's SQLite: callers run it inside transactionSync.
 */
import type { Pdu } from "../../src/pdu.js";
import type { RoomVersion } from "../../src/room-versions.js";
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

export function persistEvent(store: RoomStore, version: RoomVersion, ev: { eventId: string; pdu: Pdu }, txn: TxnRef | undefined): { eventId: string } {
  const prevRows = store.extremities();
  let before: number | null = prevRows[0]?.state_group ?? null;
  if (prevRows.length > 1) before = resolveExtremities(store, version, prevRows);
  const membership = ev.pdu.type === "m.room.member" && typeof ev.pdu.content.membership === "string" ? ev.pdu.content.membership : null;
  const nid = store.insertEvent({ eventId: ev.eventId, pdu: ev.pdu, membership, stateGroup: before ?? 0 });
  let group = before;
  if (ev.pdu.state_key !== undefined) {
    group = store.newStateGroup(before, [{ type: ev.pdu.type, stateKey: ev.pdu.state_key, nid }]);
    store.setCurrentState(ev.pdu.type, ev.pdu.state_key, nid);
  }
  store.setEventStateGroup(nid, group ?? store.newStateGroup(null, []));
  store.setExtremities([nid]);
  if (txn) store.recordTxn(ev.pdu.sender, txn.deviceId, txn.key, ev.eventId);
  store.enqueue(nid, "event", txn && { deviceId: txn.deviceId, txnId: txn.txnId });
  if (ev.pdu.type === "m.room.redaction") {
    const target = redactionTarget(ev.pdu);
    const row = target ? store.eventById(target) : undefined;
    if (row && !row.redacted_by) {
      store.setRedactedBy(row.nid, ev.eventId);
      store.enqueue(row.nid, "redaction");
    }
  }
  return { eventId: ev.eventId };
}

/** State before an event on several extremities: state resolution over their states. */
function resolveExtremities(store: RoomStore, version: RoomVersion, rows: EventRow[]): number {
  const sets = rows.map((r) => {
    const m = new Map<string, string>();
    for (const [k, nid] of store.stateOfGroup(r.state_group)) m.set(k, store.eventByNid(nid)!.event_id);
    return m;
  });
  const resolved = resolveState(version, sets, {
    getEvent: (id) => {
      const row = store.eventById(id);
      return row ? store.pduOf(row) : undefined;
    },
  });
  const changes = [...resolved].map(([k, id]) => {
    const [type, sk] = k.split("\u0000") as [string, string];
    return { type, stateKey: sk, nid: store.eventById(id)!.nid };
  });
  return store.newStateGroup(null, changes);
}
