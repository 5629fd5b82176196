/**
 * POST /rooms/{roomId}/upgrade, carried out (room_upgrades.md "Server behaviour"; the
 * plan itself is src/room-upgrade.ts). The Room DOs of the two rooms are separate
 * single writers, so the steps are ordered to leave nothing half-done that matters:
 *
 * - v12+ target: the new room's create event is built here (its hash is the room id),
 *   the room is created with its state, then the tombstone goes to the old room — the
 *   order Synapse uses. `predecessor` has no `event_id` (it cannot name the tombstone).
 * - older targets: the room id is chosen first, the tombstone is sent, and the new room
 *   is created with `predecessor.event_id` naming the tombstone.
 *
 * Then, as Synapse, best effort: local aliases and the canonical alias move, the
 * directory entry moves, the old room's power levels are restricted and the new
 * room's restored. Failures there are logged; the upgrade has happened.
 */
import { buildEvent, type EventTemplate } from "../../src/event-builder.js";
import { MatrixError, forbidden, notFound } from "../../src/errors.js";
import { generateLegacyRoomId, roomIdFromCreateEvent } from "../../src/event-id.js";
import type { JsonObject } from "../../src/json.js";
import { COPIED_STATE_TYPES, type OldStateEvent, type UpgradeInput, planUpgrade, splitCanonicalAlias } from "../../src/room-upgrade.js";
import type { RoomVersion } from "../../src/room-versions.js";
import type { Env } from "../../services/env.js";
import { getServerKeys } from "../../services/server-keys.js";
import { authSnapshot, canSendState, currentStateOfTypes } from "./room-power.js";
import { membershipOf } from "../../services/d1/room-memberships.js";
import { moveAliasesStatement } from "../../services/d1/room-aliases.js";
import { isPublished, publishRoomStatement, unpublishRoomStatement } from "../../services/d1/room-directory.js";
import { memberProfile, roomStub } from "./room-rpc.js";
import { unwrap } from "../../src/room-result.js";

/** Bans carried over to the new room. */
const MAX_BANS = 1000;

async function sendState(env: Env, roomId: string, sender: string, type: string, content: JsonObject): Promise<string> {
  return (await unwrap(roomStub(env, roomId).send({ type, state_key: "", content, sender }))).eventId;
}

async function bestEffort(what: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if (!(e instanceof MatrixError)) throw e;
    console.log(`room upgrade: ${what} failed: ${e.errcode} ${e.message}`);
  }
}

export async function upgradeRoom(env: Env, userId: string, oldRoomId: string, newVersion: RoomVersion, additionalCreators: string[] | undefined): Promise<string> {
  const db = env.DB;
  const snap = await authSnapshot(db, oldRoomId);
  if (!snap || !snap.create) throw notFound(`Unknown room id ${oldRoomId}`);
  // Step 1: the upgrader must be able to send m.room.tombstone (the Room DO checks again when it is sent).
  if ((await membershipOf(db, oldRoomId, userId)) !== "join" || !canSendState(snap, userId, "m.room.tombstone")) {
    throw forbidden("You cannot upgrade this room");
  }

  const [state, banRows, profile] = await Promise.all([
    currentStateOfTypes(db, oldRoomId, [...COPIED_STATE_TYPES, "m.space.child", "m.room.canonical_alias"]),
    db
      .prepare("SELECT e.json FROM room_memberships m JOIN room_events e ON e.event_id = m.event_id WHERE m.room_id = ? AND m.membership = 'ban' LIMIT ?")
      .bind(oldRoomId, MAX_BANS)
      .all<{ json: string }>(),
    memberProfile(db, userId),
  ]);
  const old = (e: { type: string; state_key: string; content: JsonObject; sender: string }): OldStateEvent => ({
    type: e.type,
    state_key: e.state_key,
    content: e.content,
    sender: e.sender,
  });
  const input: UpgradeInput = {
    oldRoomId,
    oldVersion: snap.version,
    newVersion,
    upgrader: userId,
    upgraderProfile: profile as JsonObject,
    additionalCreators,
    oldCreate: old(snap.create),
    oldPowerLevels: snap.powerLevels ? old(snap.powerLevels) : undefined,
    oldState: state.filter((s) => s.type !== "m.room.canonical_alias").map(old),
    bans: banRows.results.map((r) => old(JSON.parse(r.json) as OldStateEvent)),
  };
  const tombstone = (replacement: string) => sendState(env, oldRoomId, userId, "m.room.tombstone", { body: "This room has been replaced", replacement_room: replacement });

  let newRoomId: string;
  if (newVersion.roomIdFromCreateEvent) {
    const plan = planUpgrade(input);
    const keys = await getServerKeys(env);
    const createEvent = buildEvent(newVersion, { type: "m.room.create", state_key: "", content: plan.createContent, sender: userId }, {
      roomId: undefined,
      prev: [],
      auth: [],
      key: { serverName: env.SERVER_NAME, keyId: keys.keyId, seed: keys.seed },
    });
    newRoomId = roomIdFromCreateEvent(createEvent.pdu, newVersion);
    await unwrap(env.ROOM.getByName(newRoomId).createRoom({ roomId: newRoomId, roomVersion: newVersion.id, createEvent, events: plan.events as EventTemplate[] }));
    await tombstone(newRoomId);
    await finish(env, userId, oldRoomId, newRoomId, plan.restorePowerLevels, plan.oldRoomPowerLevels, state);
  } else {
    newRoomId = generateLegacyRoomId(env.SERVER_NAME);
    const tombstoneId = await tombstone(newRoomId);
    const plan = planUpgrade({ ...input, predecessorEventId: tombstoneId });
    const create: EventTemplate = { type: "m.room.create", state_key: "", content: plan.createContent, sender: userId };
    await unwrap(env.ROOM.getByName(newRoomId).createRoom({ roomId: newRoomId, roomVersion: newVersion.id, events: [create, ...(plan.events as EventTemplate[])] }));
    await finish(env, userId, oldRoomId, newRoomId, plan.restorePowerLevels, plan.oldRoomPowerLevels, state);
  }
  return newRoomId;
}

async function finish(
  env: Env,
  userId: string,
  oldRoomId: string,
  newRoomId: string,
  restorePowerLevels: JsonObject | undefined,
  oldRoomPowerLevels: JsonObject | undefined,
  oldState: Array<{ type: string; state_key: string; content: JsonObject }>,
): Promise<void> {
  const db = env.DB;
  // Step 4: local aliases move; so does the directory entry (Synapse's transfer_room_state_on_room_upgrade).
  const published = await isPublished(db, oldRoomId);
  await db.batch([
    moveAliasesStatement(db, oldRoomId, newRoomId),
    ...(published ? [unpublishRoomStatement(db, oldRoomId), publishRoomStatement(db, newRoomId, Date.now())] : []),
  ]);
  const canonical = oldState.find((s) => s.type === "m.room.canonical_alias" && s.state_key === "");
  if (canonical) {
    const split = splitCanonicalAlias(canonical.content, env.SERVER_NAME);
    if (JSON.stringify(split.old) !== JSON.stringify(canonical.content)) {
      await bestEffort("updating the old room's canonical alias", () => sendState(env, oldRoomId, userId, "m.room.canonical_alias", split.old));
    }
    if (Object.keys(split.new).length) {
      await bestEffort("setting the new room's canonical alias", () => sendState(env, newRoomId, userId, "m.room.canonical_alias", split.new));
    }
  }
  // Step 6, and undoing the temporary raise in the new room.
  if (oldRoomPowerLevels) await bestEffort("restricting the old room's power levels", () => sendState(env, oldRoomId, userId, "m.room.power_levels", oldRoomPowerLevels));
  if (restorePowerLevels) await bestEffort("restoring the new room's power levels", () => sendState(env, newRoomId, userId, "m.room.power_levels", restorePowerLevels));
}
