/**
 * One event of a room fetched from another server (server-server-api
 * `GET /_matrix/federation/v1/event/{eventId}`, "Retrieving events"), checked on
 * receipt (steps 1–3 in services/federation/pdu-intake.ts; step 4, its own auth
 * events, in the Room DO) and kept as an outlier: known to the room here, with no
 * place in its DAG. What timestamp_to_event does with another server's answer,
 * as the spec asks ("it should try to backfill this event via the /event/{event_id}
 * endpoint"). Its auth events are fetched from the same server when missing.
 *
 * There is no backfill into the read model yet: the event is not in D1, so clients
 * do not see it in /messages or /context until history backfill exists.
 */
import { isJsonObject } from "../../src/json.js";
import type { StoredEvent } from "../../src/pdu.js";
import { unwrap } from "../../src/room-result.js";
import type { RoomVersion } from "../../src/room-versions.js";
import type { Env } from "../../services/env.js";
import { federationRequest } from "../../services/federation/federation-client.js";
import { checkPdus } from "../../services/federation/pdu-intake.js";
import { type RoomStub, fetchAuthChain } from "./inbound-transaction.js";

export type FetchedEvent = { ok: true; event: StoredEvent } | { ok: false; error: string };

/** `eventId` of `roomId` from `server`, checked and stored as an outlier. Federation errors are thrown (FederationRequestFailed, FederationUnreachable). */
export async function fetchRemoteEvent(env: Env, server: string, roomId: string, version: RoomVersion, stub: RoomStub, eventId: string): Promise<FetchedEvent> {
  const res = await federationRequest(env, server, "GET", `/_matrix/federation/v1/event/${encodeURIComponent(eventId)}`);
  const pdu = Array.isArray(res.pdus) && res.pdus.length === 1 && isJsonObject(res.pdus[0]) ? res.pdus[0] : undefined;
  if (!pdu) return { ok: false, error: `${server} answered /event without exactly one PDU` };
  const [checked] = await checkPdus(env, version, [pdu]);
  if (!checked?.ok) return { ok: false, error: `${server}'s event failed the checks: ${checked?.error ?? "missing"}` };
  if (checked.eventId !== eventId) return { ok: false, error: `${server} answered /event/${eventId} with ${checked.eventId}` };
  if (checked.pdu.room_id !== roomId) return { ok: false, error: `${server}'s event ${eventId} is not in ${roomId}` };
  const event = { eventId, pdu: checked.pdu };
  for (let attempt = 0; attempt < 2; attempt++) {
    const outcome = (await unwrap(stub.receive(server, [event], { outlier: true }))).outcomes[eventId];
    if (outcome?.kind === "accepted" || outcome?.kind === "duplicate") return { ok: true, event };
    if (outcome?.kind !== "missing" || attempt > 0) return { ok: false, error: `${eventId} was not accepted: ${outcome && "reason" in outcome ? outcome.reason : (outcome?.kind ?? "no outcome")}` };
    await fetchAuthChain(env, server, roomId, version, stub, eventId);
  }
  return { ok: false, error: `${eventId}: its auth events could not be fetched` };
}
