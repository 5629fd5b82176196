/**
 * History visibility for servers: which of a room's events another server may be
 * given by `/backfill`, `/event` and `/get_missing_events`, and in which form.
 *
 * The server-server API states no rule of its own; the client-server rules
 * (client-server-api "History visibility": `world_readable` events "may be shared
 * by any participating homeserver") are per user. This follows Synapse
 * (`filter_events_for_server`, `event_visible_to_server`), which reads them for a
 * server as a whole: a server may see an event if the history visibility in the
 * state at the event is `world_readable` or `shared` (or missing, or a value not
 * understood, which the spec says means `shared`), or if any of its users was
 * joined in that state — or invited, under `invited`.
 *
 * "The state at the event" is the state after it, its own change included (what
 * Room.stateAt answers, and Synapse's state group of an event): the server sees the
 * join of its first user under `joined`, but not the leave of its last.
 *
 * Events a server may not see are sent redacted, not left out, as Synapse does for
 * these three endpoints: a redacted PDU still carries its id, `prev_events`,
 * `auth_events`, hashes and signatures, so the requester can check it (the spec's
 * signature check "should succeed whether we have been sent the full event or a
 * redacted copy", and a failed content hash means "we have only been given a
 * redacted version", server-server-api "Validating hashes and signatures on
 * received events") and its walk through the DAG has no holes. The events of a
 * sender who asked for erasure (deactivation with `erase`) go out redacted too.
 */
import { userIdDomain } from "./identifiers.js";
import type { Pdu } from "./pdu.js";
import { redactEvent } from "./redaction.js";
import type { RoomVersion } from "./room-versions.js";

export interface ServerVisibilityAt {
  /** `content.history_visibility` of the `m.room.history_visibility` event in the state at the event; undefined if none. */
  historyVisibility: unknown;
  /** The memberships, in the state at the event, of the requesting server's users (see serverMemberships). */
  memberships: Iterable<string>;
  /** The event's sender asked for their data to be erased. */
  senderErased?: boolean;
}

/** Whether the server may see the event in full. */
export function eventVisibleToServer(at: ServerVisibilityAt): boolean {
  if (at.senderErased) return false;
  const visibility = at.historyVisibility;
  if (visibility !== "invited" && visibility !== "joined") return true;
  for (const membership of at.memberships) {
    if (membership === "join") return true;
    if (membership === "invite" && visibility === "invited") return true;
  }
  return false;
}

/**
 * The memberships of `serverName`'s users among a state's members. A user belongs
 * to a server when their id's server name is that name exactly, port included
 * (unlike ACLs, which ignore ports).
 */
export function serverMemberships(members: Iterable<{ userId: string; membership: string }>, serverName: string): string[] {
  const out: string[] = [];
  for (const m of members) if (userIdDomain(m.userId) === serverName) out.push(m.membership);
  return out;
}

/** The PDU as the server may be given it: itself, or its redacted copy. */
export function pduForServer(pdu: Pdu, roomVersion: RoomVersion | string, at: ServerVisibilityAt): Pdu {
  return eventVisibleToServer(at) ? pdu : redactEvent(pdu, roomVersion);
}
