/**
 * Building, hashing and signing a local event (server-server-api "PDUs"):
 * references, depth, content hash, signature, event id, size limit. Pure: the
 * Room DO passes in the room's extremities and auth events. Also used by the
 * Worker to build a v12 create event, whose hash is the room id.
 */
import { CanonicalJsonError, canonicalJsonBytes } from "./canonical-json.js";
import { MatrixError } from "./errors.js";
import { eventIdFor, generateLegacyEventId } from "./event-id.js";
import { computeReferenceHash, signEvent } from "./hashes.js";
import { encodeBase64 } from "./base64.js";
import type { JsonObject } from "./json.js";
import { assertJsonLimits, MAX_JSON_DEPTH } from "./json-limits.js";
import type { EventReference, Pdu } from "./pdu.js";
import type { RoomVersion } from "./room-versions.js";

/** The spec's PDU size limit (rooms/fragments: 65,536 bytes of canonical JSON). */
export const MAX_PDU_BYTES = 65_536;

export interface EventTemplate {
  type: string;
  sender: string;
  content: JsonObject;
  state_key?: string;
  /** Redactions in v1–v10 name their target at the top level. */
  redacts?: string;
}

export interface SigningKeyMaterial {
  serverName: string;
  keyId: string;
  seed: Uint8Array;
}

export interface Ref {
  eventId: string;
  pdu: Pdu;
}

function reference(version: RoomVersion, ref: Ref): EventReference {
  if (version.eventFormat !== "v1") return ref.eventId;
  return [ref.eventId, { sha256: encodeBase64(computeReferenceHash(ref.pdu, version)) }];
}

/**
 * 400 M_BAD_JSON unless the template can become an event of `version`: canonical
 * JSON throughout (v6+: integers within ±(2^53−1) only, rooms/fragments/v6-canonical-json.md;
 * any version: finite numbers and well-formed strings, which UTF-8 needs) and content
 * no deeper than a request body may be. Checked iteratively, before hashing and
 * signing recurse into it.
 */
export function checkEventTemplate(version: RoomVersion, t: EventTemplate): void {
  assertJsonLimits(t, "Event", {
    // The template is one level above its content.
    maxDepth: MAX_JSON_DEPTH + 1,
    numbers: version.strictCanonicalJson ? "integer" : "finite",
    wellFormedStrings: true,
  });
}

export function buildEvent(
  version: RoomVersion,
  t: EventTemplate,
  ctx: { roomId: string | undefined; prev: Ref[]; auth: Ref[]; key: SigningKeyMaterial; now?: number },
): { eventId: string; pdu: Pdu } {
  checkEventTemplate(version, t);
  const depth = ctx.prev.length ? Math.min(Math.max(...ctx.prev.map((p) => p.pdu.depth)) + 1, Number.MAX_SAFE_INTEGER) : 1;
  const base: Pdu = {
    type: t.type,
    sender: t.sender,
    content: t.content,
    origin_server_ts: ctx.now ?? Date.now(),
    depth,
    prev_events: ctx.prev.map((p) => reference(version, p)),
    auth_events: ctx.auth.map((a) => reference(version, a)),
    hashes: { sha256: "" },
    signatures: {},
  };
  if (ctx.roomId !== undefined) base.room_id = ctx.roomId;
  if (t.state_key !== undefined) base.state_key = t.state_key;
  if (t.redacts !== undefined && version.redaction !== "v11") base.redacts = t.redacts;
  // `origin` is only part of the event format before v11 (MSC3989 dropped it).
  if (version.redaction !== "v11") base.origin = ctx.key.serverName;
  if (version.eventFormat === "v1") base.event_id = generateLegacyEventId(ctx.key.serverName);
  const { hashes: _h, signatures: _s, ...unsignedPdu } = base;
  let signed: Pdu;
  let size: number;
  try {
    signed = signEvent(unsignedPdu, version, ctx.key.serverName, ctx.key.keyId, ctx.key.seed) as Pdu;
    size = canonicalJsonBytes(signed, { strict: version.strictCanonicalJson }).byteLength;
  } catch (e) {
    if (!(e instanceof CanonicalJsonError)) throw e;
    throw new MatrixError("M_BAD_JSON", `Event content cannot be canonicalised: ${e.message}`, 400);
  }
  if (size > MAX_PDU_BYTES) throw new MatrixError("M_TOO_LARGE", "Event is larger than 65536 bytes", 413);
  return { eventId: eventIdFor(signed, version), pdu: signed };
}
