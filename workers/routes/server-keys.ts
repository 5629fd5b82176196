import { Hono } from "hono";
import { z } from "zod";
import { invalidParam } from "../../src/errors.js";
import type { JsonObject } from "../../src/json.js";
import { isValidServerName } from "../../src/identifiers.js";
import { signJson } from "../../src/signing.js";
import type { AppEnv } from "../app-env.js";
import { getConfig } from "../config.js";
import type { Env } from "../../services/env.js";
import { jsonBody } from "../middleware/body.js";
import { cachedKeyResponse } from "../../services/federation/remote-keys.js";
import { getServerKeys } from "../../services/server-keys.js";

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

/** How many servers one notary query may ask about (each may cost an outbound fetch). */
const MAX_NOTARY_SERVERS = 20;

/**
 * Notary lookups (server-server-api "Querying Keys Through Another Server"):
 * our own keys, and other servers' newest self-signed responses — fetched when
 * missing or not valid until `minimumValidUntilTs`, served from D1 while the
 * server is unreachable — countersigned with our key. Servers we know nothing
 * of get no entry, as the spec says for unreachable ones.
 */
async function notaryKeys(env: Env, queries: Map<string, number>): Promise<JsonObject[]> {
  const { serverName } = getConfig(env);
  const names = [...queries.keys()].filter(isValidServerName).slice(0, MAX_NOTARY_SERVERS);
  const keys = await getServerKeys(env);
  const answers = await Promise.all(
    names.map(async (name) => {
      if (name === serverName) return ownServerKeys(env);
      const cached = await cachedKeyResponse(env, name, queries.get(name) ?? 0);
      return cached && signJson(cached, serverName, keys.keyId, keys.seed);
    }),
  );
  return answers.filter((a): a is JsonObject => a !== null);
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

/** GET /_matrix/key/v2/server/{keyId}: the spec dropped the key id (v1.x), older servers and Sytest still send it; as Synapse, all keys. */
serverKeyRoutes.get("/_matrix/key/v2/server/:keyId", async (c) => c.json(await ownServerKeys(c.env)));

/** GET /_matrix/key/v2/query/{serverName} */
serverKeyRoutes.get("/_matrix/key/v2/query/:serverName", async (c) => {
  const ts = c.req.query("minimum_valid_until_ts");
  if (ts !== undefined && !/^\d+$/.test(ts)) throw invalidParam("minimum_valid_until_ts must be an integer");
  return c.json({ server_keys: await notaryKeys(c.env, new Map([[c.req.param("serverName"), Number(ts ?? 0)]])) });
});

/** POST /_matrix/key/v2/query */
serverKeyRoutes.post("/_matrix/key/v2/query", jsonBody(KeyQueryBody), async (c) => {
  const body = c.req.valid("json");
  const queries = new Map(
    Object.entries(body.server_keys).map(([name, keyIds]) => [
      name,
      Math.max(0, ...Object.values(keyIds).map((k) => k.minimum_valid_until_ts ?? 0)),
    ]),
  );
  return c.json({ server_keys: await notaryKeys(c.env, queries) });
});
