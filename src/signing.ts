/**
 * Signing JSON with ed25519 (spec: appendices "Signing JSON", "Signing Details",
 * "Checking for a Signature"; server-server-api "Retrieving server keys").
 *
 * Everything here is synchronous and pure: keys are passed in (seeds as bytes,
 * public keys as unpadded base64) or looked up through an injected KeyLookup.
 *
 * Verification uses RFC 8032 strict decoding (noble's `zip215: false`): non-canonical
 * point encodings, S ≥ L and small-order public keys are rejected. That is the
 * closest match to libsodium, which Synapse (via PyNaCl) uses.
 */
import { ed25519 } from "@noble/curves/ed25519.js";
import { decodeBase64, encodeBase64, tryDecodeBase64 } from "./base64.js";
import { canonicalJsonBytes } from "./canonical-json.js";
import { isValidKeyVersion, parseKeyId } from "./identifiers.js";

export type Signatures = Record<string, Record<string, string>>;

export interface SigningKey {
  /** `ed25519:<version>` */
  keyId: string;
  /** The 32-byte ed25519 seed ("secret key" in RFC 8032 terms). Keep secret. */
  seed: Uint8Array;
  /** The 32-byte public key. */
  publicKey: Uint8Array;
  /** Unpadded base64 of publicKey, as published in `verify_keys`. */
  publicKeyBase64: string;
}

export class SigningError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SigningError";
  }
}

/** Throw unless `keyId` is `ed25519:<version>` with version `[a-zA-Z0-9_]+`. */
export function assertEd25519KeyId(keyId: string): void {
  const p = parseKeyId(keyId);
  if (!p || p.algorithm !== "ed25519") throw new SigningError(`invalid ed25519 key id: ${JSON.stringify(keyId)}`);
}

function assertSeed(seed: Uint8Array): void {
  if (!(seed instanceof Uint8Array) || seed.length !== 32) throw new SigningError("ed25519 seed must be 32 bytes");
}

/** Derive the public key of a 32-byte seed. */
export function publicKeyFromSeed(seed: Uint8Array): Uint8Array {
  assertSeed(seed);
  return ed25519.getPublicKey(seed);
}

/** Build a signing key from a seed and a key version (the part after `ed25519:`). */
export function signingKeyFromSeed(seed: Uint8Array, version: string): SigningKey {
  if (!isValidKeyVersion(version)) throw new SigningError(`invalid key version: ${JSON.stringify(version)}`);
  const publicKey = publicKeyFromSeed(seed);
  return { keyId: `ed25519:${version}`, seed: seed.slice(), publicKey, publicKeyBase64: encodeBase64(publicKey) };
}

/**
 * A fresh signing key. `random` fills a buffer with secure random bytes; it defaults
 * to WebCrypto's getRandomValues (available in Node 20 and workerd).
 */
export function generateSigningKey(
  version: string,
  random: (bytes: Uint8Array) => void = (b) => void crypto.getRandomValues(b),
): SigningKey {
  const seed = new Uint8Array(32);
  random(seed);
  return signingKeyFromSeed(seed, version);
}

/**
 * Parse the Synapse-style key file line `ed25519 <version> <base64 seed>`
 * (the customary format for storing a server's signing key as a secret).
 */
export function parseSigningKey(text: string): SigningKey {
  const parts = text.trim().split(/\s+/);
  if (parts.length !== 3 || parts[0] !== "ed25519") throw new SigningError("expected `ed25519 <version> <base64 seed>`");
  let seed: Uint8Array;
  try {
    seed = decodeBase64(parts[2] as string);
  } catch {
    throw new SigningError("signing key seed is not valid base64");
  }
  return signingKeyFromSeed(seed, parts[1] as string);
}

/** Inverse of parseSigningKey. */
export function formatSigningKey(key: SigningKey): string {
  return `ed25519 ${key.keyId.slice("ed25519:".length)} ${encodeBase64(key.seed)}`;
}

/** Raw ed25519 signature of `message`. */
export function signBytes(message: Uint8Array, seed: Uint8Array): Uint8Array {
  assertSeed(seed);
  return ed25519.sign(message, seed);
}

/** Raw ed25519 verification; never throws. */
export function verifyBytes(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.length !== 64 || publicKey.length !== 32) return false;
  try {
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

export interface JsonSigningOptions {
  /** Canonical JSON strictness (see canonical-json.ts); default true. */
  strict?: boolean;
}

/** The object without `signatures` and `unsigned`: what a signature covers. */
export function signableJson<T extends object>(obj: T): Omit<T, "signatures" | "unsigned"> {
  const { signatures: _s, unsigned: _u, ...rest } = obj as T & { signatures?: unknown; unsigned?: unknown };
  return rest as Omit<T, "signatures" | "unsigned">;
}

function copySignatures(value: unknown): Signatures {
  if (value === undefined) return {};
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new SigningError("signatures must be an object");
  const out: Signatures = {};
  for (const [server, keys] of Object.entries(value)) {
    if (typeof keys !== "object" || keys === null || Array.isArray(keys)) throw new SigningError(`signatures.${server} must be an object`);
    const copy: Record<string, string> = {};
    for (const [k, sig] of Object.entries(keys)) {
      if (typeof sig !== "string") throw new SigningError(`signatures.${server}.${k} must be a string`);
      copy[k] = sig;
    }
    Object.defineProperty(out, server, { value: copy, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/**
 * Sign `obj` as `serverName` with `keyId`/`seed` (appendices "Signing Details").
 * Returns a new object: existing signatures are kept and this one is added
 * (replacing any earlier signature by the same server and key id); `unsigned`
 * is carried over untouched. The input is not modified.
 */
export function signJson<T extends object>(
  obj: T,
  serverName: string,
  keyId: string,
  seed: Uint8Array,
  options: JsonSigningOptions = {},
): T & { signatures: Signatures } {
  assertEd25519KeyId(keyId);
  const signatures = copySignatures((obj as { signatures?: unknown }).signatures);
  const message = canonicalJsonBytes(signableJson(obj), options);
  const signature = encodeBase64(signBytes(message, seed));
  const forServer = Object.hasOwn(signatures, serverName) ? (signatures[serverName] as Record<string, string>) : {};
  forServer[keyId] = signature;
  Object.defineProperty(signatures, serverName, { value: forServer, enumerable: true, writable: true, configurable: true });
  return { ...obj, signatures };
}

/** The base64 signature `obj.signatures[serverName][keyId]`, if present and a string. */
export function getSignature(obj: object, serverName: string, keyId: string): string | undefined {
  const sigs = (obj as { signatures?: unknown }).signatures;
  if (typeof sigs !== "object" || sigs === null || !Object.hasOwn(sigs, serverName)) return undefined;
  const forServer = (sigs as Record<string, unknown>)[serverName];
  if (typeof forServer !== "object" || forServer === null || !Object.hasOwn(forServer, keyId)) return undefined;
  const sig = (forServer as Record<string, unknown>)[keyId];
  return typeof sig === "string" ? sig : undefined;
}

/**
 * Check one signature (appendices "Checking for a Signature", steps 4–7).
 * False if the signature is missing, not ed25519, badly encoded, the object is not
 * canonicalisable, or the signature does not verify. Never throws.
 */
export function verifyJsonSignature(
  obj: object,
  serverName: string,
  keyId: string,
  publicKeyBase64: string,
  options: JsonSigningOptions = {},
): boolean {
  if (!keyId.startsWith("ed25519:")) return false;
  const sig = getSignature(obj, serverName, keyId);
  if (sig === undefined) return false;
  const sigBytes = tryDecodeBase64(sig);
  const publicKey = tryDecodeBase64(publicKeyBase64);
  if (!sigBytes || !publicKey) return false;
  let message: Uint8Array;
  try {
    message = canonicalJsonBytes(signableJson(obj), options);
  } catch {
    return false;
  }
  return verifyBytes(sigBytes, message, publicKey);
}

// ---------------------------------------------------------------------------
// Verification against a set of known keys
// ---------------------------------------------------------------------------

/** A server's public key as learned from /_matrix/key/v2/server or a notary. */
export interface VerifyKey {
  /** Unpadded base64 ed25519 public key. */
  key: string;
  /**
   * For current keys (`verify_keys`): the response's `valid_until_ts` (callers should
   * already have capped it at fetch time + 7 days, rooms v5+ "Signing key validity").
   */
  validUntilTs?: number;
  /** For old keys (`old_verify_keys`): when the key stopped being used. */
  expiredTs?: number;
}

/** Injected, synchronous key store (prefetch keys before verifying). */
export interface KeyLookup {
  get(serverName: string, keyId: string): VerifyKey | undefined;
}

export interface VerifyServerSignatureOptions extends JsonSigningOptions {
  /**
   * The timestamp the signature must be valid at (an event's origin_server_ts).
   * Keys whose expiredTs is not after it are ignored; with enforceValidUntil, so
   * are keys whose validUntilTs is before it.
   */
  atTs?: number;
  /** Rooms v5+: enforce `valid_until_ts` ≥ the event's origin_server_ts. */
  enforceValidUntil?: boolean;
}

export type SignatureCheck = { ok: true; keyIds: string[] } | { ok: false; error: string };

/**
 * Check that `serverName` signed `obj` (appendices "Checking for a Signature"):
 * signatures with unknown algorithms, unknown keys and keys not valid at `atTs` are
 * skipped; every remaining signature must verify, and at least one must remain.
 */
export function verifyServerSignature(
  obj: object,
  serverName: string,
  keys: KeyLookup,
  options: VerifyServerSignatureOptions = {},
): SignatureCheck {
  const sigs = (obj as { signatures?: unknown }).signatures;
  if (typeof sigs !== "object" || sigs === null || !Object.hasOwn(sigs, serverName)) {
    return { ok: false, error: `no signatures from ${serverName}` };
  }
  const forServer = (sigs as Record<string, unknown>)[serverName];
  if (typeof forServer !== "object" || forServer === null) return { ok: false, error: `malformed signatures from ${serverName}` };
  const verified: string[] = [];
  for (const keyId of Object.keys(forServer)) {
    if (!keyId.startsWith("ed25519:")) continue;
    const key = keys.get(serverName, keyId);
    if (!key) continue;
    if (options.atTs !== undefined) {
      if (key.expiredTs !== undefined && key.expiredTs <= options.atTs) continue;
      if (options.enforceValidUntil && key.validUntilTs !== undefined && key.validUntilTs < options.atTs) continue;
    }
    if (!verifyJsonSignature(obj, serverName, keyId, key.key, options)) {
      return { ok: false, error: `invalid signature from ${serverName} with key ${keyId}` };
    }
    verified.push(keyId);
  }
  if (verified.length === 0) return { ok: false, error: `no known, valid key of ${serverName} signed this object` };
  return { ok: true, keyIds: verified };
}
