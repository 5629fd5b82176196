/**
 * Reading room state for clients: the current state from the D1 read model, and
 * past state (a user who left, /members?at=, /context) from the Room DO's state
 * groups (Room.stateAt) with the events themselves loaded from D1 in one query.
 */
import type { Env } from "../../services/env.js";
import { EVENT_COLUMNS } from "./event-page.js";
import { roomStub } from "./room-rpc.js";
import type { EventRow } from "./serve-event.js";

/** A room's state is bounded by its size; this only guards against runaway reads. */
export const MAX_STATE_EVENTS = 50_000;

export async function eventsByIds(db: D1Database, roomId: string, ids: string[]): Promise<EventRow[]> {
  if (ids.length === 0) return [];
  const { results } = await db
    .prepare(`SELECT ${EVENT_COLUMNS} FROM json_each(?) j CROSS JOIN room_events e ON e.event_id = j.value WHERE e.room_id = ? LIMIT ?`)
    .bind(JSON.stringify(ids), roomId, MAX_STATE_EVENTS)
    .all<EventRow>();
  return results;
}

export async function eventById(db: D1Database, roomId: string, eventId: string): Promise<EventRow | null> {
  return db.prepare(`SELECT ${EVENT_COLUMNS} FROM room_events e WHERE e.event_id = ? AND e.room_id = ?`).bind(eventId, roomId).first<EventRow>();
}

/** Current state, optionally of one type (and key). */
export async function currentState(db: D1Database, roomId: string, only: { type?: string; stateKey?: string } = {}): Promise<EventRow[]> {
  const where = ["s.room_id = ?"];
  const params: unknown[] = [roomId];
  if (only.type !== undefined) {
    where.push("s.type = ?");
    params.push(only.type);
  }
  if (only.stateKey !== undefined) {
    where.push("s.state_key = ?");
    params.push(only.stateKey);
  }
  const { results } = await db
    .prepare(`SELECT ${EVENT_COLUMNS} FROM room_state s JOIN room_events e ON e.event_id = s.event_id WHERE ${where.join(" AND ")} LIMIT ?`)
    .bind(...params, MAX_STATE_EVENTS)
    .all<EventRow>();
  return results;
}

/** Current members with their member events. */
export async function currentMembers(db: D1Database, roomId: string): Promise<EventRow[]> {
  const { results } = await db
    .prepare(`SELECT ${EVENT_COLUMNS} FROM room_memberships m JOIN room_events e ON e.event_id = m.event_id WHERE m.room_id = ? LIMIT ?`)
    .bind(roomId, MAX_STATE_EVENTS)
    .all<EventRow>();
  return results;
}

/** The state after `eventId` (Room.stateAt), as stored events. */
export async function stateAfter(env: Env, roomId: string, eventId: string, only: { types?: string[]; members?: string[] } = {}): Promise<EventRow[]> {
  const entries = (await roomStub(env, roomId).stateAt(eventId, only)) ?? [];
  return eventsByIds(env.DB, roomId, entries.map((e) => e.eventId));
}

/** The member events of `users` as of stream position `pos` (lazy-loading members, spec "Lazy-loading room members"). */
export async function membersAsOf(db: D1Database, roomId: string, users: string[], pos: number): Promise<EventRow[]> {
  if (users.length === 0) return [];
  const { results } = await db
    .prepare(
      `SELECT ${EVENT_COLUMNS} FROM json_each(?1) u JOIN room_events e ON e.stream_pos = ` +
        "(SELECT MAX(x.stream_pos) FROM room_events x WHERE x.room_id = ?2 AND x.type = 'm.room.member' AND x.state_key = u.value AND x.stream_pos <= ?3)",
    )
    .bind(JSON.stringify([...new Set(users)]), roomId, pos)
    .all<EventRow>();
  return results;
}
