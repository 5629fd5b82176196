/**
 * The Federation Durable Object's SQLite: one destination's outbound queue of
 * PDUs and EDUs in the order they were queued, the transaction in flight (its
 * id and exactly which rows it holds, written before it is sent), the event ids
 * recently sent or dropped (so a repeated enqueue is ignored), the rooms whose
 * events were dropped over the cap (a later catch-up), and the backoff state.
 * Every method is synchronous; those that write more than one statement run in
 * one transaction.
 */
import { utf8Length } from "../../src/identifiers.js";
import type { JsonObject } from "../../src/json.js";
import type { Pdu } from "../../src/pdu.js";
import type { Edu } from "../../services/federation-api.js";
import { backoffMs, eduMaxAgeMs, type QueueConfig } from "./queue-config.js";

export const FEDERATION_SCHEMA: readonly string[] = [
  `CREATE TABLE destination_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
  // kind: 0 PDU, 1 EDU. txn_id: the transaction in flight that holds the row (its rows are
  // always the oldest: a transaction takes a prefix of the queue). expires_ts: EDUs only.
  `CREATE TABLE queue (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     kind INTEGER NOT NULL,
     event_id TEXT UNIQUE,
     room_id TEXT,
     edu_type TEXT,
     body TEXT NOT NULL,
     queued_ts INTEGER NOT NULL,
     expires_ts INTEGER,
     txn_id TEXT
   );
   CREATE INDEX queue_kind ON queue (kind, seq);
   CREATE INDEX queue_expiry ON queue (expires_ts) WHERE expires_ts IS NOT NULL;
   CREATE INDEX queue_txn ON queue (txn_id) WHERE txn_id IS NOT NULL;
   CREATE TABLE done_pdus (event_id TEXT PRIMARY KEY, seq INTEGER NOT NULL);
   CREATE INDEX done_pdus_seq ON done_pdus (seq);
   CREATE TABLE catchup_rooms (room_id TEXT PRIMARY KEY, dropped INTEGER NOT NULL, first_dropped_ts INTEGER NOT NULL, last_dropped_ts INTEGER NOT NULL);
   CREATE TABLE sender (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     txn_id TEXT,
     txn_ts INTEGER,
     next_txn INTEGER NOT NULL DEFAULT 1,
     failures INTEGER NOT NULL DEFAULT 0,
     retry_at INTEGER,
     last_error TEXT,
     last_success_ts INTEGER,
     pending_pdus INTEGER NOT NULL DEFAULT 0,
     pending_edus INTEGER NOT NULL DEFAULT 0,
     dropped_pdus INTEGER NOT NULL DEFAULT 0,
     dropped_edus INTEGER NOT NULL DEFAULT 0,
     done_count INTEGER NOT NULL DEFAULT 0
   );
   INSERT INTO sender (id) VALUES (1);`,
];

/** Spec limits per transaction (server-server-api "Transactions"). */
export const MAX_PDUS_PER_TXN = 50;
export const MAX_EDUS_PER_TXN = 100;
/** Event ids sent (or dropped) that a repeated enqueue is checked against: the latest this many. */
export const DONE_IDS_KEPT = 5_000;
/** The spec's limit on a PDU; a larger one is refused by every receiver. */
const MAX_PDU_BYTES = 65_536;
/** Far below the 2 MB row limit; to-device EDUs are split by their senders long before this. */
const MAX_EDU_BYTES = 1_048_576;
const MAX_ERROR_CHARS = 500;

const PDU = 0;
const EDU = 1;

type SenderRow = {
  txn_id: string | null;
  txn_ts: number | null;
  next_txn: number;
  failures: number;
  retry_at: number | null;
  last_error: string | null;
  last_success_ts: number | null;
  pending_pdus: number;
  pending_edus: number;
  dropped_pdus: number;
  dropped_edus: number;
  done_count: number;
};

/** A transaction as sent, and again on every retry: same id, same timestamp, same rows. */
export interface Transaction {
  txnId: string;
  originServerTs: number;
  pdus: JsonObject[];
  edus: JsonObject[];
}

/** What an enqueue did, for the caller's logs and alarm. */
export interface EnqueueResult {
  addedPdus: number;
  addedEdus: number;
  /** PDUs already queued, or sent or dropped not long ago. */
  skippedPdus: number;
  /** PDUs and EDUs refused as larger than any receiver takes (a bug of the caller). */
  tooLarge: number;
  /** The oldest queued PDUs dropped to stay within the cap, and the rooms they were in. */
  droppedPdus: number;
  droppedRooms: string[];
  /** EDUs dropped to stay within the cap or past their age. */
  droppedEdus: number;
}

export class QueueStore {
  private readonly sql: SqlStorage;

  constructor(private readonly storage: DurableObjectStorage) {
    this.sql = storage.sql;
  }

  destination(): string | null {
    return this.sql.exec<{ value: string }>("SELECT value FROM destination_meta WHERE key = 'destination'").toArray()[0]?.value ?? null;
  }

  bindDestination(destination: string): void {
    this.sql.exec("INSERT INTO destination_meta (key, value) VALUES ('destination', ?)", destination);
  }

  state(): SenderRow {
    return this.sql.exec<SenderRow>("SELECT * FROM sender WHERE id = 1").one();
  }

  hasPending(): boolean {
    const s = this.state();
    return s.pending_pdus + s.pending_edus > 0;
  }

  /** Queues PDUs (once per event id) and EDUs after everything already queued, then applies the caps. */
  enqueue(pdus: ReadonlyArray<{ eventId: string; pdu: Pdu }>, edus: readonly Edu[], now: number, config: QueueConfig): EnqueueResult {
    return this.storage.transactionSync(() => {
      const result: EnqueueResult = { addedPdus: 0, addedEdus: 0, skippedPdus: 0, tooLarge: 0, droppedPdus: 0, droppedRooms: [], droppedEdus: 0 };
      for (const { eventId, pdu } of pdus) {
        const body = JSON.stringify(pdu);
        if (utf8Length(body) > MAX_PDU_BYTES) {
          result.tooLarge++;
          continue;
        }
        if (this.sql.exec("SELECT 1 FROM done_pdus WHERE event_id = ?", eventId).toArray().length) {
          result.skippedPdus++;
          continue;
        }
        const inserted = this.sql
          .exec(
            "INSERT INTO queue (kind, event_id, room_id, body, queued_ts) VALUES (?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING RETURNING seq",
            PDU,
            eventId,
            roomIdOf(eventId, pdu),
            body,
            now,
          )
          .toArray();
        if (inserted.length) result.addedPdus++;
        else result.skippedPdus++;
      }
      for (const edu of edus) {
        const body = JSON.stringify({ edu_type: edu.edu_type, content: edu.content });
        if (utf8Length(body) > MAX_EDU_BYTES) {
          result.tooLarge++;
          continue;
        }
        this.sql.exec(
          "INSERT INTO queue (kind, edu_type, body, queued_ts, expires_ts) VALUES (?, ?, ?, ?, ?)",
          EDU,
          edu.edu_type,
          body,
          now,
          now + eduMaxAgeMs(config, edu.edu_type),
        );
        result.addedEdus++;
      }
      this.sql.exec(
        "UPDATE sender SET pending_pdus = pending_pdus + ?, pending_edus = pending_edus + ? WHERE id = 1",
        result.addedPdus,
        result.addedEdus,
      );
      result.droppedEdus += this.expireEdus(now);
      const s = this.state();
      if (s.pending_pdus > config.maxPdus) {
        const dropped = this.sql
          .exec<{ seq: number; event_id: string; room_id: string }>(
            `DELETE FROM queue WHERE seq IN (SELECT seq FROM queue WHERE kind = ${PDU} AND txn_id IS NULL ORDER BY seq LIMIT ?)
             RETURNING seq, event_id, room_id`,
            s.pending_pdus - config.maxPdus,
          )
          .toArray();
        const rooms = new Map<string, number>();
        for (const d of dropped) rooms.set(d.room_id, (rooms.get(d.room_id) ?? 0) + 1);
        for (const [roomId, n] of rooms) {
          this.sql.exec(
            `INSERT INTO catchup_rooms (room_id, dropped, first_dropped_ts, last_dropped_ts) VALUES (?, ?, ?, ?)
             ON CONFLICT (room_id) DO UPDATE SET dropped = dropped + excluded.dropped, last_dropped_ts = excluded.last_dropped_ts`,
            roomId,
            n,
            now,
            now,
          );
        }
        this.markDone(dropped);
        this.sql.exec("UPDATE sender SET pending_pdus = pending_pdus - ?, dropped_pdus = dropped_pdus + ? WHERE id = 1", dropped.length, dropped.length);
        result.droppedPdus = dropped.length;
        result.droppedRooms = [...rooms.keys()];
      }
      if (s.pending_edus > config.maxEdus) {
        const n = this.sql
          .exec(
            `DELETE FROM queue WHERE seq IN (SELECT seq FROM queue WHERE kind = ${EDU} AND txn_id IS NULL ORDER BY seq LIMIT ?) RETURNING seq`,
            s.pending_edus - config.maxEdus,
          )
          .toArray().length;
        this.sql.exec("UPDATE sender SET pending_edus = pending_edus - ?, dropped_edus = dropped_edus + ? WHERE id = 1", n, n);
        result.droppedEdus += n;
      }
      return result;
    });
  }

  /**
   * The transaction in flight, if one was started and has not succeeded: sent
   * again exactly as it was (a receiver dedupes by origin and txnId, so whether
   * or not it arrived before, it is applied once).
   */
  currentTransaction(): Transaction | null {
    const s = this.state();
    if (s.txn_id === null || s.txn_ts === null) return null;
    return this.transactionOf(s.txn_id, s.txn_ts);
  }

  /**
   * Starts the next transaction: drops EDUs past their age, takes the oldest rows
   * in queue order up to 50 PDUs and 100 EDUs (stopping at the first that does not
   * fit, so a transaction is always a prefix of the queue and order holds across
   * transactions), and records its id and rows before anything is sent.
   * Null when nothing is queued.
   */
  startTransaction(now: number): { txn: Transaction; expiredEdus: number } | null {
    return this.storage.transactionSync(() => {
      const expiredEdus = this.expireEdus(now);
      const rows = this.sql
        .exec<{ seq: number; kind: number }>("SELECT seq, kind FROM queue ORDER BY seq LIMIT ?", MAX_PDUS_PER_TXN + MAX_EDUS_PER_TXN)
        .toArray();
      let pdus = 0;
      let edus = 0;
      let last: number | null = null;
      for (const r of rows) {
        if (r.kind === PDU ? pdus === MAX_PDUS_PER_TXN : edus === MAX_EDUS_PER_TXN) break;
        if (r.kind === PDU) pdus++;
        else edus++;
        last = r.seq;
      }
      if (last === null) return null;
      const s = this.state();
      const txnId = `${now}.${s.next_txn}`;
      this.sql.exec("UPDATE queue SET txn_id = ? WHERE seq <= ?", txnId, last);
      this.sql.exec("UPDATE sender SET txn_id = ?, txn_ts = ?, next_txn = next_txn + 1 WHERE id = 1", txnId, now);
      return { txn: this.transactionOf(txnId, now), expiredEdus };
    });
  }

  /** The transaction was accepted (200): its rows leave the queue, the backoff is over. */
  completeTransaction(txnId: string, now: number): { pdus: number; edus: number } {
    return this.storage.transactionSync(() => {
      const rows = this.sql
        .exec<{ seq: number; kind: number; event_id: string | null; room_id: string | null; queued_ts: number }>(
          "DELETE FROM queue WHERE txn_id = ? RETURNING seq, kind, event_id, room_id, queued_ts",
          txnId,
        )
        .toArray();
      const pdus = rows.filter((r) => r.kind === PDU) as Array<{ seq: number; event_id: string }>;
      this.markDone(pdus);
      // A room with an event queued since its last drop that got through needs no catch-up:
      // the receiver fills the gap behind that event with /get_missing_events.
      for (const r of rows) {
        if (r.kind === PDU && r.room_id !== null) this.sql.exec("DELETE FROM catchup_rooms WHERE room_id = ? AND last_dropped_ts <= ?", r.room_id, r.queued_ts);
      }
      const edus = rows.length - pdus.length;
      this.sql.exec(
        `UPDATE sender SET txn_id = NULL, txn_ts = NULL, failures = 0, retry_at = NULL, last_error = NULL, last_success_ts = ?,
           pending_pdus = pending_pdus - ?, pending_edus = pending_edus - ? WHERE id = 1`,
        now,
        pdus.length,
        edus,
      );
      return { pdus: pdus.length, edus };
    });
  }

  /** A failed attempt: the rows stay (and the transaction, if one was started); returns when to try again. */
  recordFailure(error: string, now: number, config: QueueConfig): { failures: number; retryAt: number } {
    const failures = this.state().failures + 1;
    const retryAt = now + backoffMs(config, failures);
    this.sql.exec("UPDATE sender SET failures = ?, retry_at = ?, last_error = ? WHERE id = 1", failures, retryAt, error.slice(0, MAX_ERROR_CHARS));
    return { failures, retryAt };
  }

  /** Forgets the backoff (as Synapse does when it hears from the destination). */
  clearBackoff(): void {
    this.sql.exec("UPDATE sender SET failures = 0, retry_at = NULL WHERE id = 1");
  }

  /** Rooms waiting for a catch-up, oldest drop first. */
  catchUpRoomIds(limit: number): string[] {
    return this.sql.exec<{ room_id: string }>("SELECT room_id FROM catchup_rooms ORDER BY first_dropped_ts LIMIT ?", limit).toArray().map((r) => r.room_id);
  }

  /**
   * A catch-up's events for `roomIds` join the queue (even if sent or dropped before:
   * the point is to send the newest again) and those rooms leave the catch-up list.
   */
  enqueueCatchUp(roomIds: readonly string[], pdus: ReadonlyArray<{ eventId: string; pdu: Pdu }>, now: number): void {
    this.storage.transactionSync(() => {
      let added = 0;
      for (const { eventId, pdu } of pdus) {
        const body = JSON.stringify(pdu);
        if (utf8Length(body) > MAX_PDU_BYTES) continue;
        this.sql.exec("DELETE FROM done_pdus WHERE event_id = ?", eventId);
        added += this.sql
          .exec("INSERT INTO queue (kind, event_id, room_id, body, queued_ts) VALUES (?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING RETURNING seq", PDU, eventId, roomIdOf(eventId, pdu), body, now)
          .toArray().length;
      }
      if (added) this.sql.exec("UPDATE sender SET pending_pdus = pending_pdus + ? WHERE id = 1", added);
      for (const roomId of roomIds) this.sql.exec("DELETE FROM catchup_rooms WHERE room_id = ?", roomId);
    });
  }

  /** How many rooms have events the destination never got because they were dropped over the cap. */
  catchUpRooms(): number {
    return this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM catchup_rooms").one().n;
  }

  private transactionOf(txnId: string, ts: number): Transaction {
    const rows = this.sql.exec<{ kind: number; body: string }>("SELECT kind, body FROM queue WHERE txn_id = ? ORDER BY seq", txnId).toArray();
    const txn: Transaction = { txnId, originServerTs: ts, pdus: [], edus: [] };
    for (const r of rows) (r.kind === PDU ? txn.pdus : txn.edus).push(JSON.parse(r.body) as JsonObject);
    return txn;
  }

  /** Drops EDUs past their age that no transaction holds yet. */
  private expireEdus(now: number): number {
    const n = this.sql.exec("DELETE FROM queue WHERE expires_ts <= ? AND txn_id IS NULL RETURNING seq", now).toArray().length;
    if (n) this.sql.exec("UPDATE sender SET pending_edus = pending_edus - ?, dropped_edus = dropped_edus + ? WHERE id = 1", n, n);
    return n;
  }

  /** Remembers event ids that are sent or dropped, keeping the latest DONE_IDS_KEPT (trimmed in steps). */
  private markDone(rows: ReadonlyArray<{ seq: number; event_id: string }>): void {
    if (!rows.length) return;
    let added = 0;
    for (const r of rows) {
      added += this.sql.exec("INSERT INTO done_pdus (event_id, seq) VALUES (?, ?) ON CONFLICT (event_id) DO NOTHING RETURNING seq", r.event_id, r.seq).toArray().length;
    }
    const count = this.state().done_count + added;
    if (count >= DONE_IDS_KEPT + 1_000) {
      // Keep the newest DONE_IDS_KEPT: everything below the seq of the last one kept goes.
      this.sql.exec("DELETE FROM done_pdus WHERE seq < (SELECT seq FROM done_pdus ORDER BY seq DESC LIMIT 1 OFFSET ?)", DONE_IDS_KEPT - 1);
      this.sql.exec("UPDATE sender SET done_count = (SELECT COUNT(*) FROM done_pdus) WHERE id = 1");
    } else {
      this.sql.exec("UPDATE sender SET done_count = ? WHERE id = 1", count);
    }
  }
}

/** The room a PDU belongs to; a v12 create event has no room_id (its id is the room's, MSC4291). */
function roomIdOf(eventId: string, pdu: Pdu): string {
  if (typeof pdu.room_id === "string") return pdu.room_id;
  return `!${eventId.replace(/^\$/, "")}`;
}
