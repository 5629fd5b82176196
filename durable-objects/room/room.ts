import { DurableObject } from "cloudflare:workers";
import { MatrixError, errorData } from "../../src/errors.js";
import { type EventTemplate, type Ref, type SigningKeyMaterial, buildEvent } from "../../src/event-builder.js";
import { roomIdFromCreateEvent } from "../../src/event-id.js";
import type { JsonObject } from "../../src/json.js";
import { type Pdu, stateKey } from "../../src/pdu.js";
import { inviteLevel, userPowerLevel } from "../../src/power-levels.js";
import type { RoomResult } from "../../src/room-result.js";
import { type RoomVersion, getRoomVersion } from "../../src/room-versions.js";
import type { TimestampDirection, TimestampMatch } from "../../src/timestamp-to-event.js";
import type { Env } from "../../services/env.js";
import type { BackfillInput, BackfillResult, CreateRoomInput, FederationRead, PduOutcome, RoomApi, SendInput } from "../../services/room-api.js";
import { getServerKeys } from "../../services/server-keys.js";
import { applySchema } from "../sql-schema.js";
import { authorizeAgainst, checkLocalRedaction, currentAuthRows } from "./authorize.js";
import { storeBackfill } from "./backfill.js";
import {
  STRIPPED_STATE_TYPES,
  type StoredPdu,
  acceptMembership,
  authChain,
  buildAuthorised,
  forServer,
  importJoin,
  receiveAcrossGap,
  membershipTemplate,
  missingEvents,
  serverInRoom,
  stateBefore,
} from "./federation-room.js";
import { receivePdu } from "./receive.js";
import { closestEventForServer, nextToGap } from "./timestamp-lookup.js";
import { Outbox } from "./outbox.js";
import { type TxnRef, persistEvent } from "./persist.js";
import { type EventRow, ROOM_SCHEMA, RoomStore } from "./room-store.js";
import { RoomTyping } from "./typing.js";

/**
 * One Durable Object per room: the room's single writer. A local event goes
 * through named steps — build (src/event-builder.ts: references, hashes,
 * signature, id) → authorise (./authorize.ts) → persist (./persist.ts) — in one
 * SQLite transaction, then publish → push → wake (./outbox.ts) before the sender
 * is answered (see README "Design"). Received PDUs are to share authorise,
 * persist and the outbox.
 */
export class Room extends DurableObject<Env> implements RoomApi {
  private readonly store: RoomStore;
  private readonly typing: RoomTyping;
  private readonly outbox: Outbox;

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
    this.outbox = new Outbox(ctx, env, this.store, this.typing, { roomId: () => this.roomId(), version: () => this.version() });
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
        eventIds.push(persistEvent(this.store, version, create, { federate: true }).eventId);
        for (const t of input.events) eventIds.push(this.appendLocal(version, t, key).eventId);
      });
      await this.outbox.flushOrSchedule();
      return { roomId: input.roomId, eventIds };
    });
  }

  /** Any local event: messages, state, membership, redactions. Idempotent per (sender, device, txnId). */
  async send(input: SendInput): Promise<RoomResult<{ eventId: string }>> {
    return this.run(async () => this.sendInner(input, this.version()));
  }

  private async sendInner(input: SendInput, version: RoomVersion): Promise<{ eventId: string }> {
    const txn = txnOf(input);
    if (txn) {
      const earlier = this.earlierTxnEvent(input.sender, txn);
      if (earlier) return { eventId: earlier };
    }
    const key = await this.signingKey();
    let eventId = "";
    this.ctx.storage.transactionSync(() => {
      // Re-check after the await: a retry may have landed meanwhile.
      const earlier = txn ? this.earlierTxnEvent(input.sender, txn) : undefined;
      if (earlier) {
        eventId = earlier;
        return;
      }
      eventId = this.appendLocal(version, input, key, txn).eventId;
    });
    await this.outbox.flushOrSchedule();
    return { eventId };
  }

  /** The event an earlier request with this txn made; records written before txn scopes existed hold the raw txnId. */
  private earlierTxnEvent(sender: string, txn: TxnRef): string | undefined {
    return this.store.txnEvent(sender, txn.deviceId, txn.key) ?? this.store.txnEvent(sender, txn.deviceId, txn.txnId);
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
      const content = await this.joinContent(version, input.sender, input.content);
      return (await this.sendInner({ type: "m.room.member", state_key: input.sender, sender: input.sender, content }, version));
    });
  }

  /**
   * A join's content. In restricted rooms a user who is not invited must be joined
   * to one of the allowed rooms, and a local member with invite power is named in
   * `join_authorised_via_users_server` (MSC3083) — also for other servers' users (make_join).
   */
  private async joinContent(version: RoomVersion, sender: string, base: JsonObject): Promise<JsonObject> {
    const content: JsonObject = { ...base, membership: "join" };
    const rules = this.store.currentStateEvent("m.room.join_rules", "");
    const joinRule = rules ? this.store.pduOf(rules).content.join_rule : undefined;
    const own = this.store.currentStateEvent("m.room.member", sender)?.membership;
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
            .bind(sender, JSON.stringify(roomIds))
            .first()
        : null;
      if (!member) throw new MatrixError("M_FORBIDDEN", "You do not belong to any of the required rooms or spaces to join this room.", 403);
      const authoriser = this.localMemberWhoCanInvite(version);
      if (!authoriser) throw new MatrixError("M_FORBIDDEN", "No member of this server can authorise your join", 403);
      content.join_authorised_via_users_server = authoriser;
    }
    return content;
  }

  // ---- federation (./federation-room.ts, ./receive.ts) ------------------------

  /** Received PDUs of one room, in order (steps 4–6 of the checks on receipt; steps 1–3 were done by the caller). */
  async receive(origin: string, pdus: StoredPdu[], opts: { outlier?: boolean; federate?: boolean; rejectMissingAuth?: boolean } = {}): Promise<RoomResult<{ outcomes: Record<string, PduOutcome>; extremities: string[] }>> {
    return this.run(async () => {
      const version = this.version();
      const roomId = this.roomId();
      if (!opts.outlier && !opts.federate && !serverInRoom(this.store, origin)) {
        // Events of a server with no joined member are refused unless they are its own users' joins/invites (which /send_join and /invite carry).
        const own = pdus.every((e) => e.pdu.type === "m.room.member" && userDomain(e.pdu.sender) === origin);
        if (!own) throw new MatrixError("M_FORBIDDEN", `${origin} is not in this room`, 403);
      }
      const outcomes: Record<string, PduOutcome> = {};
      this.ctx.storage.transactionSync(() => {
        for (const e of [...pdus].sort((a, b) => a.pdu.depth - b.pdu.depth)) outcomes[e.eventId] = receivePdu(this.store, version, roomId, e, opts);
      });
      await this.outbox.flushOrSchedule();
      return { outcomes, extremities: this.store.extremities().map((r) => r.event_id) };
    });
  }

  /** An event of `origin` past a gap in its prev events, on the state its origin says held before it (./federation-room.ts). */
  async receiveAcrossGap(origin: string, ev: StoredPdu, stateIds: string[], fetched: StoredPdu[]): Promise<RoomResult<{ outcome: PduOutcome }>> {
    return this.run(async () => {
      const version = this.version();
      if (!serverInRoom(this.store, origin)) throw new MatrixError("M_FORBIDDEN", `${origin} is not in this room`, 403);
      let outcome!: PduOutcome;
      this.ctx.storage.transactionSync(() => {
        outcome = receiveAcrossGap(this.store, version, this.roomId(), ev, stateIds, fetched);
      });
      await this.outbox.flushOrSchedule();
      return { outcome };
    });
  }

  /**
   * Catch-up for a server whose queue dropped this room's events (server-server-api
   * "Transactions"; Synapse's catch-up): our newest event here, if that server is
   * still in the room. It fills the gap behind it with /get_missing_events.
   */
  async catchUp(destination: string): Promise<RoomResult<{ pdus: StoredPdu[] }>> {
    return this.run(async () => {
      if (!this.store.exists() || !this.store.getMeta("room_id") || !serverInRoom(this.store, destination)) return { pdus: [] };
      const row = this.store.latestEventOf(this.env.SERVER_NAME);
      return { pdus: row ? [{ eventId: row.event_id, pdu: this.store.pduOf(row) }] : [] };
    });
  }

  /** Which of `eventIds` this room does not hold at all (not even as outliers or rejected): what a caller must fetch. */
  async unknownEvents(eventIds: string[]): Promise<string[]> {
    if (!this.store.exists() || !this.store.getMeta("room_id")) return eventIds;
    const known = this.store.knownEvents(eventIds);
    return eventIds.filter((id) => !known.has(id));
  }

  /** make_join / make_leave / make_knock for a user of `origin`. */
  async makeMembership(origin: string, userId: string, membership: "join" | "leave" | "knock", versions: string[]): Promise<RoomResult<{ event: JsonObject; roomVersion: string }>> {
    return this.run(async () => {
      const version = this.version();
      if (userDomain(userId) !== origin) throw new MatrixError("M_FORBIDDEN", `${userId} is not a user of ${origin}`, 403);
      // A room none of our users is in any more: our view of it is stale, so we cannot be the resident (as Synapse: 404).
      if (!serverInRoom(this.store, this.env.SERVER_NAME)) throw new MatrixError("M_NOT_FOUND", "This server is not in the room", 404);
      if (membership !== "leave" && !versions.includes(version.id)) {
        throw new MatrixError("M_INCOMPATIBLE_ROOM_VERSION", `Your homeserver does not support the features required to join this room (version ${version.id})`, 400, { room_version: version.id });
      }
      const content = membership === "join" ? await this.joinContent(version, userId, {}) : { membership };
      const event = membershipTemplate(this.store, version, this.roomId(), userId, content, await this.signingKey());
      return { event, roomVersion: version.id };
    });
  }

  /** send_join / send_leave / send_knock: the state before a join and its auth chain go back to the joining server. */
  async sendMembership(origin: string, ev: StoredPdu, membership: "join" | "leave" | "knock"): Promise<RoomResult<{ event: Pdu; state: Pdu[]; authChain: Pdu[]; strippedState: Pdu[] }>> {
    return this.run(async () => {
      const version = this.version();
      const key = await this.signingKey();
      let accepted: StoredPdu = ev;
      this.ctx.storage.transactionSync(() => {
        accepted = acceptMembership(this.store, version, this.roomId(), origin, ev, membership, key).event;
      });
      await this.outbox.flushOrSchedule();
      const row = this.store.eventById(accepted.eventId)!;
      const state = membership === "join" ? stateBefore(this.store, row) : [];
      const chain = membership === "join" ? authChain(this.store, [...state.map((s) => s.pdu), accepted.pdu]) : [];
      const stripped = membership === "knock" ? this.strippedState() : [];
      return { event: accepted.pdu, state: state.map((s) => s.pdu), authChain: chain.map((s) => s.pdu), strippedState: stripped };
    });
  }

  /** One of our users joined this room on another server: its state and the join become this room here. */
  async importJoin(input: { roomId: string; roomVersion: string; join: StoredPdu; state: StoredPdu[]; authChain: StoredPdu[] }): Promise<RoomResult<{ eventId: string }>> {
    return this.run(async () => {
      const version = getRoomVersion(input.roomVersion);
      if (!version) throw new MatrixError("M_UNSUPPORTED_ROOM_VERSION", `Unsupported room version ${input.roomVersion}`, 400);
      const fresh = !this.store.exists() || !this.store.getMeta("room_id");
      if (!fresh && this.store.getMeta("room_version") !== version.id) throw new MatrixError("M_BAD_JSON", "The room's version does not match what this server knows", 400);
      if (fresh) applySchema(this.ctx.storage, ROOM_SCHEMA);
      const known = fresh ? undefined : this.store.eventById(input.join.eventId);
      if (known && !known.outlier && !known.rejected) return { eventId: input.join.eventId }; // a retry
      this.ctx.storage.transactionSync(() => {
        if (fresh) {
          this.store.setMeta("room_id", input.roomId);
          this.store.setMeta("room_version", version.id);
        }
        // A rejoin: what we knew stopped when our last user left; the resident's state is the room now.
        this.store.setExtremities([]);
        importJoin(this.store, version, input.roomId, input);
      });
      await this.outbox.flushOrSchedule();
      return { eventId: input.join.eventId };
    });
  }

  /** An event built and authorised here but not stored: an invite the invitee's server must sign first. */
  async buildForRemote(t: EventTemplate): Promise<RoomResult<{ event: StoredPdu; roomVersion: string; strippedState: Pdu[] }>> {
    return this.run(async () => {
      const version = this.version();
      const event = buildAuthorised(this.store, version, this.roomId(), t, await this.signingKey());
      return { event, roomVersion: version.id, strippedState: this.strippedState() };
    });
  }

  /** Reads for other servers; each checks that `origin` has a joined user here. */
  async federationRead(
    origin: string,
    read: FederationRead,
  ): Promise<RoomResult<{ pdus: Pdu[]; authChain: Pdu[]; ids?: { pdus: string[]; authChain: string[] } }>> {
    return this.run(async () => {
      if (!serverInRoom(this.store, origin)) throw new MatrixError("M_FORBIDDEN", `${origin} is not in this room`, 403);
      const version = this.version();
      if (read.kind === "missing") {
        const events = missingEvents(this.store, read.earliest, read.latest, read.limit, read.minDepth);
        return { pdus: forServer(this.store, version, origin, events).map((e) => e.pdu), authChain: [] };
      }
      const row = this.store.eventById(read.eventId);
      if (!row || row.rejected || (read.kind === "state" && row.outlier)) throw new MatrixError("M_NOT_FOUND", "Event not found", 404);
      if (read.kind === "event") return { pdus: forServer(this.store, version, origin, [{ eventId: row.event_id, pdu: this.store.pduOf(row) }]).map((e) => e.pdu), authChain: [] };
      if (read.kind === "event_auth") return { pdus: [], authChain: authChain(this.store, [this.store.pduOf(row)]).map((e) => e.pdu) };
      const state = stateBefore(this.store, row);
      const chain = authChain(this.store, state.map((s) => s.pdu));
      return {
        pdus: state.map((s) => s.pdu),
        authChain: chain.map((s) => s.pdu),
        ids: { pdus: state.map((s) => s.eventId), authChain: chain.map((s) => s.eventId) },
      };
    });
  }

  /** GET /timestamp_to_event for another server (./timestamp-lookup.ts): 403 unless it has a joined user here, null when nothing it may see is found. */
  async closestEventForServer(origin: string, ts: number, dir: TimestampDirection): Promise<RoomResult<TimestampMatch | null>> {
    return this.run(async () => {
      this.version();
      if (!serverInRoom(this.store, origin)) throw new MatrixError("M_FORBIDDEN", `${origin} is not in this room`, 403);
      return closestEventForServer(this.store, origin, ts, dir) ?? null;
    });
  }

  /** Whether events this server lacks could be closer to a timestamp than `eventId`, searching in `dir` (./timestamp-lookup.ts). */
  async timestampGap(eventId: string, dir: TimestampDirection): Promise<boolean> {
    if (!this.store.exists() || !this.store.getMeta("room_id")) return true;
    return nextToGap(this.store, eventId, dir);
  }

  /**
   * History another server sent for /backfill (steps 1–3 done by the caller):
   * checked against its auth events and the state before it, stored in the DAG
   * without touching the current state or the forward extremities, and published
   * below every stream position before this returns (./backfill.ts).
   */
  async backfill(input: BackfillInput): Promise<RoomResult<BackfillResult>> {
    return this.run(async () => {
      const version = this.version();
      const roomId = this.roomId();
      let result: BackfillResult = { stored: [], rejected: [], needState: [], missingAuth: [] };
      this.ctx.storage.transactionSync(() => {
        result = storeBackfill(this.store, version, roomId, input);
      });
      await this.outbox.flushOrSchedule();
      return result;
    });
  }

  private strippedState(): Pdu[] {
    return STRIPPED_STATE_TYPES.flatMap((t) => {
      const r = this.store.currentStateEvent(t, "");
      return r ? [this.store.pduOf(r)] : [];
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
    await this.outbox.flushOrSchedule();
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
   * build → authorise → persist for a local event, on the current extremities and
   * against the current state. Synchronous: runs inside transactionSync so no other
   * request can move the extremities in between.
   */
  private appendLocal(version: RoomVersion, t: EventTemplate, key: SigningKeyMaterial, txn?: TxnRef): { eventId: string } {
    const ref = (r: EventRow): Ref => ({ eventId: r.event_id, pdu: this.store.pduOf(r) });
    const authRows = currentAuthRows(this.store, version, t);
    const built = buildEvent(version, t, {
      roomId: this.roomId(),
      prev: this.store.extremities().slice(0, 10).map(ref),
      auth: authRows.map(ref),
      key,
    });
    const state = authorizeAgainst(this.store, version, built, authRows);
    if (t.type === "m.room.redaction") checkLocalRedaction(this.store, version, built.pdu, state);
    return persistEvent(this.store, version, built, { txn, federate: true });
  }
}

/**
 * A transaction id is scoped to the device and the endpoint (client-server-api
 * "Transaction identifiers": a retry is the same txnId on the same path), so the
 * record is keyed by what the path names besides the txnId: the event type for
 * /send/{eventType}, the target for /redact/{eventId}. The raw txnId is what
 * `unsigned.transaction_id` shows.
 */
function txnOf(input: SendInput): TxnRef | undefined {
  if (!input.txnId || !input.deviceId) return undefined;
  const redacts = input.type === "m.room.redaction" ? (input.redacts ?? input.content.redacts) : undefined;
  const scope = typeof redacts === "string" ? `redact\u0000${redacts}` : `send\u0000${input.type}`;
  return { deviceId: input.deviceId, txnId: input.txnId, key: `${scope}\u0000${input.txnId}` };
}

function userDomain(userId: string): string {
  return userId.slice(userId.indexOf(":") + 1);
}
