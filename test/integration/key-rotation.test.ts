/**
 * Signing key rotation (server-server-api "Publishing Keys"; README "Configuration":
 * replacing SIGNING_KEY rotates the key, the old one stays in `old_verify_keys`).
 * Each deploy with other secrets is a new `env` object, so the Worker's real fetch
 * handler is called with copies of the test env that differ only in SIGNING_KEY,
 * against the same D1.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env as workerEnv } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { decodeBase64, encodeBase64 } from "../../src/base64.js";
import { canonicalJson } from "../../src/canonical-json.js";
import { formatSigningKey, signingKeyFromSeed, verifyBytes } from "../../src/signing.js";
import type { Env } from "../../services/env.js";
import worker from "../../workers/index.js";

const env = workerEnv as unknown as Env;
const SERVER = "localhost:8008";

interface KeyResponse {
  server_name: string;
  verify_keys: Record<string, { key: string }>;
  old_verify_keys: Record<string, { key: string; expired_ts: number }>;
  signatures: Record<string, Record<string, string>>;
}

/** GET /_matrix/key/v2/server as a deploy with these secrets would answer it. */
async function serverKeys(deployEnv: Env): Promise<{ status: number; body: KeyResponse }> {
  const ctx = createExecutionContext();
  const res = await worker.fetch(new Request(`http://${SERVER}/_matrix/key/v2/server`, { headers: { "cf-connecting-ip": "10.9.9.9" } }), deployEnv, ctx);
  await waitOnExecutionContext(ctx);
  return { status: res.status, body: (await res.json()) as KeyResponse };
}

/** The response is signed by its current key (and only that one). */
function expectSelfSigned(body: KeyResponse): void {
  const [keyId, ...more] = Object.keys(body.verify_keys);
  expect(more).toEqual([]);
  expect(Object.keys(body.signatures[SERVER] ?? {})).toEqual([keyId]);
  const { signatures, ...unsigned } = body;
  const ok = verifyBytes(decodeBase64(signatures[SERVER]![keyId!]!), new TextEncoder().encode(canonicalJson(unsigned)), decodeBase64(body.verify_keys[keyId!]!.key));
  expect(ok).toBe(true);
}

const seed = (n: number) => new Uint8Array(32).fill(n);
const k1 = signingKeyFromSeed(seed(1), "rot1");
const k2 = signingKeyFromSeed(seed(2), "rot2");

describe("signing key rotation", () => {
  it("moves a replaced key to old_verify_keys with the time it expired, and keeps it there", async () => {
    const generated = await serverKeys({ ...env });
    expect(generated.status).toBe(200);
    const [generatedId] = Object.keys(generated.body.verify_keys);
    expect(generated.body.old_verify_keys).toEqual({});

    // SIGNING_KEY set after the server generated its own key: the generated one is retired.
    const before1 = Date.now();
    const first = await serverKeys({ ...env, SIGNING_KEY: formatSigningKey(k1) });
    expect(first.status).toBe(200);
    expect(first.body.verify_keys).toEqual({ [k1.keyId]: { key: k1.publicKeyBase64 } });
    expect(Object.keys(first.body.old_verify_keys)).toEqual([generatedId]);
    expect(first.body.old_verify_keys[generatedId!]!.key).toBe(generated.body.verify_keys[generatedId!]!.key);
    const expired0 = first.body.old_verify_keys[generatedId!]!.expired_ts;
    expect(expired0).toBeGreaterThanOrEqual(before1);
    expect(expired0).toBeLessThanOrEqual(Date.now());
    expectSelfSigned(first.body);

    // The same secret in a later deploy is no rotation: nothing new expires.
    const again = await serverKeys({ ...env, SIGNING_KEY: formatSigningKey(k1) });
    expect(again.body.verify_keys).toEqual(first.body.verify_keys);
    expect(again.body.old_verify_keys).toEqual(first.body.old_verify_keys);

    // Replacing the secret: both earlier keys are listed, each with its own expiry.
    const before2 = Date.now();
    const second = await serverKeys({ ...env, SIGNING_KEY: formatSigningKey(k2) });
    expect(second.body.verify_keys).toEqual({ [k2.keyId]: { key: k2.publicKeyBase64 } });
    expect(second.body.old_verify_keys[generatedId!]).toEqual({ key: generated.body.verify_keys[generatedId!]!.key, expired_ts: expired0 });
    expect(second.body.old_verify_keys[k1.keyId]!.key).toBe(encodeBase64(k1.publicKey));
    expect(second.body.old_verify_keys[k1.keyId]!.expired_ts).toBeGreaterThanOrEqual(before2);
    expect(Object.keys(second.body.old_verify_keys).sort()).toEqual([generatedId, k1.keyId].sort());
    expectSelfSigned(second.body);
  });

  it("refuses to sign, without minting a key, once SIGNING_KEY is removed after use", async () => {
    const r = await serverKeys({ ...env, SIGNING_KEY: formatSigningKey(k2) });
    expect(Object.keys(r.body.verify_keys)).toEqual([k2.keyId]);
    // A deploy without the secret: no key it could sign with, so a 500 (and no key swap behind the
    // operator's back). The error says nothing of the cause to the client.
    const removed = await serverKeys({ ...env });
    expect(removed.status).toBe(500);
    expect(removed.body).toEqual({ errcode: "M_UNKNOWN", error: expect.stringMatching(/^Internal server error \(request [^)]+\)$/) });
    // Putting the secret back serves the same key again, with nothing new retired.
    const back = await serverKeys({ ...env, SIGNING_KEY: formatSigningKey(k2) });
    expect(back.body.verify_keys).toEqual(r.body.verify_keys);
    expect(back.body.old_verify_keys).toEqual(r.body.old_verify_keys);
  });
});
