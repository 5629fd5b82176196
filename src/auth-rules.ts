/**
 * The authorization rules for events, room versions 1–12
 * (spec: rooms/fragments/v1-auth-rules.md [v1–v2], v3-auth-rules.md [v3–v5],
 * rooms/v6.md, rooms/v7.md, fragments/v8-auth-rules.md [v8–v9], rooms/v10.md,
 * rooms/v11.md, rooms/v12.md; server-server-api "Auth events selection").
 *
 * The rule list is numbered differently in each version. Comments cite the
 * numbers as `v1–v5 / v6–v11 / v12` where they differ, e.g. "rule 5/4/5" is
 * rule 5 in v1–v5, 4 in v6–v11 and 5 in v12. Behaviour is switched on the
 * flags in the room version table, never on version numbers.
 *
 * `checkEventAuth` implements the rules against a given state (the auth
 * events, the state before the event, or the current state — the three checks
 * on receipt of a PDU — or the partially resolved state in state resolution).
 * The parts of the rules that are about the event's `auth_events` list itself
 * (duplicates, unexpected entries, rejected entries) are in
 * `checkAuthEventsMatch`, which needs the listed events rather than a state.
 *
 * Pure: no Workers APIs.
 */
import { isJsonObject, type JsonObject } from "./json.js";
import { authEventIds, prevEventIds, stateKey, type Pdu, type StateMap } from "./pdu.js";
import {
  banLevel,
  domainOf,
  inviteLevel,
  isValidUserId,
  kickLevel,
  parsePowerLevelsContent,
  readPowerLevelsContent,
  redactLevel,
  requiredPowerForEvent,
  roomCreators,
  userPowerLevel,
  POWER_LEVEL_INT_KEYS,
  type PowerLevelsContent,
} from "./power-levels.js";
import { getRoomVersion, type RoomVersion } from "./room-versions.js";
import { getSignature, verifyJsonSignature } from "./signing.js";

export type AuthResult = { ok: true } | { ok: false; reason: string };

const ALLOW: AuthResult = Object.freeze({ ok: true });
function reject(reason: string): AuthResult {
  return { ok: false, reason };
}

/** Optional hooks for the parts of the rules that need more than the events themselves. */
export interface AuthOptions {
  /**
   * The event id of an event. Used to recognise "the only previous event is
   * the m.room.create event" (member rule, join step 1) and, in v12, to check
   * that the room id is the create event's id (rule 2). Without it the id is
   * taken from `event_id` (v1–v2) or derived from the room id (v12); in v3–v11
   * the join step then falls back to "the single prev event is also the single
   * auth event" (which rule 2 makes the create event). Callers that know ids
   * (state resolution, the receipt checks) should pass this.
   */
  eventId?: (pdu: Pdu) => string | undefined;
  /**
   * Cryptographic check that `event` is validly signed by `serverName`
   * (member rule step 2, `join_authorised_via_users_server`, v8+). Without it
   * only the presence of a signature from that server is checked; the
   * signature-check step on receipt of a PDU must then verify it.
   */
  verifyServerSignature?: (event: Pdu, serverName: string) => boolean;
  /**
   * Verifies the `signed` object of a third-party invite: whether it carries a
   * valid ed25519 signature by `serverName` / `keyId` under the given public
   * key (unpadded base64, standard or URL-safe). Defaults to
   * `verifySignedWithPublicKey`.
   */
  verifyThirdPartySigned?: (signed: JsonObject, serverName: string, keyId: string, publicKeyBase64: string) => boolean;
}

// ---------------------------------------------------------------------------
// Auth events selection

/**
 * The spec's "auth events selection" (server-server-api): the (type,
 * state_key) pairs whose current state events an event must list as its
 * auth events. Empty for the create event. Pairs are unique.
 */
export function authTypesForEvent(version: RoomVersion, event: Pdu): Array<[string, string]> {
  if (event.type === "m.room.create") return [];
  const out: Array<[string, string]> = [];
  const seen = new Set<string>();
  const add = (type: string, key: string): void => {
    const k = stateKey(type, key);
    if (seen.has(k)) return;
    seen.add(k);
    out.push([type, key]);
  };
  // v12 (MSC4291): the create event MUST NOT be selected; the room id implies it.
  if (!version.createEventNotInAuthEvents) add("m.room.create", "");
  add("m.room.power_levels", "");
  add("m.room.member", event.sender);
  if (event.type === "m.room.member") {
    const membership = event.content["membership"];
    if (typeof event.state_key === "string") add("m.room.member", event.state_key);
    if (membership === "join" || membership === "invite" || membership === "knock") add("m.room.join_rules", "");
    if (membership === "invite") {
      const tpi = event.content["third_party_invite"];
      const signed = isJsonObject(tpi) ? tpi["signed"] : undefined;
      const token = isJsonObject(signed) ? signed["token"] : undefined;
      if (typeof token === "string") add("m.room.third_party_invite", token);
    }
    if (membership === "join" && version.restrictedJoinRule) {
      const via = event.content["join_authorised_via_users_server"];
      if (typeof via === "string") add("m.room.member", via);
    }
  }
  return out;
}

/**
 * The checks on the event's `auth_events` list (rule 2.1, 2.2, 2.4, 2.5 in
 * v1–v11; 3.1, 3.2, 3.5 in v12):
 * - no two entries for the same (type, state_key);
 * - every entry is of a (type, state_key) the auth events selection picks
 *   (so in v12 the create event must not be listed);
 * - v1–v11: an m.room.create entry is present;
 * - every entry is in the event's room (v12: the create event has no
 *   room_id, it is never listed).
 *
 * `authEvents` are the events the `auth_events` ids resolve to. Rule 2.3 / 3.3
 * (entries that were themselves rejected) is the caller's: pass `isRejected`
 * or leave rejected events out (then the missing event is the caller's
 * problem to report).
 */
export function checkAuthEventsMatch(
  version: RoomVersion,
  event: Pdu,
  authEvents: readonly Pdu[],
  isRejected?: (pdu: Pdu) => boolean,
): AuthResult {
  if (event.type === "m.room.create") {
    return authEvents.length === 0 ? ALLOW : reject("the create event must have no auth events");
  }
  const expected = new Set(authTypesForEvent(version, event).map(([t, k]) => stateKey(t, k)));
  const seen = new Set<string>();
  let sawCreate = false;
  for (const ae of authEvents) {
    if (typeof ae.state_key !== "string") return reject(`auth event of type ${ae.type} is not a state event`);
    const k = stateKey(ae.type, ae.state_key);
    // 2.1 / 3.1
    if (seen.has(k)) return reject(`duplicate auth events for (${ae.type}, ${JSON.stringify(ae.state_key)})`);
    seen.add(k);
    // 2.2 / 3.2
    if (!expected.has(k)) return reject(`unexpected auth event (${ae.type}, ${JSON.stringify(ae.state_key)})`);
    // 2.3 / 3.3
    if (isRejected?.(ae)) return reject(`auth event (${ae.type}, ${JSON.stringify(ae.state_key)}) was rejected`);
    // 2.5 / 3.5
    if (ae.room_id !== event.room_id) return reject(`auth event (${ae.type}) is in another room`);
    if (ae.type === "m.room.create") sawCreate = true;
  }
  // 2.4 (not in v12, where the create event is implied by the room id)
  if (!version.createEventNotInAuthEvents && !sawCreate) return reject("no m.room.create event among the auth events");
  return ALLOW;
}

/**
 * Builds the state map `checkEventAuth` expects from an event's auth events
 * (for the first check on receipt of a PDU). In v12 the create event is not
 * among the auth events; pass it as `createEvent` (it is added if missing).
 */
export function authStateFromEvents(authEvents: Iterable<Pdu>, createEvent?: Pdu): StateMap<Pdu> {
  const state: StateMap<Pdu> = new Map();
  for (const ae of authEvents) {
    if (typeof ae.state_key === "string") state.set(stateKey(ae.type, ae.state_key), ae);
  }
  const ck = stateKey("m.room.create", "");
  if (createEvent && !state.has(ck)) state.set(ck, createEvent);
  return state;
}

// ---------------------------------------------------------------------------
// The rules

/**
 * Checks `event` against the auth rules of `version`, given the state it is
 * authorised against.
 *
 * `authState` maps stateKey(type, state_key) (from src/pdu.ts) to the event;
 * it always contains the m.room.create event when one exists (also for v12,
 * where it is not listed in auth_events).
 */
export function checkEventAuth(
  version: RoomVersion,
  event: Pdu,
  authState: StateMap<Pdu>,
  options: AuthOptions = {},
): AuthResult {
  // Rule 1: m.room.create
  if (event.type === "m.room.create") return checkCreateEvent(version, event);

  const ctx = new AuthContext(version, event, authState, options);
  const create = ctx.create;
  // v1–v11 rule 2.4: there must be a create event; v12 rule 2: the room id
  // must be that of an accepted create event.
  if (!create) return reject("no m.room.create event in the auth state");
  const roomCheck = checkRoom(ctx, create);
  if (!roomCheck.ok) return roomCheck;

  // Rule 3/3/4: m.federate
  if (create.content["m.federate"] === false && domainOf(event.sender) !== domainOf(create.sender)) {
    return reject("room is not federated and the sender is not on the creator's server");
  }

  // v1–v5 rule 4: m.room.aliases
  if (version.specialCaseAliasesAuth && event.type === "m.room.aliases") return checkAliasesEvent(event);

  // Rule 5/4/5: m.room.member
  if (event.type === "m.room.member") return checkMemberEvent(ctx);

  // Rule 6/5/6: the sender must be joined
  if (ctx.membership(event.sender) !== "join") return reject(`${event.sender} is not joined to the room`);

  // Rule 7/6/7: m.room.third_party_invite
  if (event.type === "m.room.third_party_invite") {
    return ctx.power(event.sender) >= inviteLevel(version, ctx.powerLevels)
      ? ALLOW
      : reject("sender's power level is below the invite level");
  }

  // Rule 8/7/8: the event type's required power level
  const required = requiredPowerForEvent(version, event, ctx.powerLevels);
  if (required > ctx.power(event.sender)) {
    return reject(`sending ${event.type} requires power level ${required}`);
  }

  // Rule 9/8/9: state keys that are user ids belong to that user
  if (typeof event.state_key === "string" && event.state_key.startsWith("@") && event.state_key !== event.sender) {
    return reject("state_key is a user id other than the sender's");
  }

  // Rule 10/9/10: m.room.power_levels
  if (event.type === "m.room.power_levels") return checkPowerLevelsEvent(ctx);

  // v1–v2 rule 11: m.room.redaction (v3+: checked when applying the redaction instead)
  if (version.redactionAuthRule && event.type === "m.room.redaction") return checkRedactionV1(ctx);

  // Rule 12/10/11 (v1–v2: 12; v3–v5: 11)
  return ALLOW;
}

/** Convenience: `checkEventAuth` with the version looked up by id; unknown versions are rejected. */
export function checkEventAuthById(
  roomVersionId: string,
  event: Pdu,
  authState: StateMap<Pdu>,
  options?: AuthOptions,
): AuthResult {
  const version = getRoomVersion(roomVersionId);
  if (!version) return reject(`unknown room version ${roomVersionId}`);
  return checkEventAuth(version, event, authState, options);
}

/** What the rules look up in the state, memoised per check. */
class AuthContext {
  readonly create: Pdu | undefined;
  readonly powerLevelsEvent: Pdu | undefined;
  readonly powerLevels: PowerLevelsContent | undefined;
  constructor(
    readonly version: RoomVersion,
    readonly event: Pdu,
    readonly state: StateMap<Pdu>,
    readonly options: AuthOptions,
  ) {
    this.create = state.get(stateKey("m.room.create", ""));
    this.powerLevelsEvent = state.get(stateKey("m.room.power_levels", ""));
    this.powerLevels = this.powerLevelsEvent
      ? readPowerLevelsContent(version, this.powerLevelsEvent.content)
      : undefined;
  }
  /** The user's current membership, `undefined` if they have no member event. */
  membership(userId: string): string | undefined {
    const m = this.state.get(stateKey("m.room.member", userId))?.content["membership"];
    return typeof m === "string" ? m : undefined;
  }
  power(userId: string): number {
    return userPowerLevel(this.version, userId, this.create, this.powerLevels);
  }
  /** The current join rule. Without an m.room.join_rules event (or without `join_rule` in it) the room is invite-only. */
  joinRule(): string {
    const jr = this.state.get(stateKey("m.room.join_rules", ""))?.content["join_rule"];
    return typeof jr === "string" ? jr : "invite";
  }
  /** An event's id: from the hook, else `event_id` in v1–v2 (v3+ ids are hashes and any `event_id` field is not trusted). */
  eventId(pdu: Pdu): string | undefined {
    const fromHook = this.options.eventId?.(pdu);
    if (fromHook !== undefined) return fromHook;
    return this.version.eventFormat === "v1" && typeof pdu.event_id === "string" ? pdu.event_id : undefined;
  }
  /** The create event's id: from the hook, `event_id` (v1–v2), or the room id (v12: `!x` ↔ `$x`). */
  createEventId(): string | undefined {
    if (!this.create) return undefined;
    const id = this.eventId(this.create);
    if (id !== undefined) return id;
    if (this.version.roomIdFromCreateEvent && typeof this.event.room_id === "string" && this.event.room_id.startsWith("!")) {
      return "$" + this.event.room_id.slice(1);
    }
    return undefined;
  }
}

/**
 * v12 rule 2 (the room id is the create event's id with `!` for `$`) and
 * rule 2.5/3.5 applied to the state used: every event the auth events
 * selection would pick must be in the event's room.
 */
function checkRoom(ctx: AuthContext, create: Pdu): AuthResult {
  const { version, event } = ctx;
  if (typeof event.room_id !== "string") return reject("event has no room_id");
  if (version.roomIdFromCreateEvent) {
    // v12 rule 2. Only checkable when the create event's id is known.
    const id = ctx.options.eventId?.(create);
    if (id !== undefined && event.room_id !== "!" + id.slice(1)) {
      return reject("room_id is not the id of the room's create event");
    }
    if (create.room_id !== undefined) return reject("the v12 create event must not have a room_id");
  }
  for (const [type, key] of authTypesForEvent(version, event)) {
    const ae = ctx.state.get(stateKey(type, key));
    if (ae && ae.room_id !== event.room_id) return reject(`auth event (${type}, ${JSON.stringify(key)}) is in another room`);
  }
  return ALLOW;
}

// ---------------------------------------------------------------------------
// Rule 1: m.room.create

/** Rule 1: the create event. */
export function checkCreateEvent(version: RoomVersion, event: Pdu): AuthResult {
  // 1.1: no prev_events
  if (event.prev_events.length > 0) return reject("the create event must have no prev_events");
  if (version.roomIdFromCreateEvent) {
    // v12 1.2: no room_id at all (the room id is derived from the event id)
    if (event.room_id !== undefined) return reject("the create event must not have a room_id");
  } else {
    // 1.2: the room id's domain is the sender's
    if (typeof event.room_id !== "string") return reject("the create event has no room_id");
    const roomDomain = domainOf(event.room_id);
    if (roomDomain === undefined || roomDomain !== domainOf(event.sender)) {
      return reject("the room id's domain does not match the sender's");
    }
  }
  // 1.3: content.room_version, when present, is a known version (absent means "1")
  if ("room_version" in event.content) {
    const rv = event.content["room_version"];
    if (typeof rv !== "string" || getRoomVersion(rv) === undefined) {
      return reject("content.room_version is not a recognised room version");
    }
  }
  // v1–v10 1.4: content.creator is required (v11+: the sender is the creator)
  if (!version.implicitRoomCreator && !("creator" in event.content)) {
    return reject("content has no creator");
  }
  // v12 1.4: additional_creators, when present, is an array of valid user ids
  if (version.privilegedCreators && "additional_creators" in event.content) {
    const extra = event.content["additional_creators"];
    if (!Array.isArray(extra) || !extra.every((u) => typeof u === "string" && isValidUserId(u))) {
      return reject("additional_creators is not an array of valid user ids");
    }
  }
  // 1.5
  return ALLOW;
}

// ---------------------------------------------------------------------------
// v1–v5 rule 4: m.room.aliases

function checkAliasesEvent(event: Pdu): AuthResult {
  // 4.1
  if (typeof event.state_key !== "string") return reject("m.room.aliases must have a state_key");
  // 4.2
  if (event.state_key !== domainOf(event.sender)) return reject("m.room.aliases state_key is not the sender's domain");
  // 4.3
  return ALLOW;
}

// ---------------------------------------------------------------------------
// Rule 5/4/5: m.room.member

function checkMemberEvent(ctx: AuthContext): AuthResult {
  const { version, event } = ctx;
  const target = event.state_key;
  const membership = event.content["membership"];
  // .1: state_key and content.membership are required
  if (typeof target !== "string") return reject("m.room.member without a state_key");
  if (!("membership" in event.content)) return reject("m.room.member without content.membership");

  // v8+ .2: join_authorised_via_users_server must come with that server's signature
  if (version.restrictedJoinRule && "join_authorised_via_users_server" in event.content) {
    const via = event.content["join_authorised_via_users_server"];
    const server = typeof via === "string" ? domainOf(via) : undefined;
    if (server === undefined) return reject("join_authorised_via_users_server is not a user id");
    const sigs = event.signatures[server];
    if (!isJsonObject(sigs) || Object.keys(sigs).length === 0) {
      return reject(`not signed by ${server}, the server of join_authorised_via_users_server`);
    }
    if (ctx.options.verifyServerSignature && !ctx.options.verifyServerSignature(event, server)) {
      return reject(`invalid signature from ${server}, the server of join_authorised_via_users_server`);
    }
  }

  switch (membership) {
    case "join":
      return checkJoin(ctx, target);
    case "invite":
      return checkInvite(ctx, target);
    case "leave":
      return checkLeave(ctx, target);
    case "ban":
      return checkBan(ctx, target);
    case "knock":
      // v7+ only; before that knock is an unknown membership.
      if (version.knockJoinRule) return checkKnock(ctx, target);
      return reject("unknown membership knock");
    default:
      // last step: unknown membership
      return reject(`unknown membership ${JSON.stringify(membership)}`);
  }
}

/** Member rule, membership `join` (5.2 in v1–v5, 4.2 in v6–v7, 4.3 in v8–v11, 5.3 in v12). */
function checkJoin(ctx: AuthContext, target: string): AuthResult {
  const { version, event } = ctx;
  // .1: the creator's own join directly after the create event
  const prevs = prevEventIds(event);
  if (prevs.length === 1) {
    const creator = version.implicitRoomCreator
      ? ctx.create?.sender
      : (ctx.create?.content["creator"] as unknown);
    if (typeof creator === "string" && creator === target) {
      const createId = ctx.createEventId();
      const onlyCreateBefore =
        createId !== undefined ? prevs[0] === createId : onlyReferencesCreate(event);
      if (onlyCreateBefore) return ALLOW;
    }
  }
  // .2: nobody can join somebody else
  if (event.sender !== target) return reject("cannot join on behalf of another user");
  const current = ctx.membership(target);
  // .3: banned users cannot join
  if (current === "ban") return reject(`${target} is banned`);
  const joinRule = ctx.joinRule();
  // .4: invite (and v7+ knock): only the invited or already joined
  if (joinRule === "invite" || (version.knockJoinRule && joinRule === "knock")) {
    return current === "invite" || current === "join" ? ALLOW : reject(`${target} is not invited`);
  }
  // v8+ .5: restricted (and v10+ knock_restricted)
  if (
    (version.restrictedJoinRule && joinRule === "restricted") ||
    (version.knockRestrictedJoinRule && joinRule === "knock_restricted")
  ) {
    // .5.1
    if (current === "invite" || current === "join") return ALLOW;
    // .5.2: the authorising user must be joined and able to invite
    const via = event.content["join_authorised_via_users_server"];
    if (typeof via !== "string") return reject("restricted join without join_authorised_via_users_server");
    if (ctx.membership(via) !== "join") return reject(`authorising user ${via} is not joined`);
    if (ctx.power(via) < inviteLevel(version, ctx.powerLevels)) {
      return reject(`authorising user ${via} cannot invite`);
    }
    // .5.3
    return ALLOW;
  }
  // .6: public
  if (joinRule === "public") return ALLOW;
  // .7
  return reject(`join rule ${joinRule} does not allow joining`);
}

/**
 * Fallback for "the only previous event is the m.room.create event" when the
 * create event's id is unknown (v3–v11 without the `eventId` hook): the event
 * lists exactly one prev event and exactly one auth event, and they are the
 * same. Rule 2 (checkAuthEventsMatch: the auth events must include the create
 * event) then makes that single event the create event.
 */
function onlyReferencesCreate(event: Pdu): boolean {
  const prevs = prevEventIds(event);
  const auths = authEventIds(event);
  return prevs.length === 1 && auths.length === 1 && prevs[0] === auths[0];
}

/** Member rule, membership `invite`. */
function checkInvite(ctx: AuthContext, target: string): AuthResult {
  const { version, event } = ctx;
  const current = ctx.membership(target);
  // .1: third-party invites
  if ("third_party_invite" in event.content) {
    // .1.1
    if (current === "ban") return reject(`${target} is banned`);
    const tpi = event.content["third_party_invite"];
    // .1.2
    const signed = isJsonObject(tpi) ? tpi["signed"] : undefined;
    if (!isJsonObject(signed)) return reject("third_party_invite has no signed object");
    // .1.3
    const mxid = signed["mxid"];
    const token = signed["token"];
    if (typeof mxid !== "string" || typeof token !== "string") return reject("third_party_invite.signed lacks mxid or token");
    // .1.4
    if (mxid !== target) return reject("third_party_invite.signed.mxid does not match the state_key");
    // .1.5
    const invite = ctx.state.get(stateKey("m.room.third_party_invite", token));
    if (!invite) return reject("no m.room.third_party_invite for the token");
    // .1.6
    if (invite.sender !== event.sender) return reject("sender did not send the m.room.third_party_invite");
    // .1.7 / .1.8
    return thirdPartySignedMatches(signed, invite, ctx.options)
      ? ALLOW
      : reject("no signature in third_party_invite.signed matches the invite's public keys");
  }
  // .2
  if (ctx.membership(event.sender) !== "join") return reject(`${event.sender} is not joined to the room`);
  // .3
  if (current === "join" || current === "ban") return reject(`${target} is ${current === "join" ? "already joined" : "banned"}`);
  // .4 / .5
  return ctx.power(event.sender) >= inviteLevel(version, ctx.powerLevels)
    ? ALLOW
    : reject("sender's power level is below the invite level");
}

/** Member rule, membership `leave`. */
function checkLeave(ctx: AuthContext, target: string): AuthResult {
  const { version, event } = ctx;
  const current = ctx.membership(target);
  // .1: leaving oneself (or rejecting an invite / v7+ rescinding a knock)
  if (event.sender === target) {
    const ok = current === "invite" || current === "join" || (version.knockJoinRule && current === "knock");
    return ok ? ALLOW : reject(`${target} cannot leave with membership ${current ?? "none"}`);
  }
  // .2
  if (ctx.membership(event.sender) !== "join") return reject(`${event.sender} is not joined to the room`);
  const senderPower = ctx.power(event.sender);
  // .3: unbanning needs the ban level
  if (current === "ban" && senderPower < banLevel(version, ctx.powerLevels)) {
    return reject("sender's power level is below the ban level");
  }
  // .4 / .5: kicking needs the kick level and more power than the target
  if (senderPower >= kickLevel(version, ctx.powerLevels) && ctx.power(target) < senderPower) return ALLOW;
  return reject("sender cannot kick this user");
}

/** Member rule, membership `ban`. */
function checkBan(ctx: AuthContext, target: string): AuthResult {
  const { version, event } = ctx;
  // .1
  if (ctx.membership(event.sender) !== "join") return reject(`${event.sender} is not joined to the room`);
  // .2 / .3
  const senderPower = ctx.power(event.sender);
  if (senderPower >= banLevel(version, ctx.powerLevels) && ctx.power(target) < senderPower) return ALLOW;
  return reject("sender cannot ban this user");
}

/** Member rule, membership `knock` (v7+). */
function checkKnock(ctx: AuthContext, target: string): AuthResult {
  const { version, event } = ctx;
  const joinRule = ctx.joinRule();
  // .1: join rule knock (v10+: or knock_restricted)
  if (!(joinRule === "knock" || (version.knockRestrictedJoinRule && joinRule === "knock_restricted"))) {
    return reject(`join rule ${joinRule} does not allow knocking`);
  }
  // .2
  if (event.sender !== target) return reject("cannot knock on behalf of another user");
  // .3 / .4
  const current = ctx.membership(event.sender);
  return current === "ban" || current === "invite" || current === "join"
    ? reject(`cannot knock with membership ${current}`)
    : ALLOW;
}

// ---------------------------------------------------------------------------
// Third-party invites

/**
 * Member rule, invite step 1.7: whether any signature in `signed` verifies
 * under any public key of the m.room.third_party_invite event (`public_key`,
 * and each `public_keys[].public_key`). Only `ed25519:` key ids are tried.
 */
export function thirdPartySignedMatches(signed: JsonObject, invite: Pdu, options: AuthOptions = {}): boolean {
  const verify = options.verifyThirdPartySigned ?? verifySignedWithPublicKey;
  const keys: string[] = [];
  const single = invite.content["public_key"];
  if (typeof single === "string") keys.push(single);
  const list = invite.content["public_keys"];
  if (Array.isArray(list)) {
    for (const entry of list) {
      if (isJsonObject(entry) && typeof entry["public_key"] === "string") keys.push(entry["public_key"]);
    }
  }
  const signatures = signed["signatures"];
  if (!isJsonObject(signatures)) return false;
  for (const publicKey of keys) {
    for (const [server, block] of Object.entries(signatures)) {
      if (!isJsonObject(block)) continue;
      for (const keyId of Object.keys(block)) {
        if (!keyId.startsWith("ed25519:")) continue;
        if (verify(signed, server, keyId, publicKey)) return true;
      }
    }
  }
  return false;
}

/**
 * Verifies `obj.signatures[serverName][keyId]` as an ed25519 signature over
 * the canonical JSON of `obj` without `signatures` and `unsigned`, under the
 * given public key (src/signing.ts). Public key and signature are unpadded
 * base64; the URL-safe alphabet is accepted too, as identity servers are not
 * consistent about it. Never throws.
 */
export function verifySignedWithPublicKey(
  obj: JsonObject,
  serverName: string,
  keyId: string,
  publicKeyBase64: string,
): boolean {
  const sig = getSignature(obj, serverName, keyId);
  if (sig === undefined) return false;
  const normalised = { ...obj, signatures: { [serverName]: { [keyId]: toStandardBase64(sig) } } };
  return verifyJsonSignature(normalised, serverName, keyId, toStandardBase64(publicKeyBase64), { strict: false });
}

function toStandardBase64(s: string): string {
  return s.replace(/-/g, "+").replace(/_/g, "/");
}

// ---------------------------------------------------------------------------
// Rule 10/9/10: m.room.power_levels

function checkPowerLevelsEvent(ctx: AuthContext): AuthResult {
  const { version, event } = ctx;
  // v10+ .1–.3 (v1–v9 .1): the content must be well-formed (see parsePowerLevelsContent)
  const parsed = parsePowerLevelsContent(version, event.content);
  if (!parsed.ok) return reject(parsed.reason);
  const next = parsed.value;

  // v12 .4: creators cannot be listed in users
  if (version.privilegedCreators && next.users) {
    for (const creator of roomCreators(version, ctx.create)) {
      if (next.users.has(creator)) return reject(`room creator ${creator} cannot be listed in users`);
    }
  }

  // .2/.4/.5: no previous power levels event → allow
  if (!ctx.powerLevelsEvent) return ALLOW;
  const current = ctx.powerLevels ?? {};
  const senderPower = ctx.power(event.sender);

  // .3/.5/.6: top-level levels that were added, changed or removed
  for (const key of POWER_LEVEL_INT_KEYS) {
    const before = current[key];
    const after = next[key];
    if (before === after) continue;
    if (before !== undefined && before > senderPower) return reject(`cannot change ${key} from a level above your own`);
    if (after !== undefined && after > senderPower) return reject(`cannot set ${key} above your own level`);
  }

  // .4–.5/.6–.7/.7–.8: events (v6+: and notifications)
  const mapKeys = version.limitNotificationsPowerLevels ? (["events", "notifications"] as const) : (["events"] as const);
  for (const mapKey of mapKeys) {
    const before = current[mapKey] ?? new Map<string, number>();
    const after = next[mapKey] ?? new Map<string, number>();
    for (const k of new Set([...before.keys(), ...after.keys()])) {
      const b = before.get(k);
      const a = after.get(k);
      if (b === a) continue;
      // changed or removed: the current value must not exceed the sender's level
      if (b !== undefined && b > senderPower) return reject(`cannot change ${mapKey}[${k}] from a level above your own`);
      // added or changed: the new value must not exceed the sender's level
      if (a !== undefined && a > senderPower) return reject(`cannot set ${mapKey}[${k}] above your own level`);
    }
  }

  // .6–.7/.8–.9/.9–.10: users
  const before = current.users ?? new Map<string, number>();
  const after = next.users ?? new Map<string, number>();
  for (const user of new Set([...before.keys(), ...after.keys()])) {
    const b = before.get(user);
    const a = after.get(user);
    if (b === a) continue;
    // changed or removed, other than the sender's own entry: current value must be below the sender's level
    if (b !== undefined && user !== event.sender && b >= senderPower) {
      return reject(`cannot change the level of ${user}, who has at least your level`);
    }
    // added or changed: new value must not exceed the sender's level
    if (a !== undefined && a > senderPower) return reject(`cannot give ${user} a level above your own`);
  }
  // .8/.10/.11
  return ALLOW;
}

// ---------------------------------------------------------------------------
// v1–v2 rule 11: m.room.redaction

function checkRedactionV1(ctx: AuthContext): AuthResult {
  const { version, event } = ctx;
  // 11.1: the redact level
  if (ctx.power(event.sender) >= redactLevel(version, ctx.powerLevels)) return ALLOW;
  // 11.2: redacting an event from one's own server (by event id domain)
  const ownId = ctx.eventId(event);
  const redacts = event.redacts;
  if (typeof ownId === "string" && typeof redacts === "string") {
    const mine = domainOf(ownId);
    if (mine !== undefined && mine === domainOf(redacts)) return ALLOW;
  }
  // 11.3
  return reject("sender may not redact this event");
}
