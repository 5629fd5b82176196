/**
 * The federation API of rooms (server-server-api "Transactions", "PDUs",
 * "Retrieving events", "Joining Rooms", "Knocking upon a room", "Inviting to a
 * room", "Leaving Rooms", "Querying for information"). Every route is X-Matrix
 * authenticated; the Room DO checks that the requesting server is in the room
 * for the reads.
 */
import { Hono, type Context } from "hono";
import { MatrixError } from "../../src/errors.js";
import { isJsonObject, type JsonObject } from "../../src/json.js";
import type { Pdu } from "../../src/pdu.js";
import { unwrap } from "../../src/room-result.js";
import { getRoomVersion } from "../../src/room-versions.js";
import { checkPdus, intakeRefusal } from "../../services/federation/pdu-intake.js";
import type { FederationRead, RoomApi } from "../../services/room-api.js";
import type { AppEnv } from "../app-env.js";
import { receiveTransaction } from "../federation/inbound-transaction.js";
import { receiveInvite } from "../federation/remote-membership.js";
import { requireServerAuth } from "../middleware/federation-auth.js";
import { assertServerAllowedInRoom, requireServerAllowedInRoom } from "../middleware/server-acl.js";
import { memberProfile } from "../rooms/room-rpc.js";

export const federationRoomRoutes = new Hono<AppEnv>();

const F1 = "/_matrix/federation/v1";
const F2 = "/_matrix/federation/v2";

type FedContext = Context<AppEnv>;

function body(c: FedContext): JsonObject {
  const b = c.get("federationContent");
  if (!b) throw new MatrixError("M_NOT_JSON", "A JSON body is required", 400);
  return b;
}

async function knownRoom(c: FedContext, roomId: string) {
  // RPC's typing of deep JSON overwhelms the checker: the room is called through its interface.
  const stub = c.env.ROOM.getByName(roomId) as unknown as RoomApi;
  const info = await stub.info();
  if (!info) throw new MatrixError("M_NOT_FOUND", "Unknown room", 404);
  return { stub, version: getRoomVersion(info.roomVersion)! };
}

const envelope = (c: FedContext, pdus: Pdu[]) => ({ origin: c.env.SERVER_NAME, origin_server_ts: Date.now(), pdus });

/** PUT /send/{txnId} */
federationRoomRoutes.put(`${F1}/send/:txnId`, requireServerAuth(), async (c) => {
  return c.json(await receiveTransaction(c.env, c.get("origin"), c.req.param("txnId"), body(c)));
});

// ---- joins, leaves, knocks -------------------------------------------------------

for (const membership of ["join", "leave", "knock"] as const) {
  /** GET /make_{join,leave,knock}/{roomId}/{userId} */
  federationRoomRoutes.get(`${F1}/make_${membership}/:roomId/:userId`, requireServerAuth(), requireServerAllowedInRoom(), async (c) => {
    const { stub } = await knownRoom(c, c.req.param("roomId"));
    // Without `ver` the server supports only version 1 (spec: make_join's default).
    const versions = c.req.queries("ver") ?? ["1"];
    const made = await unwrap(stub.makeMembership(c.get("origin"), c.req.param("userId"), membership, versions));
    return c.json({ event: made.event, room_version: made.roomVersion });
  });

  const sendMembership = async (c: FedContext, v: 1 | 2) => {
    const roomId = c.req.param("roomId")!;
    const eventId = c.req.param("eventId")!;
    const { stub, version } = await knownRoom(c, roomId);
    const raw = body(c);
    const [checked] = await checkPdus(c.env, version, [raw]);
    if (!checked?.ok) throw intakeRefusal(raw, checked, "Invalid event");
    if (checked.eventId !== eventId || checked.pdu.room_id !== roomId) throw new MatrixError("M_BAD_JSON", "The event does not match the path", 400);
    const res = await unwrap(stub.sendMembership(c.get("origin"), { eventId, pdu: checked.pdu }, membership));
    let out: JsonObject = {};
    if (membership === "join") {
      out = {
        origin: c.env.SERVER_NAME,
        auth_chain: res.authChain as unknown as JsonObject[],
        state: res.state as unknown as JsonObject[],
        event: res.event as unknown as JsonObject,
        members_omitted: false,
      };
    } else if (membership === "knock") {
      out = { knock_room_state: res.strippedState.map((p) => ({ type: p.type, state_key: p.state_key ?? "", content: p.content, sender: p.sender })) };
    }
    // v1 answers are wrapped in [200, body] (a historical accident the spec keeps).
    return c.json(v === 1 ? [200, out] : out);
  };
  if (membership !== "knock") federationRoomRoutes.put(`${F1}/send_${membership}/:roomId/:eventId`, requireServerAuth(), requireServerAllowedInRoom(), (c) => sendMembership(c, 1));
  federationRoomRoutes.put(`${membership === "knock" ? F1 : F2}/send_${membership}/:roomId/:eventId`, requireServerAuth(), requireServerAllowedInRoom(), (c) => sendMembership(c, 2));
}

// ---- invites ---------------------------------------------------------------------

/** PUT /v2/invite/{roomId}/{eventId} */
federationRoomRoutes.put(`${F2}/invite/:roomId/:eventId`, requireServerAuth(), requireServerAllowedInRoom(), async (c) => {
  const event = await receiveInvite(c.env, c.get("origin"), c.req.param("roomId"), c.req.param("eventId"), body(c));
  return c.json({ event });
});

/** PUT /v1/invite/{roomId}/{eventId}: the event alone, for room versions 1 and 2 ([200, {event}]). */
federationRoomRoutes.put(`${F1}/invite/:roomId/:eventId`, requireServerAuth(), requireServerAllowedInRoom(), async (c) => {
  const ev = body(c);
  const event = await receiveInvite(c.env, c.get("origin"), c.req.param("roomId"), c.req.param("eventId"), {
    event: ev,
    room_version: "1",
    invite_room_state: isJsonObject(ev.unsigned) && Array.isArray(ev.unsigned.invite_room_state) ? ev.unsigned.invite_room_state : [],
  });
  return c.json([200, { event }]);
});

// ---- reads -----------------------------------------------------------------------

type ReadResult = { pdus: Pdu[]; authChain: Pdu[]; ids?: { pdus: string[]; authChain: string[] } };

async function read(c: FedContext, roomId: string, r: FederationRead): Promise<ReadResult> {
  const { stub } = await knownRoom(c, roomId);
  return unwrap(stub.federationRead(c.get("origin"), r));
}

/** GET /event/{eventId}: the room is found through the read model. */
federationRoomRoutes.get(`${F1}/event/:eventId`, requireServerAuth(), async (c) => {
  const eventId = c.req.param("eventId");
  const row = await c.env.DB.prepare("SELECT room_id FROM room_events WHERE event_id = ?").bind(eventId).first<{ room_id: string }>();
  if (!row) throw new MatrixError("M_NOT_FOUND", "Event not found", 404);
  await assertServerAllowedInRoom(c.env.DB, row.room_id, c.get("origin"));
  const res = await read(c, row.room_id, { kind: "event", eventId });
  return c.json(envelope(c, res.pdus));
});

/** GET /state/{roomId}?event_id= */
federationRoomRoutes.get(`${F1}/state/:roomId`, requireServerAuth(), requireServerAllowedInRoom(), async (c) => {
  const eventId = c.req.query("event_id");
  if (!eventId) throw new MatrixError("M_MISSING_PARAM", "event_id is required", 400);
  const res = await read(c, c.req.param("roomId"), { kind: "state", eventId });
  return c.json({ pdus: res.pdus, auth_chain: res.authChain });
});

/** GET /state_ids/{roomId}?event_id= */
federationRoomRoutes.get(`${F1}/state_ids/:roomId`, requireServerAuth(), requireServerAllowedInRoom(), async (c) => {
  const eventId = c.req.query("event_id");
  if (!eventId) throw new MatrixError("M_MISSING_PARAM", "event_id is required", 400);
  const res = await read(c, c.req.param("roomId"), { kind: "state", eventId });
  return c.json({ pdu_ids: res.ids?.pdus ?? [], auth_chain_ids: res.ids?.authChain ?? [] });
});

/** GET /event_auth/{roomId}/{eventId} */
federationRoomRoutes.get(`${F1}/event_auth/:roomId/:eventId`, requireServerAuth(), requireServerAllowedInRoom(), async (c) => {
  const res = await read(c, c.req.param("roomId"), { kind: "event_auth", eventId: c.req.param("eventId") });
  return c.json({ auth_chain: res.authChain });
});

/** POST /get_missing_events/{roomId} */
federationRoomRoutes.post(`${F1}/get_missing_events/:roomId`, requireServerAuth(), requireServerAllowedInRoom(), async (c) => {
  const b = body(c);
  const ids = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string").slice(0, 100) : []);
  const limit = typeof b.limit === "number" && Number.isInteger(b.limit) ? Math.min(Math.max(b.limit, 0), 100) : 10;
  const minDepth = typeof b.min_depth === "number" && Number.isInteger(b.min_depth) ? b.min_depth : 0;
  const res = await read(c, c.req.param("roomId"), { kind: "missing", earliest: ids(b.earliest_events), latest: ids(b.latest_events), limit, minDepth });
  return c.json({ events: res.pdus });
});

/** GET /backfill/{roomId}?v=&limit=: the events named and those before them, newest first. */
federationRoomRoutes.get(`${F1}/backfill/:roomId`, requireServerAuth(), requireServerAllowedInRoom(), async (c) => {
  const from = c.req.queries("v") ?? [];
  if (from.length === 0) throw new MatrixError("M_MISSING_PARAM", "v is required", 400);
  const limit = Math.min(Math.max(Number(c.req.query("limit") ?? 10) || 10, 1), 100);
  const roomId = c.req.param("roomId");
  const own = await Promise.all(from.slice(0, 20).map((eventId) => read(c, roomId, { kind: "event", eventId }).then((r) => r.pdus, () => [] as Pdu[])));
  const before = await read(c, roomId, { kind: "missing", earliest: [], latest: from.slice(0, 20), limit, minDepth: 0 });
  return c.json(envelope(c, [...own.flat(), ...before.pdus].slice(0, limit)));
});

// ---- queries -----------------------------------------------------------------------

/** GET /query/profile?user_id=&field= */
federationRoomRoutes.get(`${F1}/query/profile`, requireServerAuth(), async (c) => {
  const userId = c.req.query("user_id");
  if (!userId) throw new MatrixError("M_MISSING_PARAM", "user_id is required", 400);
  if (!userId.endsWith(`:${c.env.SERVER_NAME}`)) throw new MatrixError("M_INVALID_PARAM", "The user is not on this server", 400);
  const user = await c.env.DB.prepare("SELECT 1 FROM users WHERE user_id = ?").bind(userId).first();
  if (!user) throw new MatrixError("M_NOT_FOUND", "Profile not found", 404);
  const profile = await memberProfile(c.env.DB, userId);
  const field = c.req.query("field");
  if (field === "displayname" || field === "avatar_url") return c.json(profile[field] !== undefined ? { [field]: profile[field] } : {});
  return c.json(profile);
});

/** GET /query/directory?room_alias= */
federationRoomRoutes.get(`${F1}/query/directory`, requireServerAuth(), async (c) => {
  const alias = c.req.query("room_alias");
  if (!alias) throw new MatrixError("M_MISSING_PARAM", "room_alias is required", 400);
  const row = await c.env.DB.prepare("SELECT room_id FROM room_aliases WHERE alias = ?").bind(alias).first<{ room_id: string }>();
  if (!row) throw new MatrixError("M_NOT_FOUND", "Room alias not found", 404);
  const { results } = await c.env.DB.prepare("SELECT DISTINCT substr(user_id, instr(user_id, ':') + 1) AS server FROM room_memberships WHERE room_id = ? AND membership = 'join'")
    .bind(row.room_id)
    .all<{ server: string }>();
  const servers = [c.env.SERVER_NAME, ...results.map((r) => r.server).filter((s) => s !== c.env.SERVER_NAME)];
  return c.json({ room_id: row.room_id, servers });
});
