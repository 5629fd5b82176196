/**
 * Our users' memberships in rooms that live on other servers
 * (server-server-api "Joining Rooms", "Inviting to a room", "Leaving Rooms"):
 * joining through make_join/send_join, inviting another server's user (the
 * invitee's server signs the invite first), and an invite from another server
 * to a room we are not in yet, kept until the user joins or rejects it
 * (make_leave/send_leave through the inviting server).
 */
import { type MatrixErrcode, MatrixError } from "../../src/errors.js";
import { eventIdFor, generateLegacyEventId } from "../../src/event-id.js";
import { signEvent } from "../../src/hashes.js";
import { isJsonObject, type JsonObject } from "../../src/json.js";
import type { Pdu, StoredEvent } from "../../src/pdu.js";
import { unwrap } from "../../src/room-result.js";
import { ROOM_VERSIONS, getRoomVersion, type RoomVersion } from "../../src/room-versions.js";
import type { Env } from "../../services/env.js";
import type { RoomApi } from "../../services/room-api.js";
import { FederationRequestFailed, federationRequest, federationRequestAny } from "../../services/federation/federation-client.js";
import { FederationUnreachable } from "../../services/federation/federation-fetch.js";
import { checkPdus, intakeRefusal } from "../../services/federation/pdu-intake.js";
import { getServerKeys } from "../../services/server-keys.js";
import { STREAM_POS, advanceStream, streamPosOf } from "../../services/stream.js";
import { Topic, notifyUsers } from "../../services/wake.js";

const SEND_JOIN_MAX_BYTES = 64 * 1024 * 1024;
const VER_QUERY = [...ROOM_VERSIONS.keys()].map((v) => `ver=${encodeURIComponent(v)}`).join("&");

const domainOf = (id: string) => id.slice(id.indexOf(":") + 1);
const enc = encodeURIComponent;

/** The servers to try for a room: those named, the inviter's, the room id's (before v12), without ourselves. */
export async function candidateServers(env: Env, roomId: string, userId: string, named: string[]): Promise<string[]> {
  const [invite, members] = await env.DB.batch<{ server: string }>([
    env.DB.prepare("SELECT via_server AS server FROM remote_invites WHERE room_id = ? AND user_id = ?").bind(roomId, userId),
    // A room we were in: the servers of its members as we last knew them (a rejoin).
    env.DB.prepare("SELECT DISTINCT substr(user_id, instr(user_id, ':') + 1) AS server FROM room_memberships WHERE room_id = ? AND membership = 'join' LIMIT 20").bind(roomId),
  ]);
  const fromId = roomId.includes(":") ? [domainOf(roomId)] : [];
  const known = [...(invite?.results ?? []), ...(members?.results ?? [])].map((r) => r.server);
  return [...new Set([...named, ...known.slice(0, 1), ...fromId, ...known.slice(1)])].filter((s) => s && s !== env.SERVER_NAME);
}

/** Our signature (and hash) on an event another server drafted; its id follows from it. */
async function signDraft(env: Env, version: RoomVersion, draft: JsonObject): Promise<StoredEvent> {
  const keys = await getServerKeys(env);
  const { signatures: _s, hashes: _h, unsigned: _u, ...rest } = draft;
  const unsignedPdu: JsonObject = { ...rest, origin_server_ts: Date.now() };
  if (version.redaction !== "v11") unsignedPdu.origin = env.SERVER_NAME;
  // v1/v2 ids are not hashes: the server that signs the event names it (as Synapse does for a make_join template).
  if (version.eventFormat === "v1") unsignedPdu.event_id = generateLegacyEventId(env.SERVER_NAME);
  const pdu = signEvent(unsignedPdu, version, env.SERVER_NAME, keys.keyId, keys.seed) as unknown as Pdu;
  return { eventId: eventIdFor(pdu, version), pdu };
}

/** Asks each server in turn; the first that answers wins. */
async function firstAnswer<T>(servers: string[], ask: (server: string) => Promise<T>): Promise<{ server: string; value: T }> {
  let last: unknown;
  for (const server of servers) {
    try {
      return { server, value: await ask(server) };
    } catch (e) {
      if (!(e instanceof FederationRequestFailed || e instanceof FederationUnreachable)) throw e;
      last = e;
      // A refusal by the room (not allowed to join) will be the same everywhere.
      if (e instanceof FederationRequestFailed && e.status === 403) break;
    }
  }
  if (last instanceof FederationRequestFailed && last.status === 403) throw new MatrixError("M_FORBIDDEN", last.message, 403);
  // The resident's own refusal reaches the client as it was given (as Synapse passes make_join errors through).
  if (last instanceof FederationRequestFailed && last.status === 400 && last.errcode && /^M_[A-Z0-9_]{1,60}$/.test(last.errcode) && last.errcode !== "M_INCOMPATIBLE_ROOM_VERSION" && last.errcode !== "M_UNRECOGNIZED") {
    throw new MatrixError(last.errcode as MatrixErrcode, last.message, 400);
  }
  if (last instanceof FederationRequestFailed && last.errcode === "M_INCOMPATIBLE_ROOM_VERSION") {
    // The client learns which version it was (client-server-api /join: M_INCOMPATIBLE_ROOM_VERSION carries room_version).
    const v = last.body.room_version;
    throw new MatrixError("M_INCOMPATIBLE_ROOM_VERSION", last.message, 400, typeof v === "string" ? { room_version: v } : {});
  }
  throw new MatrixError("M_NOT_FOUND", `No server could help with this room${last instanceof Error ? ` (${last.message})` : ""}`, 404);
}

/** Our user joins a room this server is not in, through one of `servers`. Returns the join's event id. */
export async function joinRemoteRoom(env: Env, roomId: string, userId: string, servers: string[], content: JsonObject): Promise<string> {
  if (servers.length === 0) throw new MatrixError("M_NOT_FOUND", `No known servers for ${roomId}`, 404);
  const made = await firstAnswer(servers, (s) => federationRequest(env, s, "GET", `/_matrix/federation/v1/make_join/${enc(roomId)}/${enc(userId)}?${VER_QUERY}`));
  const version = getRoomVersion(typeof made.value.room_version === "string" ? made.value.room_version : "1");
  const template = made.value.event;
  if (!version) throw new MatrixError("M_UNSUPPORTED_ROOM_VERSION", "The room's version is not supported here", 400);
  if (!isJsonObject(template) || template.type !== "m.room.member" || template.state_key !== userId || template.sender !== userId || template.room_id !== roomId) {
    throw new MatrixError("M_UNKNOWN", `${made.server} answered make_join with an unusable event`, 502);
  }
  const tc = isJsonObject(template.content) ? template.content : {};
  const draft: JsonObject = { ...template, content: { ...content, ...(tc.join_authorised_via_users_server !== undefined ? { join_authorised_via_users_server: tc.join_authorised_via_users_server } : {}), membership: "join" } };
  const join = await signDraft(env, version, draft);
  const res = await federationRequest(env, made.server, "PUT", `/_matrix/federation/v2/send_join/${enc(roomId)}/${enc(join.eventId)}`, {
    body: join.pdu as unknown as JsonObject,
    maxResponseBytes: SEND_JOIN_MAX_BYTES,
  }).catch(async (e: unknown) => {
    // A server without v2 send_join (404, or 400 M_UNRECOGNIZED): v1 answers `[200, {...}]` (as Synapse falls back).
    if (e instanceof FederationRequestFailed && (e.status === 404 || (e.status === 400 && e.errcode === "M_UNRECOGNIZED"))) {
      const v1 = await federationRequestAny(env, made.server, "PUT", `/_matrix/federation/v1/send_join/${enc(roomId)}/${enc(join.eventId)}`, {
        body: join.pdu as unknown as JsonObject,
        maxResponseBytes: SEND_JOIN_MAX_BYTES,
      });
      const answer = Array.isArray(v1) ? v1[1] : undefined;
      if (isJsonObject(answer)) return answer;
      throw new FederationRequestFailed(`${made.server}: v1 send_join answer is not [200, {...}]`, 0);
    }
    throw e;
  }).catch((e: unknown) => {
    if (e instanceof FederationRequestFailed && e.status === 403) throw new MatrixError("M_FORBIDDEN", e.message, 403);
    if (e instanceof FederationRequestFailed || e instanceof FederationUnreachable) throw new MatrixError("M_UNKNOWN", e.message, 502);
    throw e;
  });
  // A restricted join comes back signed by the authorising resident (MSC3083).
  let signedJoin = join;
  if (isJsonObject(res.event)) {
    const [c] = await checkPdus(env, version, [res.event]);
    if (c?.ok && c.eventId === join.eventId) signedJoin = { eventId: c.eventId, pdu: c.pdu };
  }
  const listOf = (v: unknown) => (Array.isArray(v) ? v : []);
  const checked = await checkPdus(env, version, [...listOf(res.auth_chain), ...listOf(res.state)]);
  const ok = (c: (typeof checked)[number]): c is Extract<(typeof checked)[number], { ok: true }> => c.ok;
  const authCount = listOf(res.auth_chain).length;
  const authChain = checked.slice(0, authCount).filter(ok).map((c) => ({ eventId: c.eventId, pdu: c.pdu }));
  const state = checked.slice(authCount).filter(ok).map((c) => ({ eventId: c.eventId, pdu: c.pdu }));
  await unwrap(env.ROOM.getByName(roomId).importJoin({ roomId, roomVersion: version.id, join: signedJoin, state, authChain }));
  await env.DB.prepare("DELETE FROM remote_invites WHERE room_id = ? AND user_id = ?").bind(roomId, userId).run();
  return join.eventId;
}

/** Our user `sender` invites `target` of another server: that server signs the invite, then the room accepts it. */
export async function inviteRemoteUser(env: Env, roomId: string, sender: string, target: string, content: JsonObject): Promise<void> {
  // RPC's typing of deep JSON overwhelms the checker: the room is called through its interface.
  const stub = env.ROOM.getByName(roomId) as unknown as RoomApi;
  const built = await unwrap(stub.buildForRemote({ type: "m.room.member", state_key: target, sender, content: { ...content, membership: "invite" } }));
  const version = getRoomVersion(built.roomVersion)!;
  const server = domainOf(target);
  const state = built.strippedState.map(stripped);
  const res = await federationRequest(env, server, "PUT", `/_matrix/federation/v2/invite/${enc(roomId)}/${enc(built.event.eventId)}`, {
    body: { event: built.event.pdu as unknown as JsonObject, room_version: version.id, invite_room_state: state },
  }).catch(async (e: unknown) => {
    // A server without v2 invites (404, or 400 M_UNRECOGNIZED): v1 carries no room version, so only for v1/v2 rooms (as Synapse).
    if (e instanceof FederationRequestFailed && (e.status === 404 || (e.status === 400 && e.errcode === "M_UNRECOGNIZED"))) {
      if (version.eventFormat !== "v1") throw new MatrixError("M_UNSUPPORTED_ROOM_VERSION", `${server} does not support this room's version`, 400);
      return inviteV1(env, server, roomId, built.event, state);
    }
    throw e;
  }).catch((e: unknown) => {
    if (e instanceof FederationRequestFailed && e.status === 403) throw new MatrixError("M_FORBIDDEN", e.message, 403);
    if (e instanceof FederationRequestFailed || e instanceof FederationUnreachable) throw new MatrixError("M_UNKNOWN", `Could not invite ${target}: ${e.message}`, 502);
    throw e;
  });
  const [c] = await checkPdus(env, version, [res.event]);
  if (!c?.ok || c.eventId !== built.event.eventId || !c.pdu.signatures?.[server]) {
    throw new MatrixError("M_UNKNOWN", `${server} did not return the invite signed`, 502);
  }
  const { outcomes } = await unwrap(stub.receive(env.SERVER_NAME, [{ eventId: c.eventId, pdu: c.pdu }], { federate: true }));
  const o = outcomes[c.eventId];
  if (o?.kind === "rejected" || o?.kind === "soft_failed") throw new MatrixError("M_FORBIDDEN", o.reason, 403);
}

/** PUT /_matrix/federation/v1/invite: the event itself, stripped state in its unsigned; the answer is `[200, {event}]`. */
async function inviteV1(env: Env, server: string, roomId: string, event: StoredEvent, state: JsonObject[]): Promise<JsonObject> {
  const pdu = event.pdu as unknown as JsonObject;
  const unsigned = isJsonObject(pdu.unsigned) ? pdu.unsigned : {};
  const path = `/_matrix/federation/v1/invite/${enc(roomId)}/${enc(event.eventId)}`;
  const res = await federationRequestAny(env, server, "PUT", path, { body: { ...pdu, unsigned: { ...unsigned, invite_room_state: state } } });
  const answer = Array.isArray(res) ? res[1] : undefined;
  return isJsonObject(answer) ? answer : {};
}

/** Stripped state event (client-server-api "Stripped state"). */
function stripped(p: Pdu): JsonObject {
  return { type: p.type, state_key: p.state_key ?? "", content: p.content, sender: p.sender };
}

/**
 * PUT /_matrix/federation/v2/invite: another server invites one of our users.
 * We sign the invite; if we are in the room it is an ordinary event of it,
 * otherwise it is kept with its stripped state and shown to the user.
 */
export async function receiveInvite(env: Env, origin: string, roomId: string, eventId: string, body: JsonObject): Promise<Pdu> {
  const version = getRoomVersion(typeof body.room_version === "string" ? body.room_version : "1");
  if (!version) throw new MatrixError("M_INCOMPATIBLE_ROOM_VERSION", "This server does not support the room's version", 400, { room_version: String(body.room_version) });
  const [c] = await checkPdus(env, version, [body.event]);
  if (!c?.ok) throw intakeRefusal(body.event, c, "Invalid invite event");
  const pdu = c.pdu;
  if (c.eventId !== eventId || pdu.room_id !== roomId) throw new MatrixError("M_BAD_JSON", "The event does not match the path", 400);
  if (pdu.type !== "m.room.member" || pdu.content.membership !== "invite" || typeof pdu.state_key !== "string") {
    throw new MatrixError("M_BAD_JSON", "Not an invite event", 400);
  }
  if (domainOf(pdu.sender) !== origin) throw new MatrixError("M_FORBIDDEN", "The inviter is not a user of the requesting server", 403);
  const target = pdu.state_key;
  if (domainOf(target) !== env.SERVER_NAME) throw new MatrixError("M_FORBIDDEN", "The invitee is not a user of this server", 403);
  const user = await env.DB.prepare("SELECT 1 FROM users WHERE user_id = ?").bind(target).first();
  if (!user) throw new MatrixError("M_NOT_FOUND", "Unknown user", 404);
  const keys = await getServerKeys(env);
  const signed = signEvent(pdu, version, env.SERVER_NAME, keys.keyId, keys.seed) as unknown as Pdu;
  const stub = env.ROOM.getByName(roomId);
  if (await stub.info()) {
    const { outcomes } = await unwrap(stub.receive(origin, [{ eventId, pdu: signed }], { federate: false }));
    const o = outcomes[eventId];
    if (o?.kind !== "rejected" && o?.kind !== "missing") {
      // The room publishes the invite; joining later goes through the inviting server.
      await env.DB.prepare(
        "INSERT INTO remote_invites (room_id, user_id, event_id, room_version, via_server, stripped_state) VALUES (?, ?, ?, ?, ?, '[]') " +
          "ON CONFLICT (room_id, user_id) DO UPDATE SET event_id = excluded.event_id, via_server = excluded.via_server",
      )
        .bind(roomId, target, eventId, version.id, origin)
        .run();
      return signed;
    }
    // Not acceptable in the room as we know it: still shown as an invite, as Synapse does.
  }
  const strippedState = (Array.isArray(body.invite_room_state) ? body.invite_room_state : []).filter(isJsonObject).slice(0, 50);
  await recordInviteMembership(env, roomId, target, { eventId, pdu: signed }, "invite", { version: version.id, via: origin, strippedState });
  return signed;
}

/**
 * The read model's side of a membership in a room we are not in (an invite or a
 * knock, then its rejection or withdrawal): the event in the room's stream, the user's membership row, and
 * a wake-up for the user's /sync.
 */
async function recordInviteMembership(
  env: Env,
  roomId: string,
  userId: string,
  ev: StoredEvent,
  membership: "invite" | "knock" | "leave",
  invite?: { version: string; via: string; strippedState: JsonObject[] },
): Promise<void> {
  const db = env.DB;
  const { pdu } = ev;
  const json = JSON.stringify({ type: pdu.type, state_key: pdu.state_key, sender: pdu.sender, content: pdu.content, origin_server_ts: pdu.origin_server_ts, event_id: ev.eventId, room_id: roomId, unsigned: {} });
  const stmts = [
    advanceStream(db),
    db
      .prepare(
        `INSERT INTO room_events (stream_pos, event_id, room_id, type, state_key, sender, origin_server_ts, json) VALUES (${STREAM_POS}, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING`,
      )
      .bind(ev.eventId, roomId, pdu.type, pdu.state_key ?? null, pdu.sender, pdu.origin_server_ts, json),
    db
      .prepare(
        `INSERT INTO room_memberships (room_id, user_id, membership, event_id, stream_pos, sender) VALUES (?, ?, ?, ?, ${STREAM_POS}, ?) ` +
          "ON CONFLICT (room_id, user_id) DO UPDATE SET membership = excluded.membership, event_id = excluded.event_id, stream_pos = excluded.stream_pos, sender = excluded.sender",
      )
      .bind(roomId, userId, membership, ev.eventId, pdu.sender),
    invite
      ? db
          .prepare(
            "INSERT INTO remote_invites (room_id, user_id, event_id, room_version, via_server, stripped_state) VALUES (?, ?, ?, ?, ?, ?) " +
              "ON CONFLICT (room_id, user_id) DO UPDATE SET event_id = excluded.event_id, room_version = excluded.room_version, via_server = excluded.via_server, stripped_state = excluded.stripped_state",
          )
          .bind(roomId, userId, ev.eventId, invite.version, invite.via, JSON.stringify(invite.strippedState))
      : db.prepare("DELETE FROM remote_invites WHERE room_id = ? AND user_id = ?").bind(roomId, userId),
  ];
  const results = await db.batch(stmts);
  await notifyUsers(env, [userId], streamPosOf(results), Topic.ROOMS);
}

/** Our user knocks on a room this server is not in (server-server-api "Knocking upon a room"): make_knock/send_knock. */
export async function knockRemoteRoom(env: Env, roomId: string, userId: string, servers: string[], content: JsonObject): Promise<void> {
  if (servers.length === 0) throw new MatrixError("M_NOT_FOUND", `No known servers for ${roomId}`, 404);
  const made = await firstAnswer(servers, (s) => federationRequest(env, s, "GET", `/_matrix/federation/v1/make_knock/${enc(roomId)}/${enc(userId)}?${VER_QUERY}`));
  const version = getRoomVersion(typeof made.value.room_version === "string" ? made.value.room_version : "");
  const template = made.value.event;
  if (!version || !version.knockJoinRule) throw new MatrixError("M_INCOMPATIBLE_ROOM_VERSION", "The room's version does not allow knocking", 400);
  if (!isJsonObject(template) || template.state_key !== userId || template.sender !== userId || template.room_id !== roomId) {
    throw new MatrixError("M_UNKNOWN", `${made.server} answered make_knock with an unusable event`, 502);
  }
  const knock = await signDraft(env, version, { ...template, content: { ...content, membership: "knock" } });
  const res = await federationRequest(env, made.server, "PUT", `/_matrix/federation/v1/send_knock/${enc(roomId)}/${enc(knock.eventId)}`, { body: knock.pdu as unknown as JsonObject }).catch(
    (e: unknown) => {
      if (e instanceof FederationRequestFailed && e.status === 403) throw new MatrixError("M_FORBIDDEN", e.message, 403);
      if (e instanceof FederationRequestFailed || e instanceof FederationUnreachable) throw new MatrixError("M_UNKNOWN", e.message, 502);
      throw e;
    },
  );
  const strippedState = (Array.isArray(res.knock_room_state) ? res.knock_room_state : []).filter(isJsonObject).slice(0, 50);
  await recordInviteMembership(env, roomId, userId, knock, "knock", { version: version.id, via: made.server, strippedState });
}

/** Our user rejects an invite to (or leaves) a room this server is not in: make_leave/send_leave through the inviting server. */
export async function leaveRemoteRoom(env: Env, roomId: string, userId: string, reason: string | undefined): Promise<void> {
  try {
    await leaveThroughResident(env, roomId, userId, reason);
  } catch (e) {
    if (!(e instanceof MatrixError)) throw e;
    // The room's servers refuse or cannot be reached: the invite (or knock) is dropped here all the
    // same, with a leave only this server knows of (as Synapse's local rejection), so it never blocks the user.
    const content: JsonObject = { membership: "leave", ...(reason !== undefined ? { reason } : {}) };
    const pdu = { type: "m.room.member", state_key: userId, sender: userId, content, room_id: roomId, origin_server_ts: Date.now() } as unknown as Pdu;
    await recordInviteMembership(env, roomId, userId, { eventId: generateLegacyEventId(env.SERVER_NAME), pdu }, "leave");
  }
}

async function leaveThroughResident(env: Env, roomId: string, userId: string, reason: string | undefined): Promise<void> {
  const servers = await candidateServers(env, roomId, userId, []);
  const made = await firstAnswer(servers, (s) => federationRequest(env, s, "GET", `/_matrix/federation/v1/make_leave/${enc(roomId)}/${enc(userId)}`));
  const version = getRoomVersion(typeof made.value.room_version === "string" ? made.value.room_version : "1");
  const template = made.value.event;
  if (!version || !isJsonObject(template) || template.state_key !== userId || template.sender !== userId) {
    throw new MatrixError("M_UNKNOWN", `${made.server} answered make_leave with an unusable event`, 502);
  }
  const leave = await signDraft(env, version, { ...template, content: { membership: "leave", ...(reason !== undefined ? { reason } : {}) } });
  await federationRequest(env, made.server, "PUT", `/_matrix/federation/v2/send_leave/${enc(roomId)}/${enc(leave.eventId)}`, { body: leave.pdu as unknown as JsonObject }).catch((e: unknown) => {
    if (e instanceof FederationRequestFailed || e instanceof FederationUnreachable) throw new MatrixError("M_UNKNOWN", e.message, 502);
    throw e;
  });
  await recordInviteMembership(env, roomId, userId, leave, "leave");
}
