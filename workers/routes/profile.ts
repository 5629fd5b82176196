import { Hono } from "hono";
import { MatrixError, forbidden, notFound } from "../../src/errors.js";
import { isValidUserId, userIdDomain, utf8Length } from "../../src/identifiers.js";
import type { JsonObject, JsonValue } from "../../src/json.js";
import type { AppEnv } from "../app-env.js";
import { getConfig } from "../config.js";
import { readJsonObject } from "../middleware/body.js";
import { requireAuth } from "../middleware/auth.js";
import type { Env } from "../../services/env.js";
import { memberProfile } from "../rooms/room-rpc.js";
import { unwrap } from "../../src/room-result.js";
import { clientV3 } from "./paths.js";

/** Spec "Profiles" (v1.16 extended fields): the whole profile stays under 64 KiB. */
const MAX_PROFILE_BYTES = 64 * 1024;
const MAX_KEY_BYTES = 255;
/** Synapse's limits for the two classic fields. */
const MAX_DISPLAYNAME_LENGTH = 256;
const MAX_AVATAR_URL_LENGTH = 1000;
const KEY_NAME = /^(avatar_url|displayname|m\.tz|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+)$/;

function checkKeyName(key: string): void {
  if (utf8Length(key) > MAX_KEY_BYTES) throw new MatrixError("M_KEY_TOO_LARGE", "Profile key exceeds 255 bytes", 400);
  if (!KEY_NAME.test(key)) throw new MatrixError("M_INVALID_PARAM", "Invalid profile key.", 400);
}

function checkValue(key: string, value: JsonValue): void {
  if (value === null) return;
  const str = (max: number) => {
    if (typeof value !== "string") throw new MatrixError("M_INVALID_PARAM", `${key} must be a string`, 400);
    if (value.length > max) throw new MatrixError("M_INVALID_PARAM", `${key} is too long (max ${max})`, 400);
  };
  if (key === "displayname") str(MAX_DISPLAYNAME_LENGTH);
  else if (key === "avatar_url") str(MAX_AVATAR_URL_LENGTH);
  else if (key === "m.tz") str(255);
}

async function loadProfile(db: D1Database, userId: string): Promise<JsonObject | null> {
  const rows = await db.batch([
    db.prepare("SELECT erased FROM users WHERE user_id = ?").bind(userId),
    db.prepare("SELECT field, value FROM profile_fields WHERE user_id = ?").bind(userId),
  ]);
  const user = rows[0]?.results[0] as { erased: number } | undefined;
  if (!user || user.erased) return null;
  const fields = (rows[1]?.results ?? []) as { field: string; value: string }[];
  return Object.fromEntries(fields.map((f) => [f.field, JSON.parse(f.value) as JsonValue]));
}

async function profileOrThrow(c: { env: AppEnv["Bindings"] }, userId: string): Promise<JsonObject> {
  if (!isValidUserId(userId)) throw new MatrixError("M_INVALID_PARAM", "Invalid user ID", 400);
  // Remote profiles need federation queries; until then they are not found.
  if (userIdDomain(userId) !== getConfig(c.env).serverName) throw notFound("Profile not found");
  const profile = await loadProfile(c.env.DB, userId);
  if (!profile) throw notFound("Profile not found");
  return profile;
}

export const profileRoutes = new Hono<AppEnv>();

/** GET /_matrix/client/v3/profile/{userId} */
profileRoutes.get(clientV3("/profile/:userId"), async (c) => c.json(await profileOrThrow(c, c.req.param("userId"))));

/** GET /_matrix/client/v3/profile/{userId}/{keyName} */
profileRoutes.get(clientV3("/profile/:userId/:keyName"), async (c) => {
  const key = c.req.param("keyName");
  checkKeyName(key);
  const profile = await profileOrThrow(c, c.req.param("userId"));
  if (!(key in profile)) throw notFound("Profile field not found");
  return c.json({ [key]: profile[key] ?? null });
});

/** PUT /_matrix/client/v3/profile/{userId}/{keyName} */
profileRoutes.put(clientV3("/profile/:userId/:keyName"), requireAuth({ allowGuest: true }), async (c) => {
  const userId = c.req.param("userId");
  const key = c.req.param("keyName");
  if (c.get("auth").userId !== userId) throw forbidden("You may only change your own profile");
  checkKeyName(key);
  const body = await readJsonObject(c);
  if (!(key in body)) throw new MatrixError("M_MISSING_PARAM", `Missing '${key}' in the request body`, 400);
  const value = body[key]!;
  checkValue(key, value);
  const profile = (await loadProfile(c.env.DB, userId)) ?? {};
  profile[key] = value;
  if (utf8Length(JSON.stringify(profile)) > MAX_PROFILE_BYTES) {
    throw new MatrixError("M_PROFILE_TOO_LARGE", "The profile would exceed 64 KiB", 400);
  }
  await c.env.DB.prepare(
    "INSERT INTO profile_fields (user_id, field, value) VALUES (?, ?, ?) ON CONFLICT (user_id, field) DO UPDATE SET value = excluded.value",
  )
    .bind(userId, key, JSON.stringify(value))
    .run();
  if (key === "displayname" || key === "avatar_url") await propagateToRooms(c.env, userId);
  return c.json({});
});

/**
 * Display name and avatar live in each room's member event too: after a change,
 * every joined room gets a fresh join event with the new profile (as Synapse does).
 */
async function propagateToRooms(env: Env, userId: string): Promise<void> {
  const { results } = await env.DB.prepare("SELECT room_id FROM room_memberships WHERE user_id = ? AND membership = 'join'")
    .bind(userId)
    .all<{ room_id: string }>();
  if (!results.length) return;
  const profile = await memberProfile(env.DB, userId);
  await Promise.all(
    results.map(async ({ room_id }) => {
      await unwrap(
        env.ROOM.getByName(room_id).send({ type: "m.room.member", state_key: userId, sender: userId, content: { ...profile, membership: "join" } }),
      ).catch((e: unknown) => console.error(`profile update in ${room_id} refused:`, e));
    }),
  );
}

/** DELETE /_matrix/client/v3/profile/{userId}/{keyName} */
profileRoutes.delete(clientV3("/profile/:userId/:keyName"), requireAuth({ allowGuest: true }), async (c) => {
  const userId = c.req.param("userId");
  const key = c.req.param("keyName");
  if (c.get("auth").userId !== userId) throw forbidden("You may only change your own profile");
  checkKeyName(key);
  await c.env.DB.prepare("DELETE FROM profile_fields WHERE user_id = ? AND field = ?").bind(userId, key).run();
  return c.json({});
});
