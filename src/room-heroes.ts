/**
 * The `summary` of a joined room in /sync (client-server-api "Calculating the
 * display name for a room", sync.yaml `RoomSummary`): member counts, and the
 * room's heroes when it has neither a name nor a canonical alias.
 *
 * Heroes are the first members by stream ordering who are joined or invited,
 * never the syncing user; when there are none, the users who left or were
 * banned (spec). Sliding sync's `heroes` (MSC4186) are the same users.
 *
 * Pure: no Workers APIs.
 */
import type { JsonObject } from "./json.js";

/** The spec asks for the first 5 (more may be given; fewer only when there are fewer). */
export const MAX_HEROES = 5;

export interface HeroCandidate {
  userId: string;
  membership: string;
  /** Stream position of the member's current membership event. */
  pos: number;
}

export interface SummaryInputs {
  name: string | null;
  canonicalAlias: string | null;
  joined: number;
  invited: number;
  /** Members of the room in stream order, at least the first MAX_HEROES + 1 of each group. */
  candidates: HeroCandidate[];
}

/** Whether the room needs heroes: its m.room.name and m.room.canonical_alias are unset or empty. */
export function needsHeroes(name: string | null, canonicalAlias: string | null): boolean {
  return !name && !canonicalAlias;
}

export function pickHeroes(candidates: HeroCandidate[], me: string): string[] {
  const ordered = [...candidates].filter((c) => c.userId !== me).sort((a, b) => a.pos - b.pos);
  const present = ordered.filter((c) => c.membership === "join" || c.membership === "invite");
  const pool = present.length ? present : ordered.filter((c) => c.membership === "leave" || c.membership === "ban");
  return pool.slice(0, MAX_HEROES).map((c) => c.userId);
}

export function syncRoomSummary(inputs: SummaryInputs, me: string): JsonObject {
  const out: JsonObject = { "m.joined_member_count": inputs.joined, "m.invited_member_count": inputs.invited };
  if (needsHeroes(inputs.name, inputs.canonicalAlias)) out["m.heroes"] = pickHeroes(inputs.candidates, me);
  return out;
}
