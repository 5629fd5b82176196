import { describe, expect, it } from "vitest";
import { MAX_KEY_VALIDITY_MS, verifyServerKeyResponse } from "../../src/server-key-response.js";
import { signJson, signingKeyFromSeed } from "../../src/signing.js";

const KEY = signingKeyFromSeed(new Uint8Array(32).fill(1), "a");
const OTHER = signingKeyFromSeed(new Uint8Array(32).fill(2), "b");
const NOW = 1_800_000_000_000;

function response(over: Record<string, unknown> = {}, signers = [KEY]) {
  let body: object = {
    server_name: "remote.example",
    valid_until_ts: NOW + 3_600_000,
    verify_keys: { [KEY.keyId]: { key: KEY.publicKeyBase64 } },
    old_verify_keys: { "ed25519:old": { key: OTHER.publicKeyBase64, expired_ts: NOW - 1000 } },
    ...over,
  };
  for (const s of signers) body = signJson(body, "remote.example", s.keyId, s.seed);
  return body;
}

describe("verifyServerKeyResponse (server-server-api Retrieving server keys)", () => {
  it("accepts a self-signed answer and reads current and old keys", () => {
    const r = verifyServerKeyResponse(response(), "remote.example", NOW);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.keys.validUntilTs).toBe(NOW + 3_600_000);
    expect([...r.keys.verifyKeys]).toEqual([[KEY.keyId, KEY.publicKeyBase64]]);
    expect(r.keys.oldVerifyKeys.get("ed25519:old")).toEqual({ key: OTHER.publicKeyBase64, expiredTs: NOW - 1000 });
  });

  it("caps valid_until_ts at 7 days from now", () => {
    const r = verifyServerKeyResponse(response({ valid_until_ts: NOW + 365 * 86_400_000 }), "remote.example", NOW);
    expect(r.ok && r.keys.validUntilTs).toBe(NOW + MAX_KEY_VALIDITY_MS);
  });

  it("refuses an answer for another server", () => {
    const body = signJson({ ...response(), server_name: "evil.example" }, "evil.example", KEY.keyId, KEY.seed);
    expect(verifyServerKeyResponse(body, "remote.example", NOW)).toMatchObject({ ok: false, error: expect.stringContaining("evil.example") });
  });

  it("refuses unsigned answers, answers signed only by unlisted keys, and tampered ones", () => {
    expect(verifyServerKeyResponse(response({}, []), "remote.example", NOW).ok).toBe(false);
    expect(verifyServerKeyResponse(response({}, [OTHER]), "remote.example", NOW).ok).toBe(false);
    const tampered = { ...response(), valid_until_ts: NOW + 7_200_000 };
    expect(verifyServerKeyResponse(tampered, "remote.example", NOW).ok).toBe(false);
    // A second listed key whose signature is bad fails the whole answer.
    const two = response({ verify_keys: { [KEY.keyId]: { key: KEY.publicKeyBase64 }, [OTHER.keyId]: { key: OTHER.publicKeyBase64 } } });
    const forged = { ...two, signatures: { "remote.example": { ...(two as { signatures: Record<string, Record<string, string>> }).signatures["remote.example"], [OTHER.keyId]: "AAAA" } } };
    expect(verifyServerKeyResponse(forged, "remote.example", NOW).ok).toBe(false);
  });

  it("refuses malformed bodies and keys", () => {
    for (const body of [null, "x", {}, { server_name: "remote.example" }, response({ valid_until_ts: "soon" })]) {
      expect(verifyServerKeyResponse(body, "remote.example", NOW).ok).toBe(false);
    }
    expect(verifyServerKeyResponse(response({ verify_keys: { "ed25519:bad-id": { key: KEY.publicKeyBase64 } } }), "remote.example", NOW).ok).toBe(false);
    expect(verifyServerKeyResponse(response({ verify_keys: { [KEY.keyId]: { key: "c2hvcnQ" } } }), "remote.example", NOW).ok).toBe(false);
  });
});
