/**
 * GET /_matrix/federation/v1/timestamp_to_event/{roomId}?ts=&dir= (server-server-api
 * "Retrieving events", getEventByTimestamp; MSC3030): the closest event to `ts` in
 * the room, for a server that lacks that part of the history.
 *
 * As the other federation room reads: X-Matrix authenticated, refused to a server
 * the room's ACL denies (403) or with no joined user in the room (403), unknown
 * rooms 404. Only events the requesting server may see (history visibility for
 * servers, src/server-history-visibility.ts) are answered; none found is 404
 * M_NOT_FOUND. The Room DO searches its DAG (durable-objects/room/timestamp-lookup.ts).
 */
import { Hono } from "hono";
import { MatrixError } from "../../src/errors.js";
import { isValidRoomId } from "../../src/identifiers.js";
import { unwrap } from "../../src/room-result.js";
import { noEventError, parseTimestampQuery } from "../../src/timestamp-to-event.js";
import type { RoomApi } from "../../services/room-api.js";
import type { AppEnv } from "../app-env.js";
import { requireServerAuth } from "../middleware/federation-auth.js";
import { requireServerAllowedInRoom } from "../middleware/server-acl.js";

export const federationTimestampRoutes = new Hono<AppEnv>();

federationTimestampRoutes.get("/_matrix/federation/v1/timestamp_to_event/:roomId", requireServerAuth(), requireServerAllowedInRoom(), async (c) => {
  const roomId = c.req.param("roomId");
  const q = parseTimestampQuery({ ts: c.req.query("ts"), dir: c.req.query("dir") });
  if (!isValidRoomId(roomId)) throw new MatrixError("M_INVALID_PARAM", `${roomId} is not a valid room ID`, 400);
  // RPC's typing of deep JSON overwhelms the checker: the room is called through its interface.
  const stub = c.env.ROOM.getByName(roomId) as unknown as RoomApi;
  const found = await unwrap(stub.closestEventForServer(c.get("origin"), q.ts, q.dir));
  if (!found) throw noEventError(q);
  return c.json({ event_id: found.eventId, origin_server_ts: found.originServerTs });
});
