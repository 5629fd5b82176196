import { type Context, Hono } from "hono";
import { z } from "zod";
import { buildEvent, checkEventTemplate } from "../../src/event-builder.js";
import { MatrixError } from "../../src/errors.js";
import { roomIdFromCreateEvent } from "../../src/event-id.js";
import { isValidUserId, userIdDomain, utf8Length } from "../../src/identifiers.js";
import { type JsonObject, JsonObjectSchema } from "../../src/json.js";
import { getRoomVersion } from "../../src/room-versions.js";
import type { AppEnv, AuthInfo } from "../app-env.js";
import { getConfig } from "../config.js";
import type { Env } from "../../services/env.js";
import { jsonBody, validateBody } from "../middleware/body.js";
import { requireAuth } from "../middleware/auth.js";
import { checkCanonicalAliasContent } from "../rooms/canonical-alias.js";
import { createRoomTemplates } from "../rooms/create-room.js";
import { memberProfile, resolveForJoin, roomStub, serverParticipates } from "../rooms/room-rpc.js";
import { candidateServers, inviteRemoteUser, joinRemoteRoom, knockRemoteRoom, leaveRemoteRoom } from "../federation/remote-membership.js";
import { unwrap } from "../../src/room-result.js";
import { getServerKeys } from "../../services/server-keys.js";
import { clientV3 } from "./paths.js";
import { aliasTaken, deleteAlias, insertAlias } from "../../services/d1/room-aliases.js";
import { publishRoomStatement } from "../../services/d1/room-directory.js";
import { forgetRoom, membershipOf } from "../../services/d1/room-memberships.js";
import { roomGuestAccess } from "../../services/d1/rooms.js";


const CreateRoomBody = z.object({
  visibility: z.enum(["public", "private"]).optional(),
  room_alias_name: z.string().optional(),
  name: z.string().optional(),
  topic: z.string().optional(),
  invite: z.array(z.string()).max(100).optional(),
  invite_3pid: z.array(z.looseObject({})).optional(),
  room_version: z.string().optional(),
  creation_content: JsonObjectSchema.optional(),
  initial_state: z.array(z.object({ type: z.string(), state_key: z.string().optional(), content: JsonObjectSchema })).optional(),
  preset: z.enum(["private_chat", "public_chat", "trusted_private_chat"]).optional(),
  is_direct: z.boolean().optional(),
  power_level_content_override: JsonObjectSchema.optional(),
});

function randomOpaque(n: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  return Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => alphabet[b % alphabet.length]).join("");
}

function checkEventType(type: string): void {
  if (utf8Length(type) > 255) throw new MatrixError("M_INVALID_PARAM", "Event type is longer than 255 bytes", 400);
}

export const roomRoutes = new Hono<AppEnv>();

/** POST /_matrix/client/v3/createRoom */
roomRoutes.post(clientV3("/createRoom"), requireAuth(), jsonBody(CreateRoomBody), async (c) => {
  const auth = c.get("auth");
  const config = getConfig(c.env);
  const body = c.req.valid("json");
  if (body.invite_3pid?.length) {
    throw new MatrixError("M_UNRECOGNIZED", "Third-party invites need an identity server, which this server does not use", 400);
  }
  const version = getRoomVersion(body.room_version ?? config.defaultRoomVersion);
  if (!version) throw new MatrixError("M_UNSUPPORTED_ROOM_VERSION", `Unsupported room version ${body.room_version}`, 400);
  const db = c.env.DB;

  let alias: string | undefined;
  if (body.room_alias_name !== undefined) {
    alias = `#${body.room_alias_name}:${config.serverName}`;
    if (!/^[^\s:#]+$/.test(body.room_alias_name) || utf8Length(alias) > 255) {
      throw new MatrixError("M_INVALID_PARAM", "Invalid room_alias_name", 400);
    }
    if (await aliasTaken(db, alias)) {
      throw new MatrixError("M_ROOM_IN_USE", "Room alias already taken", 400);
    }
  }
  const inviteeProfiles = new Map<string, JsonObject>();
  const remoteInvitees: string[] = [];
  for (const u of body.invite ?? []) {
    if (!isValidUserId(u)) throw new MatrixError("M_INVALID_PARAM", `Invalid user ID in invite: ${u}`, 400);
    if (userIdDomain(u) !== config.serverName) remoteInvitees.push(u);
    else inviteeProfiles.set(u, await memberProfile(db, u));
  }
  const templates = createRoomTemplates(version, body, auth.userId, await memberProfile(db, auth.userId), alias, inviteeProfiles);
  // creation_content, initial_state and power_level_content_override become events: refuse
  // what cannot (e.g. floats in v6+) before anything is stored, not halfway through.
  for (const t of templates) checkEventTemplate(version, t);

  let roomId: string;
  let createEvent;
  if (version.roomIdFromCreateEvent) {
    const keys = await getServerKeys(c.env);
    createEvent = buildEvent(version, templates[0]!, {
      roomId: undefined,
      prev: [],
      auth: [],
      key: { serverName: config.serverName, keyId: keys.keyId, seed: keys.seed },
    });
    roomId = roomIdFromCreateEvent(createEvent.pdu, version);
    templates.shift();
  } else {
    roomId = `!${randomOpaque(18)}:${config.serverName}`;
  }
  if (alias) {
    try {
      await insertAlias(db, { alias, roomId, creator: auth.userId, createdTs: Date.now() });
    } catch {
      throw new MatrixError("M_ROOM_IN_USE", "Room alias already taken", 400);
    }
  }
  try {
    await unwrap(
      c.env.ROOM.getByName(roomId).createRoom({ roomId, roomVersion: version.id, ...(createEvent ? { createEvent } : {}), events: templates }),
    );
  } catch (e) {
    if (alias) await deleteAlias(db, alias);
    throw e;
  }
  if (body.visibility === "public") {
    await publishRoomStatement(db, roomId, Date.now()).run();
  }
  // Other servers' invitees, each through its server; one that fails does not undo the room (as Synapse).
  for (const u of remoteInvitees) {
    await inviteRemoteUser(c.env, roomId, auth.userId, u, body.is_direct ? { is_direct: true } : {}).catch((e: unknown) => {
      if (!(e instanceof MatrixError)) throw e;
      console.warn(`createRoom ${roomId}: could not invite ${u}: ${e.message}`);
    });
  }
  return c.json({ room_id: roomId });
});

async function sendAs(env: Env, auth: AuthInfo, roomId: string, ev: { type: string; state_key?: string; content: JsonObject; redacts?: string }, txnId?: string) {
  const res = await unwrap(
    roomStub(env, roomId).send({ ...ev, sender: auth.userId, ...(txnId ? { txnId, deviceId: auth.deviceId } : {}) }),
  ).catch((e: unknown) => {
    // A room this server does not know is, to the client, a room it is not in (as Synapse answers).
    if (e instanceof MatrixError && e.errcode === "M_NOT_FOUND") throw new MatrixError("M_FORBIDDEN", `You are not in room ${roomId}`, 403);
    throw e;
  });
  return res.eventId;
}

/** PUT /_matrix/client/v3/rooms/{roomId}/send/{eventType}/{txnId} */
roomRoutes.put(clientV3("/rooms/:roomId/send/:eventType/:txnId"), requireAuth({ allowGuest: true }), jsonBody(JsonObjectSchema), async (c) => {
  const { roomId, eventType, txnId } = c.req.param();
  checkEventType(eventType);
  const content = c.req.valid("json");
  const eventId = await sendAs(c.env, c.get("auth"), roomId, { type: eventType, content }, txnId);
  return c.json({ event_id: eventId });
});

/** PUT /_matrix/client/v3/rooms/{roomId}/state/{eventType}/{stateKey} (state key may be empty); `content` is the validated body. */
async function putState(c: Context<AppEnv>, roomId: string, eventType: string, stateKey: string, content: JsonObject): Promise<Response> {
  checkEventType(eventType);
  // Aliases must point to this room (room_state.yaml: M_BAD_ALIAS).
  if (eventType === "m.room.canonical_alias") await checkCanonicalAliasContent(c.env, roomId, stateKey, content);
  return c.json({ event_id: await sendAs(c.env, c.get("auth"), roomId, { type: eventType, state_key: stateKey, content }) });
}
roomRoutes.put(clientV3("/rooms/:roomId/state/:eventType/:stateKey"), requireAuth(), jsonBody(JsonObjectSchema), (c) =>
  putState(c, c.req.param("roomId"), c.req.param("eventType"), c.req.param("stateKey"), c.req.valid("json")),
);
roomRoutes.put(clientV3("/rooms/:roomId/state/:eventType"), requireAuth(), jsonBody(JsonObjectSchema), (c) =>
  putState(c, c.req.param("roomId"), c.req.param("eventType"), "", c.req.valid("json")),
);
roomRoutes.put(clientV3("/rooms/:roomId/state/:eventType/"), requireAuth(), jsonBody(JsonObjectSchema), (c) =>
  putState(c, c.req.param("roomId"), c.req.param("eventType"), "", c.req.valid("json")),
);

/** The optional `reason` of redactions and membership changes. */
const ReasonBody = z.object({ reason: z.string().optional() });

/** PUT /_matrix/client/v3/rooms/{roomId}/redact/{eventId}/{txnId} */
roomRoutes.put(clientV3("/rooms/:roomId/redact/:eventId/:txnId"), requireAuth({ allowGuest: true }), jsonBody(ReasonBody, { allowEmpty: true }), async (c) => {
  const { roomId, eventId, txnId } = c.req.param();
  return c.json({ event_id: await redact(c, roomId, eventId, c.req.valid("json").reason, txnId) });
});

/** POST /_matrix/client/v3/rooms/{roomId}/redact/{eventId}: the pre-r0.3 form without a txnId, which Synapse still serves (not idempotent: each call is a new redaction). */
roomRoutes.post(clientV3("/rooms/:roomId/redact/:eventId"), requireAuth({ allowGuest: true }), jsonBody(ReasonBody, { allowEmpty: true }), async (c) => {
  const { roomId, eventId } = c.req.param();
  return c.json({ event_id: await redact(c, roomId, eventId, c.req.valid("json").reason, `post-${crypto.randomUUID()}`) });
});

async function redact(c: { env: Env; get(k: "auth"): AuthInfo }, roomId: string, eventId: string, reason: string | undefined, txnId: string): Promise<string> {
  const body = { reason };
  const room = await roomStub(c.env, roomId).info();
  const version = room ? getRoomVersion(room.roomVersion) : undefined;
  const content: JsonObject = body.reason !== undefined ? { reason: body.reason } : {};
  // v11+ carries the target in content; older versions at the top level (MSC2174).
  if (version?.redaction === "v11") content.redacts = eventId;
  return sendAs(c.env, c.get("auth"), roomId, { type: "m.room.redaction", content, ...(version?.redaction === "v11" ? {} : { redacts: eventId }) }, txnId);
}

// ---- membership (client-server-api "Room membership") --------------------------

const JoinBody = ReasonBody.extend({ third_party_signed: z.looseObject({}).optional() });
const TargetBody = z.object({ user_id: z.string(), reason: z.string().optional() });

/** A target that is not a user id (appendices "User Identifiers") is 400 M_INVALID_PARAM, before anything else is considered. */
function checkTarget(userId: string): void {
  if (!isValidUserId(userId)) throw new MatrixError("M_INVALID_PARAM", `Invalid user ID: ${userId}`, 400);
}

async function membershipEvent(c: { env: Env; get(k: "auth"): AuthInfo }, roomId: string, target: string, membership: string, reason?: string, extra: JsonObject = {}) {
  checkTarget(target);
  const content: JsonObject = { membership, ...extra };
  if (reason !== undefined) content.reason = reason;
  return sendAs(c.env, c.get("auth"), roomId, { type: "m.room.member", state_key: target, content });
}

async function doJoin(c: { env: Env; get(k: "auth"): AuthInfo }, idOrAlias: string, reason?: string, via: string[] = []): Promise<string> {
  const auth = c.get("auth");
  const { roomId, servers } = await resolveForJoin(c.env, idOrAlias, via);
  const stub = roomStub(c.env, roomId);
  if (!(await stub.info()) || !(await serverParticipates(c.env, roomId))) {
    // Not in the room here: join through a server that is (server-server-api "Joining Rooms").
    if (auth.isGuest) throw new MatrixError("M_FORBIDDEN", "Guests cannot join rooms on other servers", 403);
    const candidates = await candidateServers(c.env, roomId, auth.userId, servers);
    if (candidates.length === 0) throw new MatrixError("M_NOT_FOUND", `No known room ${roomId}`, 404);
    const content: JsonObject = { ...(await memberProfile(c.env.DB, auth.userId)) };
    if (reason !== undefined) content.reason = reason;
    await joinRemoteRoom(c.env, roomId, auth.userId, candidates, content);
    return roomId;
  }
  if (auth.isGuest) {
    // Guests may only join rooms that allow them (spec "Guest access": m.room.guest_access can_join).
    if ((await roomGuestAccess(c.env.DB, roomId)) !== "can_join") throw new MatrixError("M_FORBIDDEN", "Guest access is not allowed in this room", 403);
  }
  const content: JsonObject = { ...(await memberProfile(c.env.DB, auth.userId)) };
  if (reason !== undefined) content.reason = reason;
  await unwrap(stub.join({ sender: auth.userId, content }));
  return roomId;
}

/** POST /_matrix/client/v3/join/{roomIdOrAlias}?via=…&server_name=… (server_name: the name before v1.12) */
roomRoutes.post(clientV3("/join/:roomIdOrAlias"), requireAuth({ allowGuest: true }), jsonBody(JoinBody, { allowEmpty: true }), async (c) => {
  const body = c.req.valid("json");
  const via = [...(c.req.queries("via") ?? []), ...(c.req.queries("server_name") ?? [])];
  return c.json({ room_id: await doJoin(c, c.req.param("roomIdOrAlias"), body.reason, via) });
});

/** POST /_matrix/client/v3/rooms/{roomId}/join */
roomRoutes.post(clientV3("/rooms/:roomId/join"), requireAuth({ allowGuest: true }), jsonBody(JoinBody, { allowEmpty: true }), async (c) => {
  const body = c.req.valid("json");
  return c.json({ room_id: await doJoin(c, c.req.param("roomId"), body.reason) });
});

/** POST /_matrix/client/v3/knock/{roomIdOrAlias} */
roomRoutes.post(clientV3("/knock/:roomIdOrAlias"), requireAuth(), jsonBody(ReasonBody, { allowEmpty: true }), async (c) => {
  const body = c.req.valid("json");
  const auth = c.get("auth");
  const via = [...(c.req.queries("via") ?? []), ...(c.req.queries("server_name") ?? [])];
  const { roomId, servers } = await resolveForJoin(c.env, c.req.param("roomIdOrAlias"), via);
  if (!(await roomStub(c.env, roomId).info()) || !(await serverParticipates(c.env, roomId))) {
    const content: JsonObject = { ...(await memberProfile(c.env.DB, auth.userId)) };
    if (body.reason !== undefined) content.reason = body.reason;
    await knockRemoteRoom(c.env, roomId, auth.userId, await candidateServers(c.env, roomId, auth.userId, servers), content);
    return c.json({ room_id: roomId });
  }
  await membershipEvent(c, roomId, auth.userId, "knock", body.reason, await memberProfile(c.env.DB, auth.userId));
  return c.json({ room_id: roomId });
});

/** POST /_matrix/client/v3/rooms/{roomId}/leave */
roomRoutes.post(clientV3("/rooms/:roomId/leave"), requireAuth({ allowGuest: true }), jsonBody(ReasonBody, { allowEmpty: true }), async (c) => {
  const body = c.req.valid("json");
  const roomId = c.req.param("roomId");
  if (!(await roomStub(c.env, roomId).info()) && ["invite", "knock"].includes((await membershipOf(c.env.DB, roomId, c.get("auth").userId)) ?? "")) {
    // Rejecting an invite to (or withdrawing a knock on) a room this server is not in: through the room's server.
    await leaveRemoteRoom(c.env, roomId, c.get("auth").userId, body.reason);
    return c.json({});
  }
  await membershipEvent(c, roomId, c.get("auth").userId, "leave", body.reason);
  return c.json({});
});

/**
 * The other form of /invite (third_party_membership.yaml), by third-party id;
 * "servers can treat [id_access_token] as optional" (definitions/invite_3pid.yaml).
 */
const Invite3pidBody = z.object({ id_server: z.string(), id_access_token: z.string().optional(), medium: z.string(), address: z.string() });

/** POST /_matrix/client/v3/rooms/{roomId}/invite */
roomRoutes.post(clientV3("/rooms/:roomId/invite"), requireAuth(), jsonBody(JsonObjectSchema), async (c) => {
  const raw = c.req.valid("json");
  if (raw.user_id === undefined && Invite3pidBody.safeParse(raw).success) {
    // As createRoom's invite_3pid: the identity server lookup is not available here.
    throw new MatrixError("M_UNRECOGNIZED", "Third-party invites need an identity server, which this server does not use", 400);
  }
  // Which of the two bodies it is decides the schema, so the user id form is checked here.
  const body = validateBody(TargetBody, raw);
  checkTarget(body.user_id);
  if (!body.user_id.endsWith(`:${getConfig(c.env).serverName}`)) {
    const content: JsonObject = body.reason !== undefined ? { reason: body.reason } : {};
    await inviteRemoteUser(c.env, c.req.param("roomId"), c.get("auth").userId, body.user_id, content);
    return c.json({});
  }
  await membershipEvent(c, c.req.param("roomId"), body.user_id, "invite", body.reason, await memberProfile(c.env.DB, body.user_id));
  return c.json({});
});

for (const [path, membership] of [["kick", "leave"], ["ban", "ban"], ["unban", "leave"]] as const) {
  /** POST /_matrix/client/v3/rooms/{roomId}/{kick,ban,unban} */
  roomRoutes.post(clientV3(`/rooms/:roomId/${path}`), requireAuth(), jsonBody(TargetBody), async (c) => {
    const body = c.req.valid("json");
    checkTarget(body.user_id);
    const roomId = c.req.param("roomId");
    if (path === "unban" || path === "kick") {
      // Unban only lifts a ban, kick only removes a member: check the current membership first.
      const membership = await membershipOf(c.env.DB, roomId, body.user_id);
      if (path === "unban" && membership !== "ban") throw new MatrixError("M_FORBIDDEN", `${body.user_id} is not banned`, 403);
      if (path === "kick" && !["join", "invite", "knock"].includes(membership ?? "")) {
        throw new MatrixError("M_FORBIDDEN", `${body.user_id} is not in the room`, 403);
      }
    }
    await membershipEvent(c, roomId, body.user_id, membership, body.reason);
    return c.json({});
  });
}

/** POST /_matrix/client/v3/rooms/{roomId}/forget: no fields, an empty body tolerated, but what is sent must be a JSON object. */
roomRoutes.post(clientV3("/rooms/:roomId/forget"), requireAuth(), jsonBody(JsonObjectSchema, { allowEmpty: true }), async (c) => {
  const roomId = c.req.param("roomId");
  const userId = c.get("auth").userId;
  const membership = await membershipOf(c.env.DB, roomId, userId);
  if (membership === null) throw new MatrixError("M_NOT_FOUND", "You have never been in this room", 404);
  if (["join", "invite", "knock"].includes(membership)) throw new MatrixError("M_UNKNOWN", "You must leave the room before forgetting it", 400);
  await forgetRoom(c.env.DB, roomId, userId);
  return c.json({});
});
