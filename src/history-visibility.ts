/**
 * Whether a user may see an event, from the room's history visibility and the
 * user's membership around it (client-server-api "History visibility"):
 *
 * - world_readable: everyone;
 * - the user's membership at the event was join: yes;
 * - shared: if the user is joined now, or joined at any point after the event;
 * - invited: if the user was invited or joined at the event;
 * - joined: only if joined at the event.
 *
 * Positions are the event stream order. The visibility in force for an event is
 * the last m.room.history_visibility change before it, and so is the user's
 * membership — except for the user's own membership events, which count as the
 * higher of the old and new membership (and a leave after join or invite is
 * always visible), as Synapse does, so users see themselves leave.
 */
export type HistoryVisibility = "world_readable" | "shared" | "invited" | "joined";

export interface VisibilityTimeline {
  /** m.room.history_visibility changes, ascending by pos. */
  visibility: Array<{ pos: number; value: string }>;
  /** The user's m.room.member events, ascending by pos. */
  memberships: Array<{ pos: number; membership: string }>;
}

function lastAtOrBefore<T extends { pos: number }>(list: T[], pos: number, inclusive: boolean): T | undefined {
  let found: T | undefined;
  for (const x of list) {
    if (x.pos < pos || (inclusive && x.pos === pos)) found = x;
    else break;
  }
  return found;
}

export function visibilityAt(t: VisibilityTimeline, pos: number): HistoryVisibility {
  const v = lastAtOrBefore(t.visibility, pos, false)?.value;
  // An unknown or missing value means "shared" (the spec's default).
  return v === "world_readable" || v === "invited" || v === "joined" ? v : "shared";
}

/** Synapse's MEMBERSHIP_PRIORITY: earlier wins. */
const PRIORITY = ["join", "invite", "knock", "leave", "ban"];
const rank = (m: string | undefined) => {
  const i = PRIORITY.indexOf(m ?? "leave");
  return i === -1 ? PRIORITY.indexOf("leave") : i;
};

export function membershipAt(t: VisibilityTimeline, pos: number): string | undefined {
  const before = lastAtOrBefore(t.memberships, pos, false)?.membership;
  const own = t.memberships.find((m) => m.pos === pos)?.membership;
  if (own === undefined) return before;
  if (own === "leave" && (before === "join" || before === "invite")) return "join";
  return rank(before) < rank(own) ? before : own;
}

function visibleUnder(t: VisibilityTimeline, pos: number, visibility: HistoryVisibility): boolean {
  if (visibility === "world_readable") return true;
  const at = membershipAt(t, pos);
  if (at === "join") return true;
  if (visibility === "invited" && at === "invite") return true;
  if (visibility === "shared") return t.memberships.some((m) => m.pos >= pos && m.membership === "join");
  return false;
}

export function isEventVisible(t: VisibilityTimeline, pos: number): boolean {
  if (visibleUnder(t, pos, visibilityAt(t, pos))) return true;
  // An m.room.history_visibility event itself is visible if the visibility before *or*
  // after it allows (client-server-api "History visibility", "Server behaviour").
  const own = t.visibility.find((v) => v.pos === pos);
  return own !== undefined && visibleUnder(t, pos, visibilityAt(t, pos + 1));
}

/** The user can read the room's history at all (now): a member now or once, or world readable. */
export function canReadRoom(t: VisibilityTimeline, nowPos: number): boolean {
  return visibilityAt(t, nowPos + 1) === "world_readable" || t.memberships.length > 0;
}
