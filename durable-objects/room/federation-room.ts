/**
 * What a Room DO does for other servers (server-server-api "Joining Rooms",
 * "Leaving Rooms", "Knocking", "Inviting", "Retrieving events"): templates for
 * make_join/make_leave/make_knock, accepting the signed event of
 * send_join/send_leave/send_knock, importing the state of a room one of our
 * users joined on another server, and the reads other servers fill gaps with.
 * All synchronous over the room's SQLite; the Room DO runs them in its
 * write transaction.
 */
import { authTypesForEvent } from "../../src/auth-rules.js";
import { MatrixError } from "../../src/errors.js";
import { type EventTemplate, type Ref, type SigningKeyMaterial, buildEvent } from "../../src/event-builder.js";
import { signEvent } from "../../src/hashes.js";
import type { JsonObject } from "../../src/json.js";
import { type Pdu, type StoredEvent, authEventIds, prevEventIds, stateKey } from "../../src/pdu.js";
import type { PduOutcome } from "../../services/room-api.js";
import type { RoomVersion } from "../../src/room-versions.js";
import { type ServerVisibilityAt, pduForServer } from "../../src/server-history-visibility.js";
import { authorizeAgainst, currentAuthRows } from "./authorize.js";
import { stateOverGroups } from "./persist.js";
import { noteBackwardExtremities, storeOutliers } from "./backfill.js";
import { receivePdu } from "./receive.js";
import type { EventRow, RoomStore } from "./room-store.js";

export type StoredPdu = StoredEvent;

/** The stripped state other servers and invitees see (client-server-api "Stripped state"). */
export const STRIPPED_STATE_TYPES = ["m.room.create", "m.room.join_rules", "m.room.name", "m.room.avatar", "m.room.canonical_alias", "m.room.encryption", "m.room.topic"];

const domainOf = (userId: string) => userId.slice(userId.indexOf(":") + 1);

/** True if a user of `server` is joined (the condition for most federation reads and for sending us events). */
export function serverInRoom(store: RoomStore, server: string): boolean {
  return store.membersWith(["join"]).some((r) => r.state_key !== null && domainOf(r.state_key) === server);
}

/** A built, authorised, signed event that is not stored (an invite to be counter-signed, a template's check). */
export function buildAuthorised(store: RoomStore, version: RoomVersion, roomId: string, t: EventTemplate, key: SigningKeyMaterial): StoredPdu {
  const ref = (r: EventRow): Ref => ({ eventId: r.event_id, pdu: store.pduOf(r) });
  const authRows = currentAuthRows(store, version, t);
  const built = buildEvent(version, t, { roomId, prev: store.extremities().slice(0, 10).map(ref), auth: authRows.map(ref), key });
  authorizeAgainst(store, version, built, authRows);
  return built;
}

/**
 * make_join / make_leave / make_knock: the event the remote server is to sign,
 * checked against the current state first (403 if it could not be accepted).
 */
export function membershipTemplate(
  store: RoomStore,
  version: RoomVersion,
  roomId: string,
  userId: string,
  content: JsonObject,
  key: SigningKeyMaterial,
): JsonObject {
  const built = buildAuthorised(store, version, roomId, { type: "m.room.member", state_key: userId, sender: userId, content }, key);
  const { hashes: _h, signatures: _s, event_id: _e, ...template } = built.pdu;
  return template as JsonObject;
}

/**
 * send_join / send_leave / send_knock: the remote server's signed membership
 * event for one of its users. A restricted join that names one of our users as
 * authoriser is signed by us first (MSC3083). Sent on to the other servers.
 */
export function acceptMembership(
  store: RoomStore,
  version: RoomVersion,
  roomId: string,
  origin: string,
  ev: StoredPdu,
  membership: "join" | "leave" | "knock",
  key: SigningKeyMaterial,
): { event: StoredPdu; outcome: PduOutcome } {
  const { pdu } = ev;
  if (pdu.type !== "m.room.member" || pdu.state_key !== pdu.sender || pdu.content.membership !== membership) {
    throw new MatrixError("M_BAD_JSON", `Not a ${membership} event of its own sender`, 400);
  }
  if (domainOf(pdu.sender) !== origin) throw new MatrixError("M_FORBIDDEN", `${pdu.sender} is not a user of ${origin}`, 403);
  let event = ev;
  const via = pdu.content.join_authorised_via_users_server;
  if (membership === "join" && version.restrictedJoinRule && typeof via === "string" && domainOf(via) === key.serverName) {
    event = { eventId: ev.eventId, pdu: signEvent(pdu, version, key.serverName, key.keyId, key.seed) as Pdu };
  }
  const outcome = receivePdu(store, version, roomId, event, { federate: true });
  if (outcome.kind === "rejected" || outcome.kind === "soft_failed") throw new MatrixError("M_FORBIDDEN", `The ${membership} is not allowed: ${outcome.reason}`, 403);
  if (outcome.kind === "missing") throw new MatrixError("M_BAD_JSON", `The ${membership} event refers to events this server does not have`, 400);
  return { event, outcome };
}

/** The events of a state group, as PDUs. */
export function statePdus(store: RoomStore, group: number): StoredPdu[] {
  const nids = [...store.stateOfGroup(group).values()];
  return store.eventsByNids(nids).map((r) => ({ eventId: r.event_id, pdu: store.pduOf(r) }));
}

/** The auth chain of `events`: their auth events, theirs, and so on (not the events themselves). */
export function authChain(store: RoomStore, events: Pdu[]): StoredPdu[] {
  const seen = new Set<string>();
  const out: StoredPdu[] = [];
  let frontier = [...new Set(events.flatMap(authEventIds))];
  while (frontier.length) {
    const next: string[] = [];
    const rows = store.knownEvents(frontier.filter((id) => !seen.has(id)));
    for (const [id, row] of rows) {
      if (seen.has(id)) continue;
      seen.add(id);
      const pdu = store.pduOf(row);
      out.push({ eventId: id, pdu });
      next.push(...authEventIds(pdu));
    }
    frontier = [...new Set(next)].filter((id) => !seen.has(id));
  }
  return out;
}

/** The state before an event that is in the DAG: what send_join answers and /state_ids serves. */
export function stateBefore(store: RoomStore, row: EventRow): StoredPdu[] {
  const all = statePdus(store, row.state_group);
  // The event's own state entry is its "after"; before it, the key held its predecessor (or nothing).
  if (row.state_key === null) return all;
  const own = stateKey(row.type, row.state_key);
  const prevs = store.knownEvents(prevEventIds(store.pduOf(row)));
  const prevRow = [...prevs.values()].find((r) => !r.outlier);
  const prevNid = prevRow ? store.stateEntryOfGroup(prevRow.state_group, row.type, row.state_key) : undefined;
  const out = all.filter((e) => stateKey(e.pdu.type, e.pdu.state_key ?? "") !== own);
  if (prevNid !== undefined) {
    const p = store.eventByNid(prevNid)!;
    out.push({ eventId: p.event_id, pdu: store.pduOf(p) });
  }
  return out;
}

/**
 * A join of one of our users to a room on another server: the send_join
 * answer's auth chain and state become outliers (each checked against its own
 * auth events; ones that fail are rejected and left out of the state), the
 * state the room's current state, published as the room's history before the
 * join; then the join itself is accepted on that state.
 */
export function importJoin(store: RoomStore, version: RoomVersion, roomId: string, input: { join: StoredPdu; state: StoredPdu[]; authChain: StoredPdu[] }): PduOutcome {
  const stateRows = storeRemoteState(store, version, roomId, input.state.map((e) => e.eventId), [...input.authChain, ...input.state]);
  const changes = stateRows.map((r) => ({ type: r.type, stateKey: r.state_key!, nid: r.nid }));
  const group = store.newStateGroup(null, changes);
  const before = new Set(store.currentStateRows().map((r) => r.nid));
  store.clearCurrentState();
  for (const r of stateRows.sort((a, b) => a.depth - b.depth || a.nid - b.nid)) {
    store.setCurrentState(r.type, r.state_key!, r.nid);
    // Published as the room's history before the join (a rejoin publishes only what changed).
    if (!before.has(r.nid)) store.enqueue(r.nid, "event");
  }
  const outcome = receivePdu(store, version, roomId, input.join, { stateBefore: group });
  if (outcome.kind !== "accepted") throw new MatrixError("M_FORBIDDEN", `The join was not accepted here: ${"reason" in outcome ? outcome.reason : outcome.kind}`, 403);
  // The join's prev events are the resident's latest: the history before them is backfilled on demand (/messages).
  noteBackwardExtremities(store, [input.join]);
  return outcome;
}

/**
 * State another server says held at some point, with its auth chain: each event
 * stored as an outlier once checked against its own auth events (step 4); the
 * ones that pass are returned, the rest are rejected and left out.
 */
function storeRemoteState(store: RoomStore, version: RoomVersion, roomId: string, stateIds: string[], fetched: StoredPdu[]): EventRow[] {
  storeOutliers(store, version, roomId, fetched);
  const accepted = store.knownEvents(stateIds);
  // One event per state key: a server that lists two for one key gets neither trusted over the other's auth.
  const byKey = new Map<string, EventRow>();
  for (const r of accepted.values()) {
    if (r.rejected || r.state_key === null) continue;
    const k = stateKey(r.type, r.state_key);
    const had = byKey.get(k);
    if (!had || had.depth < r.depth) byKey.set(k, r);
  }
  return [...byKey.values()];
}

/**
 * An event whose prev events could not all be fetched (a gap longer than
 * /get_missing_events was asked to fill): the state before it is what its
 * origin says (`/state_ids?event_id=`; the events of it we lack fetched and
 * given as `fetched`), each checked against its own auth
 * events, resolved with the state after the prev events that are known here
 * (server-server-api "Retrieving events"; as Synapse does for missing prevs).
 * The event then goes through steps 5 and 6 on that state like any other; the
 * unknown prev events stay unknown (history /messages can backfill).
 */
export function receiveAcrossGap(store: RoomStore, version: RoomVersion, roomId: string, ev: StoredPdu, stateIds: string[], fetched: StoredPdu[]): PduOutcome {
  const known = store.eventById(ev.eventId);
  if (known && !known.outlier) return known.rejected ? { kind: "rejected", reason: known.rejected } : { kind: "duplicate" };
  const remote = storeRemoteState(store, version, roomId, stateIds, fetched);
  const remoteGroup = store.newStateGroup(null, remote.map((r) => ({ type: r.type, stateKey: r.state_key!, nid: r.nid })));
  const prevRows = [...store.knownEvents(prevEventIds(ev.pdu)).values()].filter((r) => !r.outlier);
  const group = stateOverGroups(store, version, [remoteGroup, ...prevRows.map((r) => r.state_group)])!;
  return receivePdu(store, version, roomId, ev, { stateBefore: group });
}

/** Whether the auth events an event would cite are all in the state given (a sanity check for templates from others). */
export function citesCurrentAuth(store: RoomStore, version: RoomVersion, pdu: Pdu): boolean {
  const ids = new Set(authEventIds(pdu));
  return authTypesForEvent(version, pdu).every(([t, k]) => {
    const r = store.currentStateEvent(t, k);
    return !r || ids.has(r.event_id);
  });
}

/**
 * /get_missing_events: events between `earliest` and `latest`, walking prev
 * events back from `latest` (breadth first), newest first as Synapse does,
 * at most `limit`, none below `minDepth`.
 */
export function missingEvents(store: RoomStore, earliest: string[], latest: string[], limit: number, minDepth: number): StoredPdu[] {
  const stop = new Set(earliest);
  const seen = new Set<string>([...latest, ...earliest]);
  const out: StoredPdu[] = [];
  let frontier = latest.flatMap((id) => {
    const r = store.eventById(id);
    return r && !r.outlier ? prevEventIds(store.pduOf(r)) : [];
  });
  while (frontier.length && out.length < limit) {
    const next: string[] = [];
    for (const id of frontier) {
      if (seen.has(id) || stop.has(id) || out.length >= limit) continue;
      seen.add(id);
      const r = store.eventById(id);
      if (!r || r.outlier || r.rejected || r.depth < minDepth) continue;
      const pdu = store.pduOf(r);
      out.push({ eventId: id, pdu });
      next.push(...prevEventIds(pdu));
    }
    frontier = next;
  }
  return out;
}

/**
 * What decides whether `server` may see each event (src/server-history-visibility.ts):
 * the history visibility and the memberships of the server's users in the state at
 * the event (its state group).
 */
export function serverVisibility(store: RoomStore, server: string): (row: EventRow) => ServerVisibilityAt {
  // Every user of the server who ever had a membership here is a state key of the current state.
  const users = store
    .membersWith(["join", "invite", "leave", "ban", "knock"])
    .flatMap((r) => (r.state_key !== null && domainOf(r.state_key) === server ? [r.state_key] : []));
  return (row) => {
    const hv = store.stateEntryOfGroup(row.state_group, "m.room.history_visibility", "");
    const hvRow = hv !== undefined ? store.eventByNid(hv) : undefined;
    const memberships = users.flatMap((u) => {
      const nid = store.stateEntryOfGroup(row.state_group, "m.room.member", u);
      const m = nid !== undefined ? store.eventByNid(nid)?.membership : undefined;
      return m ? [m] : [];
    });
    return { historyVisibility: hvRow ? store.pduOf(hvRow).content.history_visibility : undefined, memberships };
  };
}

/** Events as `server` may be given them: whole, or redacted where it may not see them. */
export function forServer(store: RoomStore, version: RoomVersion, server: string, events: StoredPdu[]): StoredPdu[] {
  const at = serverVisibility(store, server);
  return events.map((e) => {
    const row = store.eventById(e.eventId);
    if (!row || row.outlier) return e;
    return { eventId: e.eventId, pdu: pduForServer(e.pdu, version, at(row)) };
  });
}
