import { decodeBase64, encodeBase64, encodeBase64Url } from "../src/base64.js";
import { parseSigningKey, publicKeyFromSeed } from "../src/signing.js";
import type { Env } from "./env.js";

/** The server's current signing key, and the public halves of keys it used before. */
export interface ServerKeys {
  keyId: string;
  seed: Uint8Array;
  publicKey: string;
  old: { keyId: string; publicKey: string; expiredTs: number }[];
}

interface KeyRow {
  key_id: string;
  public_key: string;
  seed: string | null;
  expired_ts: number | null;
}

let cached: { env: Env; keys: Promise<ServerKeys> } | undefined;

/**
 * Loads (once per isolate) the signing key: the SIGNING_KEY secret when set,
 * otherwise a key generated on first start and kept in D1. A key that stops being
 * current stays published in old_verify_keys with the time it expired.
 */
export function getServerKeys(env: Env): Promise<ServerKeys> {
  if (cached?.env === env) return cached.keys;
  const keys = loadServerKeys(env);
  cached = { env, keys };
  keys.catch(() => {
    if (cached?.keys === keys) cached = undefined;
  });
  return keys;
}

async function loadServerKeys(env: Env): Promise<ServerKeys> {
  const db = env.DB;
  const now = Date.now();
  if (env.SIGNING_KEY) {
    const { keyId, seed, publicKeyBase64: publicKey } = parseSigningKey(env.SIGNING_KEY);
    const current = await db
      .prepare("SELECT key_id, public_key FROM server_signing_keys WHERE expired_ts IS NULL")
      .first<{ key_id: string; public_key: string }>();
    if (current?.key_id !== keyId || current.public_key !== publicKey) {
      // Rotation: retire whatever was current, record the new key's public half.
      await db.batch([
        db.prepare("UPDATE server_signing_keys SET expired_ts = ? WHERE expired_ts IS NULL").bind(now),
        db
          .prepare(
            "INSERT INTO server_signing_keys (key_id, public_key, seed, created_ts, expired_ts) VALUES (?, ?, NULL, ?, NULL) " +
              "ON CONFLICT (key_id) DO UPDATE SET public_key = excluded.public_key, seed = NULL, expired_ts = NULL",
          )
          .bind(keyId, publicKey, now),
      ]);
    }
    return { keyId, seed, publicKey, old: await oldKeys(db, keyId) };
  }

  let current = await currentGenerated(db);
  if (!current) {
    const seed = crypto.getRandomValues(new Uint8Array(32));
    // Key versions are [a-zA-Z0-9_] (spec appendix "Signing Keys"): no "-" from base64url.
    const version = `a_${encodeBase64Url(crypto.getRandomValues(new Uint8Array(3))).replaceAll("-", "_")}`;
    // The partial unique index lets exactly one concurrent first start win.
    await db
      .prepare(
        "INSERT OR IGNORE INTO server_signing_keys (key_id, public_key, seed, created_ts, expired_ts) VALUES (?, ?, ?, ?, NULL)",
      )
      .bind(`ed25519:${version}`, encodeBase64(publicKeyFromSeed(seed)), encodeBase64(seed), now)
      .run();
    current = await currentGenerated(db);
  }
  if (!current?.seed) {
    throw new Error("The current signing key was set by SIGNING_KEY, which is no longer configured");
  }
  return {
    keyId: current.key_id,
    seed: decodeBase64(current.seed),
    publicKey: current.public_key,
    old: await oldKeys(db, current.key_id),
  };
}

async function currentGenerated(db: D1Database): Promise<KeyRow | null> {
  return db
    .prepare("SELECT key_id, public_key, seed, expired_ts FROM server_signing_keys WHERE expired_ts IS NULL")
    .first<KeyRow>();
}

async function oldKeys(db: D1Database, currentKeyId: string): Promise<ServerKeys["old"]> {
  const { results } = await db
    .prepare("SELECT key_id, public_key, expired_ts FROM server_signing_keys WHERE expired_ts IS NOT NULL AND key_id != ?")
    .bind(currentKeyId)
    .all<KeyRow>();
  return results.map((r) => ({ keyId: r.key_id, publicKey: r.public_key, expiredTs: r.expired_ts ?? 0 }));
}
