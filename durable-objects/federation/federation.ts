/**
 * One Durable Object per remote server (callers use
 * `env.FEDERATION.getByName(destination)`): the durable, ordered queue of PDUs
 * and EDUs for it, sent as transactions (server-server-api "Transactions",
 * `PUT /_matrix/federation/v1/send/{txnId}`), one in flight at a time.
 *
 * - `enqueue` stores what it is given in order (a PDU once per event id) and
 *   arms the alarm now, unless a backoff is in force; the alarm sends.
 * - A transaction's id and rows are written before it is sent. If the process
 *   dies or the answer is lost, the next attempt sends the same txnId with the
 *   same contents; the receiver dedupes by origin and txnId.
 * - A 200 removes the rows and resets the backoff; errors the answer reports for
 *   single PDUs are logged, not retried (the spec's model). A 400 or 413 (the
 *   transaction itself refused) drops it: it would hold up the queue for good. Any other failure keeps the
 *   rows and sets the next attempt at base × 2^(failures−1), capped
 *   (FEDERATION_RETRY_BASE_MS, FEDERATION_RETRY_MAX_MS), armed as the alarm.
 * - alarm() never throws: the platform retries a throwing alarm only six times,
 *   so every outcome re-arms it explicitly (PLATFORM.md §2.4, §10.7).
 * - A dead destination does not grow the queue without bound: EDUs expire
 *   (./queue-config.ts) and beyond FEDERATION_QUEUE_MAX_PDUS the oldest PDUs are
 *   dropped, their rooms recorded for a catch-up (the remote fills gaps with
 *   /get_missing_events and backfill when newer events arrive).
 */
import { DurableObject } from "cloudflare:workers";
import { isValidServerName } from "../../src/identifiers.js";
import { isJsonObject, type JsonObject } from "../../src/json.js";
import type { Env } from "../../services/env.js";
import type { DestinationStatus, Edu, FederationApi } from "../../services/federation-api.js";
import type { RoomApi } from "../../services/room-api.js";
import type { Pdu } from "../../src/pdu.js";
import { FederationRequestFailed, federationRequest } from "../../services/federation/federation-client.js";
import { getFederationConfig } from "../../services/federation/federation-config.js";
import { alarmNoLaterThan } from "../alarm.js";
import { applySchema } from "../sql-schema.js";
import { getQueueConfig } from "./queue-config.js";
import { FEDERATION_SCHEMA, QueueStore, type Transaction } from "./queue-store.js";

/** Transactions sent by one alarm before it hands over to the next (bounds one invocation's duration). */
const MAX_TXNS_PER_ALARM = 20;
/** Per-PDU errors logged from one answer; the rest are counted. */
/** Rooms asked for their newest event per catch-up round. */
const CATCH_UP_ROOMS_PER_ROUND = 20;
const MAX_PDU_ERRORS_LOGGED = 10;

export class Federation extends DurableObject<Env> implements FederationApi {
  private readonly store: QueueStore;
  /** A transaction is being sent by this instance (one in flight at a time). */
  private sending = false;
  /** While sending: when the alarm set before the request should fire if the process dies. */
  private safetyAlarmAt = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new QueueStore(ctx.storage);
    void ctx.blockConcurrencyWhile(async () => applySchema(ctx.storage, FEDERATION_SCHEMA));
  }

  /** The destination server name once bound to this object, or null. */
  async destination(): Promise<string | null> {
    return this.store.destination();
  }

  async enqueue(destination: string, items: { pdus?: Array<{ eventId: string; pdu: Pdu }>; edus?: Edu[] }): Promise<void> {
    const bound = this.store.destination();
    if (bound === null) {
      if (typeof destination !== "string" || !isValidServerName(destination)) throw new Error(`not a server name: ${String(destination)}`);
      if (destination === this.env.SERVER_NAME) throw new Error("a server does not send transactions to itself");
    } else if (bound !== destination) {
      throw new Error(`this queue is for ${bound}, not ${destination}: use env.FEDERATION.getByName(destination)`);
    }
    const pdus = items.pdus ?? [];
    const edus = items.edus ?? [];
    for (const p of pdus) {
      if (typeof p?.eventId !== "string" || !p.eventId || !isJsonObject(p.pdu)) throw new Error("each PDU needs an eventId and a pdu object");
    }
    for (const e of edus) {
      if (typeof e?.edu_type !== "string" || !e.edu_type || !isJsonObject(e.content)) throw new Error("each EDU needs an edu_type and a content object");
    }
    if (bound === null) this.store.bindDestination(destination);
    if (!pdus.length && !edus.length) return;

    const r = this.store.enqueue(pdus, edus, Date.now(), getQueueConfig(this.env));
    if (r.tooLarge) console.error(`federation to ${destination}: ${r.tooLarge} PDUs or EDUs larger than the spec allows were not queued`);
    if (r.droppedPdus) {
      console.warn(
        `federation to ${destination}: queue over its cap, dropped the ${r.droppedPdus} oldest PDUs; ` +
          `catch-up needed in ${r.droppedRooms.length} rooms (${r.droppedRooms.slice(0, 5).join(", ")}${r.droppedRooms.length > 5 ? ", …" : ""})`,
      );
    }
    if (r.addedPdus || r.addedEdus) await this.armSoon();
  }

  async status(): Promise<DestinationStatus> {
    const s = this.store.state();
    const pending = s.pending_pdus + s.pending_edus > 0;
    let retryAtTs: number | null = null;
    if (pending) retryAtTs = s.retry_at ?? (await this.ctx.storage.getAlarm()) ?? Date.now();
    return {
      destination: this.store.destination(),
      pendingPdus: s.pending_pdus,
      pendingEdus: s.pending_edus,
      failures: s.failures,
      retryAtTs,
      lastError: s.last_error,
      lastSuccessTs: s.last_success_ts,
      droppedPdus: s.dropped_pdus,
      droppedEdus: s.dropped_edus,
      catchUpRooms: this.store.catchUpRooms(),
    };
  }

  async retryNow(): Promise<void> {
    this.store.clearBackoff();
    // A transaction in flight decides for itself; otherwise the alarm sends now.
    if (!this.sending && this.store.hasPending()) await this.ctx.storage.setAlarm(Date.now());
  }

  override async alarm(): Promise<void> {
    if (this.sending) {
      // Only if the runtime ran an alarm during our own send: keep the safety alarm.
      await this.ctx.storage.setAlarm(this.safetyAlarmAt).catch(() => undefined);
      return;
    }
    this.sending = true;
    try {
      await this.sendQueued();
    } catch (e) {
      // A bug or a storage error: never let alarm() throw (the platform gives up after six
      // retries); count it as a failed attempt and come back after the backoff.
      try {
        console.error(`federation to ${this.store.destination()}: sending failed unexpectedly`, e);
        const { retryAt } = this.store.recordFailure(`internal error: ${(e as Error)?.message ?? String(e)}`, Date.now(), getQueueConfig(this.env));
        await this.ctx.storage.setAlarm(retryAt);
      } catch (e2) {
        console.error("federation: could not re-arm the alarm", e2);
        await this.ctx.storage.setAlarm(Date.now() + 60_000).catch(() => undefined);
      }
    } finally {
      this.sending = false;
    }
  }

  /** Arms the alarm for now, or for the end of the backoff in force; nothing while a send runs. */
  private async armSoon(): Promise<void> {
    if (this.sending) return; // the running send takes the new rows in its next transaction
    const now = Date.now();
    const retryAt = this.store.state().retry_at;
    await alarmNoLaterThan(this.ctx.storage, retryAt !== null && retryAt > now ? retryAt : now);
  }

  /** Sends transactions until the queue is empty, an attempt fails, or this invocation's share is done. */
  private async sendQueued(): Promise<void> {
    const destination = this.store.destination();
    if (destination === null) return;
    const config = getQueueConfig(this.env);
    const timeoutMs = getFederationConfig(this.env).timeoutMs;
    for (let n = 0; n < MAX_TXNS_PER_ALARM; n++) {
      const now = Date.now();
      const retryAt = this.store.state().retry_at;
      if (retryAt !== null && retryAt > now) {
        await this.ctx.storage.setAlarm(retryAt);
        return;
      }
      let txn = this.store.currentTransaction();
      if (!txn) {
        const started = this.store.startTransaction(now);
        if (started?.expiredEdus) console.log(`federation to ${destination}: ${started.expiredEdus} EDUs expired unsent`);
        if (!started) {
          if (this.store.catchUpRooms() > 0 && (await this.catchUp(destination))) continue;
          await this.ctx.storage.deleteAlarm();
          return;
        }
        txn = started.txn;
      }
      // If the process dies during the request, this alarm sends the same transaction again.
      // (The write above is durable before the request leaves: the output gate holds it.)
      this.safetyAlarmAt = now + 2 * timeoutMs + 5_000;
      await this.ctx.storage.setAlarm(this.safetyAlarmAt);
      let answer: JsonObject;
      try {
        answer = await this.send(destination, txn);
      } catch (e) {
        const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
        if (e instanceof FederationRequestFailed && (e.status === 400 || e.status === 413)) {
          // The receiver refuses this transaction as such: sending it again cannot help, and it would hold up the queue.
          console.error(`federation to ${destination}: transaction ${txn.txnId} refused for good, dropped: ${message}`);
          this.store.completeTransaction(txn.txnId, Date.now());
          continue;
        }
        const { failures, retryAt: next } = this.store.recordFailure(message, Date.now(), config);
        console.warn(
          `federation to ${destination}: transaction ${txn.txnId} (${txn.pdus.length} PDUs, ${txn.edus.length} EDUs) failed ` +
            `${failures} time(s) in a row, next attempt in ${((next - Date.now()) / 1000).toFixed(1)} s: ${message}`,
        );
        await this.ctx.storage.setAlarm(next);
        return;
      }
      this.store.completeTransaction(txn.txnId, Date.now());
      logPduErrors(destination, txn.txnId, answer);
    }
    // More may be queued: carry on in a fresh invocation.
    await this.ctx.storage.setAlarm(Date.now());
  }

  /**
   * The queue is empty but rooms lost events over the cap: each room's newest
   * event of ours is queued again (Room DO catchUp), a batch of rooms at a time.
   * True if anything was queued.
   */
  private async catchUp(destination: string): Promise<boolean> {
    const rooms = this.store.catchUpRoomIds(CATCH_UP_ROOMS_PER_ROUND);
    const found = await Promise.all(
      rooms.map(async (roomId) => {
        const stub = this.env.ROOM.getByName(roomId) as unknown as RoomApi;
        try {
          const r = await stub.catchUp(destination);
          return r.ok ? r.value.pdus : [];
        } catch (e) {
          console.warn(`federation to ${destination}: no catch-up for ${roomId}: ${(e as Error).message}`);
          return [];
        }
      }),
    );
    const pdus = found.flat();
    this.store.enqueueCatchUp(rooms, pdus, Date.now());
    if (rooms.length) console.log(`federation to ${destination}: catch-up of ${rooms.length} rooms, ${pdus.length} events queued again`);
    return pdus.length > 0 || this.store.catchUpRooms() > 0;
  }

  private send(destination: string, txn: Transaction): Promise<JsonObject> {
    const body: JsonObject = { origin: this.env.SERVER_NAME, origin_server_ts: txn.originServerTs, pdus: txn.pdus, edus: txn.edus };
    return federationRequest(this.env, destination, "PUT", `/_matrix/federation/v1/send/${encodeURIComponent(txn.txnId)}`, { body });
  }
}

/** The answer's `pdus` map names per-event outcomes; an `error` there is the receiver's verdict, not retried. */
function logPduErrors(destination: string, txnId: string, answer: JsonObject): void {
  const results = answer.pdus;
  if (!isJsonObject(results)) return;
  const errors = Object.entries(results).filter(([, r]) => isJsonObject(r) && r.error !== undefined);
  for (const [eventId, r] of errors.slice(0, MAX_PDU_ERRORS_LOGGED)) {
    console.warn(`federation to ${destination}: transaction ${txnId}: ${eventId} refused: ${String((r as JsonObject).error).slice(0, 300)}`);
  }
  if (errors.length > MAX_PDU_ERRORS_LOGGED) console.warn(`federation to ${destination}: transaction ${txnId}: ${errors.length - MAX_PDU_ERRORS_LOGGED} more PDUs refused`);
}
