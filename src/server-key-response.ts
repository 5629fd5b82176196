/**
 * Checking another server's `/_matrix/key/v2/server` answer (server-server-api
 * "Retrieving server keys"; definitions/keys.yaml): it must name the server we
 * asked, and be signed by its own verify keys — every signature by a listed
 * key must verify and at least one must exist (as Synapse checks it).
 * `valid_until_ts` is capped at 7 days from now (room versions 5+,
 * "Signing key validity period").
 */
import { z } from "zod";
import { tryDecodeBase64 } from "./base64.js";
import { isValidEd25519KeyId } from "./identifiers.js";
import { verifyServerSignature, type VerifyKey } from "./signing.js";

export const MAX_KEY_VALIDITY_MS = 7 * 24 * 60 * 60 * 1000;

const Key = z.object({ key: z.string() });
const KeyResponse = z.object({
  server_name: z.string(),
  valid_until_ts: z.number().int().nonnegative(),
  verify_keys: z.record(z.string(), Key),
  old_verify_keys: z.record(z.string(), Key.extend({ expired_ts: z.number().int().nonnegative() })).optional(),
});

export interface ServerKeySet {
  serverName: string;
  /** Capped at fetch time + 7 days. */
  validUntilTs: number;
  verifyKeys: Map<string, string>;
  oldVerifyKeys: Map<string, { key: string; expiredTs: number }>;
}

export type KeyResponseCheck = { ok: true; keys: ServerKeySet } | { ok: false; error: string };

const isPublicKey = (k: string) => tryDecodeBase64(k)?.length === 32;

export function verifyServerKeyResponse(body: unknown, expectedServer: string, now: number): KeyResponseCheck {
  const parsed = KeyResponse.safeParse(body);
  if (!parsed.success) return { ok: false, error: "malformed key response" };
  const r = parsed.data;
  if (r.server_name !== expectedServer) return { ok: false, error: `key response is for ${r.server_name}, not ${expectedServer}` };
  const verifyKeys = new Map<string, string>();
  for (const [keyId, { key }] of Object.entries(r.verify_keys)) {
    // Keys of other algorithms are skipped, as unknown signature algorithms are.
    if (!keyId.startsWith("ed25519:")) continue;
    if (!isValidEd25519KeyId(keyId) || !isPublicKey(key)) return { ok: false, error: `malformed verify key ${keyId}` };
    verifyKeys.set(keyId, key);
  }
  const oldVerifyKeys = new Map<string, { key: string; expiredTs: number }>();
  for (const [keyId, { key, expired_ts }] of Object.entries(r.old_verify_keys ?? {})) {
    if (!keyId.startsWith("ed25519:") || !isValidEd25519KeyId(keyId) || !isPublicKey(key)) continue;
    oldVerifyKeys.set(keyId, { key, expiredTs: expired_ts });
  }
  const lookup = {
    get: (server: string, keyId: string): VerifyKey | undefined => {
      const key = server === expectedServer ? verifyKeys.get(keyId) : undefined;
      return key === undefined ? undefined : { key };
    },
  };
  const check = verifyServerSignature(body as object, expectedServer, lookup);
  if (!check.ok) return { ok: false, error: `key response not self-signed: ${check.error}` };
  return {
    ok: true,
    keys: { serverName: r.server_name, validUntilTs: Math.min(r.valid_until_ts, now + MAX_KEY_VALIDITY_MS), verifyKeys, oldVerifyKeys },
  };
}
