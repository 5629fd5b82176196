/**
 * Backfill for GET /messages (server-server-api "Backfilling and retrieving
 * missing events"; where the spec is silent, Synapse's maybe_backfill): when a
 * backwards page runs out of history and the room has backward extremities
 * (prev events this server never had, d1-migrations/0017_backfill.sql), ask a
 * server in the room for the history before them.
 *
 * All network work happens here, outside the Room DO (PLATFORM.md §10.4), and it
 * is bounded: at most `MAX_SERVERS` servers asked in turn (a failure, or an answer
 * with nothing usable, moves to the next), one `/backfill` of about the client's
 * limit (at most 100) from at most 5 extremities, and for at most
 * `MAX_STATE_FETCHES` of the batch's oldest events the state before them
 * (`/state_ids`, then `/state` when the room lacks some of it), all within
 * `BUDGET_MS`. The answer goes through steps 1–3 (services/federation/pdu-intake.ts)
 * and only events the request asked for are kept (src/backfill.ts); the Room DO
 * checks and stores the rest (durable-objects/room/backfill.ts). Nothing here
 * throws: a failure leaves /messages with what the room has.
 */
import { type DagNode, MAX_BACKFILL_EVENTS, batchEdges, requestedHistory } from "../../src/backfill.js";
import { isJsonObject, type JsonObject } from "../../src/json.js";
import { type StoredEvent, prevEventIds } from "../../src/pdu.js";
import { unwrap } from "../../src/room-result.js";
import { type RoomVersion, getRoomVersion } from "../../src/room-versions.js";
import { serverAllowed } from "../../src/server-acl.js";
import { roomServerAcl } from "../../services/d1/server-acl.js";
import type { Env } from "../../services/env.js";
import { FederationRequestFailed, federationRequest } from "../../services/federation/federation-client.js";
import { FederationUnreachable } from "../../services/federation/federation-fetch.js";
import { checkPdus } from "../../services/federation/pdu-intake.js";
import type { BackfillResult, RoomApi } from "../../services/room-api.js";

/** Servers asked in turn for one page (Synapse goes on through every server in the room). */
const MAX_SERVERS = 3;
/** Extremities named in one request (Synapse's 5: the URI stays short). */
const MAX_EXTREMITIES = 5;
/** Events of one batch whose prev events this server lacks and whose state is fetched. */
const MAX_STATE_FETCHES = 2;
/** Fewer than this is not worth a request. */
const MIN_BACKFILL_EVENTS = 10;
const BACKFILL_MAX_BYTES = 16 * 1024 * 1024;
const STATE_MAX_BYTES = 32 * 1024 * 1024;
/** No new request starts after this long. */
const BUDGET_MS = 20_000;

const enc = encodeURIComponent;

type Node = DagNode & { ev: StoredEvent };

/**
 * Fetches and stores the history before the room's backward extremities.
 * True if history arrived (the caller reads its page again).
 */
export async function backfillRoom(env: Env, roomId: string, limit: number): Promise<boolean> {
  try {
    return await backfill(env, roomId, limit);
  } catch (e) {
    console.error(`backfill of ${roomId} failed`, e);
    return false;
  }
}

async function backfill(env: Env, roomId: string, limit: number): Promise<boolean> {
  const db = env.DB;
  const [points, servers, room] = await db.batch([
    db.prepare("SELECT event_id, depth FROM room_backward_extremities WHERE room_id = ? ORDER BY depth DESC, event_id LIMIT ?").bind(roomId, MAX_EXTREMITIES),
    // The servers in the room, those there longest first (Synapse's get_current_hosts_in_room_ordered).
    db
      .prepare(
        "SELECT substr(user_id, instr(user_id, ':') + 1) AS server, MIN(stream_pos) AS since FROM room_memberships " +
          "WHERE room_id = ? AND membership = 'join' GROUP BY server ORDER BY since LIMIT 20",
      )
      .bind(roomId),
    db.prepare("SELECT room_version FROM rooms WHERE room_id = ?").bind(roomId),
  ]);
  const extremities = ((points?.results ?? []) as Array<{ event_id: string }>).map((r) => r.event_id);
  // None left: the room's creation was reached (or the room is this server's own).
  if (extremities.length === 0) return false;
  const version = getRoomVersion(((room?.results[0] as { room_version?: string } | undefined)?.room_version) ?? "");
  if (!version) return false;
  const acl = await roomServerAcl(db, roomId);
  const candidates = ((servers?.results ?? []) as Array<{ server: string }>)
    .map((r) => r.server)
    .filter((s) => s !== env.SERVER_NAME && serverAllowed(acl, s))
    .slice(0, MAX_SERVERS);
  const wanted = Math.min(MAX_BACKFILL_EVENTS, Math.max(limit, MIN_BACKFILL_EVENTS));
  const deadline = Date.now() + BUDGET_MS;
  for (const server of candidates) {
    if (Date.now() > deadline) break;
    let batch: Node[];
    try {
      batch = await fetchBatch(env, server, roomId, version, extremities, wanted);
    } catch (e) {
      if (!(e instanceof FederationRequestFailed || e instanceof FederationUnreachable)) throw e;
      console.warn(`backfill of ${roomId} from ${server}: ${e.message}`);
      continue;
    }
    if (batch.length && (await storeBatch(env, server, roomId, version, batch, deadline))) return true;
    // Nothing usable from this one: the next may do better.
  }
  return false;
}

/** GET /backfill: steps 1–3, then only the events asked for and their ancestors in the answer. */
async function fetchBatch(env: Env, server: string, roomId: string, version: RoomVersion, extremities: string[], wanted: number): Promise<Node[]> {
  const query = [...extremities.map((id) => `v=${enc(id)}`), `limit=${wanted}`].join("&");
  const res = await federationRequest(env, server, "GET", `/_matrix/federation/v1/backfill/${enc(roomId)}?${query}`, { maxResponseBytes: BACKFILL_MAX_BYTES });
  // An event of another room is not history of this one (Synapse refuses the whole answer; one is enough to drop here).
  const raws = (Array.isArray(res.pdus) ? res.pdus : []).slice(0, wanted).filter((r) => isJsonObject(r) && inRoom(r, roomId));
  const checked = await checkPdus(env, version, raws, { history: true });
  const nodes: Node[] = checked.flatMap((c) => (c.ok ? [{ eventId: c.eventId, prevs: prevEventIds(c.pdu), depth: c.pdu.depth, ev: { eventId: c.eventId, pdu: c.pdu } }] : []));
  return requestedHistory(extremities, nodes);
}

function inRoom(raw: JsonObject, roomId: string): boolean {
  // A v12 create event has no room_id (its id makes the room id); the Room DO takes only this room's.
  return raw.room_id === roomId || (raw.type === "m.room.create" && raw.room_id === undefined);
}

/**
 * The batch into the Room DO. The oldest events' prev events may be missing here:
 * the state before them comes from the same server (/state_ids, and /state for
 * what the room lacks of it), as Synapse's _compute_event_context_with_maybe_missing_prevs.
 * True if the room now has what the batch held: something was stored, or all of it
 * was here already (another request stored it meanwhile).
 */
async function storeBatch(env: Env, server: string, roomId: string, version: RoomVersion, batch: Node[], deadline: number): Promise<boolean> {
  // RPC's typing of deep JSON overwhelms the checker: the room is called through its interface.
  const stub = env.ROOM.getByName(roomId) as unknown as RoomApi;
  const events = batch.map((n) => n.ev);
  const states: Record<string, string[]> = {};
  await Promise.all(
    batchEdges(batch)
      .slice(0, MAX_STATE_FETCHES)
      .map(async (edge) => {
        const res = await stateRequest(env, server, roomId, "state_ids", edge.eventId);
        if (res) states[edge.eventId] = strings(res.pdu_ids);
      }),
  );
  const first: BackfillResult = await unwrap(stub.backfill({ events, states, outliers: [] }));
  if (first.stored.length === 0 && first.needState.length + first.missingAuth.length + first.rejected.length === 0) return true;
  const retry = first.needState.slice(0, MAX_STATE_FETCHES);
  if (retry.length === 0 || Date.now() > deadline) return first.stored.length > 0;
  // The room lacks some of the state before them: fetch it whole, with its auth chain.
  const outliers: StoredEvent[] = [];
  await Promise.all(
    retry.map(async (eventId) => {
      const res = await stateRequest(env, server, roomId, "state", eventId);
      if (!res) return;
      const pdus = (Array.isArray(res.pdus) ? res.pdus : []).filter(isJsonObject);
      const chain = (Array.isArray(res.auth_chain) ? res.auth_chain : []).filter(isJsonObject);
      const checked = await checkPdus(env, version, [...chain, ...pdus], { history: true });
      for (const c of checked) if (c.ok) outliers.push({ eventId: c.eventId, pdu: c.pdu });
      // Every state event named, also those that failed their checks: then the state is
      // incomplete here, and the event is not stored on a partial state.
      const stateIds = checked.slice(chain.length).flatMap((c) => (c.eventId ? [c.eventId] : []));
      if (stateIds.length === pdus.length) states[eventId] = stateIds;
    }),
  );
  if (outliers.length === 0) return first.stored.length > 0;
  const second: BackfillResult = await unwrap(stub.backfill({ events, states, outliers }));
  return first.stored.length + second.stored.length > 0;
}

/** GET /state_ids or /state at an event; undefined when the server cannot say. */
async function stateRequest(env: Env, server: string, roomId: string, kind: "state" | "state_ids", eventId: string): Promise<JsonObject | undefined> {
  try {
    return await federationRequest(env, server, "GET", `/_matrix/federation/v1/${kind}/${enc(roomId)}?event_id=${enc(eventId)}`, { maxResponseBytes: STATE_MAX_BYTES });
  } catch (e) {
    if (!(e instanceof FederationRequestFailed || e instanceof FederationUnreachable)) throw e;
    console.warn(`backfill of ${roomId}: ${kind} at ${eventId} from ${server}: ${e.message}`);
    return undefined;
  }
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}
