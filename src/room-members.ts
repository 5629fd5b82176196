/**
 * GET /rooms/{roomId}/members filtering (client-server-api "Getting events for
 * a room"): `membership` and `not_membership` together form an "or": the
 * membership *is* `membership` or *is not* `not_membership`.
 */
export const MEMBERSHIPS = ["join", "invite", "knock", "leave", "ban"] as const;
export type Membership = (typeof MEMBERSHIPS)[number];

export function memberMatches(membership: string, only: Membership | undefined, not: Membership | undefined): boolean {
  if (only === undefined && not === undefined) return true;
  if (only !== undefined && membership === only) return true;
  if (not !== undefined && membership !== not) return true;
  return false;
}
