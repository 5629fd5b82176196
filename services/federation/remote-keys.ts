/**
 * Other servers' signing keys: read from D1, fetched from the server's own
 * `/_matrix/key/v2/server` when missing or stale, checked
 * (src/server-key-response.ts) and stored. Our own keys never leave the
 * isolate's cache (services/server-keys.ts).
 *
 * The spec asks requesting servers to limit how often they query (keys_server.yaml),
 * and every signed request can name a key id of its choosing, so: a server is
 * asked at most once per `FEDERATION_KEY_REFETCH_MS` (1 min; D1's `fetched_ts`,
 * shared by all isolates), a failed one not again for FAILURE_BACKOFF_MS, and
 * concurrent requests in one isolate share one fetch.
 */
import { MatrixError } from "../../src/errors.js";
import type { JsonObject } from "../../src/json.js";
import { isJsonObject } from "../../src/json.js";
import { jsonLimitViolation } from "../../src/json-limits.js";
import { verifyServerKeyResponse, type ServerKeySet } from "../../src/server-key-response.js";
import type { Env } from "../env.js";
import { readBodyBytes } from "../http-body.js";
import { getServerKeys } from "../server-keys.js";
import { FederationUnreachable, federationFetch } from "./federation-fetch.js";

const MAX_KEY_RESPONSE_BYTES = 64 * 1024;
const FAILURE_BACKOFF_MS = 30_000;
/** Longer than any fetch can take (discovery + key fetch, each with FEDERATION_TIMEOUT_MS). */
const INFLIGHT_MAX_MS = 60_000;

const inflight = new Map<string, { promise: Promise<ServerKeySet>; startedTs: number }>();
const failures = new Map<string, { untilTs: number; error: string }>();

export class KeyFetchFailed extends Error {
  override readonly name = "KeyFetchFailed";
}

async function readCappedJson(res: Response): Promise<unknown> {
  let bytes: Uint8Array;
  try {
    bytes = await readBodyBytes(res, MAX_KEY_RESPONSE_BYTES);
  } catch (e) {
    throw new KeyFetchFailed(e instanceof MatrixError ? "key response too large" : "connection lost while reading the key response");
  }
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new KeyFetchFailed("key response is not JSON");
  }
  // The same limits as request bodies, before verification and storage recurse into it.
  const violation = jsonLimitViolation(value);
  if (violation) throw new KeyFetchFailed(`key response${violation.path}: ${violation.reason}`);
  return value;
}

/** Fetches, checks and stores `serverName`'s keys; throws KeyFetchFailed. */
async function fetchAndStore(env: Env, serverName: string): Promise<ServerKeySet> {
  let res: Response;
  try {
    res = await federationFetch(env, serverName, "/_matrix/key/v2/server", { headers: { accept: "application/json" } });
  } catch (e) {
    throw new KeyFetchFailed(e instanceof FederationUnreachable ? e.message : `${serverName}: ${(e as Error).message}`);
  }
  if (res.status !== 200) {
    await res.body?.cancel().catch(() => {});
    throw new KeyFetchFailed(`${serverName} answered ${res.status} for its keys`);
  }
  const body = await readCappedJson(res);
  const now = Date.now();
  const check = verifyServerKeyResponse(body, serverName, now);
  if (!check.ok) throw new KeyFetchFailed(`${serverName}: ${check.error}`);
  const keys = check.keys;
  const db = env.DB;
  const upsert = db.prepare(
    "INSERT INTO remote_server_keys (server_name, key_id, public_key, valid_until_ts, expired_ts, fetched_ts) VALUES (?, ?, ?, ?, ?, ?) " +
      "ON CONFLICT (server_name, key_id) DO UPDATE SET public_key = excluded.public_key, valid_until_ts = excluded.valid_until_ts, " +
      "expired_ts = excluded.expired_ts, fetched_ts = excluded.fetched_ts",
  );
  await db.batch([
    ...[...keys.verifyKeys].map(([keyId, key]) => upsert.bind(serverName, keyId, key, keys.validUntilTs, null, now)),
    ...[...keys.oldVerifyKeys].map(([keyId, k]) => upsert.bind(serverName, keyId, k.key, k.expiredTs, k.expiredTs, now)),
    db
      .prepare(
        "INSERT INTO remote_server_key_responses (server_name, response_json, valid_until_ts, fetched_ts) VALUES (?, ?, ?, ?) " +
          "ON CONFLICT (server_name) DO UPDATE SET response_json = excluded.response_json, valid_until_ts = excluded.valid_until_ts, fetched_ts = excluded.fetched_ts",
      )
      .bind(serverName, JSON.stringify(body), keys.validUntilTs, now),
  ]);
  return keys;
}

/** Not a failure of the server: no backoff is recorded for it. */
class AskedRecently extends KeyFetchFailed {}

/** Refuses when `serverName` was asked within the refetch interval (by any isolate). */
async function assertNotAskedRecently(env: Env, serverName: string): Promise<void> {
  const refetchMs = Number(env.FEDERATION_KEY_REFETCH_MS || 60_000);
  const row = await env.DB.prepare("SELECT fetched_ts FROM remote_server_key_responses WHERE server_name = ?")
    .bind(serverName)
    .first<{ fetched_ts: number }>();
  if (row && Date.now() - row.fetched_ts < refetchMs) {
    throw new AskedRecently(`${serverName}'s keys were fetched less than ${Math.round(refetchMs / 1000)} s ago`);
  }
}

/** One fetch at a time per server and isolate; recent failures are answered from memory. */
export function refreshServerKeys(env: Env, serverName: string): Promise<ServerKeySet> {
  const now = Date.now();
  const failed = failures.get(serverName);
  if (failed && failed.untilTs > now) return Promise.reject(new KeyFetchFailed(failed.error));
  const running = inflight.get(serverName);
  // A fetch started by a request whose I/O was cancelled may never settle: do not wait on it forever.
  if (running && now - running.startedTs < INFLIGHT_MAX_MS) return running.promise;
  const p = assertNotAskedRecently(env, serverName)
    .then(() => fetchAndStore(env, serverName))
    .then(
      (keys) => {
        failures.delete(serverName);
        return keys;
      },
      (e: unknown) => {
        if (e instanceof AskedRecently) throw e;
        const error = e instanceof Error ? e.message : String(e);
        if (failures.size > 10_000) failures.clear();
        failures.set(serverName, { untilTs: Date.now() + FAILURE_BACKOFF_MS, error });
        throw e instanceof KeyFetchFailed ? e : new KeyFetchFailed(error);
      },
    )
    .finally(() => {
      if (inflight.get(serverName)?.promise === p) inflight.delete(serverName);
    });
  inflight.set(serverName, { promise: p, startedTs: now });
  return p;
}

/**
 * The public key `serverName` currently signs requests with under `keyId`
 * (only `verify_keys`; old keys are for events). Throws KeyFetchFailed when the
 * key is unknown even after asking the server.
 */
export async function requestVerifyKey(env: Env, serverName: string, keyId: string): Promise<string> {
  if (serverName === env.SERVER_NAME) {
    const own = await getServerKeys(env);
    if (own.keyId === keyId) return own.publicKey;
    throw new KeyFetchFailed(`${keyId} is not a current key of ${serverName}`);
  }
  const now = Date.now();
  const row = await env.DB.prepare(
    "SELECT public_key FROM remote_server_keys WHERE server_name = ? AND key_id = ? AND expired_ts IS NULL AND valid_until_ts > ?",
  )
    .bind(serverName, keyId, now)
    .first<{ public_key: string }>();
  if (row) return row.public_key;
  const keys = await refreshServerKeys(env, serverName);
  const key = keys.verifyKeys.get(keyId);
  if (key === undefined || keys.validUntilTs <= now) throw new KeyFetchFailed(`${serverName} has no current key ${keyId}`);
  return key;
}

/**
 * For the notary endpoints: `serverName`'s newest self-signed key response, from
 * D1 when it is valid until at least `minimumValidUntilTs` (or is the best we
 * have while the server is unreachable), otherwise fetched. Null when nothing is known.
 */
export async function cachedKeyResponse(env: Env, serverName: string, minimumValidUntilTs: number): Promise<JsonObject | null> {
  const read = () =>
    env.DB.prepare("SELECT response_json, valid_until_ts FROM remote_server_key_responses WHERE server_name = ?")
      .bind(serverName)
      .first<{ response_json: string; valid_until_ts: number }>();
  let row = await read();
  if (!row || row.valid_until_ts < Math.max(minimumValidUntilTs, Date.now())) {
    try {
      await refreshServerKeys(env, serverName);
      row = await read();
    } catch {
      // Spec: notaries keep serving the last response they received.
    }
  }
  if (!row) return null;
  const parsed: unknown = JSON.parse(row.response_json);
  return isJsonObject(parsed) ? parsed : null;
}
