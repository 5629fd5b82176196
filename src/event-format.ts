/**
 * PDU format validation per room version (spec: server-server-api "Checks performed
 * on receipt of a PDU" step 1; data/api/server-server/definitions/pdu_v1, pdu_v3,
 * pdu_v4, pdu_v6, pdu_v11, pdu_v12 (+ components/*); client-server-api "Size limits";
 * rooms/fragments/v6-canonical-json.md).
 *
 * What is checked:
 * - the whole PDU is at most 65,536 bytes of canonical JSON (signatures included);
 * - v6+: strict canonical JSON (no floats, integers within ±(2^53−1)) anywhere;
 *   v1–v5: only that it is encodable JSON at all;
 * - required fields and their types; unknown extra keys are allowed (the schemas
 *   do not forbid them);
 * - `sender` is a user id (historical grammar, ≤ 255 bytes), `room_id` a room id of
 *   the version's form, `type` and `state_key` ≤ 255 bytes;
 * - `event_id`: required and `$opaque:domain` in v1/v2; forbidden from v3 (ids are
 *   computed — an `event_id` would silently become part of the reference hash);
 * - `prev_events`/`auth_events`: `[id, {sha256}]` pairs in v1/v2, plain ids after,
 *   with the format's id grammar; at most 20 and 10 entries (per the schemas);
 * - `depth` a non-negative integer (≤ 2^63−1 before v6, ≤ 2^53−1 from v6);
 * - v12: `room_id` is absent on m.room.create and required on everything else.
 *
 * A top-level `redacts`, where present, must be a string in every version (from v11
 * it is ignored by the protocol; this is slightly stricter than the v11 schema).
 */
import { z } from "zod";
import { canonicalJson, CanonicalJsonError } from "./canonical-json.js";
import { isValidEventId, isValidRoomId, isValidUserId, utf8Length } from "./identifiers.js";
import { isJsonObject, type JsonObject } from "./json.js";
import type { Pdu } from "./pdu.js";
import { getRoomVersion, type EventFormat, type RoomVersion } from "./room-versions.js";

/** Spec: client-server-api "Size limits". */
export const MAX_PDU_BYTES = 65536;
/** Per-key limits: `type` and `state_key` (user/room/event ids share the same 255). */
export const MAX_KEY_BYTES = 255;
export const MAX_PREV_EVENTS = 20;
export const MAX_AUTH_EVENTS = 10;
/** pdu_v1/v3/v4: "less than the maximum value for an integer (2^63 - 1)". */
const MAX_DEPTH_V1 = 2 ** 63; // 2^63 − 1 is not a double; JSON.parse rounds it to 2^63.
/** depth_v6.yaml: 2^53 − 1. */
const MAX_DEPTH_V6 = Number.MAX_SAFE_INTEGER;

const integer = z.number().refine(Number.isInteger, "must be an integer");
const jsonObject = z.custom<JsonObject>(isJsonObject, "must be an object");
const byteLimited = (what: string) =>
  z.string().refine((s) => utf8Length(s) <= MAX_KEY_BYTES, `${what} must not exceed ${MAX_KEY_BYTES} bytes`);
const eventId = (format: EventFormat) =>
  z.string().refine((s) => isValidEventId(s, format), `not a valid event id for this room version`);
const eventHash = z.looseObject({ sha256: z.string() });

function commonFields(rv: RoomVersion) {
  return {
    sender: z.string().refine(isValidUserId, "sender is not a valid user id"),
    origin_server_ts: integer,
    type: byteLimited("type"),
    state_key: byteLimited("state_key").optional(),
    content: jsonObject,
    depth: integer
      .refine((d) => d >= 0, "depth must not be negative")
      .refine((d) => d <= (rv.strictCanonicalJson ? MAX_DEPTH_V6 : MAX_DEPTH_V1), "depth too large"),
    hashes: eventHash,
    signatures: z.record(z.string(), z.record(z.string(), z.string())),
    unsigned: jsonObject.optional(),
    redacts: z.string().optional(),
  };
}

const roomId = (rv: RoomVersion) =>
  z.string().refine((s) => isValidRoomId(s, rv), "room_id is not a valid room id for this room version");

/**
 * How many prev and auth events an event may cite. Events served by /backfill (and the
 * state and auth chains fetched with them) are history: their answer "MUST NOT be
 * validated on these specific restrictions" (server-server-api GET /backfill), since
 * events accepted before the limits existed may exceed them.
 */
function refLimits(unlimited: boolean): { prev: number; auth: number } {
  return unlimited ? { prev: Number.MAX_SAFE_INTEGER, auth: Number.MAX_SAFE_INTEGER } : { prev: MAX_PREV_EVENTS, auth: MAX_AUTH_EVENTS };
}

/** Rooms v1–v2 (pdu_v1.yaml). */
export function pduV1Schema(rv: RoomVersion, unlimitedRefs = false) {
  const ref = z.tuple([eventId("v1"), eventHash]);
  const max = refLimits(unlimitedRefs);
  return z.looseObject({
    ...commonFields(rv),
    room_id: roomId(rv),
    event_id: eventId("v1"),
    prev_events: z.array(ref).max(max.prev),
    auth_events: z.array(ref).max(max.auth),
  });
}

/** Rooms v3–v11 (pdu_v3/v4/v6/v11.yaml); v12+ (pdu_v12.yaml) when `roomIdFromCreateEvent`. */
export function pduV3Schema(rv: RoomVersion, unlimitedRefs = false) {
  const ref = eventId(rv.eventFormat);
  const max = refLimits(unlimitedRefs);
  const fields = {
    ...commonFields(rv),
    room_id: roomId(rv).optional(),
    prev_events: z.array(ref).max(max.prev),
    auth_events: z.array(ref).max(max.auth),
  };
  return z.looseObject(fields).superRefine((pdu, ctx) => {
    if (Object.hasOwn(pdu, "event_id")) {
      ctx.addIssue({ code: "custom", path: ["event_id"], message: "event_id must not be present from room version 3" });
    }
    const isCreate = pdu.type === "m.room.create";
    if (rv.roomIdFromCreateEvent && isCreate) {
      if (pdu.room_id !== undefined) {
        ctx.addIssue({ code: "custom", path: ["room_id"], message: "m.room.create must not have a room_id in this room version" });
      }
    } else if (pdu.room_id === undefined) {
      ctx.addIssue({ code: "custom", path: ["room_id"], message: "room_id is required" });
    }
  });
}

export type PduV1 = z.infer<ReturnType<typeof pduV1Schema>>;
export type PduV3 = z.infer<ReturnType<typeof pduV3Schema>>;

const schemaCache = new Map<string, ReturnType<typeof pduV1Schema> | ReturnType<typeof pduV3Schema>>();

/** The zod schema for PDUs of `rv` (cached per version). */
export function pduSchemaFor(rv: RoomVersion, unlimitedRefs = false): ReturnType<typeof pduV1Schema> | ReturnType<typeof pduV3Schema> {
  const key = unlimitedRefs ? `${rv.id}\u0000history` : rv.id;
  let s = schemaCache.get(key);
  if (!s) {
    s = rv.eventFormat === "v1" ? pduV1Schema(rv, unlimitedRefs) : pduV3Schema(rv, unlimitedRefs);
    schemaCache.set(key, s);
  }
  return s;
}

export interface EventFormatError {
  /** M_TOO_LARGE for size limits, M_BAD_JSON for everything else. */
  errcode: "M_TOO_LARGE" | "M_BAD_JSON";
  message: string;
  /** Slash-separated path of the offending field (e.g. `content/n`), when there is one. */
  path?: string;
}

export type EventFormatResult = { ok: true; pdu: Pdu } | { ok: false; error: EventFormatError };

function fail(errcode: EventFormatError["errcode"], message: string, path?: string): EventFormatResult {
  return { ok: false, error: path === undefined || path === "" ? { errcode, message } : { errcode, message, path } };
}

/**
 * Validate an incoming PDU (already JSON-parsed) against `roomVersion`'s event
 * format. On success the *same* object is returned, typed as Pdu (nothing is
 * copied or normalised: hashes and ids must be computed over exactly what arrived).
 * `history`: events pulled as history (/backfill), without the prev/auth count limits.
 */
export function validateEventFormat(input: unknown, roomVersion: RoomVersion | string, opts: { history?: boolean } = {}): EventFormatResult {
  const rv = typeof roomVersion === "string" ? getRoomVersion(roomVersion) : roomVersion;
  if (!rv) return fail("M_BAD_JSON", `unknown room version ${JSON.stringify(roomVersion)}`);
  if (!isJsonObject(input)) return fail("M_BAD_JSON", "event must be a JSON object");

  let encoded: string;
  try {
    encoded = canonicalJson(input, { strict: rv.strictCanonicalJson });
  } catch (e) {
    if (e instanceof CanonicalJsonError) return fail("M_BAD_JSON", e.message, e.path.replace(/^\//, ""));
    throw e;
  }
  // Quick bound first: UTF-8 is at most 3 bytes per UTF-16 unit.
  if (encoded.length * 3 > MAX_PDU_BYTES && utf8Length(encoded) > MAX_PDU_BYTES) {
    return fail("M_TOO_LARGE", `event exceeds ${MAX_PDU_BYTES} bytes of canonical JSON`);
  }

  const parsed = pduSchemaFor(rv, opts.history === true).safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue ? issue.path.map(String).join("/") : "";
    const message = issue ? (path ? `${path}: ${issue.message}` : issue.message) : "invalid event";
    const tooLong = issue?.code === "custom" && /exceed/.test(issue.message);
    return fail(tooLong ? "M_TOO_LARGE" : "M_BAD_JSON", message, path);
  }
  return { ok: true, pdu: input as Pdu };
}
