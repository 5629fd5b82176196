import { describe, expect, it } from "vitest";
import { decodeBase64, encodeBase64 } from "../../src/base64.js";
import { canonicalJson } from "../../src/canonical-json.js";
import {
  assertEd25519KeyId,
  formatSigningKey,
  generateSigningKey,
  type KeyLookup,
  parseSigningKey,
  publicKeyFromSeed,
  signBytes,
  signingKeyFromSeed,
  signJson,
  SigningError,
  verifyBytes,
  verifyJsonSignature,
  verifyServerSignature,
  type VerifyKey,
} from "../../src/signing.js";

// Spec: appendices "Cryptographic Test Vectors".
const SEED = decodeBase64("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1");
const SERVER = "domain";
const KEY_ID = "ed25519:1";
const KEY = signingKeyFromSeed(SEED, "1");

describe("appendix JSON signing test vectors", () => {
  it("signs the empty object", () => {
    const signed = signJson({}, SERVER, KEY_ID, SEED);
    expect(signed).toEqual({
      signatures: {
        domain: {
          "ed25519:1": "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ",
        },
      },
    });
    expect(canonicalJson(signed)).toBe(
      '{"signatures":{"domain":{"ed25519:1":"K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ"}}}',
    );
  });

  it("signs {one, two}", () => {
    const signed = signJson({ one: 1, two: "Two" }, SERVER, KEY_ID, SEED);
    expect(canonicalJson(signed)).toBe(
      canonicalJson({
        one: 1,
        signatures: {
          domain: {
            "ed25519:1": "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw",
          },
        },
        two: "Two",
      }),
    );
  });

  it("verifies both vectors with the derived public key", () => {
    const empty = signJson({}, SERVER, KEY_ID, SEED);
    const data = signJson({ one: 1, two: "Two" }, SERVER, KEY_ID, SEED);
    expect(verifyJsonSignature(empty, SERVER, KEY_ID, KEY.publicKeyBase64)).toBe(true);
    expect(verifyJsonSignature(data, SERVER, KEY_ID, KEY.publicKeyBase64)).toBe(true);
  });
});

describe("signJson", () => {
  it("ignores unsigned and existing signatures when signing, and keeps both", () => {
    const plain = signJson({ one: 1, two: "Two" }, SERVER, KEY_ID, SEED);
    const withExtras = signJson(
      { one: 1, two: "Two", unsigned: { age_ts: 5 }, signatures: { other: { "ed25519:x": "abc" } } },
      SERVER,
      KEY_ID,
      SEED,
    );
    expect(withExtras.signatures.domain?.[KEY_ID]).toBe(plain.signatures.domain?.[KEY_ID]);
    expect(withExtras.signatures.other).toEqual({ "ed25519:x": "abc" });
    expect(withExtras.unsigned).toEqual({ age_ts: 5 });
  });

  it("merges with the signer's other keys and replaces the same key id", () => {
    const once = signJson({ a: 1, signatures: { domain: { "ed25519:old": "zzz", [KEY_ID]: "stale" } } }, SERVER, KEY_ID, SEED);
    expect(once.signatures.domain?.["ed25519:old"]).toBe("zzz");
    expect(once.signatures.domain?.[KEY_ID]).not.toBe("stale");
    expect(verifyJsonSignature(once, SERVER, KEY_ID, KEY.publicKeyBase64)).toBe(true);
  });

  it("does not modify its input", () => {
    const input = { a: 1, signatures: { x: { "ed25519:1": "s" } } };
    const before = structuredClone(input);
    signJson(input, SERVER, KEY_ID, SEED);
    expect(input).toEqual(before);
  });

  it("validates key ids and seeds", () => {
    expect(() => signJson({}, SERVER, "ed25519:", SEED)).toThrow(SigningError);
    expect(() => signJson({}, SERVER, "ed25519:a-b", SEED)).toThrow(SigningError);
    expect(() => signJson({}, SERVER, "curve25519:1", SEED)).toThrow(SigningError);
    expect(() => signJson({}, SERVER, "1", SEED)).toThrow(SigningError);
    expect(() => signJson({}, SERVER, KEY_ID, new Uint8Array(31))).toThrow(SigningError);
    expect(() => assertEd25519KeyId("ed25519:a_Z9")).not.toThrow();
  });

  it("refuses floats unless lenient", () => {
    expect(() => signJson({ a: 1.5 }, SERVER, KEY_ID, SEED)).toThrow();
    const signed = signJson({ a: 1.5 }, SERVER, KEY_ID, SEED, { strict: false });
    expect(verifyJsonSignature(signed, SERVER, KEY_ID, KEY.publicKeyBase64, { strict: false })).toBe(true);
    expect(verifyJsonSignature(signed, SERVER, KEY_ID, KEY.publicKeyBase64)).toBe(false);
  });
});

describe("verifyJsonSignature failures", () => {
  const signed = signJson({ one: 1, two: "Two", unsigned: { age: 1 } }, SERVER, KEY_ID, SEED);
  const pk = KEY.publicKeyBase64;

  it("fails on tampered data", () => {
    expect(verifyJsonSignature({ ...signed, one: 2 }, SERVER, KEY_ID, pk)).toBe(false);
    expect(verifyJsonSignature({ ...signed, three: 3 }, SERVER, KEY_ID, pk)).toBe(false);
    const { two: _t, ...withoutTwo } = signed;
    expect(verifyJsonSignature(withoutTwo, SERVER, KEY_ID, pk)).toBe(false);
  });

  it("still verifies when unsigned changes or other signatures are added", () => {
    expect(verifyJsonSignature({ ...signed, unsigned: { age: 999 } }, SERVER, KEY_ID, pk)).toBe(true);
    const more = signJson(signed, "other.example", KEY_ID, new Uint8Array(32).fill(7));
    expect(verifyJsonSignature(more, SERVER, KEY_ID, pk)).toBe(true);
  });

  it("fails on a tampered signature", () => {
    const sig = decodeBase64(signed.signatures.domain?.[KEY_ID] as string);
    sig[0] = (sig[0] as number) ^ 1;
    const bad = { ...signed, signatures: { domain: { [KEY_ID]: encodeBase64(sig) } } };
    expect(verifyJsonSignature(bad, SERVER, KEY_ID, pk)).toBe(false);
  });

  it("fails with the wrong key, server, key id or garbage encodings", () => {
    const otherPk = encodeBase64(publicKeyFromSeed(new Uint8Array(32).fill(1)));
    expect(verifyJsonSignature(signed, SERVER, KEY_ID, otherPk)).toBe(false);
    expect(verifyJsonSignature(signed, "elsewhere", KEY_ID, pk)).toBe(false);
    expect(verifyJsonSignature(signed, SERVER, "ed25519:2", pk)).toBe(false);
    expect(verifyJsonSignature(signed, SERVER, KEY_ID, "not base64!")).toBe(false);
    expect(verifyJsonSignature(signed, SERVER, KEY_ID, encodeBase64(new Uint8Array(31)))).toBe(false);
    const garbled = { ...signed, signatures: { domain: { [KEY_ID]: "!!!" } } };
    expect(verifyJsonSignature(garbled, SERVER, KEY_ID, pk)).toBe(false);
    const short = { ...signed, signatures: { domain: { [KEY_ID]: encodeBase64(new Uint8Array(63)) } } };
    expect(verifyJsonSignature(short, SERVER, KEY_ID, pk)).toBe(false);
    expect(verifyJsonSignature({ signatures: "x" }, SERVER, KEY_ID, pk)).toBe(false);
  });

  it("rejects a small-order public key (strict RFC 8032 verification)", () => {
    // The identity point (y = 1) with S = 0 verifies under the lax cofactored equation.
    const identity = new Uint8Array(32);
    identity[0] = 1;
    const sig = new Uint8Array(64);
    sig.set(identity, 0);
    expect(verifyBytes(sig, new Uint8Array([1, 2, 3]), identity)).toBe(false);
  });
});

describe("signing keys", () => {
  it("derives the appendix key's public key deterministically", () => {
    expect(KEY.keyId).toBe("ed25519:1");
    expect(KEY.publicKey.length).toBe(32);
    expect(signingKeyFromSeed(SEED, "1").publicKeyBase64).toBe(KEY.publicKeyBase64);
    const msg = new Uint8Array([1, 2, 3]);
    expect(verifyBytes(signBytes(msg, SEED), msg, KEY.publicKey)).toBe(true);
  });

  it("generates keys from an injected random source", () => {
    const k = generateSigningKey("a_1", (b) => b.fill(9));
    expect(k.seed).toEqual(new Uint8Array(32).fill(9));
    const r = generateSigningKey("auto");
    expect(r.seed.length).toBe(32);
    expect(r.keyId).toBe("ed25519:auto");
  });

  it("round-trips the key file format", () => {
    const text = formatSigningKey(KEY);
    expect(text).toBe("ed25519 1 YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0");
    const parsed = parseSigningKey(`  ${text}\n`);
    expect(parsed.publicKeyBase64).toBe(KEY.publicKeyBase64);
    expect(() => parseSigningKey("ed25519 1")).toThrow(SigningError);
    expect(() => parseSigningKey("rsa 1 AAAA")).toThrow(SigningError);
    expect(() => parseSigningKey("ed25519 1 !!!")).toThrow(SigningError);
    expect(() => parseSigningKey("ed25519 b@d " + encodeBase64(SEED))).toThrow(SigningError);
  });
});

describe("verifyServerSignature", () => {
  const other = signingKeyFromSeed(new Uint8Array(32).fill(3), "2");
  const store = (entries: Record<string, VerifyKey>): KeyLookup => ({
    get: (server, keyId) => entries[`${server}|${keyId}`],
  });
  const both = signJson(signJson({ x: 1 }, SERVER, KEY_ID, SEED), SERVER, other.keyId, other.seed);

  it("passes when every known key verifies", () => {
    const r = verifyServerSignature(both, SERVER, store({ [`domain|${KEY_ID}`]: { key: KEY.publicKeyBase64 }, [`domain|${other.keyId}`]: { key: other.publicKeyBase64 } }));
    expect(r).toEqual({ ok: true, keyIds: [KEY_ID, other.keyId] });
  });

  it("skips unknown keys and unknown algorithms but needs at least one", () => {
    const withJunk = { ...both, signatures: { domain: { ...both.signatures.domain, "rsa:1": "zz" } } };
    expect(verifyServerSignature(withJunk, SERVER, store({ [`domain|${KEY_ID}`]: { key: KEY.publicKeyBase64 } })).ok).toBe(true);
    expect(verifyServerSignature(both, SERVER, store({})).ok).toBe(false);
    expect(verifyServerSignature(both, "nobody", store({})).ok).toBe(false);
  });

  it("fails if any known key's signature is wrong", () => {
    const r = verifyServerSignature(both, SERVER, store({ [`domain|${KEY_ID}`]: { key: KEY.publicKeyBase64 }, [`domain|${other.keyId}`]: { key: KEY.publicKeyBase64 } }));
    expect(r.ok).toBe(false);
  });

  it("ignores expired old keys and, when enforced, keys past valid_until_ts", () => {
    const expired = store({ [`domain|${KEY_ID}`]: { key: KEY.publicKeyBase64, expiredTs: 1000 } });
    expect(verifyServerSignature(both, SERVER, expired, { atTs: 999 }).ok).toBe(true);
    expect(verifyServerSignature(both, SERVER, expired, { atTs: 1000 }).ok).toBe(false);
    const validUntil = store({ [`domain|${KEY_ID}`]: { key: KEY.publicKeyBase64, validUntilTs: 1000 } });
    expect(verifyServerSignature(both, SERVER, validUntil, { atTs: 1001 }).ok).toBe(true);
    expect(verifyServerSignature(both, SERVER, validUntil, { atTs: 1001, enforceValidUntil: true }).ok).toBe(false);
    expect(verifyServerSignature(both, SERVER, validUntil, { atTs: 1000, enforceValidUntil: true }).ok).toBe(true);
  });
});
