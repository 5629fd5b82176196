import { DurableObject } from "cloudflare:workers";
import { type AuthOptions, authTypesForEvent, checkEventAuth } from "../../src/auth-rules.js";
import { type ClientEvent, toClientEvent } from "../../src/client-event.js";
import { MatrixError, errorData } from "../../src/errors.js";
import { roomIdFromCreateEvent } from "../../src/event-id.js";
import type { JsonObject } from "../../src/json.js";
import { type Pdu, type StateMap, stateKey } from "../../src/pdu.js";
import { inviteLevel, redactLevel, userPowerLevel } from "../../src/power-levels.js";
import { redactEvent } from "../../src/redaction.js";
import { type RoomVersion, getRoomVersion } from "../../src/room-versions.js";
import { resolveState } from "../../src/state-resolution.js";
import type { Env } from "../../services/env.js";
import type { CreateRoomInput, RoomApi, SendInput } from "../../services/room-api.js";
import type { RoomResult } from "../../src/room-result.js";
import { notifyUsers } from "../../services/notify.js";
import { getServerKeys } from "../../services/server-keys.js";
import { applySchema } from "../sql-schema.js";
import { type EventTemplate, type Ref, type SigningKeyMaterial, buildEvent } from "../../src/event-builder.js";
import { type PublishItem, publishStatements } from "./publish.js";
import { deliverPushes } from "../../services/push/gateway.js";
import { planPushActions } from "./push-actions.js";
import { type EventRow, ROOM_SCHEMA, RoomStore } from "./room-store.js";
import { RoomTyping } from "./typing.js";


const OUTBOX_BATCH = 40;
const RETRY_BASE_MS = 1_000;
const RETRY_MAX_MS = 5 * 60_000;
/** If a publish has not finished by then (the process died), the alarm finishes it. */
const SAFETY_ALARM_MS = 10_000;

/**
 * One Durable Object per room: the room's single writer. It builds, hashes and
 * signs local events, checks them against the auth rules of the room's version,
 * keeps the DAG and state in its SQLite, and publishes accepted events to D1
 * through an outbox before the sender is answered (see README "Design").
 */
export class Room extends DurableObject<Env> implements RoomApi {
  private readonly store: RoomStore;
  private readonly typing: RoomTyping;
  private flushing: Promise<void> = Promise.resolve();
  private retries = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new RoomStore(ctx.storage.sql);
    // A room that was never created stays empty: no schema, no storage.
    if (this.store.exists()) applySchema(ctx.storage, ROOM_SCHEMA);
    this.typing = new RoomTyping(ctx, env, {
      roomId: () => this.roomId(),
      membership: (u) => this.store.currentStateEvent("m.room.member", u)?.membership ?? null,
      localJoinedMembers: () => this.store.membersWith(["join"]).flatMap((r) => (r.state_key?.endsWith(`:${env.SERVER_NAME}`) ? [r.state_key] : [])),
    });
  }

  // ---- RPC -----------------------------------------------------------------

  async createRoom(input: CreateRoomInput): Promise<RoomResult<{ roomId: string; eventIds: string[] }>> {
    return this.run(async () => {
      const version = getRoomVersion(input.roomVersion);
      if (!version) throw new MatrixError("M_UNSUPPORTED_ROOM_VERSION", `Unsupported room version ${input.roomVersion}`, 400);
      if (this.store.exists() && this.store.getMeta("room_id")) throw new MatrixError("M_ROOM_IN_USE", "Room already exists", 400);
      const key = await this.signingKey();
      applySchema(this.ctx.storage, ROOM_SCHEMA);
      const eventIds: string[] = [];
      this.ctx.storage.transactionSync(() => {
        this.store.setMeta("room_id", input.roomId);
        this.store.setMeta("room_version", version.id);
        let create = input.createEvent;
        if (version.roomIdFromCreateEvent) {
          if (!create || roomIdFromCreateEvent(create.pdu, version) !== input.roomId) {
            throw new MatrixError("M_INVALID_PARAM", "Room id does not match the create event", 400);
          }
        } else {
          create = buildEvent(version, input.events[0]!, { roomId: input.roomId, prev: [], auth: [], key });
          input = { ...input, events: input.events.slice(1) };
        }
        eventIds.push(this.persist(version, create, undefined).eventId);
        for (const t of input.events) eventIds.push(this.appendLocal(version, t, key).eventId);
      });
      await this.flushOrSchedule();
      return { roomId: input.roomId, eventIds };
    });
  }

  /** Any local event: messages, state, membership, redactions. Idempotent per (sender, device, txnId). */
  async send(input: SendInput): Promise<RoomResult<{ eventId: string }>> {
    return this.run(async () => this.sendInner(input, this.version()));
  }

  private async sendInner(input: SendInput, version: RoomVersion): Promise<{ eventId: string }> {
    {
      if (input.txnId && input.deviceId) {
        const earlier = this.store.txnEvent(input.sender, input.deviceId, input.txnId);
        if (earlier) return { eventId: earlier };
      }
      const key = await this.signingKey();
      let eventId = "";
      this.ctx.storage.transactionSync(() => {
        // Re-check after the await: a retry may have landed meanwhile.
        const earlier = input.txnId && input.deviceId ? this.store.txnEvent(input.sender, input.deviceId, input.txnId) : undefined;
        if (earlier) {
          eventId = earlier;
          return;
        }
        const txn = input.txnId && input.deviceId ? { deviceId: input.deviceId, txnId: input.txnId } : undefined;
        eventId = this.appendLocal(version, input, key, txn).eventId;
      });
      await this.flushOrSchedule();
      return { eventId };
    }
  }

  private localMemberWhoCanInvite(version: RoomVersion): string | undefined {
    const create = this.createRow();
    const pl = this.store.currentStateEvent("m.room.power_levels", "");
    const createPdu = create ? this.store.pduOf(create) : undefined;
    const plPdu = pl ? this.store.pduOf(pl) : undefined;
    const invite = inviteLevel(version, plPdu);
    return this.store
      .membersWith(["join"])
      .map((r) => r.state_key!)
      .filter((u) => u.endsWith(`:${this.env.SERVER_NAME}`))
      .find((u) => userPowerLevel(version, u, createPdu, plPdu) >= invite);
  }

  /**
   * A local user joins. In restricted rooms (MSC3083, v8+) a user who is not
   * invited must be joined to one of the allowed rooms, and a local member with
   * invite power is named in `join_authorised_via_users_server`.
   */
  async join(input: { sender: string; content: JsonObject; deviceId?: string }): Promise<RoomResult<{ eventId: string }>> {
    return this.run(async () => {
      const version = this.version();
      const content: JsonObject = { ...input.content, membership: "join" };
      const rules = this.store.currentStateEvent("m.room.join_rules", "");
      const joinRule = rules ? this.store.pduOf(rules).content.join_rule : undefined;
      const own = this.store.currentStateEvent("m.room.member", input.sender)?.membership;
      const restricted =
        (joinRule === "restricted" && version.restrictedJoinRule) || (joinRule === "knock_restricted" && version.knockRestrictedJoinRule);
      if (restricted && own !== "invite" && own !== "join") {
        const allow = rules ? this.store.pduOf(rules).content.allow : undefined;
        const roomIds = Array.isArray(allow)
          ? allow.flatMap((a) => (a && typeof a === "object" && !Array.isArray(a) && a.type === "m.room_membership" && typeof a.room_id === "string" ? [a.room_id] : []))
          : [];
        const member = roomIds.length
          ? await this.env.DB.prepare(
              "SELECT room_id FROM room_memberships WHERE user_id = ? AND membership = 'join' AND room_id IN (SELECT value FROM json_each(?)) LIMIT 1",
            )
              .bind(input.sender, JSON.stringify(roomIds))
              .first()
          : null;
        if (!member) throw new MatrixError("M_FORBIDDEN", "You do not belong to any of the required rooms or spaces to join this room.", 403);
        const authoriser = this.localMemberWhoCanInvite(version);
        if (!authoriser) throw new MatrixError("M_FORBIDDEN", "No member of this server can authorise your join", 403);
        content.join_authorised_via_users_server = authoriser;
      }
      return (await this.sendInner({ type: "m.room.member", state_key: input.sender, sender: input.sender, content }, version));
    });
  }

  /** The room version, or null if this room does not exist here. */
  async info(): Promise<{ roomId: string; roomVersion: string } | null> {
    if (!this.store.exists()) return null;
    const roomId = this.store.getMeta("room_id");
    const roomVersion = this.store.getMeta("room_version");
    return roomId && roomVersion ? { roomId, roomVersion } : null;
  }

  /** Current state as PDUs keyed by `type\0state_key` (for joins that need it, upgrades and tests). */
  async currentState(): Promise<Record<string, { eventId: string; pdu: Pdu }>> {
    if (!this.store.exists()) return {};
    const out: Record<string, { eventId: string; pdu: Pdu }> = {};
    for (const r of this.store.currentStateRows()) out[stateKey(r.type, r.state_key ?? "")] = { eventId: r.event_id, pdu: this.store.pduOf(r) };
    return out;
  }

  /**
   * The state after an event (its state group) as event ids, for reads of past
   * state: /state and /members of a user who left, /members?at=, /context.
   * `only.types` keeps those types; `only.members` keeps only those member keys.
   * Null if the event is not in this room.
   */
  async stateAt(
    eventId: string,
    only: { types?: string[]; members?: string[] } = {},
  ): Promise<Array<{ type: string; stateKey: string; eventId: string }> | null> {
    if (!this.store.exists()) return null;
    const row = this.store.eventById(eventId);
    if (!row) return null;
    const types = only.types ? new Set(only.types) : undefined;
    const members = only.members ? new Set(only.members) : undefined;
    const picked: Array<{ type: string; stateKey: string; nid: number }> = [];
    for (const [k, nid] of this.store.stateOfGroup(row.state_group)) {
      const [type, sk] = k.split("\u0000") as [string, string];
      if (types && !types.has(type)) continue;
      if (members && type === "m.room.member" && !members.has(sk)) continue;
      picked.push({ type, stateKey: sk, nid });
    }
    const ids = this.store.eventIdsOf(picked.map((p) => p.nid));
    return picked.map((p) => ({ type: p.type, stateKey: p.stateKey, eventId: ids.get(p.nid)! }));
  }

  /** PUT /typing: typing state lives here, see ./typing.ts. */
  async setTyping(input: { userId: string; typing: boolean; timeoutMs: number }): Promise<RoomResult<null>> {
    return this.run(async () => {
      this.version();
      await this.typing.set(input.userId, input.typing, input.timeoutMs);
      return null;
    });
  }

  override async alarm(): Promise<void> {
    await this.typing.onAlarm();
    await this.flushOrSchedule();
  }

  // ---- event pipeline --------------------------------------------------------

  private async run<T>(fn: () => Promise<T>): Promise<RoomResult<T>> {
    try {
      return { ok: true, value: await fn() };
    } catch (e) {
      if (e instanceof MatrixError) return { ok: false, error: errorData(e) };
      throw e;
    }
  }

  private version(): RoomVersion {
    const id = this.store.exists() ? this.store.getMeta("room_version") : undefined;
    const v = id ? getRoomVersion(id) : undefined;
    if (!v) throw new MatrixError("M_NOT_FOUND", "Unknown room", 404);
    return v;
  }

  private roomId(): string {
    return this.store.getMeta("room_id")!;
  }

  private async signingKey(): Promise<SigningKeyMaterial> {
    const keys = await getServerKeys(this.env);
    return { serverName: this.env.SERVER_NAME, keyId: keys.keyId, seed: keys.seed };
  }

  private createRow(): EventRow | undefined {
    return this.store.currentStateEvent("m.room.create", "");
  }

  /**
   * Builds a local event on the current extremities, authorises it against the
   * current state and persists it. Synchronous: runs inside transactionSync so no
   * other request can move the extremities in between.
   */
  private appendLocal(version: RoomVersion, t: EventTemplate, key: SigningKeyMaterial, txn?: { deviceId: string; txnId: string }): { eventId: string } {
    const prevRows = this.store.extremities().slice(0, 10);
    const draft = { type: t.type, sender: t.sender, content: t.content, state_key: t.state_key } as Pdu;
    const authPairs = authTypesForEvent(version, draft);
    const authRows = authPairs.map(([ty, sk]) => this.store.currentStateEvent(ty, sk)).filter((r): r is EventRow => r !== undefined);
    const ref = (r: EventRow): Ref => ({ eventId: r.event_id, pdu: this.store.pduOf(r) });
    const built = buildEvent(version, t, {
      roomId: this.roomId(),
      prev: prevRows.map(ref),
      auth: authRows.map(ref),
      key,
    });
    // Authorise against the current state (which includes the create event, also for v12).
    const authState: StateMap<Pdu> = new Map();
    const ids = new Map<Pdu, string>();
    for (const r of [...authRows, this.createRow()].filter((r): r is EventRow => r !== undefined)) {
      const pdu = this.store.pduOf(r);
      authState.set(stateKey(r.type, r.state_key ?? ""), pdu);
      ids.set(pdu, r.event_id);
    }
    ids.set(built.pdu, built.eventId);
    const options: AuthOptions = { eventId: (p) => ids.get(p) };
    const result = checkEventAuth(version, built.pdu, authState, options);
    if (!result.ok) throw new MatrixError("M_FORBIDDEN", result.reason, 403);
    if (t.type === "m.room.redaction") this.checkRedaction(version, built.pdu, authState);
    return this.persist(version, built, txn);
  }

  /** Redactions by anyone but the original sender need the redact power level (spec "Redactions"). */
  private checkRedaction(version: RoomVersion, pdu: Pdu, authState: StateMap<Pdu>): void {
    const target = this.redactionTarget(pdu);
    if (!target) throw new MatrixError("M_BAD_JSON", "Redaction without a target event", 400);
    const row = this.store.eventById(target);
    if (!row || row.sender === pdu.sender) return;
    const create = authState.get(stateKey("m.room.create", ""));
    const pl = authState.get(stateKey("m.room.power_levels", ""));
    if (userPowerLevel(version, pdu.sender, create, pl) < redactLevel(version, pl)) {
      throw new MatrixError("M_FORBIDDEN", "You may only redact your own events", 403);
    }
  }

  private redactionTarget(pdu: Pdu): string | undefined {
    if (typeof pdu.redacts === "string") return pdu.redacts;
    return typeof pdu.content.redacts === "string" ? pdu.content.redacts : undefined;
  }

  /** Stores an accepted event, advances state and extremities, and queues it for D1. */
  private persist(version: RoomVersion, ev: { eventId: string; pdu: Pdu }, txn: { deviceId: string; txnId: string } | undefined): { eventId: string } {
    const store = this.store;
    const prevRows = store.extremities();
    let before: number | null = prevRows[0]?.state_group ?? null;
    if (prevRows.length > 1) before = this.resolveExtremities(version, prevRows);
    const membership = ev.pdu.type === "m.room.member" && typeof ev.pdu.content.membership === "string" ? ev.pdu.content.membership : null;
    const nid = store.insertEvent({ eventId: ev.eventId, pdu: ev.pdu, membership, stateGroup: before ?? 0 });
    let group = before;
    if (ev.pdu.state_key !== undefined) {
      group = store.newStateGroup(before, [{ type: ev.pdu.type, stateKey: ev.pdu.state_key, nid }]);
      store.setCurrentState(ev.pdu.type, ev.pdu.state_key, nid);
    }
    store.setEventStateGroup(nid, group ?? store.newStateGroup(null, []));
    store.setExtremities([nid]);
    if (txn) store.recordTxn(ev.pdu.sender, txn.deviceId, txn.txnId, ev.eventId);
    store.enqueue(nid, "event", txn);
    if (ev.pdu.type === "m.room.redaction") {
      const target = this.redactionTarget(ev.pdu);
      const row = target ? store.eventById(target) : undefined;
      if (row && !row.redacted_by) {
        store.setRedactedBy(row.nid, ev.eventId);
        store.enqueue(row.nid, "redaction");
      }
    }
    return { eventId: ev.eventId };
  }

  /** State before an event on several extremities: state resolution over their states. */
  private resolveExtremities(version: RoomVersion, rows: EventRow[]): number {
    const store = this.store;
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

  // ---- publishing ----------------------------------------------------------

  /** Client-format event with the unsigned data fixed at acceptance (prev_content etc.). */
  private clientEvent(row: EventRow): ClientEvent {
    const version = this.version();
    const pdu = this.store.pduOf(row);
    const unsigned: JsonObject = {};
    if (row.state_key !== null) {
      // The previous holder of this state key, from the state before this event.
      const prevEventId = pdu.prev_events[0];
      const prevRow = prevEventId !== undefined ? this.store.eventById(typeof prevEventId === "string" ? prevEventId : prevEventId[0]) : undefined;
      const prevNid = prevRow ? this.store.stateEntryOfGroup(prevRow.state_group, row.type, row.state_key) : undefined;
      const prevState = prevNid !== undefined && prevNid !== row.nid ? this.store.eventByNid(prevNid) : undefined;
      if (prevState) {
        const prevPdu = prevState.redacted_by ? redactEvent(this.store.pduOf(prevState), version) : this.store.pduOf(prevState);
        unsigned.prev_content = prevPdu.content;
        unsigned.prev_sender = prevState.sender;
        unsigned.replaces_state = prevState.event_id;
      }
    }
    if (row.redacted_by) {
      const by = this.store.eventById(row.redacted_by);
      const redacted = redactEvent(pdu, version);
      if (by) unsigned.redacted_because = toClientEvent(this.store.pduOf(by), by.event_id, this.roomId()) as unknown as JsonObject;
      return toClientEvent(redacted, row.event_id, this.roomId(), unsigned);
    }
    return toClientEvent(pdu, row.event_id, this.roomId(), unsigned);
  }

  /**
   * Publishes the outbox. An alarm is armed first, so that events persisted here
   * are published even if this process dies before the D1 write; it is cleared
   * once the outbox is empty. On failure the alarm retries with backoff.
   */
  private async flushOrSchedule(): Promise<void> {
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
      const rows = this.store.pendingOutbox(OUTBOX_BATCH);
      if (rows.length === 0) return;
      const roomId = this.roomId();
      const roomVersion = this.version().id;
      const joined = this.store.membersWith(["join"]).length;
      const invited = this.store.membersWith(["invite"]).length;
      const items: PublishItem[] = rows.map((r) => {
        const row = this.store.eventByNid(r.event_nid)!;
        const event = this.clientEvent(row);
        if (r.kind === "redaction") {
          const by = this.store.eventById(row.redacted_by!)!;
          return { kind: "redaction", roomId, roomVersion, event: this.clientEventRaw(by), redacted: event, txnDevice: null, txnId: null };
        }
        return {
          kind: "event",
          roomId,
          roomVersion,
          event,
          txnDevice: r.txn_device,
          txnId: r.txn_id,
          ...(row.type === "m.room.member" ? { counts: { joined, invited } } : {}),
        };
      });
      const { statements, positionIndexes } = publishStatements(this.env.DB, items);
      // Per-user notification rows go into the same batch as their events (push-actions.ts).
      const push = await planPushActions(this.env.DB, this.env.SERVER_NAME, this.store, this.version(), items);
      statements.push(...push.statements);
      const results = await this.env.DB.batch(statements);
      this.ctx.waitUntil(deliverPushes(this.env, push.pending).catch((e: unknown) => console.error("push delivery failed", e)));
      const positions = positionIndexes.map((i) => (results[i]?.results[0] as { pos: number } | undefined)?.pos ?? null);
      this.store.markPublished(rows.map((r, i) => ({ seq: r.seq, nid: r.event_nid, pos: r.kind === "event" ? (positions[i] ?? null) : null })));
      const top = Math.max(...positions.filter((p): p is number => p !== null));
      this.wake(items, top);
    }
  }

  private clientEventRaw(row: EventRow): ClientEvent {
    return toClientEvent(this.store.pduOf(row), row.event_id, this.roomId());
  }

  /** Wakes the long-polls of local users the published events concern. */
  private wake(items: PublishItem[], pos: number): void {
    const server = this.env.SERVER_NAME;
    const local = (u: string) => u.endsWith(`:${server}`);
    const users = new Set<string>();
    for (const m of this.store.membersWith(["join", "invite", "knock"])) if (m.state_key && local(m.state_key)) users.add(m.state_key);
    for (const it of items) {
      const sk = it.event.type === "m.room.member" ? it.event.state_key : undefined;
      if (sk && local(sk)) users.add(sk);
    }
    this.ctx.waitUntil(notifyUsers(this.env, users, pos));
  }
}
