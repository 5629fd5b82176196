/**
 * `user_directory` and its FTS5 index `user_directory_search`
 * (d1-migrations/0009_push_search.sql), kept by triggers on room_memberships.
 */

export interface UserDirectoryRow {
  user_id: string;
  display_name: string | null;
  avatar_url: string | null;
}

/**
 * Users matching an FTS5 expression that `searcher` may see: sharing a joined room
 * with them, or joined to a room with a `public` join rule or `world_readable`
 * history; deactivated users left out. Of the best `candidates` FTS matches, up to
 * `limit` rows: shared rooms first, then rank, then those with a name and avatar.
 * Profile fields, when set, win over the member event's.
 */
export async function searchUserDirectory(
  db: D1Database,
  q: { expression: string; searcher: string; limit: number; candidates: number },
): Promise<UserDirectoryRow[]> {
  const { results } = await db
    .prepare(
      `WITH cand AS (
       SELECT rowid AS id, bm25(user_directory_search) AS score FROM user_directory_search WHERE user_directory_search MATCH ?1 ORDER BY score LIMIT ?4
     ), seen AS (
       SELECT d.user_id, d.display_name, d.avatar_url, c.score,
         EXISTS (SELECT 1 FROM room_memberships a JOIN room_memberships b ON b.room_id = a.room_id AND b.user_id = ?2 AND b.membership = 'join'
                 WHERE a.user_id = d.user_id AND a.membership = 'join') AS shares
       FROM cand c JOIN user_directory d ON d.id = c.id
       LEFT JOIN users u ON u.user_id = d.user_id
       WHERE COALESCE(u.deactivated, 0) = 0
     )
     SELECT s.user_id,
       COALESCE((SELECT p.value ->> '$' FROM profile_fields p WHERE p.user_id = s.user_id AND p.field = 'displayname'), s.display_name) AS display_name,
       COALESCE((SELECT p.value ->> '$' FROM profile_fields p WHERE p.user_id = s.user_id AND p.field = 'avatar_url'), s.avatar_url) AS avatar_url
     FROM seen s
     WHERE s.shares OR EXISTS (SELECT 1 FROM room_memberships a JOIN rooms r ON r.room_id = a.room_id
                               WHERE a.user_id = s.user_id AND a.membership = 'join' AND (r.join_rule = 'public' OR r.history_visibility = 'world_readable'))
     ORDER BY s.shares DESC, s.score, s.display_name IS NULL, s.avatar_url IS NULL, s.user_id
     LIMIT ?3`,
    )
    .bind(q.expression, q.searcher, q.limit, q.candidates)
    .all<UserDirectoryRow>();
  return results;
}
