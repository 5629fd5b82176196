import { describe, expect, it } from "vitest";
import {
  checkCrossSigningKey,
  checkDeviceKeys,
  checkDeviceSignedBySelfSigningKey,
  checkMasterSignedByDevices,
  checkMasterSignedByUserSigningKey,
  checkOneTimeKey,
  checkSignedByMaster,
  duplicateOneTimeKeyMessage,
  failureOf,
  oneTimeKeysMatch,
  parseAlgorithmKeyId,
  sameSignedContent,
  withSignatures,
} from "../../src/e2ee-keys.js";
import { MatrixError } from "../../src/errors.js";
import type { JsonObject } from "../../src/json.js";
import { crossSigningKey, curveKey, ed25519Pair, makeCrossSigning, makeDevice, sign, signedKeys } from "../fixtures/e2ee.js";

const ALICE = "@alice:example.org";
const BOB = "@bob:example.org";

function errOf(f: () => unknown): MatrixError {
  try {
    f();
  } catch (e) {
    if (e instanceof MatrixError) return e;
    throw e;
  }
  throw new Error("expected a MatrixError");
}

describe("device keys", () => {
  it("accepts self-signed device keys and returns the ed25519 key", () => {
    const dev = makeDevice(ALICE, "DEV1");
    const checked = checkDeviceKeys(dev.keys, ALICE, "DEV1");
    expect(checked.ed25519).toBe(dev.ed.pub);
    expect(JSON.parse(checked.canonical)).toEqual(dev.keys);
  });

  it("strips `unsigned` from what is stored", () => {
    const dev = makeDevice(ALICE, "DEV1");
    const checked = checkDeviceKeys({ ...dev.keys, unsigned: { device_display_name: "x" } }, ALICE, "DEV1");
    expect(checked.json).not.toHaveProperty("unsigned");
  });

  it("refuses ids that are not the caller's", () => {
    const dev = makeDevice(ALICE, "DEV1");
    expect(errOf(() => checkDeviceKeys(dev.keys, BOB, "DEV1")).errcode).toBe("M_BAD_JSON");
    expect(errOf(() => checkDeviceKeys(dev.keys, ALICE, "DEV2")).errcode).toBe("M_BAD_JSON");
  });

  it("refuses bad or missing signatures with M_INVALID_SIGNATURE", () => {
    const dev = makeDevice(ALICE, "DEV1");
    const tampered = { ...dev.keys, algorithms: ["m.megolm.v1.aes-sha2"] };
    expect(errOf(() => checkDeviceKeys(tampered, ALICE, "DEV1")).errcode).toBe("M_INVALID_SIGNATURE");
    const other = ed25519Pair();
    const signedByOther = sign({ ...dev.keys, signatures: undefined }, ALICE, "ed25519:DEV1", other.seed);
    expect(errOf(() => checkDeviceKeys(signedByOther, ALICE, "DEV1")).errcode).toBe("M_INVALID_SIGNATURE");
  });

  it("refuses malformed shapes with 400s", () => {
    const dev = makeDevice(ALICE, "DEV1");
    const cases: unknown[] = [
      null,
      "keys",
      { ...dev.keys, algorithms: "x" },
      { ...dev.keys, keys: { "ed25519:DEV1": 5 } },
      { ...dev.keys, keys: { "curve25519:DEV1": curveKey() } },
      { ...dev.keys, keys: { ...(dev.keys.keys as JsonObject), "ed25519:OTHER": dev.ed.pub } },
      { ...dev.keys, keys: { "ed25519:DEV1": "bm90IDMyIGJ5dGVz" } },
      { ...dev.keys, signatures: { [ALICE]: { "ed25519:DEV1": 7 } } },
      { ...dev.keys, signatures: undefined },
      { ...dev.keys, extra: 1.5 },
    ];
    for (const c of cases) {
      const e = errOf(() => checkDeviceKeys(c, ALICE, "DEV1"));
      expect(e.status, JSON.stringify(c)).toBe(400);
    }
  });
});

describe("one-time and fallback keys", () => {
  const dev = makeDevice(ALICE, "DEV1");

  it("accepts keys signed by the device", () => {
    const [[name, obj]] = Object.entries(signedKeys(dev, ["AAAAAQ"])) as [[string, JsonObject]];
    const k = checkOneTimeKey(name, obj, ALICE, "DEV1", dev.ed.pub, "one_time_keys");
    expect(k).toMatchObject({ algorithm: "signed_curve25519", keyId: "AAAAAQ" });
    const [[fname, fobj]] = Object.entries(signedKeys(dev, ["AAAAAg"], { fallback: true })) as [[string, JsonObject]];
    expect(checkOneTimeKey(fname, fobj, ALICE, "DEV1", dev.ed.pub, "fallback_keys").value).toMatchObject({ fallback: true });
  });

  it("accepts plain curve25519 keys as strings", () => {
    expect(checkOneTimeKey("curve25519:AAAA", curveKey(), ALICE, "DEV1", undefined, "one_time_keys").algorithm).toBe("curve25519");
    expect(errOf(() => checkOneTimeKey("curve25519:AAAA", "short", ALICE, "DEV1", undefined, "one_time_keys")).status).toBe(400);
  });

  it("refuses unsigned and wrongly signed keys", () => {
    expect(errOf(() => checkOneTimeKey("signed_curve25519:A", curveKey(), ALICE, "DEV1", dev.ed.pub, "one_time_keys")).errcode).toBe("M_BAD_JSON");
    const forged = sign({ key: curveKey() }, ALICE, "ed25519:DEV1", ed25519Pair().seed);
    expect(errOf(() => checkOneTimeKey("signed_curve25519:A", forged, ALICE, "DEV1", dev.ed.pub, "one_time_keys")).errcode).toBe("M_INVALID_SIGNATURE");
    const [[name, obj]] = Object.entries(signedKeys(dev, ["A"])) as [[string, JsonObject]];
    expect(errOf(() => checkOneTimeKey(name, { ...obj, fallback: "yes" }, ALICE, "DEV1", dev.ed.pub, "fallback_keys")).errcode).toBe("M_BAD_JSON");
  });

  it("without device keys, takes signed keys unchecked (nothing to check them against) but still checks their shape", () => {
    const [[name, obj]] = Object.entries(signedKeys(dev, ["A"])) as [[string, JsonObject]];
    expect(checkOneTimeKey(name, obj, ALICE, "DEV1", undefined, "one_time_keys")).toMatchObject({ algorithm: "signed_curve25519", keyId: "A", value: obj });
    // Unverifiable now; the claimer, who has the device keys, rejects it.
    const forged = sign({ key: curveKey() }, ALICE, "ed25519:DEV1", ed25519Pair().seed);
    expect(checkOneTimeKey("signed_curve25519:B", forged, ALICE, "DEV1", undefined, "one_time_keys").keyId).toBe("B");
    expect(errOf(() => checkOneTimeKey("signed_curve25519:C", curveKey(), ALICE, "DEV1", undefined, "one_time_keys")).errcode).toBe("M_BAD_JSON");
    expect(errOf(() => checkOneTimeKey("signed_curve25519:C", { key: curveKey() }, ALICE, "DEV1", undefined, "one_time_keys")).errcode).toBe("M_BAD_JSON");
    expect(errOf(() => checkOneTimeKey("signed_curve25519:C", { ...obj, key: "short" }, ALICE, "DEV1", undefined, "one_time_keys")).errcode).toBe("M_INVALID_PARAM");
    expect(errOf(() => checkOneTimeKey(name, { ...obj, fallback: "yes" }, ALICE, "DEV1", undefined, "fallback_keys")).errcode).toBe("M_BAD_JSON");
  });

  it("needs exactly one colon in a key name", () => {
    expect(parseAlgorithmKeyId("signed_curve25519:AAAA", "x")).toEqual({ algorithm: "signed_curve25519", keyId: "AAAA" });
    for (const bad of ["nocolon", "a:b:c", ":b", "a:"]) expect(() => parseAlgorithmKeyId(bad, "x")).toThrow(MatrixError);
  });

  it("a re-uploaded key id matches when only the signatures differ", () => {
    const key = curveKey();
    const a = sign({ key }, ALICE, "ed25519:DEV1", dev.ed.seed);
    const b = { key, signatures: { [ALICE]: { "ed25519:DEV1": "other" } } };
    expect(oneTimeKeysMatch(a, b)).toBe(true);
    expect(oneTimeKeysMatch(a, { key: curveKey(), signatures: a.signatures })).toBe(false);
    expect(oneTimeKeysMatch("abc", "abc")).toBe(true);
    expect(oneTimeKeysMatch("abc", { key: "abc" })).toBe(false);
  });

  it("words the duplicate-key error the way matrix-rust-sdk parses it", () => {
    const old = sign({ key: curveKey() }, ALICE, "ed25519:DEV1", dev.ed.seed);
    const neu = sign({ key: curveKey() }, ALICE, "ed25519:DEV1", dev.ed.seed);
    const msg = duplicateOneTimeKeyMessage("signed_curve25519", "AAAA", old, neu);
    expect(msg.startsWith("One time key signed_curve25519:AAAA already exists.")).toBe(true);
    // DuplicateOneTimeKeyErrorMessage::from_str: split at ';', strip "Old key:" / "new key:", replace ' with ".
    const [first, second] = msg.split(";") as [string, string];
    const oldJson = first.slice(first.indexOf("Old key:")).trim().slice("Old key:".length);
    const newJson = second.trim().slice("new key:".length).replace(/'/g, '"');
    expect(JSON.parse(oldJson).key).toBe(old.key);
    expect(JSON.parse(newJson).key).toBe(neu.key);
  });
});

describe("cross-signing keys", () => {
  const cs = makeCrossSigning(ALICE);

  it("accepts well-formed keys and finds their ids", () => {
    const m = checkCrossSigningKey(cs.masterKey, ALICE, "master");
    expect(m.keyId).toBe(`ed25519:${cs.master.pub}`);
    expect(m.publicKey).toBe(cs.master.pub);
    const ssk = checkCrossSigningKey(cs.selfSigningKey, ALICE, "self_signing");
    checkSignedByMaster(ssk, ALICE, m, "self_signing");
    checkSignedByMaster(checkCrossSigningKey(cs.userSigningKey, ALICE, "user_signing"), ALICE, m, "user_signing");
  });

  it("refuses wrong owner, usage and key sets", () => {
    const p = ed25519Pair();
    const bad: unknown[] = [
      { ...cs.masterKey, user_id: BOB },
      { ...cs.masterKey, usage: ["self_signing"] },
      { ...cs.masterKey, usage: ["master", "bogus"] },
      { ...cs.masterKey, usage: "master" },
      { ...cs.masterKey, keys: {} },
      { ...cs.masterKey, keys: { [`ed25519:${cs.master.pub}`]: cs.master.pub, [`ed25519:${p.pub}`]: p.pub } },
      { ...cs.masterKey, keys: { [`ed25519:${p.pub}`]: cs.master.pub } },
      { ...cs.masterKey, keys: { "curve25519:abc": "abc" } },
      { ...cs.masterKey, keys: { "ed25519:c2hvcnQ": "c2hvcnQ" } },
      { ...cs.masterKey, signatures: [] },
      "master",
    ];
    for (const b of bad) expect(errOf(() => checkCrossSigningKey(b, ALICE, "master")).status, JSON.stringify(b)).toBe(400);
  });

  it("refuses a self-signing key not signed by the master key", () => {
    const other = makeCrossSigning(ALICE);
    const ssk = checkCrossSigningKey(other.selfSigningKey, ALICE, "self_signing");
    const m = checkCrossSigningKey(cs.masterKey, ALICE, "master");
    expect(errOf(() => checkSignedByMaster(ssk, ALICE, m, "self_signing")).errcode).toBe("M_INVALID_SIGNATURE");
    const unsigned = checkCrossSigningKey(crossSigningKey(ALICE, "self_signing", ed25519Pair()), ALICE, "self_signing");
    expect(errOf(() => checkSignedByMaster(unsigned, ALICE, m, "self_signing")).errcode).toBe("M_INVALID_SIGNATURE");
  });
});

describe("uploaded signatures", () => {
  const cs = makeCrossSigning(ALICE);
  const ssk = { keyId: `ed25519:${cs.selfSigning.pub}`, publicKey: cs.selfSigning.pub };
  const usk = { keyId: `ed25519:${cs.userSigning.pub}`, publicKey: cs.userSigning.pub };
  const dev = makeDevice(ALICE, "DEV1");

  it("a device signed by the self-signing key", () => {
    const signed = sign(dev.keys, ALICE, ssk.keyId, cs.selfSigning.seed);
    const s = checkDeviceSignedBySelfSigningKey(signed, dev.keys, ALICE, ssk);
    expect(s.signerKeyId).toBe(ssk.keyId);
    expect(s.signature).toBe(signed.signatures[ALICE]![ssk.keyId]);
    // Signed by the wrong key, or a different object: refused.
    const forged = sign(dev.keys, ALICE, ssk.keyId, cs.userSigning.seed);
    expect(errOf(() => checkDeviceSignedBySelfSigningKey(forged, dev.keys, ALICE, ssk)).errcode).toBe("M_INVALID_SIGNATURE");
    const changed = sign({ ...dev.keys, algorithms: [] }, ALICE, ssk.keyId, cs.selfSigning.seed);
    expect(errOf(() => checkDeviceSignedBySelfSigningKey(changed, dev.keys, ALICE, ssk)).errcode).toBe("M_INVALID_PARAM");
    expect(errOf(() => checkDeviceSignedBySelfSigningKey(dev.keys, dev.keys, ALICE, ssk)).errcode).toBe("M_INVALID_SIGNATURE");
  });

  it("the master key signed by the user's devices", () => {
    const masterKeyId = `ed25519:${cs.master.pub}`;
    const signed = sign(cs.masterKey, ALICE, "ed25519:DEV1", dev.ed.seed);
    const sigs = checkMasterSignedByDevices(signed, cs.masterKey, masterKeyId, ALICE, new Map([["DEV1", dev.ed.pub]]));
    expect(sigs).toEqual([{ signerKeyId: "ed25519:DEV1", signature: signed.signatures[ALICE]!["ed25519:DEV1"] }]);
    expect(errOf(() => checkMasterSignedByDevices(signed, cs.masterKey, masterKeyId, ALICE, new Map())).errcode).toBe("M_INVALID_SIGNATURE");
    const bad = sign(cs.masterKey, ALICE, "ed25519:DEV1", ed25519Pair().seed);
    expect(errOf(() => checkMasterSignedByDevices(bad, cs.masterKey, masterKeyId, ALICE, new Map([["DEV1", dev.ed.pub]]))).errcode).toBe(
      "M_INVALID_SIGNATURE",
    );
    // The master key's own signature is not a device signature: ignored.
    const selfSigned = sign(signed, ALICE, masterKeyId, cs.master.seed);
    expect(checkMasterSignedByDevices(selfSigned, cs.masterKey, masterKeyId, ALICE, new Map([["DEV1", dev.ed.pub]]))).toHaveLength(1);
  });

  it("another user's master key signed by the user-signing key", () => {
    const bob = makeCrossSigning(BOB);
    const signed = sign(bob.masterKey, ALICE, usk.keyId, cs.userSigning.seed);
    expect(checkMasterSignedByUserSigningKey(signed, bob.masterKey, ALICE, usk).signerKeyId).toBe(usk.keyId);
    const forged = sign(bob.masterKey, ALICE, usk.keyId, cs.selfSigning.seed);
    expect(errOf(() => checkMasterSignedByUserSigningKey(forged, bob.masterKey, ALICE, usk)).errcode).toBe("M_INVALID_SIGNATURE");
    const wrongKey = sign(makeCrossSigning(BOB).masterKey, ALICE, usk.keyId, cs.userSigning.seed);
    expect(errOf(() => checkMasterSignedByUserSigningKey(wrongKey, bob.masterKey, ALICE, usk)).errcode).toBe("M_INVALID_PARAM");
  });

  it("merges stored signatures into a key and compares keys without them", () => {
    const merged = withSignatures(dev.keys, [{ signer: ALICE, keyId: ssk.keyId, signature: "sig" }, { signer: BOB, keyId: "ed25519:x", signature: "s2" }]);
    expect((merged.signatures as JsonObject)[ALICE]).toMatchObject({ "ed25519:DEV1": expect.any(String), [ssk.keyId]: "sig" });
    expect((merged.signatures as JsonObject)[BOB]).toEqual({ "ed25519:x": "s2" });
    expect(dev.keys.signatures as JsonObject).not.toHaveProperty(BOB);
    expect(sameSignedContent(merged, dev.keys)).toBe(true);
    expect(sameSignedContent({ ...merged, algorithms: [] }, dev.keys)).toBe(false);
  });

  it("failures carry errcode and error only (ruma refuses `error` next to `message`)", () => {
    expect(failureOf(new MatrixError("M_INVALID_SIGNATURE", "Invalid signature", 400))).toEqual({ errcode: "M_INVALID_SIGNATURE", error: "Invalid signature" });
  });
});
