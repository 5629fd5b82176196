import { Hono, type Context } from "hono";
import { z } from "zod";
import {
  type CheckedCrossSigningKey,
  type CrossSigningUsage,
  checkCrossSigningKey,
  checkDeviceKeys,
  checkDeviceSignedBySelfSigningKey,
  checkMasterSignedByDevices,
  checkMasterSignedByUserSigningKey,
  checkOneTimeKey,
  checkSignedByMaster,
  duplicateOneTimeKeyMessage,
  failureOf,
  oneTimeKeysMatch,
  sameSignedContent,
  type SignatureFailure,
  withSignatures,
} from "../../src/e2ee-keys.js";
import { MatrixError } from "../../src/errors.js";
import { isValidUserId, userIdDomain } from "../../src/identifiers.js";
import { parseStreamToken } from "../../src/stream-token.js";
import { type JsonObject, JsonObjectSchema, type JsonValue } from "../../src/json.js";
import type { AppEnv } from "../app-env.js";
import { endUiaSession, uiaBody, userInteractiveAuth } from "../auth/uia.js";
import { getConfig } from "../config.js";
import { deviceListsSince, notifyDeviceListChange, recordDeviceListChange } from "../e2ee/device-lists.js";
import { oneTimeKeyCountsOf } from "../e2ee/sync-extension.js";
import { jsonBody } from "../middleware/body.js";
import { requireAuth } from "../middleware/auth.js";
import {
  type ClaimedKeyRow,
  claimFallbackKeys,
  claimOneTimeKeys,
  type KeyClaim,
  loadDeviceKeys,
  loadOneTimeKeys,
  oneTimeKeyCountsStatement,
  queryDeviceKeysStatement,
  storeDeviceKeysStatement,
  storeFallbackKeysStatement,
  storeOneTimeKeysStatement,
  userDeviceKeysStatement,
} from "../../services/d1/device-keys.js";
import {
  crossSigningKeysStatement,
  loadCrossSigningKeys,
  masterKeysStatement,
  type SignatureRow,
  type SignatureToStore,
  storeCrossSigningKeyStatement,
  storeSignaturesStatement,
  visibleCrossSigningKeysStatement,
  visibleSignaturesStatement,
} from "../../services/d1/cross-signing.js";
import { anyDeviceIdOf } from "../../services/d1/devices.js";
import { rowsOf } from "../../services/d1/rows.js";
import { advanceStream, readStreamPos, streamPosOf } from "../../services/stream.js";
import { clientV3 } from "./paths.js";

/**
 * The key management and cross-signing APIs (client-server-api "End-to-End
 * Encryption": /keys/upload, /keys/query, /keys/claim, /keys/changes,
 * /keys/device_signing/upload, /keys/signatures/upload).
 *
 * Federation does not exist yet: users on other servers are answered with a
 * `failures` entry for their server (query, claim) or an M_NOT_FOUND failure
 * (signatures), never with made-up keys.
 */
export const keyRoutes = new Hono<AppEnv>();

/** Most one-time keys accepted in one upload (each costs a signature check; clients send ≤ 50). */
export const MAX_ONE_TIME_KEYS_PER_UPLOAD = 200;

/** `failures` entry for a server we cannot reach (yet): the shape Synapse uses for unreachable servers. */
const federationUnavailable = () => ({ status: 503, message: "Federation is not available on this server yet" });

function isLocal(c: Context<AppEnv>, userId: string): boolean {
  return userIdDomain(userId) === getConfig(c.env).serverName;
}

// ---------------------------------------------------------------------------
// POST /keys/upload
// ---------------------------------------------------------------------------

/**
 * The body of /keys/upload. The keys themselves are checked (with their signatures)
 * by src/e2ee-keys.ts; null one-time or fallback keys are taken as none.
 */
const UploadBody = z.object({
  device_keys: JsonObjectSchema.optional(),
  one_time_keys: JsonObjectSchema.nullish().refine((k) => !k || Object.keys(k).length <= MAX_ONE_TIME_KEYS_PER_UPLOAD, {
    message: `At most ${MAX_ONE_TIME_KEYS_PER_UPLOAD} one-time keys per upload`,
    params: { errcode: "M_INVALID_PARAM" },
  }),
  fallback_keys: JsonObjectSchema.nullish(),
});

/** POST /_matrix/client/v3/keys/upload */
keyRoutes.post(clientV3("/keys/upload"), requireAuth({ allowGuest: true }), jsonBody(UploadBody), async (c) => {
  const { userId, deviceId } = c.get("auth");
  const db = c.env.DB;
  const body = c.req.valid("json");
  const oneTimeKeys = body.one_time_keys ?? {};
  const fallbackKeys = body.fallback_keys ?? {};

  const deviceKeys = body.device_keys === undefined ? undefined : checkDeviceKeys(body.device_keys, userId, deviceId);
  const stored = await loadDeviceKeys(db, userId, deviceId);
  let deviceKeysChanged = false;
  if (deviceKeys) {
    if (!stored) {
      deviceKeysChanged = true;
    } else if (stored.key_json !== deviceKeys.canonical) {
      // A device's identity keys never change: other clients would (rightly) refuse
      // the new ones. Only new signatures on the same keys are taken.
      if (!sameSignedContent(JSON.parse(stored.key_json) as JsonObject, deviceKeys.json)) {
        throw new MatrixError(
          "M_INVALID_PARAM",
          `Device ${deviceId} already has different identity keys; log in as a new device to use new keys`,
          400,
        );
      }
      deviceKeysChanged = true;
    }
  }
  const ed25519 = deviceKeys?.ed25519 ?? stored?.ed25519_key;

  const otks = Object.entries(oneTimeKeys).map(([name, v]) => checkOneTimeKey(name, v, userId, deviceId, ed25519, "one_time_keys"));
  const fallbacks = Object.entries(fallbackKeys).map(([name, v]) => checkOneTimeKey(name, v, userId, deviceId, ed25519, "fallback_keys"));
  const fallbackAlgorithms = new Set(fallbacks.map((f) => f.algorithm));
  if (fallbackAlgorithms.size !== fallbacks.length) throw new MatrixError("M_INVALID_PARAM", "At most one fallback key per algorithm", 400);

  // A one-time key id already on the server must come back with the same key.
  let newOtks = otks;
  if (otks.length) {
    const results = await loadOneTimeKeys(db, userId, deviceId, otks.map((k) => `${k.algorithm}:${k.keyId}`));
    const existing = new Map(results.map((r) => [`${r.algorithm}:${r.key_id}`, JSON.parse(r.key_json) as JsonValue]));
    for (const k of otks) {
      const old = existing.get(`${k.algorithm}:${k.keyId}`);
      if (old !== undefined && !oneTimeKeysMatch(old, k.value)) {
        throw new MatrixError("M_INVALID_PARAM", duplicateOneTimeKeyMessage(k.algorithm, k.keyId, old, k.value), 400);
      }
    }
    newOtks = otks.filter((k) => !existing.has(`${k.algorithm}:${k.keyId}`));
  }

  // One batch: the changed device keys (a device-list change at a new stream position),
  // the new one-time and fallback keys, and the counts the answer reports.
  const stmts: D1PreparedStatement[] = [];
  if (deviceKeysChanged && deviceKeys) {
    stmts.push(advanceStream(db), storeDeviceKeysStatement(db, userId, deviceId, deviceKeys, Date.now()), recordDeviceListChange(db, userId));
  }
  if (newOtks.length) stmts.push(storeOneTimeKeysStatement(db, userId, deviceId, newOtks));
  if (fallbacks.length) stmts.push(storeFallbackKeysStatement(db, userId, deviceId, fallbacks));
  const countsQuery = oneTimeKeyCountsStatement(db, userId, deviceId);
  stmts.push(countsQuery);
  const results = await db.batch(stmts);
  const counts = rowsOf(countsQuery, results[results.length - 1]);
  if (deviceKeysChanged) c.executionCtx.waitUntil(notifyDeviceListChange(c.env, userId, streamPosOf(results)));
  return c.json({ one_time_key_counts: oneTimeKeyCountsOf(counts) });
});

// ---------------------------------------------------------------------------
// POST /keys/query
// ---------------------------------------------------------------------------

const QueryBody = z.object({
  device_keys: z.record(z.string(), z.array(z.string())),
  timeout: z.number().optional(),
});

/** Signatures stored for `(user, keyId)`, as `withSignatures` takes them. */
function signaturesFor(rows: SignatureRow[], userId: string, keyId: string) {
  return rows
    .filter((r) => r.target_user_id === userId && r.target_key_id === keyId)
    .map((r) => ({ signer: r.signer_user_id, keyId: r.signer_key_id, signature: r.signature }));
}

/** POST /_matrix/client/v3/keys/query */
keyRoutes.post(clientV3("/keys/query"), requireAuth({ allowGuest: true }), jsonBody(QueryBody), async (c) => {
  const { userId: me } = c.get("auth");
  const db = c.env.DB;
  const body = c.req.valid("json");
  const local: string[] = [];
  const failures: Record<string, unknown> = {};
  for (const u of Object.keys(body.device_keys)) {
    if (!isValidUserId(u)) throw new MatrixError("M_INVALID_PARAM", `Not a user id: ${JSON.stringify(u)}`, 400);
    if (isLocal(c, u)) local.push(u);
    else failures[userIdDomain(u)!] = federationUnavailable();
  }
  // What the requester may see, in one batch: never other users' user-signing keys,
  // nor signatures by other users' user-signing keys (spec "Cross-signing").
  const devQuery = queryDeviceKeysStatement(db, local);
  const csQuery = visibleCrossSigningKeysStatement(db, local, me);
  const sigQuery = visibleSignaturesStatement(db, local, me);
  const [devRes, csRes, sigRes] = await db.batch([devQuery, csQuery, sigQuery]);
  const sigs = rowsOf(sigQuery, sigRes);

  const deviceKeys: Record<string, Record<string, JsonObject>> = {};
  for (const u of local) deviceKeys[u] = {};
  for (const r of rowsOf(devQuery, devRes)) {
    const wanted = body.device_keys[r.user_id];
    if (!wanted || (wanted.length > 0 && !wanted.includes(r.device_id))) continue;
    const keys = withSignatures(JSON.parse(r.key_json) as JsonObject, signaturesFor(sigs, r.user_id, r.device_id));
    const out: JsonObject = r.display_name !== null ? { ...keys, unsigned: { device_display_name: r.display_name } } : { ...keys };
    deviceKeys[r.user_id]![r.device_id] = out;
  }

  const byType: Record<CrossSigningUsage, Record<string, JsonObject>> = { master: {}, self_signing: {}, user_signing: {} };
  for (const r of rowsOf(csQuery, csRes)) {
    byType[r.key_type][r.user_id] = withSignatures(JSON.parse(r.key_json) as JsonObject, signaturesFor(sigs, r.user_id, r.public_key));
  }
  return c.json({
    device_keys: deviceKeys,
    master_keys: byType.master,
    self_signing_keys: byType.self_signing,
    user_signing_keys: byType.user_signing,
    failures,
  });
});

// ---------------------------------------------------------------------------
// POST /keys/claim
// ---------------------------------------------------------------------------

const ClaimBody = z.object({
  one_time_keys: z.record(z.string(), z.record(z.string(), z.string().min(1))),
  timeout: z.number().optional(),
});

/**
 * POST /_matrix/client/v3/keys/claim: one-time keys in upload order, each handed
 * out once (a single DELETE ... RETURNING takes the oldest key of every requested
 * device, atomically); devices with none left get their fallback key, marked used.
 */
keyRoutes.post(clientV3("/keys/claim"), requireAuth({ allowGuest: true }), jsonBody(ClaimBody), async (c) => {
  const db = c.env.DB;
  const body = c.req.valid("json");
  const wanted: KeyClaim[] = [];
  const failures: Record<string, unknown> = {};
  for (const [u, devices] of Object.entries(body.one_time_keys)) {
    if (!isValidUserId(u)) throw new MatrixError("M_INVALID_PARAM", `Not a user id: ${JSON.stringify(u)}`, 400);
    if (!isLocal(c, u)) {
      failures[userIdDomain(u)!] = federationUnavailable();
      continue;
    }
    for (const [d, algorithm] of Object.entries(devices)) wanted.push([u, d, algorithm]);
  }
  const oneTimeKeys: Record<string, Record<string, Record<string, JsonValue>>> = {};
  const put = (r: ClaimedKeyRow) => {
    ((oneTimeKeys[r.user_id] ??= {})[r.device_id] ??= {})[`${r.algorithm}:${r.key_id}`] = JSON.parse(r.key_json) as JsonValue;
  };
  if (wanted.length) {
    const claimed = await claimOneTimeKeys(db, wanted);
    claimed.forEach(put);
    const got = new Set(claimed.map((r) => JSON.stringify([r.user_id, r.device_id, r.algorithm])));
    const missing = wanted.filter((w) => !got.has(JSON.stringify(w)));
    if (missing.length) (await claimFallbackKeys(db, missing)).forEach(put);
  }
  return c.json({ one_time_keys: oneTimeKeys, failures });
});

// ---------------------------------------------------------------------------
// GET /keys/changes
// ---------------------------------------------------------------------------

/** GET /_matrix/client/v3/keys/changes?from=&to= */
keyRoutes.get(clientV3("/keys/changes"), requireAuth({ allowGuest: true }), async (c) => {
  const { userId } = c.get("auth");
  const fromRaw = c.req.query("from");
  if (fromRaw === undefined) throw new MatrixError("M_MISSING_PARAM", "Missing parameter: from", 400);
  const current = await readStreamPos(c.env.DB);
  const from = parseStreamToken(fromRaw, "from", current);
  // `to` is a hint (spec): one past what has been written is clamped, not refused.
  const toRaw = c.req.query("to");
  const to = toRaw === undefined ? current : Math.min(parseStreamToken(toRaw, "to", Number.MAX_SAFE_INTEGER), current);
  const { changed, left } = await deviceListsSince(c.env.DB, userId, from, to);
  return c.json({ changed, left });
});

// ---------------------------------------------------------------------------
// POST /keys/device_signing/upload
// ---------------------------------------------------------------------------

const BODY_FIELD = {
  master: "master_key",
  self_signing: "self_signing_key",
  user_signing: "user_signing_key",
} as const satisfies Record<CrossSigningUsage, string>;

/** The keys are checked (usage, owner, signatures) by src/e2ee-keys.ts. */
const DeviceSigningBody = uiaBody({
  master_key: JsonObjectSchema.optional(),
  self_signing_key: JsonObjectSchema.optional(),
  user_signing_key: JsonObjectSchema.optional(),
});

/**
 * POST /_matrix/client/v3/keys/device_signing/upload. UIA (m.login.password) is
 * needed only to replace keys: not for the first upload (no master key yet), nor
 * for a request whose keys all equal the stored ones (spec v1.11).
 */
keyRoutes.post(clientV3("/keys/device_signing/upload"), requireAuth(), jsonBody(DeviceSigningBody), async (c) => {
  const { userId } = c.get("auth");
  const db = c.env.DB;
  const body = c.req.valid("json");

  const uploaded = new Map<CrossSigningUsage, CheckedCrossSigningKey>();
  for (const usage of ["master", "self_signing", "user_signing"] as const) {
    const v = body[BODY_FIELD[usage]];
    if (v !== undefined) uploaded.set(usage, checkCrossSigningKey(v, userId, usage));
  }
  const stored = new Map((await loadCrossSigningKeys(db, userId)).map((r) => [r.key_type, r]));

  const storedMaster = stored.get("master");
  const master = uploaded.get("master") ?? (storedMaster && { keyId: `ed25519:${storedMaster.public_key}`, publicKey: storedMaster.public_key });
  if (!master) throw new MatrixError("M_MISSING_PARAM", "No master key available", 400);
  for (const usage of ["self_signing", "user_signing"] as const) {
    const key = uploaded.get(usage);
    if (key) checkSignedByMaster(key, userId, master, usage);
  }

  // Cross-signing public keys and device ids share a namespace (spec "Cross-signing").
  const publicKeys = [...uploaded.values()].map((k) => k.publicKey);
  if (publicKeys.length && (await anyDeviceIdOf(db, userId, publicKeys)) !== null) throw new MatrixError("M_FORBIDDEN", "Key ID in use", 403);

  const changed = [...uploaded.entries()].filter(([usage, k]) => stored.get(usage)?.key_json !== k.canonical);
  if (changed.length === 0) return c.json({});
  let uiaSession: string | undefined;
  if (storedMaster) {
    const uia = await userInteractiveAuth(c, body.auth, { flows: [["m.login.password"]], userId });
    uiaSession = uia.sessionId;
  }

  const stmts: D1PreparedStatement[] = [advanceStream(db)];
  for (const [usage, k] of changed) stmts.push(storeCrossSigningKeyStatement(db, userId, usage, k));
  // Master and self-signing keys concern everyone sharing a room; the user-signing key only its owner.
  const publicChange = changed.some(([usage]) => usage !== "user_signing");
  const privateChange = changed.some(([usage]) => usage === "user_signing");
  if (publicChange) stmts.push(recordDeviceListChange(db, userId));
  if (privateChange) stmts.push(recordDeviceListChange(db, userId, userId));
  const pos = streamPosOf(await db.batch(stmts));
  if (uiaSession) await endUiaSession(db, uiaSession);
  c.executionCtx.waitUntil(notifyDeviceListChange(c.env, userId, pos, publicChange ? undefined : userId));
  return c.json({});
});

// ---------------------------------------------------------------------------
// POST /keys/signatures/upload
// ---------------------------------------------------------------------------

const notFound = (msg: string) => new MatrixError("M_NOT_FOUND", msg, 404);

/** user → key id → the signed object (a device key or a master key), checked one by one below. */
const SignaturesBody = z.record(z.string(), z.record(z.string(), JsonObjectSchema));

/**
 * POST /_matrix/client/v3/keys/signatures/upload: each signed object is checked on
 * its own; the ones that fail are listed in `failures` (user → key id → error),
 * the others are stored and show up in /keys/query.
 */
keyRoutes.post(clientV3("/keys/signatures/upload"), requireAuth({ allowGuest: true }), jsonBody(SignaturesBody), async (c) => {
  const { userId: me } = c.get("auth");
  const db = c.env.DB;
  const body = c.req.valid("json");
  const targets = Object.keys(body).filter((u) => u !== me && isLocal(c, u));
  const csQuery = crossSigningKeysStatement(db, me);
  const devQuery = userDeviceKeysStatement(db, me);
  const mastersQuery = masterKeysStatement(db, targets);
  const [csRes, devRes, otherRes] = await db.batch([csQuery, devQuery, mastersQuery]);
  const mine = new Map(rowsOf(csQuery, csRes).map((r) => [r.key_type, r]));
  const devices = new Map(rowsOf(devQuery, devRes).map((r) => [r.device_id, r]));
  const otherMasters = new Map(rowsOf(mastersQuery, otherRes).map((r) => [r.user_id, r]));
  const asKey = (r: { public_key: string } | undefined) => r && { keyId: `ed25519:${r.public_key}`, publicKey: r.public_key };

  const failures: Record<string, Record<string, SignatureFailure>> = {};
  const toStore: SignatureToStore[] = [];
  let ownChanged = false;
  const signedUsers = new Set<string>();
  for (const [target, keys] of Object.entries(body)) {
    for (const [keyId, signed] of Object.entries(keys)) {
      try {
        if (target === me) {
          const master = mine.get("master");
          if (master && keyId === master.public_key) {
            const deviceEd = new Map([...devices.values()].map((d) => [d.device_id, d.ed25519_key]));
            for (const s of checkMasterSignedByDevices(signed, JSON.parse(master.key_json) as JsonObject, `ed25519:${master.public_key}`, me, deviceEd)) {
              toStore.push({ ...s, targetUserId: me, targetKeyId: keyId });
            }
          } else {
            const device = devices.get(keyId);
            if (!device) throw notFound("Unknown device");
            const ssk = asKey(mine.get("self_signing"));
            if (!ssk) throw notFound("No self-signing key has been uploaded");
            toStore.push({ ...checkDeviceSignedBySelfSigningKey(signed, JSON.parse(device.key_json) as JsonObject, me, ssk), targetUserId: me, targetKeyId: keyId });
          }
          ownChanged = true;
        } else {
          const usk = asKey(mine.get("user_signing"));
          if (!usk) throw notFound("No user-signing key has been uploaded");
          const targetMaster = otherMasters.get(target);
          if (!targetMaster || keyId !== targetMaster.public_key) throw notFound(`No master key ${keyId} for ${target}`);
          toStore.push({
            ...checkMasterSignedByUserSigningKey(signed, JSON.parse(targetMaster.key_json) as JsonObject, me, usk),
            targetUserId: target,
            targetKeyId: keyId,
          });
          signedUsers.add(target);
        }
      } catch (e) {
        if (!(e instanceof MatrixError)) throw e;
        (failures[target] ??= {})[keyId] = failureOf(e);
      }
    }
  }

  if (toStore.length) {
    const stmts: D1PreparedStatement[] = [advanceStream(db), storeSignaturesStatement(db, me, toStore)];
    if (ownChanged) stmts.push(recordDeviceListChange(db, me));
    // Signatures by our user-signing key are visible to us only: only we hear about them.
    for (const u of signedUsers) stmts.push(recordDeviceListChange(db, u, me));
    const pos = streamPosOf(await db.batch(stmts));
    c.executionCtx.waitUntil(
      ownChanged ? notifyDeviceListChange(c.env, me, pos) : notifyDeviceListChange(c.env, me, pos, me),
    );
  }
  return c.json({ failures });
});
