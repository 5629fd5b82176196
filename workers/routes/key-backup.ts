import { Hono, type Context } from "hono";
import { MatrixError, notFound } from "../../src/errors.js";
import type { JsonObject } from "../../src/json.js";
import {
  BackupVersionBodySchema,
  checkBackupAuthData,
  type KeyBackupData,
  KeyBackupDataSchema,
  parseBackupVersion,
  RoomKeyBackupSchema,
  RoomKeysBackupSchema,
  SHOULD_REPLACE_SQL,
  shouldReplaceRoomKey,
} from "../../src/key-backup.js";
import type { AppEnv } from "../app-env.js";
import { readJson } from "../middleware/body.js";
import { requireAuth } from "../middleware/auth.js";
import { clientV3 } from "./paths.js";

/**
 * Server-side key backups (client-server-api "Server-side key backups"):
 * /room_keys/version[/{version}] and /room_keys/keys[/{roomId}[/{sessionId}]].
 * Versions are per-user integers ("1", "2", ...) that are never reused; keys can
 * only be written to the latest version; `etag` counts the changes of a version's
 * keys and `count` is how many it holds.
 */
export const keyBackupRoutes = new Hono<AppEnv>();

interface VersionRow {
  version: number;
  algorithm: string;
  auth_data: string;
  etag: number;
  deleted: number;
}

const unknownVersion = () => notFound("Unknown backup version");

async function latestVersion(db: D1Database, userId: string): Promise<VersionRow | null> {
  return db
    .prepare("SELECT version, algorithm, auth_data, etag, deleted FROM room_key_backup_versions WHERE user_id = ? AND deleted = 0 ORDER BY version DESC LIMIT 1")
    .bind(userId)
    .first<VersionRow>();
}

async function versionRow(db: D1Database, userId: string, version: number | undefined): Promise<VersionRow | null> {
  if (version === undefined) return null;
  return db
    .prepare("SELECT version, algorithm, auth_data, etag, deleted FROM room_key_backup_versions WHERE user_id = ? AND version = ?")
    .bind(userId, version)
    .first<VersionRow>();
}

async function countKeys(db: D1Database, userId: string, version: number): Promise<number> {
  const row = await db
    .prepare("SELECT COUNT(*) AS n FROM room_key_backup_keys WHERE user_id = ? AND version = ?")
    .bind(userId, version)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

async function versionInfo(db: D1Database, userId: string, row: VersionRow) {
  return {
    algorithm: row.algorithm,
    auth_data: JSON.parse(row.auth_data) as JsonObject,
    count: await countKeys(db, userId, row.version),
    etag: String(row.etag),
    version: String(row.version),
  };
}

// ---------------------------------------------------------------------------
// Versions
// ---------------------------------------------------------------------------

keyBackupRoutes.use(clientV3("/room_keys/*"), requireAuth());

/** POST /_matrix/client/v3/room_keys/version: a new version, which becomes the current one. */
keyBackupRoutes.post(clientV3("/room_keys/version"), async (c) => {
  const { userId } = c.get("auth");
  const body = await readJson(c, BackupVersionBodySchema);
  checkBackupAuthData(body.algorithm, body.auth_data);
  const row = await c.env.DB.prepare(
    "INSERT INTO room_key_backup_versions (user_id, version, algorithm, auth_data) " +
      "SELECT ?1, COALESCE(MAX(version), 0) + 1, ?2, ?3 FROM room_key_backup_versions WHERE user_id = ?1 RETURNING version",
  )
    .bind(userId, body.algorithm, JSON.stringify(body.auth_data))
    .first<{ version: number }>();
  return c.json({ version: String(row!.version) });
});

/** GET /_matrix/client/v3/room_keys/version: the current version, or 404 M_NOT_FOUND (clients read that as "no backup"). */
keyBackupRoutes.get(clientV3("/room_keys/version"), async (c) => {
  const { userId } = c.get("auth");
  const row = await latestVersion(c.env.DB, userId);
  if (!row) throw notFound("No current backup version");
  return c.json(await versionInfo(c.env.DB, userId, row));
});

/** GET /_matrix/client/v3/room_keys/version/{version} */
keyBackupRoutes.get(clientV3("/room_keys/version/:version"), async (c) => {
  const { userId } = c.get("auth");
  const row = await versionRow(c.env.DB, userId, parseBackupVersion(c.req.param("version")));
  if (!row || row.deleted) throw unknownVersion();
  return c.json(await versionInfo(c.env.DB, userId, row));
});

/** PUT /_matrix/client/v3/room_keys/version/{version}: only auth_data can change. */
keyBackupRoutes.put(clientV3("/room_keys/version/:version"), async (c) => {
  const { userId } = c.get("auth");
  const versionParam = c.req.param("version");
  const body = await readJson(c, BackupVersionBodySchema);
  if (body.version !== undefined && body.version !== versionParam) {
    throw new MatrixError("M_INVALID_PARAM", "Version in body does not match", 400);
  }
  const row = await versionRow(c.env.DB, userId, parseBackupVersion(versionParam));
  if (!row || row.deleted) throw unknownVersion();
  if (row.algorithm !== body.algorithm) throw new MatrixError("M_INVALID_PARAM", "Algorithm does not match", 400);
  checkBackupAuthData(body.algorithm, body.auth_data);
  await c.env.DB.prepare("UPDATE room_key_backup_versions SET auth_data = ? WHERE user_id = ? AND version = ? AND deleted = 0")
    .bind(JSON.stringify(body.auth_data), userId, row.version)
    .run();
  return c.json({});
});

/** DELETE /_matrix/client/v3/room_keys/version/{version}: the version and its keys; deleting it again is fine. */
keyBackupRoutes.delete(clientV3("/room_keys/version/:version"), async (c) => {
  const { userId } = c.get("auth");
  const row = await versionRow(c.env.DB, userId, parseBackupVersion(c.req.param("version")));
  if (!row) throw unknownVersion();
  if (!row.deleted) {
    await c.env.DB.batch([
      c.env.DB.prepare("DELETE FROM room_key_backup_keys WHERE user_id = ? AND version = ?").bind(userId, row.version),
      c.env.DB.prepare("UPDATE room_key_backup_versions SET deleted = 1 WHERE user_id = ? AND version = ?").bind(userId, row.version),
    ]);
  }
  return c.json({});
});

// ---------------------------------------------------------------------------
// Keys
// ---------------------------------------------------------------------------

/** `?version=` of the /room_keys/keys endpoints (required). */
function versionQuery(c: Context<AppEnv>): string {
  const v = c.req.query("version");
  if (v === undefined) throw new MatrixError("M_MISSING_PARAM", "Missing parameter: version", 400);
  return v;
}

/** The version a read or delete names: it must exist and not be deleted. */
async function readableVersion(c: Context<AppEnv>, userId: string): Promise<VersionRow> {
  const row = await versionRow(c.env.DB, userId, parseBackupVersion(versionQuery(c)));
  if (!row || row.deleted) throw unknownVersion();
  return row;
}

type Upload = { roomId: string; sessionId: string; key: KeyBackupData };

/**
 * Stores uploaded session keys in the current version under the spec's replacement
 * rule, and answers `{etag, count}`. Writing to an older version is 403
 * M_WRONG_ROOM_KEYS_VERSION with `current_version`; to an unknown one 404.
 */
async function storeKeys(c: Context<AppEnv>, userId: string, uploads: Upload[]) {
  const db = c.env.DB;
  const requested = versionQuery(c);
  const current = await latestVersion(db, userId);
  if (!current) throw notFound(`Version '${requested}' not found`);
  if (String(current.version) !== requested) {
    const row = await versionRow(db, userId, parseBackupVersion(requested));
    if (!row || row.deleted) throw notFound(`Version '${requested}' not found`);
    throw new MatrixError("M_WRONG_ROOM_KEYS_VERSION", "Wrong backup version.", 403, { current_version: String(current.version) });
  }
  const version = current.version;

  // Decide with the stored keys in hand; the guarded upsert below applies the same
  // rule again inside D1, so a concurrent upload of the same session cannot undo it.
  let toWrite = uploads;
  if (uploads.length) {
    const { results } = await db
      .prepare(
        "SELECT room_id, session_id, first_message_index, forwarded_count, is_verified FROM room_key_backup_keys " +
          "WHERE user_id = ? AND version = ? AND json_array(room_id, session_id) IN (SELECT value FROM json_each(?))",
      )
      .bind(userId, version, JSON.stringify(uploads.map((u) => [u.roomId, u.sessionId])))
      .all<{ room_id: string; session_id: string; first_message_index: number; forwarded_count: number; is_verified: number }>();
    const existing = new Map(
      results.map((r) => [
        JSON.stringify([r.room_id, r.session_id]),
        { first_message_index: r.first_message_index, forwarded_count: r.forwarded_count, is_verified: r.is_verified === 1 },
      ]),
    );
    toWrite = uploads.filter((u) => shouldReplaceRoomKey(existing.get(JSON.stringify([u.roomId, u.sessionId])), u.key));
  }

  const stmts: D1PreparedStatement[] = [];
  if (toWrite.length) {
    const rows = toWrite.map((u) => [
      u.roomId,
      u.sessionId,
      u.key.first_message_index,
      u.key.forwarded_count,
      u.key.is_verified ? 1 : 0,
      JSON.stringify(u.key.session_data),
    ]);
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
  stmts.push(
    db.prepare("SELECT etag FROM room_key_backup_versions WHERE user_id = ? AND version = ?").bind(userId, version),
    db.prepare("SELECT COUNT(*) AS n FROM room_key_backup_keys WHERE user_id = ? AND version = ?").bind(userId, version),
  );
  const results = await db.batch(stmts);
  const etag = (results[results.length - 2]?.results[0] as { etag: number } | undefined)?.etag ?? 0;
  const count = (results[results.length - 1]?.results[0] as { n: number } | undefined)?.n ?? 0;
  return c.json({ etag: String(etag), count });
}

/** PUT /_matrix/client/v3/room_keys/keys */
keyBackupRoutes.put(clientV3("/room_keys/keys"), async (c) => {
  const { userId } = c.get("auth");
  const body = await readJson(c, RoomKeysBackupSchema);
  const uploads: Upload[] = [];
  for (const [roomId, room] of Object.entries(body.rooms)) {
    for (const [sessionId, key] of Object.entries(room.sessions)) uploads.push({ roomId, sessionId, key });
  }
  return storeKeys(c, userId, uploads);
});

/** PUT /_matrix/client/v3/room_keys/keys/{roomId} */
keyBackupRoutes.put(clientV3("/room_keys/keys/:roomId"), async (c) => {
  const { userId } = c.get("auth");
  const roomId = c.req.param("roomId");
  const body = await readJson(c, RoomKeyBackupSchema);
  return storeKeys(
    c,
    userId,
    Object.entries(body.sessions).map(([sessionId, key]) => ({ roomId, sessionId, key })),
  );
});

/** PUT /_matrix/client/v3/room_keys/keys/{roomId}/{sessionId} */
keyBackupRoutes.put(clientV3("/room_keys/keys/:roomId/:sessionId"), async (c) => {
  const { userId } = c.get("auth");
  const key = await readJson(c, KeyBackupDataSchema);
  return storeKeys(c, userId, [{ roomId: c.req.param("roomId"), sessionId: c.req.param("sessionId"), key }]);
});

interface KeyRow {
  room_id: string;
  session_id: string;
  first_message_index: number;
  forwarded_count: number;
  is_verified: number;
  session_data: string;
}

function keyJson(r: KeyRow) {
  return {
    first_message_index: r.first_message_index,
    forwarded_count: r.forwarded_count,
    is_verified: r.is_verified === 1,
    session_data: JSON.parse(r.session_data) as JsonObject,
  };
}

const KEY_COLUMNS = "room_id, session_id, first_message_index, forwarded_count, is_verified, session_data";

/** GET /_matrix/client/v3/room_keys/keys: `{rooms: {}}` when empty. */
keyBackupRoutes.get(clientV3("/room_keys/keys"), async (c) => {
  const { userId } = c.get("auth");
  const v = await readableVersion(c, userId);
  const { results } = await c.env.DB.prepare(`SELECT ${KEY_COLUMNS} FROM room_key_backup_keys WHERE user_id = ? AND version = ?`)
    .bind(userId, v.version)
    .all<KeyRow>();
  const rooms: Record<string, { sessions: Record<string, ReturnType<typeof keyJson>> }> = {};
  for (const r of results) (rooms[r.room_id] ??= { sessions: {} }).sessions[r.session_id] = keyJson(r);
  return c.json({ rooms });
});

/** GET /_matrix/client/v3/room_keys/keys/{roomId}: `{sessions: {}}` when empty. */
keyBackupRoutes.get(clientV3("/room_keys/keys/:roomId"), async (c) => {
  const { userId } = c.get("auth");
  const v = await readableVersion(c, userId);
  const { results } = await c.env.DB.prepare(`SELECT ${KEY_COLUMNS} FROM room_key_backup_keys WHERE user_id = ? AND version = ? AND room_id = ?`)
    .bind(userId, v.version, c.req.param("roomId"))
    .all<KeyRow>();
  return c.json({ sessions: Object.fromEntries(results.map((r) => [r.session_id, keyJson(r)])) });
});

/** GET /_matrix/client/v3/room_keys/keys/{roomId}/{sessionId}: 404 M_NOT_FOUND when the session is not backed up. */
keyBackupRoutes.get(clientV3("/room_keys/keys/:roomId/:sessionId"), async (c) => {
  const { userId } = c.get("auth");
  const v = await readableVersion(c, userId);
  const row = await c.env.DB.prepare(
    `SELECT ${KEY_COLUMNS} FROM room_key_backup_keys WHERE user_id = ? AND version = ? AND room_id = ? AND session_id = ?`,
  )
    .bind(userId, v.version, c.req.param("roomId"), c.req.param("sessionId"))
    .first<KeyRow>();
  if (!row) throw notFound("No room_keys found");
  return c.json(keyJson(row));
});

/** Deletes keys of a readable version (all, one room, or one session) and answers `{etag, count}`. */
async function deleteKeys(c: Context<AppEnv>, userId: string, roomId?: string, sessionId?: string) {
  const db = c.env.DB;
  const v = await readableVersion(c, userId);
  let where = "user_id = ? AND version = ?";
  const args: (string | number)[] = [userId, v.version];
  if (roomId !== undefined) {
    where += " AND room_id = ?";
    args.push(roomId);
  }
  if (sessionId !== undefined) {
    where += " AND session_id = ?";
    args.push(sessionId);
  }
  const results = await db.batch([
    db.prepare(`DELETE FROM room_key_backup_keys WHERE ${where}`).bind(...args),
    db.prepare("UPDATE room_key_backup_versions SET etag = etag + 1 WHERE user_id = ? AND version = ? RETURNING etag").bind(userId, v.version),
    db.prepare("SELECT COUNT(*) AS n FROM room_key_backup_keys WHERE user_id = ? AND version = ?").bind(userId, v.version),
  ]);
  const etag = (results[1]?.results[0] as { etag: number } | undefined)?.etag ?? v.etag;
  const count = (results[2]?.results[0] as { n: number } | undefined)?.n ?? 0;
  return c.json({ etag: String(etag), count });
}

/** DELETE /_matrix/client/v3/room_keys/keys */
keyBackupRoutes.delete(clientV3("/room_keys/keys"), async (c) => deleteKeys(c, c.get("auth").userId));

/** DELETE /_matrix/client/v3/room_keys/keys/{roomId} */
keyBackupRoutes.delete(clientV3("/room_keys/keys/:roomId"), async (c) => deleteKeys(c, c.get("auth").userId, c.req.param("roomId")));

/** DELETE /_matrix/client/v3/room_keys/keys/{roomId}/{sessionId} */
keyBackupRoutes.delete(clientV3("/room_keys/keys/:roomId/:sessionId"), async (c) =>
  deleteKeys(c, c.get("auth").userId, c.req.param("roomId"), c.req.param("sessionId")),
);
