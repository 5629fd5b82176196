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
  shouldReplaceRoomKey,
} from "../../src/key-backup.js";
import type { AppEnv } from "../app-env.js";
import { jsonBody } from "../middleware/body.js";
import { requireAuth } from "../middleware/auth.js";
import {
  type BackupKeyRow,
  type BackupKeyToStore,
  type BackupVersionRow,
  countBackupKeys,
  createBackupVersion,
  deleteBackupKeys,
  deleteBackupVersion,
  latestBackupVersion,
  listBackupKeys,
  loadBackupKey,
  loadBackupKeyMetas,
  loadBackupVersion,
  storeBackupKeys,
  updateBackupAuthData,
} from "../../services/d1/key-backup.js";
import { clientV3 } from "./paths.js";

/**
 * Server-side key backups (client-server-api "Server-side key backups"):
 * /room_keys/version[/{version}] and /room_keys/keys[/{roomId}[/{sessionId}]].
 * Versions are per-user integers ("1", "2", ...) that are never reused; keys can
 * only be written to the latest version; `etag` counts the changes of a version's
 * keys and `count` is how many it holds.
 */
export const keyBackupRoutes = new Hono<AppEnv>();

const unknownVersion = () => notFound("Unknown backup version");

/** The version a path or query parameter names; one that cannot exist is null, like a missing one. */
async function versionRow(db: D1Database, userId: string, version: number | undefined): Promise<BackupVersionRow | null> {
  return version === undefined ? null : loadBackupVersion(db, userId, version);
}

async function versionInfo(db: D1Database, userId: string, row: BackupVersionRow) {
  return {
    algorithm: row.algorithm,
    auth_data: JSON.parse(row.auth_data) as JsonObject,
    count: await countBackupKeys(db, userId, row.version),
    etag: String(row.etag),
    version: String(row.version),
  };
}

// ---------------------------------------------------------------------------
// Versions
// ---------------------------------------------------------------------------

keyBackupRoutes.use(clientV3("/room_keys/*"), requireAuth());

/** POST /_matrix/client/v3/room_keys/version: a new version, which becomes the current one. */
keyBackupRoutes.post(clientV3("/room_keys/version"), jsonBody(BackupVersionBodySchema), async (c) => {
  const { userId } = c.get("auth");
  const body = c.req.valid("json");
  checkBackupAuthData(body.algorithm, body.auth_data);
  const version = await createBackupVersion(c.env.DB, userId, body.algorithm, body.auth_data);
  return c.json({ version: String(version) });
});

/** GET /_matrix/client/v3/room_keys/version: the current version, or 404 M_NOT_FOUND (clients read that as "no backup"). */
keyBackupRoutes.get(clientV3("/room_keys/version"), async (c) => {
  const { userId } = c.get("auth");
  const row = await latestBackupVersion(c.env.DB, userId);
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
keyBackupRoutes.put(clientV3("/room_keys/version/:version"), jsonBody(BackupVersionBodySchema), async (c) => {
  const { userId } = c.get("auth");
  const versionParam = c.req.param("version");
  const body = c.req.valid("json");
  if (body.version !== undefined && body.version !== versionParam) {
    throw new MatrixError("M_INVALID_PARAM", "Version in body does not match", 400);
  }
  const row = await versionRow(c.env.DB, userId, parseBackupVersion(versionParam));
  if (!row || row.deleted) throw unknownVersion();
  if (row.algorithm !== body.algorithm) throw new MatrixError("M_INVALID_PARAM", "Algorithm does not match", 400);
  checkBackupAuthData(body.algorithm, body.auth_data);
  await updateBackupAuthData(c.env.DB, userId, row.version, body.auth_data);
  return c.json({});
});

/** DELETE /_matrix/client/v3/room_keys/version/{version}: the version and its keys; deleting it again is fine. */
keyBackupRoutes.delete(clientV3("/room_keys/version/:version"), async (c) => {
  const { userId } = c.get("auth");
  const row = await versionRow(c.env.DB, userId, parseBackupVersion(c.req.param("version")));
  if (!row) throw unknownVersion();
  if (!row.deleted) await deleteBackupVersion(c.env.DB, userId, row.version);
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
async function readableVersion(c: Context<AppEnv>, userId: string): Promise<BackupVersionRow> {
  const row = await versionRow(c.env.DB, userId, parseBackupVersion(versionQuery(c)));
  if (!row || row.deleted) throw unknownVersion();
  return row;
}

type Upload = { roomId: string; sessionId: string; key: KeyBackupData };

const asStored = (u: Upload): BackupKeyToStore => ({ roomId: u.roomId, sessionId: u.sessionId, ...u.key });

/**
 * Stores uploaded session keys in the current version under the spec's replacement
 * rule, and answers `{etag, count}`. Writing to an older version is 403
 * M_WRONG_ROOM_KEYS_VERSION with `current_version`; to an unknown one 404.
 */
async function storeKeys(c: Context<AppEnv>, userId: string, uploads: Upload[]) {
  const db = c.env.DB;
  const requested = versionQuery(c);
  const current = await latestBackupVersion(db, userId);
  if (!current) throw notFound(`Version '${requested}' not found`);
  if (String(current.version) !== requested) {
    const row = await versionRow(db, userId, parseBackupVersion(requested));
    if (!row || row.deleted) throw notFound(`Version '${requested}' not found`);
    throw new MatrixError("M_WRONG_ROOM_KEYS_VERSION", "Wrong backup version.", 403, { current_version: String(current.version) });
  }
  const version = current.version;

  // Decide with the stored keys in hand; the guarded upsert (storeBackupKeys) applies
  // the same rule again inside D1, so a concurrent upload of the same session cannot undo it.
  let toWrite = uploads;
  if (uploads.length) {
    const results = await loadBackupKeyMetas(db, userId, version, uploads.map((u) => [u.roomId, u.sessionId]));
    const existing = new Map(
      results.map((r) => [
        JSON.stringify([r.room_id, r.session_id]),
        { first_message_index: r.first_message_index, forwarded_count: r.forwarded_count, is_verified: r.is_verified === 1 },
      ]),
    );
    toWrite = uploads.filter((u) => shouldReplaceRoomKey(existing.get(JSON.stringify([u.roomId, u.sessionId])), u.key));
  }

  const { etag, count } = await storeBackupKeys(db, userId, version, toWrite.map(asStored));
  return c.json({ etag: String(etag), count });
}

/** PUT /_matrix/client/v3/room_keys/keys */
keyBackupRoutes.put(clientV3("/room_keys/keys"), jsonBody(RoomKeysBackupSchema), async (c) => {
  const { userId } = c.get("auth");
  const body = c.req.valid("json");
  const uploads: Upload[] = [];
  for (const [roomId, room] of Object.entries(body.rooms)) {
    for (const [sessionId, key] of Object.entries(room.sessions)) uploads.push({ roomId, sessionId, key });
  }
  return storeKeys(c, userId, uploads);
});

/** PUT /_matrix/client/v3/room_keys/keys/{roomId} */
keyBackupRoutes.put(clientV3("/room_keys/keys/:roomId"), jsonBody(RoomKeyBackupSchema), async (c) => {
  const { userId } = c.get("auth");
  const roomId = c.req.param("roomId");
  const body = c.req.valid("json");
  return storeKeys(
    c,
    userId,
    Object.entries(body.sessions).map(([sessionId, key]) => ({ roomId, sessionId, key })),
  );
});

/** PUT /_matrix/client/v3/room_keys/keys/{roomId}/{sessionId} */
keyBackupRoutes.put(clientV3("/room_keys/keys/:roomId/:sessionId"), jsonBody(KeyBackupDataSchema), async (c) => {
  const { userId } = c.get("auth");
  const key = c.req.valid("json");
  return storeKeys(c, userId, [{ roomId: c.req.param("roomId"), sessionId: c.req.param("sessionId"), key }]);
});

function keyJson(r: BackupKeyRow) {
  return {
    first_message_index: r.first_message_index,
    forwarded_count: r.forwarded_count,
    is_verified: r.is_verified === 1,
    session_data: JSON.parse(r.session_data) as JsonObject,
  };
}

/** GET /_matrix/client/v3/room_keys/keys: `{rooms: {}}` when empty. */
keyBackupRoutes.get(clientV3("/room_keys/keys"), async (c) => {
  const { userId } = c.get("auth");
  const v = await readableVersion(c, userId);
  const results = await listBackupKeys(c.env.DB, userId, v.version);
  const rooms: Record<string, { sessions: Record<string, ReturnType<typeof keyJson>> }> = {};
  for (const r of results) (rooms[r.room_id] ??= { sessions: {} }).sessions[r.session_id] = keyJson(r);
  return c.json({ rooms });
});

/** GET /_matrix/client/v3/room_keys/keys/{roomId}: `{sessions: {}}` when empty. */
keyBackupRoutes.get(clientV3("/room_keys/keys/:roomId"), async (c) => {
  const { userId } = c.get("auth");
  const v = await readableVersion(c, userId);
  const results = await listBackupKeys(c.env.DB, userId, v.version, c.req.param("roomId"));
  return c.json({ sessions: Object.fromEntries(results.map((r) => [r.session_id, keyJson(r)])) });
});

/** GET /_matrix/client/v3/room_keys/keys/{roomId}/{sessionId}: 404 M_NOT_FOUND when the session is not backed up. */
keyBackupRoutes.get(clientV3("/room_keys/keys/:roomId/:sessionId"), async (c) => {
  const { userId } = c.get("auth");
  const v = await readableVersion(c, userId);
  const row = await loadBackupKey(c.env.DB, userId, v.version, c.req.param("roomId"), c.req.param("sessionId"));
  if (!row) throw notFound("No room_keys found");
  return c.json(keyJson(row));
});

/** Deletes keys of a readable version (all, one room, or one session) and answers `{etag, count}`. */
async function deleteKeys(c: Context<AppEnv>, userId: string, roomId?: string, sessionId?: string) {
  const v = await readableVersion(c, userId);
  const { etag, count } = await deleteBackupKeys(c.env.DB, userId, v.version, roomId, sessionId);
  return c.json({ etag: String(etag ?? v.etag), count });
}

/** DELETE /_matrix/client/v3/room_keys/keys */
keyBackupRoutes.delete(clientV3("/room_keys/keys"), async (c) => deleteKeys(c, c.get("auth").userId));

/** DELETE /_matrix/client/v3/room_keys/keys/{roomId} */
keyBackupRoutes.delete(clientV3("/room_keys/keys/:roomId"), async (c) => deleteKeys(c, c.get("auth").userId, c.req.param("roomId")));

/** DELETE /_matrix/client/v3/room_keys/keys/{roomId}/{sessionId} */
keyBackupRoutes.delete(clientV3("/room_keys/keys/:roomId/:sessionId"), async (c) =>
  deleteKeys(c, c.get("auth").userId, c.req.param("roomId"), c.req.param("sessionId")),
);
