/**
 * A room's own SQLite: the DAG of accepted events, state as delta-encoded state
 * groups (state after each event), the current state, forward extremities,
 * transaction ids and the outbox of events not yet published to D1.
 * Event ids, types and state keys stay small: events are referred to by `nid`.
 */
import type { Pdu, StateMap } from "../../src/pdu.js";
import { stateKey } from "../../src/pdu.js";

export const ROOM_SCHEMA: readonly string[] = [
  `CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE events (
     nid INTEGER PRIMARY KEY AUTOINCREMENT,
     event_id TEXT NOT NULL UNIQUE,
     type TEXT NOT NULL,
     state_key TEXT,
     sender TEXT NOT NULL,
     membership TEXT,
     depth INTEGER NOT NULL,
     origin_server_ts INTEGER NOT NULL,
     pdu TEXT NOT NULL,
     state_group INTEGER NOT NULL,
     redacted_by TEXT,
     stream_pos INTEGER
   );
   CREATE TABLE state_groups (id INTEGER PRIMARY KEY AUTOINCREMENT, prev_group INTEGER, chain_len INTEGER NOT NULL);
   CREATE TABLE state_group_entries (group_id INTEGER NOT NULL, type TEXT NOT NULL, state_key TEXT NOT NULL, event_nid INTEGER NOT NULL, PRIMARY KEY (group_id, type, state_key));
   CREATE TABLE current_state (type TEXT NOT NULL, state_key TEXT NOT NULL, event_nid INTEGER NOT NULL, PRIMARY KEY (type, state_key));
   CREATE TABLE extremities (event_nid INTEGER PRIMARY KEY);
   CREATE TABLE txns (sender TEXT NOT NULL, device_id TEXT NOT NULL, txn_id TEXT NOT NULL, event_id TEXT NOT NULL, PRIMARY KEY (sender, device_id, txn_id));
   CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, event_nid INTEGER NOT NULL, kind TEXT NOT NULL, txn_device TEXT, txn_id TEXT);`,
  // Federation (server-server-api "Checks performed on receipt of a PDU"): events known only as
  // auth or state of others are outliers (no place in the DAG); rejected events are kept so they
  // are not fetched again, never shown and never referenced as state; soft-failed ones are in the
  // DAG but are not extremities and are not shown. `federate` marks outbox entries other servers
  // must be sent (our own events, and those we accepted for a remote server in a join/leave/knock).
  `ALTER TABLE events ADD COLUMN outlier INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE events ADD COLUMN rejected TEXT;
   ALTER TABLE events ADD COLUMN soft_failed INTEGER NOT NULL DEFAULT 0;
   ALTER TABLE outbox ADD COLUMN federate INTEGER NOT NULL DEFAULT 0;`,
  // timestamp_to_event (MSC3030): events by origin_server_ts, and the events just after one by depth
  // (whether anything cites it: a gap in front of it).
  `CREATE INDEX events_ts ON events (origin_server_ts);
   CREATE INDEX events_depth ON events (depth);`,
  // Backfill (server-server-api "Backfilling and retrieving missing events"): backward
  // extremities are prev events of DAG events that are not in the DAG here (unknown, or
  // only outliers); a backfilled batch is published to D1 as one group (outbox rows of kind
  // "backfill" naming it) below every other position, with the history visibility before its
  // oldest event; redactions whose target is not here yet wait for it.
  `CREATE TABLE backward_extremities (event_id TEXT PRIMARY KEY, depth INTEGER NOT NULL);
   CREATE TABLE backfill_groups (id INTEGER PRIMARY KEY AUTOINCREMENT, history_visibility TEXT NOT NULL);
   ALTER TABLE outbox ADD COLUMN backfill_group INTEGER;
   CREATE TABLE pending_redactions (target_id TEXT NOT NULL, redaction_nid INTEGER NOT NULL, PRIMARY KEY (target_id, redaction_nid));`,
];

/** Past this many deltas a state group is stored whole, bounding reads. */
const MAX_STATE_CHAIN = 50;

export type EventRow = {
  nid: number;
  event_id: string;
  type: string;
  state_key: string | null;
  sender: string;
  membership: string | null;
  depth: number;
  origin_server_ts: number;
  pdu: string;
  state_group: number;
  redacted_by: string | null;
  stream_pos: number | null;
  outlier: number;
  rejected: string | null;
  soft_failed: number;
};

export type OutboxRow = {
  seq: number;
  event_nid: number;
  /**
   * "state": an earlier event became current state again through state resolution (no timeline entry).
   * "backfill": a historical event of backfill group `backfill_group`, published below all positions.
   * "gaps": no event (nid 0); the backward extremities changed and D1's copy is to be rewritten.
   */
  kind: "event" | "redaction" | "state" | "backfill" | "gaps";
  txn_device: string | null;
  txn_id: string | null;
  federate: number;
  backfill_group: number | null;
};

export class RoomStore {
  constructor(private readonly sql: SqlStorage) {}

  exists(): boolean {
    return this.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").toArray().length > 0;
  }

  getMeta(key: string): string | undefined {
    return this.sql.exec<{ value: string }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0]?.value;
  }

  setMeta(key: string, value: string): void {
    this.sql.exec("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", key, value);
  }

  eventByNid(nid: number): EventRow | undefined {
    return this.sql.exec<EventRow>("SELECT * FROM events WHERE nid = ?", nid).toArray()[0];
  }

  eventById(eventId: string): EventRow | undefined {
    return this.sql.exec<EventRow>("SELECT * FROM events WHERE event_id = ?", eventId).toArray()[0];
  }

  pduOf(row: EventRow): Pdu {
    return JSON.parse(row.pdu) as Pdu;
  }

  /** The newest event in the DAG sent by a user of `server` (not rejected, not soft-failed). */
  latestEventOf(server: string): EventRow | undefined {
    const suffix = `:${server}`;
    return this.sql
      .exec<EventRow>("SELECT * FROM events WHERE outlier = 0 AND rejected IS NULL AND soft_failed = 0 AND substr(sender, -length(?1)) = ?1 ORDER BY nid DESC LIMIT 1", suffix)
      .toArray()[0];
  }

  extremities(): EventRow[] {
    return this.sql.exec<EventRow>("SELECT e.* FROM extremities x JOIN events e ON e.nid = x.event_nid ORDER BY e.depth DESC, e.nid DESC").toArray();
  }

  /** Current state as (type, state_key) → event row. */
  currentStateRows(): EventRow[] {
    return this.sql.exec<EventRow>("SELECT e.* FROM current_state c JOIN events e ON e.nid = c.event_nid").toArray();
  }

  currentStateEvent(type: string, key: string): EventRow | undefined {
    return this.sql
      .exec<EventRow>("SELECT e.* FROM current_state c JOIN events e ON e.nid = c.event_nid WHERE c.type = ? AND c.state_key = ?", type, key)
      .toArray()[0];
  }

  /** The current state of the given (type, state_key) pairs, as PDUs keyed by stateKey(). */
  currentStateFor(pairs: Array<[string, string]>): StateMap<Pdu> {
    const out: StateMap<Pdu> = new Map();
    for (const [t, k] of pairs) {
      const row = this.currentStateEvent(t, k);
      if (row) out.set(stateKey(t, k), this.pduOf(row));
    }
    return out;
  }

  /** Full state of a state group: (type, state_key) → nid, following deltas. */
  stateOfGroup(groupId: number): Map<string, number> {
    const out = new Map<string, number>();
    let g: number | null = groupId;
    while (g !== null) {
      for (const e of this.sql.exec<{ type: string; state_key: string; event_nid: number }>(
        "SELECT type, state_key, event_nid FROM state_group_entries WHERE group_id = ?",
        g,
      )) {
        const k = stateKey(e.type, e.state_key);
        if (!out.has(k)) out.set(k, e.event_nid);
      }
      g = this.sql.exec<{ prev_group: number | null }>("SELECT prev_group FROM state_groups WHERE id = ?", g).toArray()[0]?.prev_group ?? null;
    }
    return out;
  }

  /** Rows of the given nids (one query). */
  eventsByNids(nids: number[]): EventRow[] {
    return this.sql.exec<EventRow>("SELECT * FROM events WHERE nid IN (SELECT value FROM json_each(?))", JSON.stringify(nids)).toArray();
  }

  /** Event ids of the given nids (one query). */
  eventIdsOf(nids: number[]): Map<number, string> {
    const out = new Map<number, string>();
    for (const r of this.sql.exec<{ nid: number; event_id: string }>(
      "SELECT nid, event_id FROM events WHERE nid IN (SELECT value FROM json_each(?))",
      JSON.stringify(nids),
    )) {
      out.set(r.nid, r.event_id);
    }
    return out;
  }

  /** One state entry of a state group (the event nid for type/state_key), following deltas: point lookups only. */
  stateEntryOfGroup(groupId: number, type: string, key: string): number | undefined {
    let g: number | null = groupId;
    while (g !== null) {
      const hit = this.sql
        .exec<{ event_nid: number }>("SELECT event_nid FROM state_group_entries WHERE group_id = ? AND type = ? AND state_key = ?", g, type, key)
        .toArray()[0];
      if (hit) return hit.event_nid;
      g = this.sql.exec<{ prev_group: number | null }>("SELECT prev_group FROM state_groups WHERE id = ?", g).toArray()[0]?.prev_group ?? null;
    }
    return undefined;
  }

  /** A new state group: `prev` plus `changes` (or a full snapshot when the chain gets long). */
  newStateGroup(prev: number | null, changes: Array<{ type: string; stateKey: string; nid: number }>): number {
    let chain = prev === null ? 0 : (this.sql.exec<{ chain_len: number }>("SELECT chain_len FROM state_groups WHERE id = ?", prev).toArray()[0]?.chain_len ?? 0) + 1;
    let entries = changes;
    let base = prev;
    if (prev !== null && chain >= MAX_STATE_CHAIN) {
      const full = this.stateOfGroup(prev);
      for (const c of changes) full.set(stateKey(c.type, c.stateKey), c.nid);
      entries = [...full].map(([k, nid]) => {
        const [type, sk] = k.split("\u0000") as [string, string];
        return { type, stateKey: sk, nid };
      });
      base = null;
      chain = 0;
    }
    const id = this.sql
      .exec<{ id: number }>("INSERT INTO state_groups (prev_group, chain_len) VALUES (?, ?) RETURNING id", base, chain)
      .one().id;
    for (const e of entries) {
      this.sql.exec("INSERT INTO state_group_entries (group_id, type, state_key, event_nid) VALUES (?, ?, ?, ?)", id, e.type, e.stateKey, e.nid);
    }
    return id;
  }

  insertEvent(e: {
    eventId: string;
    pdu: Pdu;
    membership: string | null;
    stateGroup: number;
    outlier?: boolean;
    rejected?: string;
    softFailed?: boolean;
  }): number {
    return this.sql
      .exec<{ nid: number }>(
        "INSERT INTO events (event_id, type, state_key, sender, membership, depth, origin_server_ts, pdu, state_group, outlier, rejected, soft_failed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING nid",
        e.eventId,
        e.pdu.type,
        e.pdu.state_key ?? null,
        e.pdu.sender,
        e.membership,
        e.pdu.depth,
        e.pdu.origin_server_ts,
        JSON.stringify(e.pdu),
        e.stateGroup,
        e.outlier ? 1 : 0,
        e.rejected ?? null,
        e.softFailed ? 1 : 0,
      )
      .one().nid;
  }

  /** An outlier becomes part of the DAG (it was fetched as auth/state first, then arrived as a timeline event). */
  deOutlier(nid: number, stateGroup: number, softFailed: boolean): void {
    this.sql.exec("UPDATE events SET outlier = 0, state_group = ?, soft_failed = ? WHERE nid = ?", stateGroup, softFailed ? 1 : 0, nid);
  }

  /** The create event when it is only known as an outlier (during a join's import). */
  outlierCreate(): EventRow | undefined {
    return this.sql.exec<EventRow>("SELECT * FROM events WHERE type = 'm.room.create' AND state_key = '' AND rejected IS NULL LIMIT 1").toArray()[0];
  }

  markRejected(nid: number, reason: string): void {
    this.sql.exec("UPDATE events SET rejected = ? WHERE nid = ?", reason, nid);
  }

  /** Which of these event ids this room has (in any form: DAG, outlier or rejected). */
  knownEvents(eventIds: string[]): Map<string, EventRow> {
    const out = new Map<string, EventRow>();
    for (const r of this.sql.exec<EventRow>("SELECT * FROM events WHERE event_id IN (SELECT value FROM json_each(?))", JSON.stringify(eventIds))) {
      out.set(r.event_id, r);
    }
    return out;
  }

  setEventStateGroup(nid: number, group: number): void {
    this.sql.exec("UPDATE events SET state_group = ? WHERE nid = ?", group, nid);
  }

  setCurrentState(type: string, key: string, nid: number): void {
    this.sql.exec(
      "INSERT INTO current_state (type, state_key, event_nid) VALUES (?, ?, ?) ON CONFLICT (type, state_key) DO UPDATE SET event_nid = excluded.event_nid",
      type,
      key,
      nid,
    );
  }

  clearCurrentState(): void {
    this.sql.exec("DELETE FROM current_state");
  }

  deleteCurrentState(type: string, key: string): void {
    this.sql.exec("DELETE FROM current_state WHERE type = ? AND state_key = ?", type, key);
  }

  setExtremities(nids: number[]): void {
    this.sql.exec("DELETE FROM extremities");
    for (const n of nids) this.sql.exec("INSERT INTO extremities (event_nid) VALUES (?)", n);
  }

  txnEvent(sender: string, deviceId: string, txnId: string): string | undefined {
    return this.sql
      .exec<{ event_id: string }>("SELECT event_id FROM txns WHERE sender = ? AND device_id = ? AND txn_id = ?", sender, deviceId, txnId)
      .toArray()[0]?.event_id;
  }

  recordTxn(sender: string, deviceId: string, txnId: string, eventId: string): void {
    this.sql.exec("INSERT INTO txns (sender, device_id, txn_id, event_id) VALUES (?, ?, ?, ?)", sender, deviceId, txnId, eventId);
  }

  enqueue(nid: number, kind: OutboxRow["kind"], txn?: { deviceId: string; txnId: string }, federate = false, backfillGroup: number | null = null): void {
    this.sql.exec(
      "INSERT INTO outbox (event_nid, kind, txn_device, txn_id, federate, backfill_group) VALUES (?, ?, ?, ?, ?, ?)",
      nid,
      kind,
      txn?.deviceId ?? null,
      txn?.txnId ?? null,
      federate ? 1 : 0,
      backfillGroup,
    );
  }

  // ---- backfill ----------------------------------------------------------------

  /** The backward extremities, nearest the present first. */
  backwardExtremities(): Array<{ event_id: string; depth: number }> {
    return this.sql.exec<{ event_id: string; depth: number }>("SELECT event_id, depth FROM backward_extremities ORDER BY depth DESC, event_id").toArray();
  }

  /** Records a prev event this server does not have in its DAG (the deepest child's depth minus one wins). */
  addBackwardExtremity(eventId: string, depth: number): void {
    this.sql.exec(
      "INSERT INTO backward_extremities (event_id, depth) VALUES (?, ?) ON CONFLICT (event_id) DO UPDATE SET depth = MAX(depth, excluded.depth)",
      eventId,
      depth,
    );
  }

  removeBackwardExtremity(eventId: string): boolean {
    return this.sql.exec("DELETE FROM backward_extremities WHERE event_id = ?", eventId).rowsWritten > 0;
  }

  newBackfillGroup(historyVisibility: string): number {
    return this.sql.exec<{ id: number }>("INSERT INTO backfill_groups (history_visibility) VALUES (?) RETURNING id", historyVisibility).one().id;
  }

  backfillGroupVisibility(id: number | null): string {
    return this.sql.exec<{ history_visibility: string }>("SELECT history_visibility FROM backfill_groups WHERE id = ?", id).toArray()[0]?.history_visibility ?? "shared";
  }

  /** The outbox rows of one backfill group, oldest event first (the order they were enqueued in). */
  backfillRows(group: number | null): OutboxRow[] {
    return this.sql.exec<OutboxRow>("SELECT * FROM outbox WHERE kind = 'backfill' AND backfill_group IS ? ORDER BY seq", group).toArray();
  }

  deleteBackfillGroup(id: number | null): void {
    this.sql.exec("DELETE FROM backfill_groups WHERE id = ?", id);
  }

  /** A redaction whose target is not here yet: applied when the target arrives (by backfill). */
  addPendingRedaction(targetId: string, redactionNid: number): void {
    this.sql.exec("INSERT OR IGNORE INTO pending_redactions (target_id, redaction_nid) VALUES (?, ?)", targetId, redactionNid);
  }

  /** The redactions that were waiting for `targetId` (and forgets them). */
  takePendingRedactions(targetId: string): number[] {
    return this.sql
      .exec<{ redaction_nid: number }>("DELETE FROM pending_redactions WHERE target_id = ? RETURNING redaction_nid", targetId)
      .toArray()
      .map((r) => r.redaction_nid);
  }

  pendingOutbox(limit: number): OutboxRow[] {
    return this.sql.exec<OutboxRow>("SELECT * FROM outbox ORDER BY seq LIMIT ?", limit).toArray();
  }

  markPublished(rows: Array<{ seq: number; nid: number; pos: number | null }>): void {
    for (const r of rows) {
      this.sql.exec("DELETE FROM outbox WHERE seq = ?", r.seq);
      if (r.pos !== null) this.sql.exec("UPDATE events SET stream_pos = ? WHERE nid = ? AND stream_pos IS NULL", r.pos, r.nid);
    }
  }

  setRedactedBy(nid: number, redactionEventId: string): void {
    this.sql.exec("UPDATE events SET redacted_by = ? WHERE nid = ? AND redacted_by IS NULL", redactionEventId, nid);
  }

  /**
   * Events of the DAG (not outliers, rejected or soft-failed) from `ts` on in a
   * direction (`f`: at or after, oldest first; `b`: at or before, newest first),
   * at most `limit`.
   */
  dagEventsFromTimestamp(ts: number, dir: "f" | "b", limit: number): EventRow[] {
    const [cmp, order] = dir === "f" ? [">=", "ASC"] : ["<=", "DESC"];
    return this.sql
      .exec<EventRow>(
        `SELECT * FROM events WHERE origin_server_ts ${cmp} ? AND outlier = 0 AND rejected IS NULL AND soft_failed = 0 ORDER BY origin_server_ts ${order}, nid ${order} LIMIT ?`,
        ts,
        limit,
      )
      .toArray();
  }

  isExtremity(nid: number): boolean {
    return this.sql.exec("SELECT 1 FROM extremities WHERE event_nid = ?", nid).toArray().length > 0;
  }

  /** DAG events (accepted or soft-failed, not outliers or rejected) with a depth in (`above`, `above + span`], at most `limit`. */
  dagEventsAboveDepth(above: number, span: number, limit: number): EventRow[] {
    return this.sql
      .exec<EventRow>("SELECT * FROM events WHERE depth > ? AND depth <= ? AND outlier = 0 AND rejected IS NULL LIMIT ?", above, above + span, limit)
      .toArray();
  }

  /** Local users currently joined or invited (they get woken on new events). */
  membersWith(memberships: string[]): EventRow[] {
    return this.sql
      .exec<EventRow>(
        `SELECT e.* FROM current_state c JOIN events e ON e.nid = c.event_nid WHERE c.type = 'm.room.member' AND e.membership IN (${memberships.map(() => "?").join(",")})`,
        ...memberships,
      )
      .toArray();
  }
}
