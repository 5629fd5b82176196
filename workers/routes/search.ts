/**
 * POST /_matrix/client/v3/search (client-server-api "Server Side Search",
 * search.yaml). The only category is `room_events` (workers/search/room-events.ts).
 */
import { Hono } from "hono";
import { z } from "zod";
import { MatrixError } from "../../src/errors.js";
import { RoomEventFilterSchema } from "../../src/filter.js";
import { SEARCH_KEYS, type SearchKey, decodeBatch } from "../../src/search-query.js";
import type { AppEnv } from "../app-env.js";
import { jsonBody } from "../middleware/body.js";
import { requireAuth } from "../middleware/auth.js";
import { searchRoomEvents } from "../search/room-events.js";
import { clientV3 } from "./paths.js";

export const searchRoutes = new Hono<AppEnv>();

const ALL_KEYS = Object.keys(SEARCH_KEYS) as SearchKey[];

const RoomEventsCriteria = z.object({
  search_term: z.string(),
  keys: z.array(z.enum(ALL_KEYS as [SearchKey, ...SearchKey[]])).optional(),
  filter: RoomEventFilterSchema.optional(),
  order_by: z.enum(["recent", "rank"]).optional(),
  event_context: z
    .object({
      before_limit: z.number().int().min(0).optional(),
      after_limit: z.number().int().min(0).optional(),
      include_profile: z.boolean().optional(),
    })
    .optional(),
  include_state: z.boolean().optional(),
  groupings: z.object({ group_by: z.array(z.object({ key: z.enum(["room_id", "sender"]) })).optional() }).optional(),
});

const SearchBody = z.object({
  search_categories: z.object({ room_events: RoomEventsCriteria.optional() }).transform((categories, ctx) => {
    // search.yaml makes no category required, but room_events is the only one this server
    // searches: a request without it is malformed here (M_BAD_JSON), not missing a spec parameter.
    if (categories.room_events) return { room_events: categories.room_events };
    ctx.addIssue({ code: "custom", message: "room_events is the only search category", params: { errcode: "M_BAD_JSON" } });
    return z.NEVER;
  }),
});

searchRoutes.post(clientV3("/search"), requireAuth(), jsonBody(SearchBody), async (c) => {
  const body = c.req.valid("json");
  const q = body.search_categories.room_events;
  const order = q.order_by ?? "rank";
  const token = c.req.query("next_batch");
  const batch = token ? decodeBatch(token) : undefined;
  if (batch && batch.order !== order) throw new MatrixError("M_INVALID_PARAM", "next_batch was issued for another order_by", 400);
  const { userId, deviceId } = c.get("auth");
  const ctx = q.event_context;
  const result = await searchRoomEvents(c.env, {
    userId,
    deviceId,
    term: q.search_term,
    keys: q.keys ?? ALL_KEYS,
    filter: q.filter,
    order,
    // "By default, this is 5" (before_limit, after_limit).
    context: ctx ? { before: ctx.before_limit ?? 5, after: ctx.after_limit ?? 5, profile: ctx.include_profile === true } : undefined,
    includeState: q.include_state === true,
    groupBy: [...new Set((q.groupings?.group_by ?? []).map((g) => g.key))],
    batch,
  });
  return c.json({ search_categories: { room_events: result } });
});
