import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { decodeBase64, encodeBase64 } from "../../src/base64.js";
import { canonicalJson } from "../../src/canonical-json.js";
import {
  checkContentHash,
  computeContentHash,
  computeReferenceHash,
  requiredSignatureServers,
  signEvent,
  verifyEventServerSignature,
  verifyEventSignature,
  verifyEventSignatures,
} from "../../src/hashes.js";
import type { Pdu } from "../../src/pdu.js";
import { type KeyLookup, signingKeyFromSeed } from "../../src/signing.js";

// Spec: appendices "Cryptographic Test Vectors" → "Event Signing".
const SEED = decodeBase64("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1");
const KEY = signingKeyFromSeed(SEED, "1");
const KEYS: KeyLookup = {
  get: (server, keyId) => (server === "domain" && keyId === "ed25519:1" ? { key: KEY.publicKeyBase64 } : undefined),
};

const MINIMAL_EVENT = {
  room_id: "!x:domain",
  sender: "@a:domain",
  origin: "domain",
  origin_server_ts: 1000000,
  signatures: {},
  hashes: {},
  type: "X",
  content: {},
  prev_events: [],
  auth_events: [],
  depth: 3,
  unsigned: { age_ts: 1000000 },
};

const MINIMAL_SIGNED = {
  auth_events: [],
  content: {},
  depth: 3,
  hashes: { sha256: "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos" },
  origin: "domain",
  origin_server_ts: 1000000,
  prev_events: [],
  room_id: "!x:domain",
  sender: "@a:domain",
  signatures: {
    domain: {
      "ed25519:1": "KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg",
    },
  },
  type: "X",
  unsigned: { age_ts: 1000000 },
};

const REDACTABLE_EVENT = {
  content: { body: "Here is the message content" },
  event_id: "$0:domain",
  origin: "domain",
  origin_server_ts: 1000000,
  type: "m.room.message",
  room_id: "!r:domain",
  sender: "@u:domain",
  signatures: {},
  unsigned: { age_ts: 1000000 },
};

const REDACTABLE_SIGNED = {
  content: { body: "Here is the message content" },
  event_id: "$0:domain",
  hashes: { sha256: "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g" },
  origin: "domain",
  origin_server_ts: 1000000,
  type: "m.room.message",
  room_id: "!r:domain",
  sender: "@u:domain",
  signatures: {
    domain: {
      "ed25519:1": "Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA",
    },
  },
  unsigned: { age_ts: 1000000 },
};

describe("appendix event signing test vectors (room v1 redaction rules)", () => {
  it("signs the minimal event byte for byte", () => {
    const signed = signEvent(MINIMAL_EVENT, "1", "domain", "ed25519:1", SEED);
    expect(canonicalJson(signed)).toBe(canonicalJson(MINIMAL_SIGNED));
  });

  it("signs the event with redactable content byte for byte", () => {
    const signed = signEvent(REDACTABLE_EVENT, "1", "domain", "ed25519:1", SEED);
    expect(canonicalJson(signed)).toBe(canonicalJson(REDACTABLE_SIGNED));
  });

  it("gives the same result for every room version whose redaction keeps `origin` (1–10)", () => {
    for (const v of ["2", "3", "4", "5", "6", "7", "8", "9", "10"]) {
      expect(canonicalJson(signEvent(MINIMAL_EVENT, v, "domain", "ed25519:1", SEED))).toBe(canonicalJson(MINIMAL_SIGNED));
    }
    // v11 drops `origin` from the redacted (signed) form, so the signature differs
    // while the content hash (over the full event) does not.
    const v11 = signEvent(MINIMAL_EVENT, "11", "domain", "ed25519:1", SEED);
    expect(v11.hashes.sha256).toBe(MINIMAL_SIGNED.hashes.sha256);
    expect(v11.signatures.domain?.["ed25519:1"]).not.toBe(MINIMAL_SIGNED.signatures.domain["ed25519:1"]);
  });

  it("computes and checks the content hashes", () => {
    expect(computeContentHash(MINIMAL_EVENT)).toBe("5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos");
    expect(computeContentHash(REDACTABLE_EVENT)).toBe("onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g");
    expect(checkContentHash(MINIMAL_SIGNED)).toBe(true);
    expect(checkContentHash(REDACTABLE_SIGNED)).toBe(true);
  });

  it("verifies the signed vectors, full and redacted", () => {
    expect(verifyEventSignature(MINIMAL_SIGNED, "1", "domain", "ed25519:1", KEY.publicKeyBase64)).toBe(true);
    expect(verifyEventSignature(REDACTABLE_SIGNED, "1", "domain", "ed25519:1", KEY.publicKeyBase64)).toBe(true);
    // A redacted copy still carries a valid signature but fails the hash check.
    const redacted = { ...REDACTABLE_SIGNED, content: {} };
    expect(verifyEventSignature(redacted, "1", "domain", "ed25519:1", KEY.publicKeyBase64)).toBe(true);
    expect(checkContentHash(redacted)).toBe(false);
  });
});

describe("tampering", () => {
  const pk = KEY.publicKeyBase64;
  it("changing a protected key breaks the signature", () => {
    for (const patch of [{ sender: "@b:domain" }, { depth: 4 }, { room_id: "!y:domain" }, { hashes: { sha256: "AAAA" } }, { type: "Y" }]) {
      expect(verifyEventSignature({ ...MINIMAL_SIGNED, ...patch }, "1", "domain", "ed25519:1", pk)).toBe(false);
    }
  });
  it("changing content breaks the content hash but not the signature", () => {
    const changed = { ...REDACTABLE_SIGNED, content: { body: "forged" } };
    expect(verifyEventSignature(changed, "1", "domain", "ed25519:1", pk)).toBe(true);
    expect(checkContentHash(changed)).toBe(false);
  });
  it("unsigned changes affect neither", () => {
    const changed = { ...REDACTABLE_SIGNED, unsigned: { age: 5, foo: "bar" } };
    expect(verifyEventSignature(changed, "1", "domain", "ed25519:1", pk)).toBe(true);
    expect(checkContentHash(changed)).toBe(true);
  });
  it("checkContentHash is false, not a throw, for garbage", () => {
    expect(checkContentHash({ ...MINIMAL_SIGNED, hashes: {} })).toBe(false);
    expect(checkContentHash({ ...MINIMAL_SIGNED, hashes: { sha256: "!!!" } })).toBe(false);
    expect(checkContentHash({ ...MINIMAL_SIGNED, hashes: { sha256: "AAAA" } })).toBe(false);
    expect(checkContentHash({ ...MINIMAL_SIGNED, hashes: "x" })).toBe(false);
    expect(checkContentHash({ ...MINIMAL_SIGNED, content: { f: 1.5 } }, "6")).toBe(false);
  });
});

describe("content hash details", () => {
  it("accepts a padded hash value (compares decoded bytes)", () => {
    expect(checkContentHash({ ...MINIMAL_SIGNED, hashes: { sha256: "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos=" } })).toBe(true);
  });
  it("ignores other hash algorithms and keeps them when signing", () => {
    const signed = signEvent({ ...MINIMAL_EVENT, hashes: { sha512: "zzz" } }, "1", "domain", "ed25519:1", SEED);
    expect(signed.hashes).toEqual({ sha512: "zzz", sha256: MINIMAL_SIGNED.hashes.sha256 });
  });
  it("uses lenient canonical JSON for v1–v5 events with floats, strict otherwise", () => {
    const ev = { ...MINIMAL_EVENT, content: { n: 1.5 } };
    expect(() => computeContentHash(ev)).toThrow();
    expect(() => computeContentHash(ev, "6")).toThrow();
    expect(computeContentHash(ev, "5")).toMatch(/^[A-Za-z0-9+/]{43}$/);
  });
});

describe("reference hash", () => {
  it("is sha256 of the canonical redacted event without signatures/unsigned", () => {
    const signed = signEvent({ ...REDACTABLE_EVENT }, "1", "domain", "ed25519:1", SEED);
    const manual = {
      event_id: "$0:domain",
      hashes: signed.hashes,
      origin: "domain",
      origin_server_ts: 1000000,
      type: "m.room.message",
      room_id: "!r:domain",
      sender: "@u:domain",
      content: {},
    };
    const expected = createHash("sha256").update(canonicalJson(manual)).digest();
    expect(encodeBase64(computeReferenceHash(signed, "1"))).toBe(expected.toString("base64").replace(/=+$/, ""));
  });
  it("does not depend on signatures, unsigned or redactable content", () => {
    const a = computeReferenceHash(MINIMAL_SIGNED, "4");
    expect(computeReferenceHash({ ...MINIMAL_SIGNED, signatures: {}, unsigned: { x: 1 }, content: { body: "x" } }, "4")).toEqual(a);
    expect(computeReferenceHash({ ...MINIMAL_SIGNED, depth: 4 }, "4")).not.toEqual(a);
  });
  it("depends on the room version's redaction rules", () => {
    // `origin` is protected up to v10 and not from v11.
    expect(computeReferenceHash(MINIMAL_SIGNED, "10")).not.toEqual(computeReferenceHash(MINIMAL_SIGNED, "11"));
    expect(computeReferenceHash({ ...MINIMAL_SIGNED, origin: "elsewhere" }, "11")).toEqual(computeReferenceHash(MINIMAL_SIGNED, "11"));
  });
});

describe("signature requirements and key lookup", () => {
  const signed = signEvent(MINIMAL_EVENT, "4", "domain", "ed25519:1", SEED) as unknown as Pdu;

  it("requires the sender's server, and in v1/v2 the event id's server too", () => {
    expect(requiredSignatureServers(signed, "4")).toEqual(["domain"]);
    expect(requiredSignatureServers({ ...signed, event_id: "$abc:other.org" }, "1")).toEqual(["domain", "other.org"]);
    expect(requiredSignatureServers({ ...signed, event_id: "$abc:domain" }, "1")).toEqual(["domain"]);
    expect(requiredSignatureServers({ ...signed, event_id: "$abc:other.org" }, "3")).toEqual(["domain"]);
  });

  it("verifies against injected keys", () => {
    expect(verifyEventSignatures(signed, "4", KEYS)).toEqual({ ok: true, keyIds: ["domain ed25519:1"] });
    expect(verifyEventSignatures({ ...signed, depth: 9 }, "4", KEYS).ok).toBe(false);
    expect(verifyEventSignatures({ ...signed, sender: "@a:other" }, "4", KEYS).ok).toBe(false);
    expect(verifyEventSignatures({ ...signed, sender: "not a user" }, "4", KEYS).ok).toBe(false);
    const v1 = signEvent({ ...MINIMAL_EVENT, event_id: "$e:other.org" }, "1", "domain", "ed25519:1", SEED);
    expect(verifyEventSignatures(v1, "1", KEYS).ok).toBe(false); // other.org has not signed
  });

  it("enforces valid_until_ts from room v5", () => {
    const keys: KeyLookup = { get: () => ({ key: KEY.publicKeyBase64, validUntilTs: 999999 }) };
    expect(verifyEventServerSignature(signed, "4", "domain", keys).ok).toBe(true);
    const v5 = signEvent(MINIMAL_EVENT, "5", "domain", "ed25519:1", SEED);
    expect(verifyEventServerSignature(v5, "5", "domain", keys).ok).toBe(false);
    const ok: KeyLookup = { get: () => ({ key: KEY.publicKeyBase64, validUntilTs: 1000000 }) };
    expect(verifyEventServerSignature(v5, "5", "domain", ok).ok).toBe(true);
  });
});

describe("signEvent", () => {
  it("does not modify its input and merges existing signatures", () => {
    const input = { ...MINIMAL_EVENT, signatures: { other: { "ed25519:z": "sig" } } };
    const before = structuredClone(input);
    const signed = signEvent(input, "4", "domain", "ed25519:1", SEED);
    expect(input).toEqual(before);
    expect(signed.signatures.other).toEqual({ "ed25519:z": "sig" });
    expect(signed.signatures.domain?.["ed25519:1"]).toBeTypeOf("string");
  });
});
