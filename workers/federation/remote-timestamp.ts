/**
 * timestamp_to_event with the other servers of a room (MSC3030; server-server-api
 * getEventByTimestamp, src/timestamp-to-event.ts). As Synapse's
 * `get_event_for_timestamp`: when this server has no answer, or its answer sits
 * next to a gap in the room's DAG (durable-objects/room/timestamp-lookup.ts), the
 * servers of the joined members are asked in turn, oldest join first. A remote
 * answer counts only if it lies in the direction asked and is strictly closer to
 * the timestamp than the local one; it is then fetched with /event and checked
 * (workers/federation/fetch-remote-event.ts), and its own `origin_server_ts` is
 * what is compared and answered, not the one claimed. A server that fails, lies or
 * answers badly is passed over: never an error of ours.
 *
 * A remote answer that names an event this server holds in the read model must be
 * one the user may see (`visibleHere`); one we never had is not checked against the
 * user's history visibility (Synapse checks neither: the answering server applied
 * its rules for servers, and only the id and time are given).
 */
import { getRoomVersion } from "../../src/room-versions.js";
import { type TimestampMatch, type TimestampQuery, closerThan, inDirection, parseRemoteAnswer } from "../../src/timestamp-to-event.js";
import { joinedServersByAge } from "../../services/d1/room-memberships.js";
import type { Env } from "../../services/env.js";
import { federationRequest } from "../../services/federation/federation-client.js";
import { fetchRemoteEvent } from "./fetch-remote-event.js";

/** Servers asked per request, at most: each may cost three requests (answer, event, auth chain). */
const MAX_SERVERS = 5;

/**
 * The local answer, or a closer one from another server in the room. `visibleHere`
 * tells whether the user may see an event, if this server's read model holds it.
 */
export async function closestWithOtherServers(
  env: Env,
  roomId: string,
  q: TimestampQuery,
  local: TimestampMatch | undefined,
  visibleHere: (eventId: string) => Promise<boolean>,
): Promise<TimestampMatch | undefined> {
  const servers = (await joinedServersByAge(env.DB, roomId, MAX_SERVERS + 1)).filter((s) => s !== env.SERVER_NAME).slice(0, MAX_SERVERS);
  if (servers.length === 0) return local;
  const stub = env.ROOM.getByName(roomId);
  if (local && !(await stub.timestampGap(local.eventId, q.dir))) return local;
  const info = await stub.info();
  const version = info ? getRoomVersion(info.roomVersion) : undefined;
  if (!version) return local;
  for (const server of servers) {
    try {
      const path = `/_matrix/federation/v1/timestamp_to_event/${encodeURIComponent(roomId)}?ts=${q.ts}&dir=${q.dir}`;
      const answer = parseRemoteAnswer(await federationRequest(env, server, "GET", path));
      if (!answer || !inDirection(q, answer.originServerTs) || !closerThan(q, answer.originServerTs, local)) continue;
      if (!(await visibleHere(answer.eventId))) continue;
      const fetched = await fetchRemoteEvent(env, server, roomId, version, stub, answer.eventId);
      if (!fetched.ok) {
        console.log(`timestamp_to_event: ${server}: ${fetched.error}`);
        continue;
      }
      const ts = fetched.event.pdu.origin_server_ts;
      if (!inDirection(q, ts) || !closerThan(q, ts, local)) continue;
      return { eventId: answer.eventId, originServerTs: ts };
    } catch (e) {
      // Another server's failure (or refusal) is not this request's: on to the next one, as Synapse does.
      console.log(`timestamp_to_event: asking ${server} failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return local;
}
