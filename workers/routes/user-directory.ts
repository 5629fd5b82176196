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
import { jsonBody } from "../middleware/body.js";
import { requireAuth } from "../middleware/auth.js";
import { clientV3 } from "./paths.js";
import { searchUserDirectory } from "../../services/d1/user-directory.js";

export const userDirectoryRoutes = new Hono<AppEnv>();

const DEFAULT_LIMIT = 10;
const MAX_LIMIT = 100;
/** Best FTS matches examined per search (visibility is checked on these). */
const MAX_CANDIDATES = 1000;

const Body = z.object({
  search_term: z.string(),
  limit: z.number().int().min(0).optional(),
});

userDirectoryRoutes.post(clientV3("/user_directory/search"), requireAuth(), jsonBody(Body), async (c) => {
  const body = c.req.valid("json");
  const limit = Math.min(body.limit ?? DEFAULT_LIMIT, MAX_LIMIT);
  const expr = userSearchExpression(body.search_term);
  if (!expr || limit === 0) return c.json({ results: [], limited: false });
  const results = await searchUserDirectory(c.env.DB, { expression: expr, searcher: c.get("auth").userId, limit: limit + 1, candidates: MAX_CANDIDATES });
  return c.json({
    results: results.slice(0, limit).map((r) => ({
      user_id: r.user_id,
      ...(r.display_name !== null ? { display_name: r.display_name } : {}),
      ...(r.avatar_url !== null ? { avatar_url: r.avatar_url } : {}),
    })),
    limited: results.length > limit,
  });
});
