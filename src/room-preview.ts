/**
 * Who may preview a room they are not in: the rule shared by the room summary
 * (`GET /room_summary/{roomIdOrAlias}`, MSC3266) and the space hierarchy
 * (space_hierarchy.yaml "rooms"). A room is visible when
 *
 * - the user is joined or invited;
 * - the join rule is `public`, or `knock` / `knock_restricted` in a room version
 *   that has them ("knockable");
 * - the join rule is `restricted` / `knock_restricted` and the user is joined to one
 *   of the rooms in `allow` (they already have permission to join);
 * - the history visibility is `world_readable`.
 *
 * Without a user (unauthenticated summary requests) only the public, knockable and
 * world-readable cases apply (room_summary.yaml). Synapse's `_is_local_room_accessible`.
 *
 * Pure: no Workers APIs.
 */
import { isJsonObject, type JsonValue } from "./json.js";
import type { RoomVersion } from "./room-versions.js";

export interface PreviewFacts {
  version: RoomVersion | undefined;
  joinRule: string | null;
  historyVisibility: string | null;
  /** The user's current membership, or null (no user, or never in the room). */
  membership: string | null;
  /** Whether the user is joined to any room in the join rules' `allow` list. */
  inAllowedRoom: boolean;
}

/** `public`, or a knock rule the room version supports. */
export function isPubliclyJoinableOrKnockable(version: RoomVersion | undefined, joinRule: string | null): boolean {
  if (joinRule === "public") return true;
  if (joinRule === "knock") return version?.knockJoinRule === true;
  if (joinRule === "knock_restricted") return version?.knockRestrictedJoinRule === true;
  return false;
}

/** Whether the join rule is a restricted one that this room version supports (MSC3083, MSC3787). */
export function hasRestrictedJoinRule(version: RoomVersion | undefined, joinRule: string | null): boolean {
  if (joinRule === "restricted") return version?.restrictedJoinRule === true;
  if (joinRule === "knock_restricted") return version?.knockRestrictedJoinRule === true;
  return false;
}

export function canPreviewRoom(f: PreviewFacts): boolean {
  if (f.membership === "join" || f.membership === "invite") return true;
  if (isPubliclyJoinableOrKnockable(f.version, f.joinRule)) return true;
  if (f.historyVisibility === "world_readable") return true;
  return hasRestrictedJoinRule(f.version, f.joinRule) && f.inAllowedRoom;
}

/** The room ids of `m.room_membership` conditions in a join rules `allow` list (server-server-api "Restricted rooms"). */
export function allowedRoomIds(allow: JsonValue | undefined): string[] {
  if (!Array.isArray(allow)) return [];
  const out: string[] = [];
  for (const a of allow) {
    if (isJsonObject(a) && a.type === "m.room_membership" && typeof a.room_id === "string" && !out.includes(a.room_id)) out.push(a.room_id);
  }
  return out;
}
