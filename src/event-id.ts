/**
 * Event ids, and room ids derived from or generated like them.
 *
 * - Rooms v1/v2 (rooms/fragments/v1-event-ids.md): `$opaque_id:domain`, chosen by
 *   the sending server and carried in the PDU's `event_id`.
 * - Room v3 (rooms/v3 "Event IDs"): `$` + standard unpadded base64 of the
 *   reference hash.
 * - Rooms v4+ (rooms/fragments/v4-event-ids.md): `$` + URL-safe unpadded base64 of
 *   the reference hash.
 * - Room ids before v12 (appendices "Room IDs"): `!opaque_id:domain`.
 * - Room ids from v12 (rooms/v12, MSC4291): the create event's event id with `!`
 *   instead of `$`.
 */
import { encodeBase64, encodeBase64Url } from "./base64.js";
import { computeReferenceHash } from "./hashes.js";
import { isValidEventId, isValidServerName } from "./identifiers.js";
import type { Pdu } from "./pdu.js";
import { getRoomVersion, type RoomVersion } from "./room-versions.js";

type EventLike = Pdu | Readonly<Record<string, unknown>>;

export class EventIdError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EventIdError";
  }
}

function resolve(roomVersion: RoomVersion | string): RoomVersion {
  if (typeof roomVersion !== "string") return roomVersion;
  const rv = getRoomVersion(roomVersion);
  if (!rv) throw new EventIdError(`unknown room version ${JSON.stringify(roomVersion)}`);
  return rv;
}

/**
 * The event id of `pdu` in a room of `roomVersion`. For v1/v2 rooms this is the
 * PDU's own `event_id` (which must be present and well-formed); otherwise it is
 * computed from the reference hash. Throws EventIdError / CanonicalJsonError.
 */
export function eventIdFor(pdu: EventLike, roomVersion: RoomVersion | string): string {
  const rv = resolve(roomVersion);
  switch (rv.eventFormat) {
    case "v1": {
      const id = (pdu as { event_id?: unknown }).event_id;
      if (typeof id !== "string" || !isValidEventId(id, "v1")) throw new EventIdError("v1/v2 event without a valid event_id");
      return id;
    }
    case "v3":
      return "$" + encodeBase64(computeReferenceHash(pdu, rv));
    case "v4":
      return "$" + encodeBase64Url(computeReferenceHash(pdu, rv));
  }
}

/**
 * The room id of a room whose version derives it from the create event (v12+):
 * `!` + URL-safe unpadded base64 of the create event's reference hash.
 */
export function roomIdFromCreateEvent(createPdu: EventLike, roomVersion: RoomVersion | string = "12"): string {
  const rv = resolve(roomVersion);
  if (!rv.roomIdFromCreateEvent) throw new EventIdError(`room version ${rv.id} does not derive room ids from the create event`);
  if ((createPdu as { type?: unknown }).type !== "m.room.create") throw new EventIdError("not an m.room.create event");
  return "!" + encodeBase64Url(computeReferenceHash(createPdu, rv));
}

/** v12+: the event id of a room's create event, given the room id (`!x` → `$x`). */
export function createEventIdFromRoomId(roomId: string): string {
  if (!roomId.startsWith("!")) throw new EventIdError("not a room id");
  return "$" + roomId.slice(1);
}

/** v12+: the room id for a create event id (`$x` → `!x`). */
export function roomIdFromCreateEventId(eventId: string): string {
  if (!eventId.startsWith("$")) throw new EventIdError("not an event id");
  return "!" + eventId.slice(1);
}

export type RandomSource = (bytes: Uint8Array) => void;

const defaultRandom: RandomSource = (b) => void crypto.getRandomValues(b);

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** `length` uniformly random alphanumeric characters (rejection sampling, no bias). */
export function randomAlphanumeric(length: number, random: RandomSource = defaultRandom): string {
  let out = "";
  const buf = new Uint8Array(Math.max(16, length * 2));
  while (out.length < length) {
    random(buf);
    for (const b of buf) {
      if (b < 248) out += ALNUM[b % 62];
      if (out.length === length) break;
    }
  }
  return out;
}

function assertServerName(serverName: string): void {
  if (!isValidServerName(serverName)) throw new EventIdError(`invalid server name ${JSON.stringify(serverName)}`);
}

/** A fresh v1/v2 event id `$<18 alphanumerics>:serverName`. */
export function generateLegacyEventId(serverName: string, random: RandomSource = defaultRandom): string {
  assertServerName(serverName);
  return `$${randomAlphanumeric(18, random)}:${serverName}`;
}

/** A fresh pre-v12 room id `!<18 alphanumerics>:serverName`. */
export function generateLegacyRoomId(serverName: string, random: RandomSource = defaultRandom): string {
  assertServerName(serverName);
  return `!${randomAlphanumeric(18, random)}:${serverName}`;
}
