/**
 * Room summaries from the D1 read model (the `rooms` table), with what deciding
 * whether a user may preview a room needs: their membership and, for restricted join
 * rules, the rooms the `allow` list names. Shared by the room summary and the space
 * hierarchy (src/room-preview.ts has the rule).
 *
 * The viewer may also be another server (the federation hierarchy): the same rule
 * applies with the server's users taken together, as Synapse's
 * `_is_local_room_accessible` does for an origin — its membership is `join` if any
 * of its users is joined, else `invite` if any is invited, and it may join a
 * restricted room if any of its users is joined to an allowed room.
 */
import type { JsonObject, JsonValue } from "../../src/json.js";
import { allowedRoomIds, canPreviewRoom, hasRestrictedJoinRule } from "../../src/room-preview.js";
import { type RoomSummaryRow, SUMMARY_COLUMNS, roomSummary } from "../../src/room-summary.js";
import { getRoomVersion } from "../../src/room-versions.js";

export interface SummaryEntry {
  row: RoomSummaryRow;
  /** The user's (or server's) membership, or null (not in the room, or no user). */
  membership: string | null;
  /** Room ids of the join rules' `m.room_membership` conditions (restricted rooms only). */
  allowed: string[];
  /** Whether a user of this server is joined (only when the loader was given `ownServer`; else undefined). */
  serverJoined?: boolean;
}

/** Who is looking: a user (null for an anonymous caller), or another server. */
export type SummaryViewer = { user: string | null } | { server: string };


/** Rooms per D1 query; the ids travel as one JSON parameter. */
const CHUNK = 100;

export class SummaryLoader {
  private readonly cache = new Map<string, SummaryEntry | null>();
  private joinedAllowed = new Map<string, boolean>();
  private readonly viewer: SummaryViewer;

  /**
   * `viewer`: a user id (null: anonymous) or `{ server }`. With `opts.ownServer`, each
   * entry also tells whether this server is in the room (`serverJoined`).
   */
  constructor(
    private readonly db: D1Database,
    viewer: string | null | { server: string },
    private readonly opts: { ownServer?: string } = {},
  ) {
    this.viewer = viewer !== null && typeof viewer === "object" ? viewer : { user: viewer };
  }

  private get userId(): string | null {
    return "user" in this.viewer ? this.viewer.user : null;
  }

  /** Loads the rooms not yet cached (unknown rooms are remembered as such). */
  async load(roomIds: string[]): Promise<void> {
    const missing = [...new Set(roomIds)].filter((id) => !this.cache.has(id));
    const byServer = "server" in this.viewer;
    const own = this.opts.ownServer;
    for (let i = 0; i < missing.length; i += CHUNK) {
      const ids = missing.slice(i, i + CHUNK);
      const membership = byServer
        ? "(SELECT CASE WHEN MAX(m.membership = 'join') = 1 THEN 'join' WHEN MAX(m.membership = 'invite') = 1 THEN 'invite' END " +
          `FROM room_memberships m WHERE m.room_id = r.room_id AND substr(m.user_id, instr(m.user_id, ':') + 1) = ?1) AS membership`
        : "(SELECT m.membership FROM room_memberships m WHERE m.room_id = r.room_id AND m.user_id = ?1) AS membership";
      const joined =
        own !== undefined
          ? `, EXISTS (SELECT 1 FROM room_memberships j WHERE j.room_id = r.room_id AND j.membership = 'join' AND substr(j.user_id, instr(j.user_id, ':') + 1) = ?3) AS server_joined`
          : "";
      const stmt = this.db.prepare(
        `SELECT ${SUMMARY_COLUMNS}, ${membership}${joined}, ` +
          // The allow list matters only for restricted join rules; read it just for those.
          "CASE WHEN r.join_rule IN ('restricted', 'knock_restricted') THEN (SELECT json_extract(e.json, '$.content.allow') FROM room_state s " +
          "JOIN room_events e ON e.event_id = s.event_id WHERE s.room_id = r.room_id AND s.type = 'm.room.join_rules' AND s.state_key = '') END AS allow_json " +
          "FROM rooms r WHERE r.room_id IN (SELECT value FROM json_each(?2))",
      );
      const who = "server" in this.viewer ? this.viewer.server : (this.viewer.user ?? "");
      const { results } = await (own !== undefined ? stmt.bind(who, JSON.stringify(ids), own) : stmt.bind(who, JSON.stringify(ids))).all<
        RoomSummaryRow & { membership: string | null; allow_json: string | null; server_joined?: number }
      >();
      for (const id of ids) this.cache.set(id, null);
      for (const r of results) {
        const { membership, allow_json, server_joined, ...row } = r;
        let allow: unknown;
        try {
          allow = allow_json ? JSON.parse(allow_json) : undefined;
        } catch {
          allow = undefined;
        }
        const version = getRoomVersion(row.room_version);
        const allowed = hasRestrictedJoinRule(version, row.join_rule) ? allowedRoomIds(allow as JsonValue | undefined) : [];
        this.cache.set(row.room_id, {
          row,
          membership: byServer || this.userId ? membership : null,
          allowed,
          ...(server_joined !== undefined ? { serverJoined: server_joined === 1 } : {}),
        });
      }
    }
  }

  async entry(roomId: string): Promise<SummaryEntry | undefined> {
    if (!this.cache.has(roomId)) await this.load([roomId]);
    return this.cache.get(roomId) ?? undefined;
  }

  /** Whether the user (or one of the server's users) is joined to one of these rooms (restricted join rules). */
  async inAnyRoom(roomIds: string[]): Promise<boolean> {
    if (!roomIds.length || ("user" in this.viewer && !this.viewer.user)) return false;
    const key = JSON.stringify(roomIds);
    const known = this.joinedAllowed.get(key);
    if (known !== undefined) return known;
    const row =
      "server" in this.viewer
        ? await this.db
            .prepare(
              "SELECT 1 AS x FROM json_each(?) j CROSS JOIN room_memberships m ON m.room_id = j.value " +
                "WHERE m.membership = 'join' AND substr(m.user_id, instr(m.user_id, ':') + 1) = ? LIMIT 1",
            )
            .bind(key, this.viewer.server)
            .first()
        : await this.db
            .prepare("SELECT 1 AS x FROM room_memberships WHERE user_id = ? AND membership = 'join' AND room_id IN (SELECT value FROM json_each(?)) LIMIT 1")
            .bind(this.viewer.user, key)
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
