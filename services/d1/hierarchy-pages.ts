/**
 * `hierarchy_pages` (d1-migrations/0010_directory.sql): the saved walk behind a
 * /hierarchy `next_batch` token, for a few minutes (space_hierarchy.yaml).
 */

export interface HierarchyPageRow {
  user_id: string;
  room_id: string;
  /** 0 or 1. */
  suggested_only: number;
  max_depth: number;
  /** The walk's queue, JSON (src/space-hierarchy.ts WalkState). */
  state: string;
}

/** The saved walk of an unexpired token, or null. */
export function hierarchyPage(db: D1Database, token: string, now: number): Promise<HierarchyPageRow | null> {
  return db
    .prepare("SELECT user_id, room_id, suggested_only, max_depth, state FROM hierarchy_pages WHERE token = ? AND expires_ts > ?")
    .bind(token, now)
    .first<HierarchyPageRow>();
}

/** Saves a walk under `token`, dropping up to 100 expired ones in the same batch. */
export async function saveHierarchyPage(db: D1Database, token: string, page: HierarchyPageRow, now: number, expiresTs: number): Promise<void> {
  await db.batch([
    db.prepare("DELETE FROM hierarchy_pages WHERE token IN (SELECT token FROM hierarchy_pages WHERE expires_ts <= ? LIMIT 100)").bind(now),
    db
      .prepare("INSERT INTO hierarchy_pages (token, user_id, room_id, suggested_only, max_depth, state, expires_ts) VALUES (?, ?, ?, ?, ?, ?, ?)")
      .bind(token, page.user_id, page.room_id, page.suggested_only, page.max_depth, page.state, expiresTs),
  ]);
}
