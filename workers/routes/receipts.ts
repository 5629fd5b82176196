/** POST /_matrix/client/v3/rooms/{roomId}/receipt/{receiptType}/{eventId} (client-server-api "Receipts"). */
import { Hono } from "hono";
import { MatrixError } from "../../src/errors.js";
import { isValidRoomId } from "../../src/identifiers.js";
import { RECEIPT_TYPES, ReceiptBody, checkReceiptThread, isReceiptType } from "../../src/receipts.js";
import type { AppEnv } from "../app-env.js";
import { jsonBody } from "../middleware/body.js";
import { requireAuth } from "../middleware/auth.js";
import { setFullyRead } from "../receipts/fully-read.js";
import { postReceipt } from "../receipts/receipts.js";
import { clientV3 } from "./paths.js";

export const receiptRoutes = new Hono<AppEnv>();

// The body is required by the spec; older clients send none, which Synapse also tolerates as {}.
receiptRoutes.post(clientV3("/rooms/:roomId/receipt/:receiptType/:eventId"), requireAuth(), jsonBody(ReceiptBody, { allowEmpty: true }), async (c) => {
  const { roomId, receiptType, eventId } = c.req.param();
  if (!isValidRoomId(roomId) || !eventId.startsWith("$")) {
    throw new MatrixError("M_INVALID_PARAM", "A valid room ID and event ID must be specified", 400);
  }
  if (!isReceiptType(receiptType)) throw new MatrixError("M_INVALID_PARAM", `Receipt type must be one of ${RECEIPT_TYPES.join(", ")}`, 400);
  const threadId = c.req.valid("json").thread_id;
  checkReceiptThread(receiptType, threadId);
  const userId = c.get("auth").userId;
  if (receiptType === "m.fully_read") {
    // "this endpoint effectively calls /read_markers internally" (receipts.yaml).
    await setFullyRead(c.env, roomId, userId, eventId);
  } else {
    await postReceipt(c.env, { roomId, userId, receiptType, eventId, threadId }, (p) => c.executionCtx.waitUntil(p));
  }
  return c.json({});
});
