import { Hono } from "hono";
import { MatrixError, forbidden, notFound } from "../../src/errors.js";
import { isValidUserId, userIdDomain, utf8Length } from "../../src/identifiers.js";
import { type JsonObject, JsonObjectSchema } from "../../src/json.js";
import type { AppEnv } from "../app-env.js";
import { getConfig } from "../config.js";
import { readJson } from "../middleware/body.js";
import { requireAuth } from "../middleware/auth.js";
import { deleteProfileField, loadProfile, storeProfileField } from "../../services/d1/profile.js";
import { joinedRoomIds } from "../../services/d1/room-memberships.js";
import type { Env } from "../../services/env.js";
import { memberProfile } from "../rooms/room-rpc.js";
import { unwrap } from "../../src/room-result.js";
import { clientV3 } from "./paths.js";
import { FederationRequestFailed, federationRequest } from "../../services/federation/federation-client.js";
import { FederationUnreachable } from "../../services/federation/federation-fetch.js";

/** Spec "Profiles" (v1.16 extended fields): the whole profile stays under 64 KiB. */
const MAX_PROFILE_BYTES = 64 * 1024;
const MAX_KEY_BYTES = 255;
/** Synapse's limits for the two classic fields (and m.tz), which must be strings or null. */
const MAX_LENGTH: Record<string, number> = { displayname: 256, avatar_url: 1000, "m.tz": 255 };
const KEY_NAME = /^(avatar_url|displayname|m\.tz|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+)$/;

function checkKeyName(key: string): void {
  if (utf8Length(key) > MAX_KEY_BYTES) throw new MatrixError("M_KEY_TOO_LARGE", "Profile key exceeds 255 bytes", 400);
  if (!KEY_NAME.test(key)) throw new MatrixError("M_INVALID_PARAM", "Invalid profile key.", 400);
}

const invalid = { errcode: "M_INVALID_PARAM" } as const;

/** The PUT body for `key` (spec "Profiles"): `{<key>: value}`, other keys ignored. */
function fieldBody(key: string) {
  const max = MAX_LENGTH[key];
  return JsonObjectSchema.superRefine((body, ctx) => {
    if (!(key in body)) {
      ctx.addIssue({ code: "custom", path: [key], message: `Missing '${key}' in the request body`, params: { errcode: "M_MISSING_PARAM" } });
      return;
    }
    const value = body[key];
    if (max === undefined || value === null) return;
    if (typeof value !== "string") ctx.addIssue({ code: "custom", path: [key], message: "must be a string", params: invalid });
    else if (value.length > max) ctx.addIssue({ code: "custom", path: [key], message: `is too long (max ${max})`, params: invalid });
  });
}

async function profileOrThrow(c: { env: AppEnv["Bindings"] }, userId: string): Promise<JsonObject> {
  if (!isValidUserId(userId)) throw new MatrixError("M_INVALID_PARAM", "Invalid user ID", 400);
  const domain = userIdDomain(userId);
  if (domain && domain !== getConfig(c.env).serverName) return remoteProfile(c.env, domain, userId);
  const profile = await loadProfile(c.env.DB, userId);
  if (!profile) throw notFound("Profile not found");
  return profile;
}

/**
 * Another server's user: asked with /query/profile (server-server-api "Query
 * information"). Its 404 is ours; a server that cannot be asked is a 502, as in
 * Synapse. Only JSON values under the size limit are passed on.
 */
async function remoteProfile(env: Env, server: string, userId: string): Promise<JsonObject> {
  let profile: JsonObject;
  try {
    profile = await federationRequest(env, server, "GET", `/_matrix/federation/v1/query/profile?user_id=${encodeURIComponent(userId)}`, { maxResponseBytes: MAX_PROFILE_BYTES });
  } catch (e) {
    if (e instanceof FederationRequestFailed && e.status === 404) throw notFound("Profile not found");
    if (e instanceof FederationRequestFailed || e instanceof FederationUnreachable) throw new MatrixError("M_UNKNOWN", "Failed to fetch profile", 502);
    throw e;
  }
  for (const key of ["displayname", "avatar_url"]) {
    if (key in profile && profile[key] !== null && typeof profile[key] !== "string") delete profile[key];
  }
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
  // Read in the handler: the body's schema depends on {keyName}, which is checked first.
  const value = (await readJson(c, fieldBody(key)))[key]!;
  const profile = (await loadProfile(c.env.DB, userId)) ?? {};
  profile[key] = value;
  if (utf8Length(JSON.stringify(profile)) > MAX_PROFILE_BYTES) {
    throw new MatrixError("M_PROFILE_TOO_LARGE", "The profile would exceed 64 KiB", 400);
  }
  await storeProfileField(c.env.DB, userId, key, value);
  if (key === "displayname" || key === "avatar_url") await propagateToRooms(c.env, userId);
  return c.json({});
});

/**
 * Display name and avatar live in each room's member event too: after a change,
 * every joined room gets a fresh join event with the new profile (as Synapse does).
 */
async function propagateToRooms(env: Env, userId: string): Promise<void> {
  const roomIds = await joinedRoomIds(env.DB, userId);
  if (!roomIds.length) return;
  const profile = await memberProfile(env.DB, userId);
  await Promise.all(
    roomIds.map(async (room_id) => {
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
  await deleteProfileField(c.env.DB, userId, key);
  return c.json({});
});
