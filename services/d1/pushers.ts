/**
 * Pushers (d1-migrations/0009_push_search.sql: pushers). Client-server-api "Push
 * Notifications": GET /pushers and POST /pushers/set; the push gateway
 * (services/push/gateway.ts) reads the http pushers and drops the ones a gateway
 * rejects; deleting a device removes its pushers (workers/auth/sessions.ts).
 */
import type { Pusher } from "../../src/pusher.js";

export interface PusherRow {
  app_id: string;
  pushkey: string;
  kind: string;
  app_display_name: string;
  device_display_name: string;
  profile_tag: string | null;
  lang: string;
  /** JSON object. */
  data: string;
}

/** A user's pushers, oldest first, at most `limit`. */
export async function listPushers(db: D1Database, userId: string, limit: number): Promise<PusherRow[]> {
  const { results } = await db
    .prepare(
      "SELECT app_id, pushkey, kind, app_display_name, device_display_name, profile_tag, lang, data FROM pushers WHERE user_id = ? ORDER BY created_ts, app_id, pushkey LIMIT ?",
    )
    .bind(userId, limit)
    .all<PusherRow>();
  return results;
}

/** How many pushers the user has besides (app_id, pushkey). */
export async function countOtherPushers(db: D1Database, userId: string, appId: string, pushkey: string): Promise<number> {
  const row = await db
    .prepare("SELECT COUNT(*) AS n FROM pushers WHERE user_id = ? AND NOT (app_id = ? AND pushkey = ?)")
    .bind(userId, appId, pushkey)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

/** Removes one pusher of the user; runs alone or in a batch. */
export function deletePusherStatement(db: D1Database, userId: string, appId: string, pushkey: string): D1PreparedStatement {
  return db.prepare("DELETE FROM pushers WHERE user_id = ? AND app_id = ? AND pushkey = ?").bind(userId, appId, pushkey);
}

/** Removes (app_id, pushkey) from every other user: without `append`, a pushkey belongs to one user. */
export function deletePusherOfOtherUsersStatement(db: D1Database, userId: string, appId: string, pushkey: string): D1PreparedStatement {
  return db.prepare("DELETE FROM pushers WHERE app_id = ? AND pushkey = ? AND user_id != ?").bind(appId, pushkey, userId);
}

/** Creates or updates the user's pusher (app_id, pushkey), registered from `deviceId`. */
export function upsertPusherStatement(db: D1Database, userId: string, deviceId: string, p: Pusher, now: number): D1PreparedStatement {
  return db
    .prepare(
      "INSERT INTO pushers (user_id, app_id, pushkey, kind, app_display_name, device_display_name, profile_tag, lang, data, device_id, created_ts) " +
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, app_id, pushkey) DO UPDATE SET kind = excluded.kind, " +
        "app_display_name = excluded.app_display_name, device_display_name = excluded.device_display_name, profile_tag = excluded.profile_tag, " +
        "lang = excluded.lang, data = excluded.data, device_id = excluded.device_id",
    )
    .bind(userId, p.app_id, p.pushkey, p.kind, p.app_display_name, p.device_display_name, p.profile_tag ?? null, p.lang, JSON.stringify(p.data), deviceId, now);
}

export interface HttpPusherRow {
  user_id: string;
  app_id: string;
  pushkey: string;
  /** JSON object with the gateway `url`. */
  data: string;
  created_ts: number;
}

/** The http pushers of `userIds` (what the gateway delivers to). */
export async function httpPushersOf(db: D1Database, userIds: string[]): Promise<HttpPusherRow[]> {
  const { results } = await db
    .prepare("SELECT user_id, app_id, pushkey, data, created_ts FROM pushers WHERE user_id IN (SELECT value FROM json_each(?)) AND kind = 'http'")
    .bind(JSON.stringify(userIds))
    .all<HttpPusherRow>();
  return results;
}
