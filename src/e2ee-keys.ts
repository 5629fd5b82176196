/**
 * End-to-end encryption keys as the server sees them (spec: client-server-api
 * "End-to-End Encryption": "Key algorithms", "Device keys", "One-time and fallback
 * keys", "Cross-signing"; data/api/client-server/{keys,cross_signing}.yaml).
 *
 * Pure checks over uploaded key objects: shapes, ids, and ed25519 signatures.
 * Device keys must be self-signed, self-signing and user-signing keys signed by
 * the master key, and uploaded cross-signatures by the key they claim to come
 * from. Signed one-time/fallback keys must be signed by their device once it has
 * device keys; before that there is nothing to check them against, so they are
 * stored unchecked and the claimer checks them. Every failure is a MatrixError
 * with a 4xx status.
 *
 * Key ids of cross-signing keys are `ed25519:<unpadded base64 public key>`, which
 * contain `+` and `/`: they are deliberately not checked against the
 * `[a-zA-Z0-9_]` key-version grammar of server keys.
 */
import { tryDecodeBase64 } from "./base64.js";
import { canonicalJson } from "./canonical-json.js";
import { MatrixError } from "./errors.js";
import { isJsonObject, type JsonObject, type JsonValue } from "./json.js";
import { signableJson, verifyJsonSignature } from "./signing.js";

export type CrossSigningUsage = "master" | "self_signing" | "user_signing";
export const CROSS_SIGNING_USAGES: readonly CrossSigningUsage[] = ["master", "self_signing", "user_signing"];

const badJson = (msg: string) => new MatrixError("M_BAD_JSON", msg, 400);
const invalidParam = (msg: string) => new MatrixError("M_INVALID_PARAM", msg, 400);
const invalidSignature = (msg: string) => new MatrixError("M_INVALID_SIGNATURE", msg, 400);

/** True iff `s` is (unpadded or padded) standard base64 of exactly 32 bytes: an ed25519 or curve25519 public key. */
export function isPublicKey32(s: unknown): s is string {
  return typeof s === "string" && tryDecodeBase64(s)?.length === 32;
}

/** Canonical JSON text, or a 400 M_BAD_JSON when the value cannot be canonicalised (floats, huge integers...). */
export function canonicalOrBadJson(value: unknown, what: string): string {
  try {
    return canonicalJson(value);
  } catch (e) {
    throw badJson(`${what} is not canonical JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Canonical JSON of what a signature covers (the object without `signatures` and `unsigned`). */
function signedContent(obj: JsonObject): string | undefined {
  try {
    return canonicalJson(signableJson(obj));
  } catch {
    return undefined;
  }
}

/** Whether two key objects are the same apart from their signatures (and `unsigned`). */
export function sameSignedContent(a: JsonObject, b: JsonObject): boolean {
  const x = signedContent(a);
  return x !== undefined && x === signedContent(b);
}

/** `signatures` must be `{user: {keyId: string}}` when present. */
function checkSignaturesShape(sigs: unknown, what: string): void {
  if (sigs === undefined) return;
  if (!isJsonObject(sigs)) throw badJson(`${what}.signatures must be an object`);
  for (const [user, byKey] of Object.entries(sigs)) {
    if (!isJsonObject(byKey)) throw badJson(`${what}.signatures.${user} must be an object`);
    for (const [keyId, sig] of Object.entries(byKey)) {
      if (typeof sig !== "string") throw badJson(`${what}.signatures.${user}.${keyId} must be a string`);
    }
  }
}

// ---------------------------------------------------------------------------
// Device keys
// ---------------------------------------------------------------------------

export interface CheckedDeviceKeys {
  /** The object to store (as uploaded, without `unsigned`). */
  json: JsonObject;
  /** Canonical JSON of `json`. */
  canonical: string;
  /** The device's ed25519 public key (unpadded base64 as uploaded). */
  ed25519: string;
}

/**
 * Checks `device_keys` of /keys/upload: the spec's DeviceKeys shape, ids equal to
 * the caller's, `keys` named `<algorithm>:<device_id>` with well-formed ed25519 and
 * curve25519 keys, and a valid self-signature by `ed25519:<device_id>`.
 */
export function checkDeviceKeys(value: unknown, userId: string, deviceId: string): CheckedDeviceKeys {
  if (!isJsonObject(value)) throw badJson("device_keys must be an object");
  const { user_id, device_id, algorithms, keys, signatures } = value;
  if (typeof user_id !== "string" || typeof device_id !== "string") throw badJson("device_keys.user_id and device_id must be strings");
  if (user_id !== userId) throw badJson("Provided `user_id` in `device_keys` does not match that of the authenticated user");
  if (device_id !== deviceId) throw badJson("Provided `device_id` in `device_keys` does not match that of the authenticated user device");
  if (!Array.isArray(algorithms) || !algorithms.every((a) => typeof a === "string")) {
    throw badJson("device_keys.algorithms must be an array of strings");
  }
  if (!isJsonObject(keys)) throw badJson("device_keys.keys must be an object");
  for (const [name, key] of Object.entries(keys)) {
    if (typeof key !== "string") throw badJson(`device_keys.keys.${name} must be a string`);
    const colon = name.indexOf(":");
    if (colon <= 0 || name.slice(colon + 1) !== deviceId) {
      throw invalidParam(`device_keys.keys: key name ${JSON.stringify(name)} must be <algorithm>:${deviceId}`);
    }
    const algorithm = name.slice(0, colon);
    if ((algorithm === "ed25519" || algorithm === "curve25519") && !isPublicKey32(key)) {
      throw invalidParam(`device_keys.keys.${name} is not a base64 32-byte public key`);
    }
  }
  const ed25519 = keys[`ed25519:${deviceId}`];
  if (typeof ed25519 !== "string") throw invalidParam(`device_keys.keys must contain ed25519:${deviceId}`);
  if (!isJsonObject(signatures)) throw badJson("device_keys.signatures must be an object");
  checkSignaturesShape(signatures, "device_keys");
  const { unsigned: _unsigned, ...json } = value;
  const canonical = canonicalOrBadJson(json, "device_keys");
  if (!verifyJsonSignature(json, userId, `ed25519:${deviceId}`, ed25519)) {
    throw invalidSignature(`device_keys must be signed by their own key ed25519:${deviceId}`);
  }
  return { json, canonical, ed25519 };
}

// ---------------------------------------------------------------------------
// One-time and fallback keys
// ---------------------------------------------------------------------------

export interface CheckedOneTimeKey {
  algorithm: string;
  keyId: string;
  /** The key as uploaded: a string (unsigned algorithms) or a KeyObject. */
  value: JsonValue;
  /** Canonical JSON of `value`: what is stored and compared. */
  canonical: string;
}

/** Splits `<algorithm>:<key_id>` (exactly one colon, both parts non-empty, as Synapse requires). */
export function parseAlgorithmKeyId(name: string, what: string): { algorithm: string; keyId: string } {
  const parts = name.split(":");
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    throw badJson(`Invalid ${what} key ${JSON.stringify(name)}. Expected "<algorithm>:<key_id>".`);
  }
  return { algorithm: parts[0], keyId: parts[1] };
}

/**
 * Checks one entry of `one_time_keys` or `fallback_keys`. `signed_*` algorithms
 * need a KeyObject `{key, signatures[, fallback]}`, whose signature must verify
 * against the device's ed25519 key when the device has uploaded one
 * (`deviceEd25519`); `signed_curve25519` and `curve25519` keys must be 32-byte
 * curve25519 keys.
 */
export function checkOneTimeKey(
  name: string,
  value: unknown,
  userId: string,
  deviceId: string,
  deviceEd25519: string | undefined,
  what: "one_time_keys" | "fallback_keys",
): CheckedOneTimeKey {
  const { algorithm, keyId } = parseAlgorithmKeyId(name, what);
  const where = `${what}.${name}`;
  if (typeof value === "string") {
    if (algorithm.startsWith("signed_")) throw badJson(`${where}: a ${algorithm} key must be a signed key object`);
    if (algorithm === "curve25519" && !isPublicKey32(value)) throw invalidParam(`${where} is not a base64 32-byte curve25519 key`);
    return { algorithm, keyId, value, canonical: canonicalOrBadJson(value, where) };
  }
  if (!isJsonObject(value)) throw badJson(`${where} must be a string or a key object`);
  if (typeof value.key !== "string") throw badJson(`${where}.key must be a string`);
  if (!isJsonObject(value.signatures)) throw badJson(`${where}.signatures must be an object`);
  checkSignaturesShape(value.signatures, where);
  if (value.fallback !== undefined && typeof value.fallback !== "boolean") throw badJson(`${where}.fallback must be a boolean`);
  if ((algorithm === "signed_curve25519" || algorithm === "curve25519") && !isPublicKey32(value.key)) {
    throw invalidParam(`${where}.key is not a base64 32-byte curve25519 key`);
  }
  const canonical = canonicalOrBadJson(value, where);
  // Without device keys yet there is nothing to check the signature against; the
  // key is stored as uploaded (as Synapse and Dendrite do), and a claimer checks it
  // against the device keys it queries (spec "One-time and fallback keys": signed
  // by the device's Ed25519 key).
  if (deviceEd25519 !== undefined && !verifyJsonSignature(value, userId, `ed25519:${deviceId}`, deviceEd25519)) {
    throw invalidSignature(`${where} must be signed by the device key ed25519:${deviceId}`);
  }
  return { algorithm, keyId, value, canonical };
}

/**
 * Synapse's rule for a re-uploaded one-time key id: the same key is fine (even with
 * different signatures, which a retry may legitimately carry), any other content is not.
 */
export function oneTimeKeysMatch(stored: JsonValue, uploaded: JsonValue): boolean {
  if (!isJsonObject(stored) || !isJsonObject(uploaded)) return canonicalJsonSafe(stored) === canonicalJsonSafe(uploaded);
  const { signatures: _a, ...x } = stored;
  const { signatures: _b, ...y } = uploaded;
  return canonicalJsonSafe(x) === canonicalJsonSafe(y);
}

function canonicalJsonSafe(v: unknown): string | undefined {
  try {
    return canonicalJson(v);
  } catch {
    return undefined;
  }
}

/**
 * The error text Synapse gives for a changed one-time key. matrix-rust-sdk parses
 * it (`DuplicateOneTimeKeyErrorMessage`: split at `;`, prefixes `Old key:` and
 * `new key:`), so the wording is kept.
 */
export function duplicateOneTimeKeyMessage(algorithm: string, keyId: string, stored: JsonValue, uploaded: JsonValue): string {
  return `One time key ${algorithm}:${keyId} already exists. Old key: ${JSON.stringify(stored)}; new key: ${JSON.stringify(uploaded)}`;
}

// ---------------------------------------------------------------------------
// Cross-signing keys
// ---------------------------------------------------------------------------

export interface CheckedCrossSigningKey {
  json: JsonObject;
  canonical: string;
  /** `ed25519:<public key>` */
  keyId: string;
  /** Unpadded base64 public key (also the key's "device id" in signature uploads). */
  publicKey: string;
}

/**
 * Checks a CrossSigningKey: `user_id` is the owner, `usage` contains the expected
 * usage, `keys` holds exactly one `ed25519:<pk>: <pk>` with a 32-byte key.
 */
export function checkCrossSigningKey(value: unknown, userId: string, usage: CrossSigningUsage): CheckedCrossSigningKey {
  const what = `${usage} key`;
  if (!isJsonObject(value)) throw badJson(`${what} must be an object`);
  if (value.user_id !== userId) throw invalidParam(`Invalid ${what}: user_id must be ${userId}`);
  const usages = value.usage;
  if (!Array.isArray(usages) || !usages.every((u) => typeof u === "string")) throw badJson(`${what}: usage must be an array of strings`);
  if (!usages.includes(usage)) throw invalidParam(`Invalid ${what}: usage must contain ${JSON.stringify(usage)}`);
  if (!usages.every((u) => (CROSS_SIGNING_USAGES as readonly string[]).includes(u as string))) {
    throw invalidParam(`Invalid ${what}: unknown usage`);
  }
  const keys = value.keys;
  if (!isJsonObject(keys)) throw badJson(`${what}: keys must be an object`);
  const entries = Object.entries(keys);
  if (entries.length !== 1) throw invalidParam(`Invalid ${what}: keys must hold exactly one key`);
  const [keyId, publicKey] = entries[0]!;
  if (!keyId.startsWith("ed25519:") || typeof publicKey !== "string" || keyId !== `ed25519:${publicKey}` || !isPublicKey32(publicKey)) {
    throw invalidParam(`Invalid ${what}: keys must be {"ed25519:<public key>": "<public key>"} with a 32-byte ed25519 key`);
  }
  checkSignaturesShape(value.signatures, what);
  const canonical = canonicalOrBadJson(value, what);
  return { json: value, canonical, keyId, publicKey };
}

/** A self-signing or user-signing key must carry a valid signature of the user's master key. */
export function checkSignedByMaster(key: CheckedCrossSigningKey, userId: string, master: { keyId: string; publicKey: string }, usage: CrossSigningUsage): void {
  if (!verifyJsonSignature(key.json, userId, master.keyId, master.publicKey)) {
    throw invalidSignature(`Invalid signature on ${usage} key: it must be signed by the master key ${master.keyId}`);
  }
}

// ---------------------------------------------------------------------------
// Signatures uploaded through /keys/signatures/upload
// ---------------------------------------------------------------------------

export interface NewSignature {
  /** `ed25519:<device id or public key>` of the signing key. */
  signerKeyId: string;
  signature: string;
}

/** The error object of a failed entry in `failures` (spec: Error, `{errcode, error}`). */
export interface SignatureFailure {
  errcode: string;
  error: string;
}

export function failureOf(e: unknown): SignatureFailure {
  if (e instanceof MatrixError) return { errcode: e.errcode, error: e.message };
  return { errcode: "M_UNKNOWN", error: e instanceof Error ? e.message : String(e) };
}

function signaturesOf(obj: JsonObject, userId: string): Record<string, string> {
  const sigs = obj.signatures;
  if (!isJsonObject(sigs) || !isJsonObject(sigs[userId])) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(sigs[userId] as JsonObject)) if (typeof v === "string") out[k] = v;
  return out;
}

/** The submitted key must be the stored key with signatures added. */
function assertSameKey(submitted: JsonObject, stored: JsonObject): void {
  if (!sameSignedContent(submitted, stored)) throw invalidParam("Key does not match the one stored on the server");
}

/**
 * A device of `userId` signed by the user's self-signing key: the submitted object
 * must equal the stored device keys apart from signatures, and carry a valid
 * signature by `ssk`. Returns that signature.
 */
export function checkDeviceSignedBySelfSigningKey(
  submitted: JsonObject,
  storedDevice: JsonObject,
  userId: string,
  ssk: { keyId: string; publicKey: string },
): NewSignature {
  assertSameKey(submitted, storedDevice);
  const sig = signaturesOf(submitted, userId)[ssk.keyId];
  if (sig === undefined) throw invalidSignature(`No signature by the self-signing key ${ssk.keyId}`);
  if (!verifyJsonSignature(submitted, userId, ssk.keyId, ssk.publicKey)) throw invalidSignature("Invalid signature");
  return { signerKeyId: ssk.keyId, signature: sig };
}

/**
 * The user's own master key signed by one or more of their devices. Signatures
 * already on the stored key (and the key's own) are ignored; every other signature
 * must be by a known device `ed25519:<device_id>` and verify. Returns the new ones.
 */
export function checkMasterSignedByDevices(
  submitted: JsonObject,
  storedMaster: JsonObject,
  masterKeyId: string,
  userId: string,
  deviceEd25519: ReadonlyMap<string, string>,
): NewSignature[] {
  assertSameKey(submitted, storedMaster);
  const already = signaturesOf(storedMaster, userId);
  const out: NewSignature[] = [];
  for (const [keyId, sig] of Object.entries(signaturesOf(submitted, userId))) {
    if (keyId === masterKeyId || already[keyId] === sig) continue;
    if (!keyId.startsWith("ed25519:")) throw invalidSignature(`Unsupported signing key ${keyId}`);
    const pk = deviceEd25519.get(keyId.slice("ed25519:".length));
    if (pk === undefined) throw invalidSignature(`Signed by an unknown device: ${keyId}`);
    if (!verifyJsonSignature(submitted, userId, keyId, pk)) throw invalidSignature("Invalid signature");
    out.push({ signerKeyId: keyId, signature: sig });
  }
  if (out.length === 0 && Object.keys(signaturesOf(submitted, userId)).length === 0) {
    throw invalidSignature("No signature by a device of the user");
  }
  return out;
}

/**
 * Another user's master key signed by the uploader's user-signing key: the
 * submitted object must equal that master key apart from signatures.
 */
export function checkMasterSignedByUserSigningKey(
  submitted: JsonObject,
  targetMaster: JsonObject,
  signerUserId: string,
  usk: { keyId: string; publicKey: string },
): NewSignature {
  assertSameKey(submitted, targetMaster);
  const sig = signaturesOf(submitted, signerUserId)[usk.keyId];
  if (sig === undefined) throw invalidSignature(`No signature by the user-signing key ${usk.keyId}`);
  if (!verifyJsonSignature(submitted, signerUserId, usk.keyId, usk.publicKey)) throw invalidSignature("Invalid signature");
  return { signerKeyId: usk.keyId, signature: sig };
}

/** A copy of `obj` with `extra` signatures (by `signer`) merged into `signatures`. */
export function withSignatures(obj: JsonObject, extra: ReadonlyArray<{ signer: string; keyId: string; signature: string }>): JsonObject {
  if (extra.length === 0) return obj;
  const sigs: Record<string, Record<string, JsonValue>> = {};
  if (isJsonObject(obj.signatures)) {
    for (const [u, byKey] of Object.entries(obj.signatures)) if (isJsonObject(byKey)) sigs[u] = { ...byKey };
  }
  for (const s of extra) (sigs[s.signer] ??= {})[s.keyId] = s.signature;
  return { ...obj, signatures: sigs };
}
