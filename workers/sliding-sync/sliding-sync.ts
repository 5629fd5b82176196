/**
 * One simplified sliding sync request (MSC4186, the unstable shape clients send;
 * CLIENTS.md §2): resume the connection at `pos` (or open it), list the user's
 * rooms, select each list's windows and the room subscriptions, send the rooms
 * that are new to the connection or changed since, run the extensions, and record
 * what was sent under a new `pos`. With a `pos` and a timeout, a response with
 * nothing in it waits on the user's Durable Object — never by polling D1 — as
 * /sync does, and is rebuilt when something for the user is written.
 */
import { MatrixError } from "../../src/errors.js";
import type { JsonObject } from "../../src/json.js";
import {
  type RoomConfig,
  type SlidingSyncRequest,
  configKey,
  decodeRoomList,
  encodeRoomList,
  formatPos,
  mergeConfigs,
  parsePos,
  selectedIndexes,
} from "../../src/sliding-sync.js";
import { coalescedD1 } from "../../services/d1/coalesce.js";
import type { Env } from "../../services/env.js";
import { Topic, waitForChange } from "../../services/wake.js";
import type { SlidingSyncConnection, SlidingSyncRoomSent } from "../../services/user-api.js";
import { applySetPresence, refreshPresence } from "../presence/sync-extension.js";
import { buildExtensions, extensionTopics } from "./extensions.js";
import { type ListedRoom, filterRooms, loadRoomList } from "./room-list.js";
import { type RoomTarget, type RoomToSend, buildRooms, roomUpTo, roomsToSend } from "./rooms.js";

/** Longest long-poll held (Element X asks for 30 s). */
export const MAX_TIMEOUT_MS = 120_000;

export interface SlidingSyncParams {
  userId: string;
  deviceId: string;
  pos: string | undefined;
  timeoutMs: number;
  setPresence: "online" | "offline" | "unavailable" | undefined;
  body: SlidingSyncRequest;
}

const unknownPos = () => new MatrixError("M_UNKNOWN_POS", "Unknown position", 400);

const NEW_CONNECTION: SlidingSyncConnection = { nonce: "", n: 0, streamPos: null, rooms: {}, list: null, counts: null };

export async function slidingSync(env: Env, p: SlidingSyncParams): Promise<JsonObject> {
  const connId = p.body.conn_id ?? "";
  let parsedPos: { nonce: string; n: number } | null = null;
  if (p.pos !== undefined && p.pos !== "") {
    parsedPos = parsePos(p.pos);
    if (!parsedPos) throw unknownPos();
  }
  const user = env.USER.getByName(p.userId);
  // The rooms, unread counts and extensions of a response read D1 side by side: one round trip for all of them.
  const db = coalescedD1(env.DB);
  // A new connection needs nothing from the User DO before its first response (it is opened when that is
  // recorded); a resumed one needs what it was sent, and its kept room list.
  const [conn] = await Promise.all([
    parsedPos ? user.slidingSyncResume(p.deviceId, connId, parsedPos) : NEW_CONNECTION,
    applySetPresence(env, p.userId, p.setPresence),
  ]);
  if (!conn) throw unknownPos();
  // A new connection answers at once, whatever the timeout (MSC4186: "Ignored when no pos is set").
  const deadline = Date.now() + (parsedPos ? Math.min(Math.max(p.timeoutMs, 0), MAX_TIMEOUT_MS) : 0);
  // Waits wake only for writes this request would answer (Element X's encryption connection sleeps through messages).
  const hasRooms = Object.keys(p.body.lists ?? {}).length + Object.keys(p.body.room_subscriptions ?? {}).length > 0;
  const topics = (hasRooms ? Topic.ROOMS : 0) | extensionTopics(p.body.extensions);
  for (;;) {
    const plan = planOnce(p, conn, await loadRoomList(db, p.userId, conn.streamPos, conn.list === null ? null : decodeRoomList(conn.list)));
    // A response that will be sent whatever the extensions find is recorded while it is built.
    const commit = () => user.slidingSyncCommit(p.deviceId, connId, parsedPos && { nonce: conn.nonce, n: conn.n }, plan.upTo, plan.sent, encodeRoomList(plan.rooms), plan.counts);
    const early = plan.send.length > 0 || deadline <= Date.now() ? commit() : null;
    const [rooms, ext] = await Promise.all([
      buildRooms({ db, userId: p.userId, deviceId: p.deviceId, since: conn.streamPos, upTo: plan.upTo, now: Date.now() }, plan.send),
      buildExtensions(
        { db, userId: p.userId, deviceId: p.deviceId, since: conn.streamPos, upTo: plan.upTo, listRooms: plan.listRooms, subscribed: plan.subscribed, initialRooms: plan.initialRooms },
        p.body.extensions,
      ),
      early,
    ]);
    const respond = (pos: { nonce: string; n: number }): JsonObject => {
      const lists: JsonObject = {};
      for (const [name, count] of Object.entries(plan.counts)) lists[name] = { count };
      const body: JsonObject = { pos: formatPos(pos.nonce, pos.n), lists, rooms, extensions: ext.extensions };
      if (p.body.txn_id !== undefined) body.txn_id = p.body.txn_id;
      return body;
    };
    if (early || Object.keys(rooms).length > 0 || ext.hasNews || countsMoved(conn.counts, plan.counts) || deadline <= Date.now()) {
      const pos = await (early ?? commit());
      if (pos === null) throw unknownPos();
      return respond(pos);
    }
    const woken = await waitForChange(env, p.userId, plan.upTo, deadline - Date.now(), topics);
    // The wait ran out with nothing written for the user: this build is the answer, at the position the
    // client sent (nothing changed to record, as Synapse does) — no second build, no User DO call.
    if (woken <= plan.upTo && deadline <= Date.now()) return respond(parsedPos!);
    await refreshPresence(env, p.userId, p.setPresence);
  }
}

/** A list's count changed, or the lists did (a room's filter fields can change without a room to send). */
function countsMoved(before: Record<string, number> | null, now: Record<string, number>): boolean {
  if (before === null) return true;
  const names = Object.keys(now);
  return names.length !== Object.keys(before).length || names.some((n) => before[n] !== now[n]);
}

interface Plan {
  upTo: number;
  /** The listed rooms, ranked: kept by the connection so the next response reads only what changed. */
  rooms: ListedRoom[];
  /** Each list's filtered count, in request order (the response's `lists`). */
  counts: Record<string, number>;
  listRooms: Map<string, string[]>;
  subscribed: string[];
  send: RoomToSend[];
  initialRooms: Set<string>;
  sent: Record<string, SlidingSyncRoomSent>;
}

/** Each list's count and window, the subscribed rooms, and which rooms go out and how: no I/O. */
function planOnce(p: SlidingSyncParams, conn: SlidingSyncConnection, { upTo, rooms }: { upTo: number; rooms: ListedRoom[] }): Plan {
  const byId = new Map(rooms.map((r) => [r.roomId, r]));
  const counts: Record<string, number> = {};
  const listRooms = new Map<string, string[]>();
  const configs = new Map<string, RoomConfig[]>();
  const want = (roomId: string, c: RoomConfig) => {
    const list = configs.get(roomId);
    if (list) list.push(c);
    else configs.set(roomId, [c]);
  };
  for (const [name, list] of Object.entries(p.body.lists ?? {})) {
    const kept = filterRooms(rooms, list.filters);
    counts[name] = kept.length;
    const window = selectedIndexes(list.ranges as Array<[number, number]> | undefined, kept.length).map((i) => kept[i]!.roomId);
    listRooms.set(name, window);
    for (const roomId of window) want(roomId, list);
  }
  // Subscriptions name rooms the user is in, was invited to, or just left; others are ignored (as Synapse).
  const subscribed = Object.keys(p.body.room_subscriptions ?? {}).filter((r) => byId.has(r));
  for (const roomId of subscribed) want(roomId, p.body.room_subscriptions![roomId]!);

  const targets: RoomTarget[] = [];
  for (const [roomId, cs] of configs) targets.push({ room: byId.get(roomId)!, config: mergeConfigs(cs), prev: conn.rooms[roomId] });
  const send = roomsToSend(targets);
  const sent: Record<string, SlidingSyncRoomSent> = {};
  for (const t of send) {
    sent[t.room.roomId] = { upTo: roomUpTo(t.room, upTo), config: configKey(t.config), membership: t.room.membership, timelineLimit: t.config.timelineLimit };
  }
  const initialRooms = new Set(send.filter((t) => t.full).map((t) => t.room.roomId));
  return { upTo, rooms, counts, listRooms, subscribed, send, initialRooms, sent };
}
