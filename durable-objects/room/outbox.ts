/**
 * Steps "publish → push → wake" of the room's event pipeline. Persisted events
 * wait in the room's outbox (its SQLite) until they are in D1: one D1 batch per
 * group of events takes their stream positions and writes the read model
 * (./publish.ts) together with their notification rows (./push-actions.ts);
 * then pushes go to the gateways and local users' long-polls are woken.
 *
 * An alarm is armed before publishing, so events persisted are published even if
 * the process dies before the D1 write; on failure the alarm retries with backoff.
 * Concurrent callers share one chain, so events reach D1 in the room's order.
 */
import { type ClientEvent, toClientEvent } from "../../src/client-event.js";
import type { JsonObject } from "../../src/json.js";
import { redactEvent } from "../../src/redaction.js";
import type { RoomVersion } from "../../src/room-versions.js";
import type { Env } from "../../services/env.js";
import { Topic, notifyUsers } from "../../services/wake.js";
import { deliverPushes } from "../../services/push/gateway.js";
import { type PublishItem, backfillStatements, backwardExtremityStatements, publishStatements } from "./publish.js";
import { planPushActions } from "./push-actions.js";
import type { EventRow, OutboxRow, RoomStore } from "./room-store.js";
import type { RoomTyping } from "./typing.js";

const OUTBOX_BATCH = 40;
const RETRY_BASE_MS = 1_000;
const RETRY_MAX_MS = 5 * 60_000;
/** If a publish has not finished by then (the process died), the alarm finishes it. */
const SAFETY_ALARM_MS = 10_000;

/** What the outbox needs from its room. */
export interface OutboxRoom {
  roomId(): string;
  version(): RoomVersion;
}

export class Outbox {
  private flushing: Promise<void> = Promise.resolve();
  private retries = 0;

  constructor(
    private readonly ctx: DurableObjectState,
    private readonly env: Env,
    private readonly store: RoomStore,
    private readonly typing: RoomTyping,
    private readonly room: OutboxRoom,
  ) {}

  /** Publishes what is pending now, or leaves it to the alarm if D1 fails. */
  async flushOrSchedule(): Promise<void> {
    void this.ctx.storage.setAlarm(this.typing.earlier(Date.now() + SAFETY_ALARM_MS));
    try {
      await this.flush();
      this.retries = 0;
      if (this.store.pendingOutbox(1).length === 0) await this.typing.rearmOrDelete();
    } catch (e) {
      // The events are durable in the outbox; an alarm publishes them later.
      console.error(`room ${this.store.getMeta("room_id")}: publish failed, will retry`, e);
      const delay = Math.min(RETRY_BASE_MS * 2 ** this.retries++, RETRY_MAX_MS);
      await this.ctx.storage.setAlarm(this.typing.earlier(Date.now() + delay));
    }
  }

  /** Publishes the outbox in order; concurrent callers share one chain so order is kept. */
  private flush(): Promise<void> {
    const run = this.flushing.then(() => this.flushOnce());
    this.flushing = run.catch(() => undefined);
    return run;
  }

  private async flushOnce(): Promise<void> {
    if (!this.store.exists()) return;
    for (;;) {
      const pending = this.store.pendingOutbox(OUTBOX_BATCH);
      if (pending.length === 0) return;
      // A backfill group goes whole, in its own batch (./backfill.ts); other rows up to the next group.
      if (pending[0]!.kind === "backfill") {
        await this.publishBackfill(pending[0]!.backfill_group);
        continue;
      }
      const cut = pending.findIndex((r) => r.kind === "backfill");
      const rows = cut === -1 ? pending : pending.slice(0, cut);
      const eventRows = rows.filter((r) => r.kind !== "gaps");
      const items = this.publishItems(eventRows);
      // Other servers first: if this fails nothing is published yet and the retry sends again (the queue dedupes by event id).
      await this.federate(eventRows);
      const { statements, positionIndexes } = publishStatements(this.env.DB, items);
      // Per-user notification rows go into the same batch as their events (push-actions.ts).
      const push = await planPushActions(this.env.DB, this.env.SERVER_NAME, this.store, this.room.version(), items);
      statements.push(...push.statements);
      if (eventRows.length < rows.length) statements.push(...backwardExtremityStatements(this.env.DB, this.room.roomId(), this.store.backwardExtremities()));
      const results = await this.env.DB.batch(statements);
      this.ctx.waitUntil(deliverPushes(this.env, push.pending).catch((e: unknown) => console.error("push delivery failed", e)));
      const positions = positionIndexes.map((i) => (results[i]?.results[0] as { pos: number } | undefined)?.pos ?? null);
      const posOf = new Map(eventRows.map((r, i) => [r.seq, r.kind === "event" ? (positions[i] ?? null) : null]));
      this.store.markPublished(rows.map((r) => ({ seq: r.seq, nid: r.event_nid, pos: posOf.get(r.seq) ?? null })));
      if (items.length) this.wake(items, Math.max(...positions.filter((p): p is number => p !== null)));
    }
  }

  /**
   * One backfill group into D1, below every position (./publish.ts): history, so
   * no federation, no notification rows and no wake-ups. Its events stay in the
   * outbox until the batch succeeds; a retry reserves new positions (the old
   * ones were never used: the batch is one transaction).
   */
  private async publishBackfill(group: number | null): Promise<void> {
    const rows = this.store.backfillRows(group);
    const roomId = this.room.roomId();
    const version = this.room.version();
    if (rows.length) {
      const events = rows.map((r) => {
        const row = this.store.eventByNid(r.event_nid)!;
        return { event: clientEventOf(this.store, version, roomId, row), redactedBy: row.redacted_by };
      });
      const results = await this.env.DB.batch(backfillStatements(this.env.DB, roomId, events, this.store.backfillGroupVisibility(group)));
      const mark = (results[0]?.results[0] as { pos?: number } | undefined)?.pos;
      if (typeof mark !== "number") throw new Error("the backfill batch reserved no positions");
      this.store.markPublished(rows.map((r, i) => ({ seq: r.seq, nid: r.event_nid, pos: mark + 1 + i })));
    }
    this.store.deleteBackfillGroup(group);
  }

  /** The outbox rows as what D1's read model stores: client-format events (redactions rewrite their target). */
  private publishItems(rows: OutboxRow[]): PublishItem[] {
    const roomId = this.room.roomId();
    const version = this.room.version();
    const joined = this.store.membersWith(["join"]).length;
    const invited = this.store.membersWith(["invite"]).length;
    return rows.map((r) => {
      const row = this.store.eventByNid(r.event_nid)!;
      const event = clientEventOf(this.store, version, roomId, row);
      // State resolution may have chosen another event for this key by the time it is published.
      const current = row.state_key === null || this.store.currentStateEvent(row.type, row.state_key)?.nid === row.nid;
      if (r.kind === "state") return { kind: "state", roomId, roomVersion: version.id, event, txnDevice: null, txnId: null, current, ...(row.type === "m.room.member" ? { counts: { joined, invited } } : {}) };
      if (r.kind === "redaction") {
        const by = this.store.eventById(row.redacted_by!)!;
        const redaction = toClientEvent(this.store.pduOf(by), by.event_id, roomId);
        return { kind: "redaction", roomId, roomVersion: version.id, event: redaction, redacted: event, txnDevice: null, txnId: null };
      }
      return {
        kind: "event",
        roomId,
        roomVersion: version.id,
        event,
        txnDevice: r.txn_device,
        txnId: r.txn_id,
        current,
        ...(row.type === "m.room.member" ? { counts: { joined, invited } } : {}),
      };
    });
  }

  /**
   * Queues the events of `rows` marked for federation with every other server in
   * the room (the joined members' servers, and the target's server of a kick or a
   * ban: that server must hear of it), one Federation DO per
   * destination. The event's own origin already has it.
   */
  private async federate(rows: OutboxRow[]): Promise<void> {
    const own = this.env.SERVER_NAME;
    const pdus = rows.filter((r) => r.federate && r.kind === "event").map((r) => this.store.eventByNid(r.event_nid)!);
    if (pdus.length === 0) return;
    const joinedServers = new Set(this.store.membersWith(["join"]).flatMap((m) => (m.state_key ? [domainOf(m.state_key)] : [])));
    const byDestination = new Map<string, Array<{ eventId: string; pdu: ReturnType<RoomStore["pduOf"]> }>>();
    for (const row of pdus) {
      const targets = new Set(joinedServers);
      // Kicks and bans only: an invite reaches its server through /invite, not a transaction.
      if (row.type === "m.room.member" && row.state_key && (row.membership === "leave" || row.membership === "ban")) targets.add(domainOf(row.state_key));
      targets.delete(own);
      targets.delete(domainOf(row.sender));
      for (const d of targets) {
        let list = byDestination.get(d);
        if (!list) byDestination.set(d, (list = []));
        list.push({ eventId: row.event_id, pdu: this.store.pduOf(row) });
      }
    }
    await Promise.all([...byDestination].map(([d, list]) => this.env.FEDERATION.getByName(d).enqueue(d, { pdus: list })));
  }

  /** Wakes the long-polls of local users the published events concern. */
  private wake(items: PublishItem[], pos: number): void {
    const server = this.env.SERVER_NAME;
    const local = (u: string) => u.endsWith(`:${server}`);
    const users = new Set<string>();
    for (const m of this.store.membersWith(["join", "invite", "knock"])) if (m.state_key && local(m.state_key)) users.add(m.state_key);
    let topics: number = Topic.ROOMS;
    for (const it of items) {
      const sk = it.event.type === "m.room.member" ? it.event.state_key : undefined;
      if (sk && local(sk)) users.add(sk);
      // Joins and leaves change who shares a room: device_lists.changed / left.
      if (sk !== undefined) topics |= Topic.DEVICE_LISTS;
    }
    this.ctx.waitUntil(notifyUsers(this.env, users, pos, topics));
  }
}

/** Client-format event with the unsigned data fixed at acceptance (prev_content, redacted_because). */
export function clientEventOf(store: RoomStore, version: RoomVersion, roomId: string, row: EventRow): ClientEvent {
  const pdu = store.pduOf(row);
  const unsigned: JsonObject = {};
  if (row.state_key !== null) {
    // The previous holder of this state key, from the state before this event.
    const prevEventId = pdu.prev_events[0];
    const prevRow = prevEventId !== undefined ? store.eventById(typeof prevEventId === "string" ? prevEventId : prevEventId[0]) : undefined;
    const prevNid = prevRow ? store.stateEntryOfGroup(prevRow.state_group, row.type, row.state_key) : undefined;
    const prevState = prevNid !== undefined && prevNid !== row.nid ? store.eventByNid(prevNid) : undefined;
    if (prevState) {
      const prevPdu = prevState.redacted_by ? redactEvent(store.pduOf(prevState), version) : store.pduOf(prevState);
      unsigned.prev_content = prevPdu.content;
      unsigned.prev_sender = prevState.sender;
      unsigned.replaces_state = prevState.event_id;
    }
  }
  if (row.redacted_by) {
    const by = store.eventById(row.redacted_by);
    const redacted = redactEvent(pdu, version);
    // Synapse's pair: the redaction's id and the redaction itself (clients and Sytest read either).
    unsigned.redacted_by = row.redacted_by;
    if (by) unsigned.redacted_because = toClientEvent(store.pduOf(by), by.event_id, roomId) as unknown as JsonObject;
    return toClientEvent(redacted, row.event_id, roomId, unsigned);
  }
  return toClientEvent(pdu, row.event_id, roomId, unsigned);
}

/** The server part of a user id (everything after the first colon). */
function domainOf(userId: string): string {
  return userId.slice(userId.indexOf(":") + 1);
}
