/**
 * Event hashes and event signatures (spec: server-server-api "Signing Events":
 * "Adding hashes and signatures to outgoing events", "Validating hashes and
 * signatures on received events", "Calculating the reference hash for an event",
 * "Calculating the content hash for an event").
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { encodeBase64, tryDecodeBase64 } from "./base64.js";
import { canonicalJsonBytes } from "./canonical-json.js";
import { eventIdDomain, userIdDomain } from "./identifiers.js";
import type { Pdu } from "./pdu.js";
import { redactEvent } from "./redaction.js";
import { getRoomVersion, type RoomVersion } from "./room-versions.js";
import {
  type KeyLookup,
  type SignatureCheck,
  signJson,
  verifyJsonSignature,
  verifyServerSignature,
} from "./signing.js";

/** Anything event-shaped: a Pdu or a plain JSON object. */
type EventLike = Pdu | Readonly<Record<string, unknown>>;

function resolve(roomVersion: RoomVersion | string): RoomVersion {
  if (typeof roomVersion !== "string") return roomVersion;
  const rv = getRoomVersion(roomVersion);
  if (!rv) throw new Error(`unknown room version ${JSON.stringify(roomVersion)}`);
  return rv;
}

function strictFor(roomVersion: RoomVersion | string | undefined): boolean {
  return roomVersion === undefined ? true : resolve(roomVersion).strictCanonicalJson;
}

function without(obj: EventLike, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    if (!keys.includes(k)) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/**
 * SHA-256 over the canonical JSON of the event without `unsigned`, `signatures`
 * and `hashes` ("Calculating the content hash"). With a room version, v1–v5
 * events may hold floats/big integers (lenient canonical JSON); without one the
 * strict rules apply. Throws CanonicalJsonError if the event cannot be encoded.
 */
export function computeContentHashBytes(pdu: EventLike, roomVersion?: RoomVersion | string): Uint8Array {
  return sha256(canonicalJsonBytes(without(pdu, ["unsigned", "signatures", "hashes"]), { strict: strictFor(roomVersion) }));
}

/** The content hash as unpadded base64 (the value of `hashes.sha256`). */
export function computeContentHash(pdu: EventLike, roomVersion?: RoomVersion | string): string {
  return encodeBase64(computeContentHashBytes(pdu, roomVersion));
}

/**
 * True iff `hashes.sha256` (base64-decoded) equals the computed content hash.
 * False, never a throw, for missing/garbled hashes or unencodable events.
 */
export function checkContentHash(pdu: EventLike, roomVersion?: RoomVersion | string): boolean {
  const hashes = (pdu as { hashes?: unknown }).hashes;
  if (typeof hashes !== "object" || hashes === null) return false;
  const claimed = (hashes as { sha256?: unknown }).sha256;
  if (typeof claimed !== "string") return false;
  const claimedBytes = tryDecodeBase64(claimed);
  if (!claimedBytes || claimedBytes.length !== 32) return false;
  let actual: Uint8Array;
  try {
    actual = computeContentHashBytes(pdu, roomVersion);
  } catch {
    return false;
  }
  let diff = 0;
  for (let i = 0; i < 32; i++) diff |= (actual[i] as number) ^ (claimedBytes[i] as number);
  return diff === 0;
}

/**
 * The reference hash ("Calculating the reference hash for an event"): redact per the
 * room version, drop `signatures` and `unsigned`, SHA-256 the canonical JSON.
 * (`age_ts`, which Synapse also strips, is never kept by redaction.)
 */
export function computeReferenceHash(pdu: EventLike, roomVersion: RoomVersion | string): Uint8Array {
  const rv = resolve(roomVersion);
  const redacted = without(redactEvent(pdu as Readonly<Record<string, unknown>>, rv), ["signatures", "unsigned"]);
  return sha256(canonicalJsonBytes(redacted, { strict: rv.strictCanonicalJson }));
}

/**
 * Hash and sign an outgoing event ("Adding hashes and signatures to outgoing
 * events"): set `hashes.sha256` to the content hash, sign the *redacted* event and
 * copy the resulting signatures (merged with any existing ones) onto the full
 * event. Returns a new object; the input is not modified.
 */
export function signEvent<T extends EventLike>(
  pdu: T,
  roomVersion: RoomVersion | string,
  serverName: string,
  keyId: string,
  seed: Uint8Array,
): T & { hashes: { sha256: string }; signatures: Record<string, Record<string, string>> } {
  const rv = resolve(roomVersion);
  const existingHashes = (pdu as { hashes?: unknown }).hashes;
  const hashes = {
    ...(typeof existingHashes === "object" && existingHashes !== null ? existingHashes : {}),
    sha256: computeContentHash(pdu, rv),
  };
  const withHash = { ...pdu, hashes };
  const signed = signJson(redactEvent(withHash as Readonly<Record<string, unknown>>, rv), serverName, keyId, seed, {
    strict: rv.strictCanonicalJson,
  });
  return { ...withHash, signatures: signed.signatures };
}

/**
 * Check one server's signature on an event: redact, then verify as in
 * "Checking for a Signature". Works on full and already-redacted copies alike.
 */
export function verifyEventSignature(
  pdu: EventLike,
  roomVersion: RoomVersion | string,
  serverName: string,
  keyId: string,
  publicKeyBase64: string,
): boolean {
  const rv = resolve(roomVersion);
  let redacted: Record<string, unknown>;
  try {
    redacted = redactEvent(pdu as Readonly<Record<string, unknown>>, rv);
  } catch {
    return false;
  }
  return verifyJsonSignature(redacted, serverName, keyId, publicKeyBase64, { strict: rv.strictCanonicalJson });
}

/**
 * The servers whose signatures an event needs ("Validating hashes and signatures on
 * received events"): the sender's server, plus for v1/v2 event ids the event id's
 * domain if different. Auth-rule signature requirements (the
 * `join_authorised_via_users_server` server in v8+, third-party invites) are not
 * included: the auth rules check those, e.g. with verifyEventServerSignature.
 */
export function requiredSignatureServers(pdu: EventLike, roomVersion: RoomVersion | string): string[] {
  const rv = resolve(roomVersion);
  const servers: string[] = [];
  const sender = (pdu as { sender?: unknown }).sender;
  const senderDomain = typeof sender === "string" ? userIdDomain(sender) : null;
  if (senderDomain !== null) servers.push(senderDomain);
  if (rv.eventFormat === "v1") {
    const eventId = (pdu as { event_id?: unknown }).event_id;
    const d = typeof eventId === "string" ? eventIdDomain(eventId) : null;
    if (d !== null && !servers.includes(d)) servers.push(d);
  }
  return servers;
}

/**
 * Check `serverName`'s signature on the redacted event with injected keys.
 * Keys are judged at the event's origin_server_ts; from v5, `valid_until_ts` is
 * enforced (rooms/fragments/v5-signing-requirements.md).
 */
export function verifyEventServerSignature(
  pdu: EventLike,
  roomVersion: RoomVersion | string,
  serverName: string,
  keys: KeyLookup,
): SignatureCheck {
  const rv = resolve(roomVersion);
  const ts = (pdu as { origin_server_ts?: unknown }).origin_server_ts;
  return verifyServerSignature(redactEvent(pdu as Readonly<Record<string, unknown>>, rv), serverName, keys, {
    strict: rv.strictCanonicalJson,
    enforceValidUntil: rv.enforceKeyValidity,
    ...(typeof ts === "number" ? { atTs: ts } : {}),
  });
}

/**
 * Check every required signature of a received event (see requiredSignatureServers).
 * On success `keyIds` lists `"<server> <keyId>"` pairs. After this passes, check the
 * content hash: a mismatch means "use the redacted copy", not "drop".
 */
export function verifyEventSignatures(pdu: EventLike, roomVersion: RoomVersion | string, keys: KeyLookup): SignatureCheck {
  const servers = requiredSignatureServers(pdu, roomVersion);
  if (servers.length === 0) return { ok: false, error: "event has no valid sender" };
  const keyIds: string[] = [];
  for (const server of servers) {
    const r = verifyEventServerSignature(pdu, roomVersion, server, keys);
    if (!r.ok) return r;
    keyIds.push(...r.keyIds.map((k) => `${server} ${k}`));
  }
  return { ok: true, keyIds };
}
