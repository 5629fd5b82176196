import { Hono } from "hono";
import { z } from "zod";
import { canonicalJson } from "../../src/canonical-json.js";
import { MatrixError } from "../../src/errors.js";
import { isValidUserId, userIdDomain } from "../../src/identifiers.js";
import type { AppEnv } from "../app-env.js";
import { getConfig } from "../config.js";
import { jsonBody } from "../middleware/body.js";
import { requireAuth } from "../middleware/auth.js";
import { claimToDeviceTxnStatement, pruneToDeviceTxnsStatement, queueToDeviceMessagesStatement, type ToDeviceMessage } from "../../services/d1/to-device.js";
import { rowsOf } from "../../services/d1/rows.js";
import { Topic, notifyUsers } from "../../services/wake.js";
import { advanceStream, streamPosOf } from "../../services/stream.js";
import { clientV3 } from "./paths.js";

/**
 * Send-to-device messaging (client-server-api "Send-to-Device messaging",
 * PUT /sendToDevice/{eventType}/{txnId}). Messages for local devices go into the
 * to-device inbox at one stream position and come out, in order, through /sync
 * `to_device` (workers/e2ee/sync-extension.ts).
 *
 * Limits: the whole body is capped by MAX_JSON_BODY_BYTES (1 MiB, as Synapse);
 * each message's content by MAX_TO_DEVICE_CONTENT_BYTES of canonical JSON (64 KiB:
 * the largest event the federation API carries, far above any Olm-encrypted key
 * share); larger ones are refused with 413 M_TOO_LARGE.
 *
 * Targets on other servers are accepted and dropped with a logged note until
 * federation (the `m.direct_to_device` EDU) exists.
 */
export const toDeviceRoutes = new Hono<AppEnv>();

export const MAX_TO_DEVICE_CONTENT_BYTES = 65536;
/** Transaction ids are remembered this long; a retry later than that would send again. */
const TXN_RETENTION_MS = 24 * 60 * 60 * 1000;

const SendBody = z.object({
  messages: z.record(z.string(), z.record(z.string(), z.record(z.string(), z.unknown()))),
});

const encoder = new TextEncoder();

/** PUT /_matrix/client/v3/sendToDevice/{eventType}/{txnId} */
toDeviceRoutes.put(clientV3("/sendToDevice/:eventType/:txnId"), requireAuth({ allowGuest: true }), jsonBody(SendBody), async (c) => {
  const { userId, deviceId } = c.get("auth");
  const db = c.env.DB;
  const eventType = c.req.param("eventType");
  const txnId = c.req.param("txnId");
  if (eventType.length === 0 || eventType.length > 255) throw new MatrixError("M_INVALID_PARAM", "Invalid event type", 400);
  if (txnId.length === 0 || txnId.length > 255) throw new MatrixError("M_INVALID_PARAM", "Invalid transaction id", 400);
  const body = c.req.valid("json");
  const serverName = getConfig(c.env).serverName;

  // Local recipients: [user, device or "*", canonical content]; remote ones are dropped for now.
  const local: ToDeviceMessage[] = [];
  const remoteServers = new Set<string>();
  for (const [target, byDevice] of Object.entries(body.messages)) {
    if (!isValidUserId(target)) throw new MatrixError("M_INVALID_PARAM", `Not a user id: ${JSON.stringify(target)}`, 400);
    for (const [device, content] of Object.entries(byDevice)) {
      let json: string;
      try {
        json = canonicalJson(content);
      } catch (e) {
        throw new MatrixError("M_BAD_JSON", `messages.${target}.${device}: ${e instanceof Error ? e.message : String(e)}`, 400);
      }
      if (encoder.encode(json).byteLength > MAX_TO_DEVICE_CONTENT_BYTES) {
        throw new MatrixError("M_TOO_LARGE", `A to-device message may hold at most ${MAX_TO_DEVICE_CONTENT_BYTES} bytes of content`, 413);
      }
      const domain = userIdDomain(target)!;
      if (domain === serverName) local.push([target, device, json]);
      else remoteServers.add(domain);
    }
  }
  if (remoteServers.size) {
    console.log(
      `sendToDevice ${eventType} from ${userId}: dropped messages for ${[...remoteServers].join(", ")} (federation is not available yet)`,
    );
  }

  // One batch: the stream position, the transaction id (first use only) and the
  // messages. A retried txnId finds its row already there with an older position,
  // so the EXISTS guard inserts nothing and the retry is a plain 200. "*" expands
  // to the target's current devices; unknown devices get nothing (as Synapse).
  const now = Date.now();
  const queue = queueToDeviceMessagesStatement(db, { userId, deviceId, txnId }, eventType, local);
  const results = await db.batch([
    advanceStream(db),
    pruneToDeviceTxnsStatement(db, userId, deviceId, now - TXN_RETENTION_MS),
    claimToDeviceTxnStatement(db, userId, deviceId, txnId, now),
    queue,
  ]);
  const recipients = new Set(rowsOf(queue, results[3]).map((r) => r.user_id));
  if (recipients.size) c.executionCtx.waitUntil(notifyUsers(c.env, recipients, streamPosOf(results), Topic.TO_DEVICE));
  return c.json({});
});
