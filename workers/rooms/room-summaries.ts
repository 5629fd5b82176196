/**
 * Room summaries from the D1 read model (the `rooms` table), with what deciding
 * whether a user may preview a room needs: their membership and, for restricted join
 * rules, the rooms the `allow` list names. Shared by the room summary and the space
 * hierarchy (src/room-preview.ts has the rule).
 */
import type { JsonObject, JsonValue } from "../../src/json.js";
import { allowedRoomIds, canPreviewRoom, hasRestrictedJoinRule } from "../../src/room-preview.js";
import { type RoomSummaryRow, SUMMARY_COLUMNS, roomSummary } from "../../src/room-summary.js";
import { getRoomVersion } from "../../src/room-versions.js";

export interface SummaryEntry {
  row: RoomSummaryRow;
  /** The user's membership, or null (not in the room, or no user). */
  membership: string | null;
  /** Room ids of the join rules' `m.room_membership` conditions (restricted rooms only). */
  allowed: string[];
}

/** Rooms per D1 query; the ids travel as one JSON parameter. */
const CHUNK = 100;

export class SummaryLoader {
  private readonly cache = new Map<string, SummaryEntry | null>();
  private joinedAllowed = new Map<string, boolean>();

  constructor(
    private readonly db: D1Database,
    private readonly userId: string | null,
  ) {}

  /** Loads the rooms not yet cached (unknown rooms are remembered as such). */
  async load(roomIds: string[]): Promise<void> {
    const missing = [...new Set(roomIds)].filter((id) => !this.cache.has(id));
    for (let i = 0; i < missing.length; i += CHUNK) {
      const ids = missing.slice(i, i + CHUNK);
      const { results } = await this.db
        .prepare(
          `SELECT ${SUMMARY_COLUMNS}, m.membership, ` +
            // The allow list matters only for restricted join rules; read it just for those.
            "CASE WHEN r.join_rule IN ('restricted', 'knock_restricted') THEN (SELECT json_extract(e.json, '$.content.allow') FROM room_state s " +
            "JOIN room_events e ON e.event_id = s.event_id WHERE s.room_id = r.room_id AND s.type = 'm.room.join_rules' AND s.state_key = '') END AS allow_json " +
            "FROM rooms r LEFT JOIN room_memberships m ON m.room_id = r.room_id AND m.user_id = ? WHERE r.room_id IN (SELECT value FROM json_each(?))",
        )
        .bind(this.userId ?? "", JSON.stringify(ids))
        .all<RoomSummaryRow & { membership: string | null; allow_json: string | null }>();
      for (const id of ids) this.cache.set(id, null);
      for (const r of results) {
        const { membership, allow_json, ...row } = r;
        let allow: unknown;
        try {
          allow = allow_json ? JSON.parse(allow_json) : undefined;
        } catch {
          allow = undefined;
        }
        const version = getRoomVersion(row.room_version);
        const allowed = hasRestrictedJoinRule(version, row.join_rule) ? allowedRoomIds(allow as JsonValue | undefined) : [];
        this.cache.set(row.room_id, { row, membership: this.userId ? membership : null, allowed });
      }
    }
  }

  async entry(roomId: string): Promise<SummaryEntry | undefined> {
    if (!this.cache.has(roomId)) await this.load([roomId]);
    return this.cache.get(roomId) ?? undefined;
  }

  /** Whether the user is joined to one of these rooms (restricted join rules). */
  private async inAnyRoom(roomIds: string[]): Promise<boolean> {
    if (!this.userId || !roomIds.length) return false;
    const key = JSON.stringify(roomIds);
    const known = this.joinedAllowed.get(key);
    if (known !== undefined) return known;
    const row = await this.db
      .prepare("SELECT 1 AS x FROM room_memberships WHERE user_id = ? AND membership = 'join' AND room_id IN (SELECT value FROM json_each(?)) LIMIT 1")
      .bind(this.userId, key)
      .first();
    this.joinedAllowed.set(key, !!row);
    return !!row;
  }

  /** The room's summary if this user (or, without one, anyone) may preview it. */
  async visibleSummary(roomId: string): Promise<{ summary: JsonObject; entry: SummaryEntry } | undefined> {
    const entry = await this.entry(roomId);
    if (!entry) return undefined;
    const version = getRoomVersion(entry.row.room_version);
    const visible = canPreviewRoom({
      version,
      joinRule: entry.row.join_rule,
      historyVisibility: entry.row.history_visibility,
      membership: entry.membership,
      inAllowedRoom: entry.allowed.length > 0 && (await this.inAnyRoom(entry.allowed)),
    });
    return visible ? { summary: roomSummary(entry.row, entry.allowed), entry } : undefined;
  }
}
