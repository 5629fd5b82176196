/**
 * PUT /_matrix/federation/v1/send/{txnId} (server-server-api "Transactions"):
 * each PDU goes through the checks on receipt — steps 1–3 here
 * (services/federation/pdu-intake.ts), steps 4–6 in its room's DO — and gets its
 * own result; a bad PDU never fails the others. Events the room does not know
 * yet are fetched from the sending server first: missing auth events through
 * /event_auth, gaps in prev events through /get_missing_events (a bounded
 * number of rounds), all outside the Room DO's critical section.
 * A transaction is applied once per origin and txnId: a retry gets the answer
 * the first attempt gave.
 */
import { MatrixError } from "../../src/errors.js";
import { isJsonObject, type JsonObject } from "../../src/json.js";
import type { StoredEvent } from "../../src/pdu.js";
import { unwrap } from "../../src/room-result.js";
import { getRoomVersion, type RoomVersion } from "../../src/room-versions.js";
import type { Env } from "../../services/env.js";
import { FederationRequestFailed, federationRequest } from "../../services/federation/federation-client.js";
import { FederationUnreachable } from "../../services/federation/federation-fetch.js";
import { checkPdus, passingPdus } from "../../services/federation/pdu-intake.js";
import { roomServerAcls } from "../../services/d1/server-acl.js";
import { serverAllowed } from "../../src/server-acl.js";
import type { PduOutcome } from "../../services/room-api.js";

const MAX_PDUS = 50;
const MAX_EDUS = 100;
/** get_missing_events rounds for one event before giving up on the gap. */
const GAP_ROUNDS = 3;
const GAP_LIMIT = 20;
/** Events fetched one by one (`/event`) for a gap's state or missing auth events; beyond, /state whole. */
const MAX_EVENT_FETCHES = 100;
const EVENT_FETCH_PARALLEL = 10;
/** State ids taken from a /state_ids answer. */
const MAX_STATE_IDS = 50_000;
/** State fetches for events past an unfillable gap, per room of one transaction. */
const GAP_STATE_FETCHES = 2;
interface GapBudget {
  stateFetches: number;
}

export type RoomStub = DurableObjectStub<import("../../services/room-api.js").RoomApi>;

export async function receiveTransaction(env: Env, origin: string, txnId: string, body: JsonObject): Promise<JsonObject> {
  if (body.origin !== undefined && body.origin !== origin) throw new MatrixError("M_FORBIDDEN", "The transaction's origin is not the signing server", 403);
  const pdus = body.pdus ?? [];
  const edus = body.edus ?? [];
  if (!Array.isArray(pdus) || !Array.isArray(edus)) throw new MatrixError("M_BAD_JSON", "pdus and edus must be arrays", 400);
  if (pdus.length > MAX_PDUS || edus.length > MAX_EDUS) {
    throw new MatrixError("M_BAD_JSON", `A transaction holds at most ${MAX_PDUS} PDUs and ${MAX_EDUS} EDUs`, 400);
  }
  const done = await env.DB.prepare("SELECT response_json FROM federation_inbound_txns WHERE origin = ? AND txn_id = ?")
    .bind(origin, txnId)
    .first<{ response_json: string }>();
  if (done) return JSON.parse(done.response_json) as JsonObject;

  const results: Record<string, JsonObject> = {};
  // One read for every room of the transaction: its version (the read model's copy) and its ACL.
  const byRoomIds = [...new Set(pdus.flatMap((raw) => (isJsonObject(raw) && typeof raw.room_id === "string" ? [raw.room_id] : [])))];
  const [versions, acls] = await Promise.all([roomVersions(env.DB, byRoomIds), roomServerAcls(env.DB, byRoomIds)]);
  const byRoom = new Map<string, unknown[]>();
  for (const raw of pdus) {
    const roomId = isJsonObject(raw) && typeof raw.room_id === "string" ? raw.room_id : undefined;
    if (!roomId) continue; // Not an event of any room (a v12 create event is never sent in a transaction).
    let list = byRoom.get(roomId);
    if (!list) byRoom.set(roomId, (list = []));
    list.push(raw);
  }
  // Rooms are independent: in parallel; within a room, in the order sent.
  await Promise.all(
    [...byRoom].map(async ([roomId, raws]) => {
      const version = versions.get(roomId);
      const banned = !serverAllowed(acls.get(roomId), origin);
      for (const [id, r] of Object.entries(await receiveRoomPdus(env, origin, roomId, version, banned, raws))) results[id] = r;
    }),
  );
  const response = { pdus: results };
  await env.DB.prepare("INSERT INTO federation_inbound_txns (origin, txn_id, response_json, received_ts) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING")
    .bind(origin, txnId, JSON.stringify(response), Date.now())
    .run();
  return response;
}

/** The per-PDU results for one room (`version` undefined: a room this server is not in). */
async function receiveRoomPdus(
  env: Env,
  origin: string,
  roomId: string,
  version: RoomVersion | undefined,
  banned: boolean,
  raws: unknown[],
): Promise<Record<string, JsonObject>> {
  const out: Record<string, JsonObject> = {};
  if (!version) return out; // Nothing to apply them to (and without the version, no event id to report them under).
  const stub = env.ROOM.getByName(roomId);
  const checked = await checkPdus(env, version, raws);
  const good: StoredEvent[] = [];
  for (const c of checked) {
    // server-server-api "Server Access Control Lists": a denied server's events are dropped.
    if (c.ok && banned) out[c.eventId] = { error: "Server is banned from this room" };
    else if (c.ok) good.push({ eventId: c.eventId, pdu: c.pdu });
    else if (c.eventId) out[c.eventId] = { error: c.error };
  }
  const budget: GapBudget = { stateFetches: GAP_STATE_FETCHES };
  for (const ev of good) {
    let outcome: PduOutcome;
    try {
      outcome = await receiveWithGaps(env, origin, roomId, version, stub, ev, budget);
    } catch (e) {
      out[ev.eventId] = { error: e instanceof Error ? e.message : String(e) };
      continue;
    }
    // Rejected and soft-failed events were processed (kept, never shown): no error, as Synapse
    // answers; an error is for a PDU that could not be processed (here, its gaps not filled).
    if (outcome.kind === "missing") out[ev.eventId] = { error: "Could not fetch the events it refers to" };
    else out[ev.eventId] = {};
    if (outcome.kind === "rejected" || outcome.kind === "soft_failed") console.warn(`federation from ${origin}: ${ev.eventId} ${outcome.kind}: ${outcome.reason}`);
  }
  return out;
}

/** One event, fetching what it refers to from `origin` when the room lacks it. */
export async function receiveWithGaps(
  env: Env,
  origin: string,
  roomId: string,
  version: RoomVersion,
  stub: RoomStub,
  ev: StoredEvent,
  budget: GapBudget = { stateFetches: GAP_STATE_FETCHES },
): Promise<PduOutcome> {
  for (let round = 0; ; round++) {
    const { outcomes, extremities } = await unwrap(stub.receive(origin, [ev]));
    const outcome = outcomes[ev.eventId]!;
    if (outcome.kind !== "missing") return outcome;
    if (round >= GAP_ROUNDS) {
      if (outcome.prev.length) return acrossGap(env, origin, roomId, version, stub, ev, outcome, budget);
      // Auth events nobody would give us: the event is rejected (kept, never used), as Synapse does.
      return (await unwrap(stub.receive(origin, [ev], { rejectMissingAuth: true }))).outcomes[ev.eventId]!;
    }
    if (outcome.auth.length) await fetchAuthChain(env, origin, roomId, version, stub, ev.eventId, outcome.auth);
    if (outcome.prev.length) {
      const res = await federationRequest(env, origin, "POST", `/_matrix/federation/v1/get_missing_events/${encodeURIComponent(roomId)}`, {
        body: { earliest_events: extremities, latest_events: [ev.eventId], limit: GAP_LIMIT, min_depth: 0 },
      }).catch(() => ({}) as JsonObject);
      const fetched = await passingPdus(env, version, res.events);
      if (fetched.length === 0) return acrossGap(env, origin, roomId, version, stub, ev, outcome, budget);
      // Oldest first; each may itself need its auth events. One whose prev events are still
      // missing (the gap is longer than what was fetched) is taken on its origin's state, so
      // the rest link up to it (as Synapse does for pulled events).
      for (const f of fetched.sort((a, b) => a.pdu.depth - b.pdu.depth)) {
        let r = (await unwrap(stub.receive(origin, [f]))).outcomes[f.eventId]!;
        if (r.kind === "missing" && r.auth.length) {
          await fetchAuthChain(env, origin, roomId, version, stub, f.eventId, r.auth);
          r = (await unwrap(stub.receive(origin, [f]))).outcomes[f.eventId]!;
        }
        if (r.kind === "missing" && r.prev.length) await acrossGap(env, origin, roomId, version, stub, f, r, budget);
      }
    }
  }
}

/**
 * The gap could not be filled: ask `origin` for the state before the event and
 * take the event on it (Room DO receiveAcrossGap). Bounded per transaction: a
 * server that sends many events with gaps gets a few state fetches, then drops.
 */
async function acrossGap(
  env: Env,
  origin: string,
  roomId: string,
  version: RoomVersion,
  stub: RoomStub,
  ev: StoredEvent,
  outcome: PduOutcome,
  budget: GapBudget,
): Promise<PduOutcome> {
  if (budget.stateFetches <= 0) return outcome;
  budget.stateFetches--;
  const room = encodeURIComponent(roomId);
  const at = encodeURIComponent(ev.eventId);
  const strings = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);
  let stateIds: string[];
  let fetched: StoredEvent[];
  try {
    // The ids first (what Synapse asks); what we lack comes one by one, or whole through /state if it is much.
    const ids = await federationRequest(env, origin, "GET", `/_matrix/federation/v1/state_ids/${room}?event_id=${at}`, { maxResponseBytes: 8 * 1024 * 1024 });
    stateIds = strings(ids.pdu_ids).slice(0, MAX_STATE_IDS);
    const wanted = [...new Set([...stateIds, ...strings(ids.auth_chain_ids).slice(0, MAX_STATE_IDS)])];
    const unknown = await stub.unknownEvents(wanted);
    if (unknown.length <= MAX_EVENT_FETCHES) {
      fetched = await fetchEvents(env, origin, version, unknown);
    } else {
      const res = await federationRequest(env, origin, "GET", `/_matrix/federation/v1/state/${room}?event_id=${at}`, { maxResponseBytes: 32 * 1024 * 1024 });
      fetched = (await Promise.all([passingPdus(env, version, res.pdus), passingPdus(env, version, res.auth_chain)])).flat();
    }
  } catch (e) {
    if (!(e instanceof FederationRequestFailed || e instanceof FederationUnreachable)) throw e;
    return outcome;
  }
  return (await unwrap(stub.receiveAcrossGap(origin, ev, stateIds, fetched))).outcome;
}

/** Events by id from `origin` (`GET /event/{eventId}`), checked (steps 1–3); what it cannot give is left out. */
async function fetchEvents(env: Env, origin: string, version: RoomVersion, ids: string[]): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for (let i = 0; i < ids.length; i += EVENT_FETCH_PARALLEL) {
    const batch = ids.slice(i, i + EVENT_FETCH_PARALLEL);
    const raws = await Promise.all(
      batch.map((id) =>
        federationRequest(env, origin, "GET", `/_matrix/federation/v1/event/${encodeURIComponent(id)}`).then(
          (res) => (Array.isArray(res.pdus) && res.pdus.length === 1 ? res.pdus[0] : undefined),
          () => undefined,
        ),
      ),
    );
    for (const c of await checkPdus(env, version, raws.filter((r) => r !== undefined))) {
      if (c.ok && batch.includes(c.eventId)) out.push({ eventId: c.eventId, pdu: c.pdu });
    }
  }
  return out;
}

/** The auth chain of `eventId` from `origin`, stored as outliers. */
export async function fetchAuthChain(env: Env, origin: string, roomId: string, version: RoomVersion, stub: RoomStub, eventId: string, missing: string[] = []): Promise<void> {
  let ok: StoredEvent[];
  try {
    const res = await federationRequest(env, origin, "GET", `/_matrix/federation/v1/event_auth/${encodeURIComponent(roomId)}/${encodeURIComponent(eventId)}`, {
      maxResponseBytes: 32 * 1024 * 1024,
    });
    ok = await passingPdus(env, version, res.auth_chain);
  } catch (e) {
    if (!(e instanceof FederationRequestFailed || e instanceof FederationUnreachable)) throw e;
    // No /event_auth there (or it failed): the missing ones by id, as Synapse fetches them.
    ok = await fetchEvents(env, origin, version, missing.slice(0, MAX_EVENT_FETCHES));
  }
  // Auth events before the events they authorise: a few passes settle any order.
  for (let pass = 0; pass < 3 && ok.length; pass++) {
    const { outcomes } = await unwrap(stub.receive(origin, ok, { outlier: true }));
    const left = ok.filter((e) => outcomes[e.eventId]?.kind === "missing");
    if (left.length === ok.length) break;
    ok.splice(0, ok.length, ...left);
  }
}

/** Room versions of the rooms this server is in, from the read model (`rooms`, written with the create event). */
async function roomVersions(db: D1Database, roomIds: string[]): Promise<Map<string, RoomVersion>> {
  const out = new Map<string, RoomVersion>();
  if (roomIds.length === 0) return out;
  const { results } = await db
    .prepare("SELECT room_id, room_version FROM rooms WHERE room_id IN (SELECT value FROM json_each(?))")
    .bind(JSON.stringify(roomIds))
    .all<{ room_id: string; room_version: string }>();
  for (const r of results) {
    const v = getRoomVersion(r.room_version);
    if (v) out.set(r.room_id, v);
  }
  return out;
}
