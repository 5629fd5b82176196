/**
 * What the two-server federation tests share: requests signed as some server
 * (X-Matrix), events hashed and signed as one, and what a client's timeline shows.
 */
import { EventType, type MatrixClient, type MatrixEvent } from "matrix-js-sdk";
import { eventIdFor } from "../../src/event-id.js";
import { signEvent } from "../../src/hashes.js";
import type { JsonObject } from "../../src/json.js";
import type { SigningKey } from "../../src/signing.js";
import { signRequest } from "../../src/x-matrix.js";

/** A federation request to `to`, signed as the server `from` with `key`. */
export async function fed(
  to: { baseUrl: string; serverName: string },
  from: { serverName: string },
  key: SigningKey,
  method: string,
  path: string,
  body?: JsonObject,
): Promise<{ status: number; json: JsonObject }> {
  const authorization = signRequest({ method, uri: path, origin: from.serverName, destination: to.serverName, content: body }, key.keyId, key.seed);
  const res = await fetch(`${to.baseUrl}${path}`, {
    method,
    headers: { authorization, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, json: (await res.json()) as JsonObject };
}

/** An event of `template`'s shape, hashed and signed by `serverName` (room version 12 unless told). */
export function signedAs(serverName: string, template: JsonObject, key: SigningKey, version = "12"): { eventId: string; pdu: JsonObject } {
  const { hashes: _h, signatures: _s, unsigned: _u, ...rest } = template;
  const pdu = signEvent({ ...rest, origin_server_ts: (rest.origin_server_ts as number | undefined) ?? Date.now() }, version, serverName, key.keyId, key.seed) as unknown as JsonObject;
  return { eventId: eventIdFor(pdu, version), pdu };
}

/** The bodies of the messages in a client's live timeline of a room. */
export function bodies(client: MatrixClient, roomId: string): string[] {
  return (client.getRoom(roomId)?.getLiveTimeline().getEvents() ?? [])
    .filter((e: MatrixEvent) => e.getType() === EventType.RoomMessage)
    .map((e: MatrixEvent) => e.getContent().body as string);
}

export const membership = (client: MatrixClient, roomId: string, userId: string) => client.getRoom(roomId)?.getMember(userId)?.membership;
