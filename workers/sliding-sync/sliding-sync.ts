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
  formatPos,
  mergeConfigs,
  parsePos,
  selectedIndexes,
} from "../../src/sliding-sync.js";
import type { Env } from "../../services/env.js";
import type { SlidingSyncConnection, SlidingSyncRoomSent } from "../../services/user-api.js";
import { applySetPresence, refreshPresence } from "../presence/sync-extension.js";
import { buildExtensions } from "./extensions.js";
import { type ListedRoom, filterRooms, loadRoomList } from "./room-list.js";
import { type RoomTarget, buildRooms, roomUpTo, roomsToSend } from "./rooms.js";

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

export async function slidingSync(env: Env, p: SlidingSyncParams): Promise<JsonObject> {
  const connId = p.body.conn_id ?? "";
  let parsedPos: { nonce: string; n: number } | null = null;
  if (p.pos !== undefined && p.pos !== "") {
    parsedPos = parsePos(p.pos);
    if (!parsedPos) throw unknownPos();
  }
  const user = env.USER.getByName(p.userId);
  const conn = await user.slidingSyncOpen(p.deviceId, connId, parsedPos);
  if (!conn) throw unknownPos();
  await applySetPresence(env, p.userId, p.setPresence);
  // A new connection answers at once, whatever the timeout (MSC4186: "Ignored when no pos is set").
  const deadline = Date.now() + (parsedPos ? Math.min(Math.max(p.timeoutMs, 0), MAX_TIMEOUT_MS) : 0);
  for (;;) {
    const built = await buildOnce(env, p, conn);
    const remaining = deadline - Date.now();
    if (built.hasNews || remaining <= 0) {
      const n = await user.slidingSyncCommit(p.deviceId, connId, conn.nonce, conn.n, built.upTo, built.sent, built.list);
      if (n === null) throw unknownPos();
      const body: JsonObject = { pos: formatPos(conn.nonce, n), lists: built.lists, rooms: built.rooms, extensions: built.extensions };
      if (p.body.txn_id !== undefined) body.txn_id = p.body.txn_id;
      return body;
    }
    await user.waitForChange(built.upTo, remaining);
    await refreshPresence(env, p.userId, p.setPresence);
  }
}

async function buildOnce(
  env: Env,
  p: SlidingSyncParams,
  conn: SlidingSyncConnection,
): Promise<{
  upTo: number;
  lists: JsonObject;
  rooms: JsonObject;
  extensions: JsonObject;
  hasNews: boolean;
  sent: Record<string, SlidingSyncRoomSent>;
  list: ListedRoom[];
}> {
  const db = env.DB;
  const { upTo, rooms } = await loadRoomList(db, p.userId, conn.streamPos, conn.list);
  const byId = new Map(rooms.map((r) => [r.roomId, r]));

  // Each list's count and window; the configs asking for each room.
  const lists: JsonObject = {};
  const listRooms = new Map<string, string[]>();
  const configs = new Map<string, RoomConfig[]>();
  const want = (roomId: string, c: RoomConfig) => {
    const list = configs.get(roomId);
    if (list) list.push(c);
    else configs.set(roomId, [c]);
  };
  for (const [name, list] of Object.entries(p.body.lists ?? {})) {
    const kept = filterRooms(rooms, list.filters);
    lists[name] = { count: kept.length };
    const window = selectedIndexes(list.ranges as Array<[number, number]> | undefined, kept.length).map((i) => kept[i]!.roomId);
    listRooms.set(name, window);
    for (const roomId of window) want(roomId, list);
  }
  // Subscriptions name rooms the user is in, was invited to, or just left; others are ignored (as Synapse).
  const subscribed = Object.keys(p.body.room_subscriptions ?? {}).filter((r) => byId.has(r));
  for (const roomId of subscribed) want(roomId, p.body.room_subscriptions![roomId]!);

  const targets: RoomTarget[] = [];
  for (const [roomId, cs] of configs) {
    const room = byId.get(roomId)!;
    targets.push({ room, config: mergeConfigs(cs), prev: conn.rooms[roomId] });
  }
  const send = roomsToSend(targets);
  const now = Date.now();
  const [roomsOut, ext] = await Promise.all([
    buildRooms({ db, userId: p.userId, deviceId: p.deviceId, since: conn.streamPos, upTo, now }, send),
    (async () => {
      const initialRooms = new Set(send.filter((t) => t.full).map((t) => t.room.roomId));
      return buildExtensions({ db, userId: p.userId, deviceId: p.deviceId, since: conn.streamPos, upTo, listRooms, subscribed, initialRooms }, p.body.extensions);
    })(),
  ]);
  const sent: Record<string, SlidingSyncRoomSent> = {};
  for (const t of send) {
    sent[t.room.roomId] = { upTo: roomUpTo(t.room, upTo), config: configKey(t.config), membership: t.room.membership, timelineLimit: t.config.timelineLimit };
  }
  // A list's count moves only with a room joining, leaving or being invited, which puts that room in `rooms`.
  const hasNews = Object.keys(roomsOut).length > 0 || ext.hasNews;
  return { upTo, lists, rooms: roomsOut, extensions: ext.extensions, hasNews, sent, list: rooms };
}
