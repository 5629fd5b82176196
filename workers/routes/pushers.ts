/**
 * Pushers (client-server-api "Client behaviour": GET /pushers, POST /pushers/set),
 * stored per user in D1. A pusher is identified by (app_id, pushkey) per user;
 * unless `append` is true, setting one removes the same (app_id, pushkey) of
 * every other user.
 */
import { Hono } from "hono";
import { MatrixError } from "../../src/errors.js";
import type { JsonObject } from "../../src/json.js";
import { parsePusherRequest } from "../../src/pusher.js";
import type { AppEnv } from "../app-env.js";
import { readJsonObject } from "../middleware/body.js";
import { requireAuth } from "../middleware/auth.js";
import { clientV3 } from "./paths.js";

export const pusherRoutes = new Hono<AppEnv>();

/** Pushers per user (one per device is the norm). */
export const MAX_PUSHERS_PER_USER = 100;

interface Row {
  app_id: string;
  pushkey: string;
  kind: string;
  app_display_name: string;
  device_display_name: string;
  profile_tag: string | null;
  lang: string;
  data: string;
}

pusherRoutes.get(clientV3("/pushers"), requireAuth(), async (c) => {
  const { results } = await c.env.DB.prepare(
    "SELECT app_id, pushkey, kind, app_display_name, device_display_name, profile_tag, lang, data FROM pushers WHERE user_id = ? ORDER BY created_ts, app_id, pushkey LIMIT ?",
  )
    .bind(c.get("auth").userId, MAX_PUSHERS_PER_USER)
    .all<Row>();
  return c.json({
    pushers: results.map((r) => ({
      pushkey: r.pushkey,
      kind: r.kind,
      app_id: r.app_id,
      app_display_name: r.app_display_name,
      device_display_name: r.device_display_name,
      ...(r.profile_tag !== null ? { profile_tag: r.profile_tag } : {}),
      lang: r.lang,
      data: JSON.parse(r.data) as JsonObject,
    })),
  });
});

pusherRoutes.post(clientV3("/pushers/set"), requireAuth(), async (c) => {
  const { userId, deviceId } = c.get("auth");
  const req = parsePusherRequest(await readJsonObject(c));
  const db = c.env.DB;
  if (req.delete) {
    await db.prepare("DELETE FROM pushers WHERE user_id = ? AND app_id = ? AND pushkey = ?").bind(userId, req.app_id, req.pushkey).run();
    return c.json({});
  }
  const p = req.pusher;
  if (p.kind === "email") {
    // Synapse: an email pusher's address must be one of the user's verified 3PIDs; this server keeps none.
    throw new MatrixError("M_THREEPID_NOT_FOUND", "Email not found: this server has no verified email addresses", 400);
  }
  const count = await db.prepare("SELECT COUNT(*) AS n FROM pushers WHERE user_id = ? AND NOT (app_id = ? AND pushkey = ?)").bind(userId, p.app_id, p.pushkey).first<{ n: number }>();
  if ((count?.n ?? 0) >= MAX_PUSHERS_PER_USER) throw new MatrixError("M_FORBIDDEN", `At most ${MAX_PUSHERS_PER_USER} pushers per user`, 403);
  const statements = [];
  if (!req.append) {
    statements.push(db.prepare("DELETE FROM pushers WHERE app_id = ? AND pushkey = ? AND user_id != ?").bind(p.app_id, p.pushkey, userId));
  }
  statements.push(
    db
      .prepare(
        "INSERT INTO pushers (user_id, app_id, pushkey, kind, app_display_name, device_display_name, profile_tag, lang, data, device_id, created_ts) " +
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, app_id, pushkey) DO UPDATE SET kind = excluded.kind, " +
          "app_display_name = excluded.app_display_name, device_display_name = excluded.device_display_name, profile_tag = excluded.profile_tag, " +
          "lang = excluded.lang, data = excluded.data, device_id = excluded.device_id",
      )
      .bind(userId, p.app_id, p.pushkey, p.kind, p.app_display_name, p.device_display_name, p.profile_tag ?? null, p.lang, JSON.stringify(p.data), deviceId, Date.now()),
  );
  await db.batch(statements);
  return c.json({});
});
