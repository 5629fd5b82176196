/** POST /_matrix/client/v3/rooms/{roomId}/read_markers (client-server-api "Fully read markers"). */
import { Hono } from "hono";
import { z } from "zod";
import type { AppEnv } from "../app-env.js";
import { jsonBody } from "../middleware/body.js";
import { requireAuth } from "../middleware/auth.js";
import { setFullyRead } from "../receipts/fully-read.js";
import { postReceipt } from "../receipts/receipts.js";
import { clientV3 } from "./paths.js";
import { checkRoomId } from "../rooms/room-access.js";

/** Every field is optional (spec v1.4); other keys are ignored, as Synapse does. */
const ReadMarkersBody = z.looseObject({
  "m.fully_read": z.string().optional(),
  "m.read": z.string().optional(),
  "m.read.private": z.string().optional(),
});

export const readMarkerRoutes = new Hono<AppEnv>();

readMarkerRoutes.post(clientV3("/rooms/:roomId/read_markers"), requireAuth(), jsonBody(ReadMarkersBody), async (c) => {
  const roomId = c.req.param("roomId");
  checkRoomId(roomId);
  const body = c.req.valid("json");
  const userId = c.get("auth").userId;
  const defer = (p: Promise<unknown>) => c.executionCtx.waitUntil(p);
  // The same as the matching /receipt calls (spec "Server behaviour"): unthreaded receipts.
  for (const receiptType of ["m.read", "m.read.private"] as const) {
    const eventId = body[receiptType];
    if (eventId) await postReceipt(c.env, { roomId, userId, receiptType, eventId, threadId: undefined }, defer);
  }
  const fullyRead = body["m.fully_read"];
  if (fullyRead) await setFullyRead(c.env, roomId, userId, fullyRead);
  return c.json({});
});
