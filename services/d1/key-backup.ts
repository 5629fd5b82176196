/**
 * Server-side key backups (d1-migrations/0006_e2ee.sql: room_key_backup_versions,
 * room_key_backup_keys). Client-server-api "Server-side key backups": versions
 * are per-user integers never reused; `etag` counts the changes of a version's
 * keys. Deactivation drops both tables' rows (workers/e2ee/device-cleanup.ts).
 */
import { type BackupKeyMeta, SHOULD_REPLACE_SQL } from "../../src/key-backup.js";
import { firstRowOf, type RowsStatement } from "./rows.js";

export interface BackupVersionRow {
  version: number;
  algorithm: string;
  /** JSON object. */
  auth_data: string;
  etag: number;
  /** 1 once deleted: a deleted version's number is never given out again. */
  deleted: number;
}

/** The current (newest, not deleted) backup version. */
export async function latestBackupVersion(db: D1Database, userId: string): Promise<BackupVersionRow | null> {
  return db
    .prepare("SELECT version, algorithm, auth_data, etag, deleted FROM room_key_backup_versions WHERE user_id = ? AND deleted = 0 ORDER BY version DESC LIMIT 1")
    .bind(userId)
    .first<BackupVersionRow>();
}

/** One version, deleted or not. */
export async function loadBackupVersion(db: D1Database, userId: string, version: number): Promise<BackupVersionRow | null> {
  return db
    .prepare("SELECT version, algorithm, auth_data, etag, deleted FROM room_key_backup_versions WHERE user_id = ? AND version = ?")
    .bind(userId, version)
    .first<BackupVersionRow>();
}

/** A new version numbered one past the user's highest (deleted ones included); returns its number. */
export async function createBackupVersion(db: D1Database, userId: string, algorithm: string, authData: Record<string, unknown>): Promise<number> {
  const row = await db
    .prepare(
      "INSERT INTO room_key_backup_versions (user_id, version, algorithm, auth_data) " +
        "SELECT ?1, COALESCE(MAX(version), 0) + 1, ?2, ?3 FROM room_key_backup_versions WHERE user_id = ?1 RETURNING version",
    )
    .bind(userId, algorithm, JSON.stringify(authData))
    .first<{ version: number }>();
  return row!.version;
}

export async function updateBackupAuthData(db: D1Database, userId: string, version: number, authData: Record<string, unknown>): Promise<void> {
  await db
    .prepare("UPDATE room_key_backup_versions SET auth_data = ? WHERE user_id = ? AND version = ? AND deleted = 0")
    .bind(JSON.stringify(authData), userId, version)
    .run();
}

/** Deletes a version's keys and marks the version deleted, in one batch. */
export async function deleteBackupVersion(db: D1Database, userId: string, version: number): Promise<void> {
  await db.batch([
    db.prepare("DELETE FROM room_key_backup_keys WHERE user_id = ? AND version = ?").bind(userId, version),
    db.prepare("UPDATE room_key_backup_versions SET deleted = 1 WHERE user_id = ? AND version = ?").bind(userId, version),
  ]);
}

function countStatement(db: D1Database, userId: string, version: number): RowsStatement<{ n: number }> {
  return db.prepare("SELECT COUNT(*) AS n FROM room_key_backup_keys WHERE user_id = ? AND version = ?").bind(userId, version);
}

export async function countBackupKeys(db: D1Database, userId: string, version: number): Promise<number> {
  const row = await countStatement(db, userId, version).first<{ n: number }>();
  return row?.n ?? 0;
}

export interface BackupKeyMetaRow {
  room_id: string;
  session_id: string;
  first_message_index: number;
  forwarded_count: number;
  is_verified: number;
}

/** What the replacement rule compares, for the stored keys among `sessions` ([roomId, sessionId]). */
export async function loadBackupKeyMetas(db: D1Database, userId: string, version: number, sessions: [string, string][]): Promise<BackupKeyMetaRow[]> {
  const { results } = await db
    .prepare(
      "SELECT room_id, session_id, first_message_index, forwarded_count, is_verified FROM room_key_backup_keys " +
        "WHERE user_id = ? AND version = ? AND json_array(room_id, session_id) IN (SELECT value FROM json_each(?))",
    )
    .bind(userId, version, JSON.stringify(sessions))
    .all<BackupKeyMetaRow>();
  return results;
}

export interface BackupKeyToStore extends BackupKeyMeta {
  roomId: string;
  sessionId: string;
  session_data: Record<string, unknown>;
}

/**
 * Stores keys in a version under the spec's replacement rule, applied again by
 * the guarded upsert (SHOULD_REPLACE_SQL) so a concurrent upload of the same
 * session cannot undo it, and only while the version is not deleted; then
 * answers the version's etag and count. One batch.
 */
export async function storeBackupKeys(db: D1Database, userId: string, version: number, keys: BackupKeyToStore[]): Promise<{ etag: number; count: number }> {
  const stmts: D1PreparedStatement[] = [];
  if (keys.length) {
    const rows = keys.map((k) => [k.roomId, k.sessionId, k.first_message_index, k.forwarded_count, k.is_verified ? 1 : 0, JSON.stringify(k.session_data)]);
    stmts.push(
      db
        .prepare(
          "INSERT INTO room_key_backup_keys (user_id, version, room_id, session_id, first_message_index, forwarded_count, is_verified, session_data) " +
            "SELECT ?1, ?2, json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), json_extract(value, '$[3]'), " +
            "json_extract(value, '$[4]'), json_extract(value, '$[5]') FROM json_each(?3) " +
            "WHERE EXISTS (SELECT 1 FROM room_key_backup_versions WHERE user_id = ?1 AND version = ?2 AND deleted = 0) " +
            "ON CONFLICT (user_id, version, room_id, session_id) DO UPDATE SET first_message_index = excluded.first_message_index, " +
            "forwarded_count = excluded.forwarded_count, is_verified = excluded.is_verified, session_data = excluded.session_data " +
            `WHERE ${SHOULD_REPLACE_SQL}`,
        )
        .bind(userId, version, JSON.stringify(rows)),
      db.prepare("UPDATE room_key_backup_versions SET etag = etag + 1 WHERE user_id = ? AND version = ?").bind(userId, version),
    );
  }
  const etagQuery: RowsStatement<{ etag: number }> = db.prepare("SELECT etag FROM room_key_backup_versions WHERE user_id = ? AND version = ?").bind(userId, version);
  const countQuery = countStatement(db, userId, version);
  stmts.push(etagQuery, countQuery);
  const results = await db.batch(stmts);
  return {
    etag: firstRowOf(etagQuery, results[results.length - 2])?.etag ?? 0,
    count: firstRowOf(countQuery, results[results.length - 1])?.n ?? 0,
  };
}

export interface BackupKeyRow {
  room_id: string;
  session_id: string;
  first_message_index: number;
  forwarded_count: number;
  is_verified: number;
  /** JSON object, opaque to the server. */
  session_data: string;
}

const KEY_COLUMNS = "room_id, session_id, first_message_index, forwarded_count, is_verified, session_data";

/** The keys of a version: all of them, or one room's. */
export async function listBackupKeys(db: D1Database, userId: string, version: number, roomId?: string): Promise<BackupKeyRow[]> {
  const stmt =
    roomId === undefined
      ? db.prepare(`SELECT ${KEY_COLUMNS} FROM room_key_backup_keys WHERE user_id = ? AND version = ?`).bind(userId, version)
      : db.prepare(`SELECT ${KEY_COLUMNS} FROM room_key_backup_keys WHERE user_id = ? AND version = ? AND room_id = ?`).bind(userId, version, roomId);
  const { results } = await stmt.all<BackupKeyRow>();
  return results;
}

export async function loadBackupKey(db: D1Database, userId: string, version: number, roomId: string, sessionId: string): Promise<BackupKeyRow | null> {
  return db
    .prepare(`SELECT ${KEY_COLUMNS} FROM room_key_backup_keys WHERE user_id = ? AND version = ? AND room_id = ? AND session_id = ?`)
    .bind(userId, version, roomId, sessionId)
    .first<BackupKeyRow>();
}

/**
 * Deletes keys of a version (all, one room's, or one session) and counts the
 * change in its etag; answers the new etag (undefined if the version row is
 * gone) and the count left. One batch.
 */
export async function deleteBackupKeys(
  db: D1Database,
  userId: string,
  version: number,
  roomId?: string,
  sessionId?: string,
): Promise<{ etag: number | undefined; count: number }> {
  let where = "user_id = ? AND version = ?";
  const args: (string | number)[] = [userId, version];
  if (roomId !== undefined) {
    where += " AND room_id = ?";
    args.push(roomId);
  }
  if (sessionId !== undefined) {
    where += " AND session_id = ?";
    args.push(sessionId);
  }
  const etagQuery: RowsStatement<{ etag: number }> = db
    .prepare("UPDATE room_key_backup_versions SET etag = etag + 1 WHERE user_id = ? AND version = ? RETURNING etag")
    .bind(userId, version);
  const countQuery = countStatement(db, userId, version);
  const results = await db.batch([db.prepare(`DELETE FROM room_key_backup_keys WHERE ${where}`).bind(...args), etagQuery, countQuery]);
  return { etag: firstRowOf(etagQuery, results[1])?.etag, count: firstRowOf(countQuery, results[2])?.n ?? 0 };
}
