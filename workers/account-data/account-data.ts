/**
 * Account data in D1 (`account_data`, d1-migrations/0008_ephemeral.sql):
 * global (room_id '') and per room, each write under a new stream position that
 * wakes the owner's /sync (client-server-api "Client Config").
 */
import type { JsonObject } from "../../src/json.js";
import type { Env } from "../../services/env.js";
import { Topic, notifyUsers } from "../../services/wake.js";
import { STREAM_POS, advanceStream, streamPosOf } from "../../services/stream.js";

/** '' is the global scope. */
export const GLOBAL = "";

/** Most account data events one /sync carries; a bound, not a page. */
export const MAX_SYNC_ACCOUNT_DATA = 2_000;

async function written(env: Env, userId: string, roomId: string, results: D1Result[]): Promise<boolean> {
  if (!results[1]?.results.length) return false;
  await notifyUsers(env, [userId], streamPosOf(results), roomId === GLOBAL ? Topic.ACCOUNT_DATA : Topic.ROOMS);
  return true;
}

/** Sets (replaces) one account data entry. */
export async function putAccountData(env: Env, userId: string, roomId: string, type: string, content: JsonObject): Promise<void> {
  const db = env.DB;
  const results = await db.batch([
    advanceStream(db),
    db
      .prepare(
        `INSERT INTO account_data (user_id, room_id, type, content, deleted, stream_pos) VALUES (?, ?, ?, ?, 0, ${STREAM_POS}) ` +
          "ON CONFLICT (user_id, room_id, type) DO UPDATE SET content = excluded.content, deleted = 0, stream_pos = excluded.stream_pos RETURNING stream_pos",
      )
      .bind(userId, roomId, type, JSON.stringify(content)),
  ]);
  await written(env, userId, roomId, results);
}

/** The content of an entry, or null when there is none (or it was deleted). */
export async function getAccountData(db: D1Database, userId: string, roomId: string, type: string): Promise<JsonObject | null> {
  const row = await db
    .prepare("SELECT content FROM account_data WHERE user_id = ? AND room_id = ? AND type = ? AND deleted = 0")
    .bind(userId, roomId, type)
    .first<{ content: string }>();
  return row ? (JSON.parse(row.content) as JsonObject) : null;
}

/** Every (undeleted) account data entry of one room, as type and content. */
export async function roomAccountData(db: D1Database, userId: string, roomId: string): Promise<Array<{ type: string; content: JsonObject }>> {
  const { results } = await db
    .prepare("SELECT type, content FROM account_data WHERE user_id = ? AND room_id = ? AND deleted = 0")
    .bind(userId, roomId)
    .all<{ type: string; content: string }>();
  return results.map((a) => ({ type: a.type, content: JSON.parse(a.content) as JsonObject }));
}

/**
 * Deletes an entry (MSC3391): the row stays with content {} so incremental syncs
 * tell clients, as Synapse does; deleting what does not exist changes nothing.
 */
export async function deleteAccountData(env: Env, userId: string, roomId: string, type: string): Promise<void> {
  const db = env.DB;
  const results = await db.batch([
    advanceStream(db),
    db
      .prepare(`UPDATE account_data SET content = '{}', deleted = 1, stream_pos = ${STREAM_POS} WHERE user_id = ? AND room_id = ? AND type = ? AND deleted = 0 RETURNING stream_pos`)
      .bind(userId, roomId, type),
  ]);
  await written(env, userId, roomId, results);
}

/**
 * Applies an RFC 7396 merge patch to an entry in one statement (so concurrent
 * patches of different keys, e.g. two tags, never lose each other). `patch` is
 * applied after `clear` (a patch of nulls that removes keys first, so a value is
 * replaced rather than merged). Returns whether anything was written.
 */
export async function patchAccountData(
  env: Env,
  userId: string,
  roomId: string,
  type: string,
  clear: JsonObject,
  patch: JsonObject,
): Promise<boolean> {
  const db = env.DB;
  const results = await db.batch([
    advanceStream(db),
    db
      .prepare(
        `INSERT INTO account_data (user_id, room_id, type, content, deleted, stream_pos) VALUES (?1, ?2, ?3, json_patch(json_patch('{}', ?4), ?5), 0, ${STREAM_POS}) ` +
          "ON CONFLICT (user_id, room_id, type) DO UPDATE SET " +
          "content = json_patch(json_patch(CASE WHEN account_data.deleted = 0 THEN account_data.content ELSE '{}' END, ?4), ?5), deleted = 0, stream_pos = excluded.stream_pos " +
          "RETURNING stream_pos",
      )
      .bind(userId, roomId, type, JSON.stringify(clear), JSON.stringify(patch)),
  ]);
  return written(env, userId, roomId, results);
}

export interface AccountDataRow {
  room_id: string;
  type: string;
  content: string;
  deleted: number;
}

/**
 * Account data for /sync: entries changed in (since, upTo] (deletions included,
 * as `{}`), or — for an initial sync (`since` null) — every live entry, plus every
 * live entry of `fullRooms` (rooms joined since `since`).
 */
export async function accountDataForSync(
  db: D1Database,
  userId: string,
  since: number | null,
  upTo: number,
  fullRooms: readonly string[],
): Promise<AccountDataRow[]> {
  const cols = "room_id, type, content, deleted";
  const statements: D1PreparedStatement[] = [];
  if (since === null) {
    statements.push(
      db
        .prepare(`SELECT ${cols} FROM account_data WHERE user_id = ? AND stream_pos <= ? AND deleted = 0 ORDER BY stream_pos DESC LIMIT ?`)
        .bind(userId, upTo, MAX_SYNC_ACCOUNT_DATA),
    );
  } else {
    statements.push(
      db
        .prepare(`SELECT ${cols} FROM account_data WHERE user_id = ? AND stream_pos > ? AND stream_pos <= ? ORDER BY stream_pos DESC LIMIT ?`)
        .bind(userId, since, upTo, MAX_SYNC_ACCOUNT_DATA),
    );
    if (fullRooms.length) {
      statements.push(
        db
          .prepare(
            `SELECT ${cols} FROM account_data WHERE user_id = ? AND room_id IN (SELECT value FROM json_each(?)) AND +stream_pos <= ? AND deleted = 0 LIMIT ?`,
          )
          .bind(userId, JSON.stringify(fullRooms), upTo, MAX_SYNC_ACCOUNT_DATA),
      );
    }
  }
  const seen = new Set<string>();
  const out: AccountDataRow[] = [];
  for (const res of await db.batch(statements)) {
    for (const row of res.results as AccountDataRow[]) {
      const key = `${row.room_id}\u0000${row.type}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(row);
    }
  }
  return out;
}
