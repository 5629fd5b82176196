/**
 * Cross-signing keys and signatures (d1-migrations/0006_e2ee.sql:
 * e2e_cross_signing_keys, e2e_cross_signing_signatures). Client-server-api
 * "Cross-signing": /keys/device_signing/upload and /keys/signatures/upload write
 * them, /keys/query reads them.
 */
import type { CrossSigningUsage } from "../../src/e2ee-keys.js";
import type { RowsStatement } from "./rows.js";

export interface CrossSigningKeyRow {
  key_type: CrossSigningUsage;
  public_key: string;
  key_json: string;
}

/** A user's own cross-signing keys (master, self-signing, user-signing). */
export function crossSigningKeysStatement(db: D1Database, userId: string): RowsStatement<CrossSigningKeyRow> {
  return db.prepare("SELECT key_type, public_key, key_json FROM e2e_cross_signing_keys WHERE user_id = ?").bind(userId);
}

export async function loadCrossSigningKeys(db: D1Database, userId: string): Promise<CrossSigningKeyRow[]> {
  const { results } = await crossSigningKeysStatement(db, userId).all<CrossSigningKeyRow>();
  return results;
}

/** Stores (or replaces) one of a user's cross-signing keys; for a batch that records the device-list change. */
export function storeCrossSigningKeyStatement(
  db: D1Database,
  userId: string,
  usage: CrossSigningUsage,
  key: { publicKey: string; canonical: string },
): D1PreparedStatement {
  return db
    .prepare(
      "INSERT INTO e2e_cross_signing_keys (user_id, key_type, public_key, key_json) VALUES (?, ?, ?, ?) " +
        "ON CONFLICT (user_id, key_type) DO UPDATE SET public_key = excluded.public_key, key_json = excluded.key_json",
    )
    .bind(userId, usage, key.publicKey, key.canonical);
}

export interface UserCrossSigningKeyRow extends CrossSigningKeyRow {
  user_id: string;
}

/**
 * The cross-signing keys of `userIds` that `requester` may see: master and
 * self-signing keys of everyone, the user-signing key only of the requester.
 */
export function visibleCrossSigningKeysStatement(db: D1Database, userIds: string[], requester: string): RowsStatement<UserCrossSigningKeyRow> {
  return db
    .prepare(
      "SELECT user_id, key_type, public_key, key_json FROM e2e_cross_signing_keys " +
        "WHERE user_id IN (SELECT value FROM json_each(?)) AND (key_type != 'user_signing' OR user_id = ?)",
    )
    .bind(JSON.stringify(userIds), requester);
}

export interface MasterKeyRow {
  user_id: string;
  public_key: string;
  key_json: string;
}

/** The master keys of `userIds` (the keys a user-signing key signs). */
export function masterKeysStatement(db: D1Database, userIds: string[]): RowsStatement<MasterKeyRow> {
  return db
    .prepare("SELECT user_id, public_key, key_json FROM e2e_cross_signing_keys WHERE key_type = 'master' AND user_id IN (SELECT value FROM json_each(?))")
    .bind(JSON.stringify(userIds));
}

export interface SignatureRow {
  target_user_id: string;
  target_key_id: string;
  signer_user_id: string;
  signer_key_id: string;
  signature: string;
}

/**
 * Signatures on the keys of `userIds` that `requester` may see: those by the
 * key's owner (own devices and cross-signing keys) and those by the requester;
 * never other users' user-signing signatures.
 */
export function visibleSignaturesStatement(db: D1Database, userIds: string[], requester: string): RowsStatement<SignatureRow> {
  return db
    .prepare(
      "SELECT target_user_id, target_key_id, signer_user_id, signer_key_id, signature FROM e2e_cross_signing_signatures " +
        "WHERE target_user_id IN (SELECT value FROM json_each(?)) AND (signer_user_id = target_user_id OR signer_user_id = ?)",
    )
    .bind(JSON.stringify(userIds), requester);
}

/** A checked signature by `signer` to store. */
export interface SignatureToStore {
  targetUserId: string;
  targetKeyId: string;
  signerKeyId: string;
  signature: string;
}

/** Stores signatures by one signer; a new signature by the same key on the same target replaces the old one. */
export function storeSignaturesStatement(db: D1Database, signer: string, signatures: SignatureToStore[]): D1PreparedStatement {
  return db
    .prepare(
      "INSERT INTO e2e_cross_signing_signatures (target_user_id, target_key_id, signer_user_id, signer_key_id, signature) " +
        "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), ?, json_extract(value, '$[2]'), json_extract(value, '$[3]') " +
        "FROM json_each(?) WHERE true ON CONFLICT DO UPDATE SET signature = excluded.signature",
    )
    .bind(signer, JSON.stringify(signatures.map((s) => [s.targetUserId, s.targetKeyId, s.signerKeyId, s.signature])));
}

/** Whether `publicKey` is one of the user's cross-signing keys (they share the device id namespace). */
export async function isCrossSigningKeyOf(db: D1Database, userId: string, publicKey: string): Promise<boolean> {
  return (await db.prepare("SELECT 1 AS x FROM e2e_cross_signing_keys WHERE user_id = ? AND public_key = ?").bind(userId, publicKey).first()) !== null;
}
