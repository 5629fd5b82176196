/**
 * POST /_matrix/client/v3/user_directory/search (client-server-api "User
 * Directory", users.yaml). Matches user ids and display names through the FTS5
 * index `user_directory_search` (0009_push_search.sql) and returns, as Synapse
 * does by default (`search_all_users: false`), only users the searcher may see:
 * those sharing a joined room with them, and those joined to a room with a
 * `public` join rule or `world_readable` history visibility. Deactivated users
 * are left out. Users sharing a room with the searcher rank first, then by FTS
 * rank, then those with a display name and avatar (users.yaml: "Ordered by rank
 * and then whether or not profile info is available").
 */
import { Hono } from "hono";
import { z } from "zod";
import { userSearchExpression } from "../../src/user-directory-query.js";
import type { AppEnv } from "../app-env.js";
import { readJson } from "../middleware/body.js";
import { requireAuth } from "../middleware/auth.js";
import { clientV3 } from "./paths.js";

export const userDirectoryRoutes = new Hono<AppEnv>();

const DEFAULT_LIMIT = 10;
const MAX_LIMIT = 100;
/** Best FTS matches examined per search (visibility is checked on these). */
const MAX_CANDIDATES = 1000;

const Body = z.object({
  search_term: z.string(),
  limit: z.number().int().min(0).optional(),
});

interface Row {
  user_id: string;
  display_name: string | null;
  avatar_url: string | null;
}

userDirectoryRoutes.post(clientV3("/user_directory/search"), requireAuth(), async (c) => {
  const body = await readJson(c, Body);
  const limit = Math.min(body.limit ?? DEFAULT_LIMIT, MAX_LIMIT);
  const expr = userSearchExpression(body.search_term);
  if (!expr || limit === 0) return c.json({ results: [], limited: false });
  const { results } = await c.env.DB.prepare(
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
    .bind(expr, c.get("auth").userId, limit + 1, MAX_CANDIDATES)
    .all<Row>();
  return c.json({
    results: results.slice(0, limit).map((r) => ({
      user_id: r.user_id,
      ...(r.display_name !== null ? { display_name: r.display_name } : {}),
      ...(r.avatar_url !== null ? { avatar_url: r.avatar_url } : {}),
    })),
    limited: results.length > limit,
  });
});
