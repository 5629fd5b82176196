import { Hono } from "hono";
import { z } from "zod";
import { invalidParam } from "../../src/errors.js";
import type { JsonObject } from "../../src/json.js";
import { signJson } from "../../src/signing.js";
import type { AppEnv } from "../app-env.js";
import { getConfig } from "../config.js";
import type { Env } from "../env.js";
import { readJson } from "../middleware/body.js";
import { getServerKeys } from "../server-keys.js";

/** How long other servers may cache our keys (Synapse's default key_refresh_interval is 1 day). */
const KEY_VALIDITY_MS = 24 * 60 * 60 * 1000;

/** Our own keys, self-signed (server-server-api "Publishing Keys"). */
async function ownServerKeys(env: Env): Promise<JsonObject> {
  const { serverName } = getConfig(env);
  const keys = await getServerKeys(env);
  const body: JsonObject = {
    server_name: serverName,
    valid_until_ts: Date.now() + KEY_VALIDITY_MS,
    verify_keys: { [keys.keyId]: { key: keys.publicKey } },
    old_verify_keys: Object.fromEntries(
      keys.old.map((k) => [k.keyId, { key: k.publicKey, expired_ts: k.expiredTs }]),
    ),
  };
  return signJson(body, serverName, keys.keyId, keys.seed);
}

/**
 * Notary lookups (server-server-api "Querying Keys Through Another Server").
 * We answer for ourselves; other servers' keys are returned once outbound
 * federation can fetch and cache them — until then they count as unreachable,
 * which the spec answers with no entry.
 */
async function notaryKeys(env: Env, serverNames: string[]): Promise<JsonObject[]> {
  const { serverName } = getConfig(env);
  return serverNames.includes(serverName) ? [await ownServerKeys(env)] : [];
}

const KeyQueryBody = z.object({
  server_keys: z.record(
    z.string(),
    z.record(z.string(), z.object({ minimum_valid_until_ts: z.number().int().optional() })),
  ),
});

export const serverKeyRoutes = new Hono<AppEnv>();

/** GET /_matrix/key/v2/server */
serverKeyRoutes.get("/_matrix/key/v2/server", async (c) => c.json(await ownServerKeys(c.env)));

/** GET /_matrix/key/v2/query/{serverName} */
serverKeyRoutes.get("/_matrix/key/v2/query/:serverName", async (c) => {
  const ts = c.req.query("minimum_valid_until_ts");
  if (ts !== undefined && !/^\d+$/.test(ts)) throw invalidParam("minimum_valid_until_ts must be an integer");
  return c.json({ server_keys: await notaryKeys(c.env, [c.req.param("serverName")]) });
});

/** POST /_matrix/key/v2/query */
serverKeyRoutes.post("/_matrix/key/v2/query", async (c) => {
  const body = await readJson(c, KeyQueryBody);
  return c.json({ server_keys: await notaryKeys(c.env, Object.keys(body.server_keys)) });
});
