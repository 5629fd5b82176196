/**
 * Uploaded filters (d1-migrations/0007_filters.sql: filters). Client-server-api
 * "Filtering": POST /user/{userId}/filter stores one under the user's next id;
 * GET reads it back and /sync resolves `filter=<id>` (workers/sync/sync.ts).
 */

/** Stores a filter (JSON) under the user's next filter id and returns the id. */
export async function storeFilter(db: D1Database, userId: string, json: string): Promise<number> {
  const row = await db
    .prepare("INSERT INTO filters (user_id, filter_id, json) VALUES (?1, (SELECT COALESCE(MAX(filter_id), -1) + 1 FROM filters WHERE user_id = ?1), ?2) RETURNING filter_id")
    .bind(userId, json)
    .first<{ filter_id: number }>();
  return row!.filter_id;
}

/** The stored JSON of one of the user's filters, or null. */
export async function loadFilterJson(db: D1Database, userId: string, filterId: number): Promise<string | null> {
  const row = await db.prepare("SELECT json FROM filters WHERE user_id = ? AND filter_id = ?").bind(userId, filterId).first<{ json: string }>();
  return row?.json ?? null;
}
