/**
 * Publishing accepted events from a Room DO's outbox to the D1 read model
 * (d1-migrations/0005_rooms.sql). One D1 batch per flush: each event takes its
 * own stream position, and inserts are idempotent by event id, so a retry after
 * an unknown outcome never publishes an event twice.
 */
import type { ClientEvent } from "../../src/client-event.js";
import type { JsonObject } from "../../src/json.js";
import { STREAM_POS, advanceStream } from "../../services/stream.js";

export interface PublishItem {
  /** "state": a current-state change by state resolution, of an event already published (no timeline entry). */
  kind: "event" | "redaction" | "state";
  roomId: string;
  roomVersion: string;
  event: ClientEvent;
  txnDevice: string | null;
  txnId: string | null;
  /** False for a state event that is not (or no longer) the room's current state for its key: no state rows. */
  current?: boolean;
  /** Member counts after this event, for the rooms summary (member events only). */
  counts?: { joined: number; invited: number };
  /** For kind "redaction": the event being redacted, in its redacted client form. */
  redacted?: ClientEvent;
}

/** Columns of `rooms` set by a state event of this type (content key → column). */
const SUMMARY: Record<string, [string, string]> = {
  "m.room.name": ["name", "name"],
  "m.room.topic": ["topic", "topic"],
  "m.room.avatar": ["avatar_url", "url"],
  "m.room.canonical_alias": ["canonical_alias", "alias"],
  "m.room.join_rules": ["join_rule", "join_rule"],
  "m.room.history_visibility": ["history_visibility", "history_visibility"],
  "m.room.guest_access": ["guest_access", "guest_access"],
  "m.room.encryption": ["encryption", "algorithm"],
};

function str(v: unknown): string | null {
  return typeof v === "string" ? v : null;
}

function relation(content: JsonObject): { eventId: string | null; relType: string | null } {
  const rel = content["m.relates_to"];
  if (typeof rel !== "object" || rel === null || Array.isArray(rel)) return { eventId: null, relType: null };
  return { eventId: str(rel.event_id), relType: str(rel.rel_type) };
}

/** Statements that put one state event's effects into room_state / room_memberships / rooms. */
function stateStatements(db: D1Database, item: PublishItem, ev: ClientEvent): D1PreparedStatement[] {
  const out: D1PreparedStatement[] = [];
  if (ev.state_key === undefined || item.current === false) return out;
  out.push(
    db
      .prepare(
        `INSERT INTO room_state (room_id, type, state_key, event_id, stream_pos) VALUES (?, ?, ?, ?, ${STREAM_POS}) ` +
          "ON CONFLICT (room_id, type, state_key) DO UPDATE SET event_id = excluded.event_id, stream_pos = excluded.stream_pos",
      )
      .bind(item.roomId, ev.type, ev.state_key, ev.event_id),
  );
  if (ev.type === "m.room.create") {
    out.push(
      db
        .prepare(
          "INSERT INTO rooms (room_id, room_version, creator, created_ts, room_type) VALUES (?, ?, ?, ?, ?) ON CONFLICT (room_id) DO NOTHING",
        )
        .bind(item.roomId, item.roomVersion, ev.sender, ev.origin_server_ts, str(ev.content.type)),
    );
  }
  if (ev.type === "m.room.member") {
    out.push(
      db
        .prepare(
          `INSERT INTO room_memberships (room_id, user_id, membership, event_id, stream_pos, sender, display_name, avatar_url) VALUES (?, ?, ?, ?, ${STREAM_POS}, ?, ?, ?) ` +
            "ON CONFLICT (room_id, user_id) DO UPDATE SET membership = excluded.membership, event_id = excluded.event_id, stream_pos = excluded.stream_pos, " +
            "sender = excluded.sender, display_name = excluded.display_name, avatar_url = excluded.avatar_url, " +
            "forgotten = CASE WHEN excluded.membership IN ('join', 'invite', 'knock') THEN 0 ELSE room_memberships.forgotten END",
        )
        .bind(item.roomId, ev.state_key, str(ev.content.membership) ?? "leave", ev.event_id, ev.sender, str(ev.content.displayname), str(ev.content.avatar_url)),
    );
    if (item.counts) {
      out.push(
        db.prepare("UPDATE rooms SET joined_members = ?, invited_members = ? WHERE room_id = ?").bind(item.counts.joined, item.counts.invited, item.roomId),
      );
    }
  }
  const summary = SUMMARY[ev.type];
  if (summary && ev.state_key === "") {
    out.push(db.prepare(`UPDATE rooms SET ${summary[0]} = ? WHERE room_id = ?`).bind(str(ev.content[summary[1]]), item.roomId));
  }
  return out;
}

export function publishStatements(db: D1Database, items: PublishItem[]): { statements: D1PreparedStatement[]; positionIndexes: number[] } {
  const statements: D1PreparedStatement[] = [];
  const positionIndexes: number[] = [];
  for (const item of items) {
    positionIndexes.push(statements.length);
    statements.push(advanceStream(db));
    if (item.kind === "event") {
      const ev = item.event;
      const rel = relation(ev.content);
      const threadId = rel.relType === "m.thread" ? rel.eventId : null;
      statements.push(
        db
          .prepare(
            `INSERT INTO room_events (stream_pos, event_id, room_id, type, state_key, sender, origin_server_ts, json, txn_device, txn_id, relates_to, rel_type, thread_id) ` +
              `VALUES (${STREAM_POS}, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING`,
          )
          .bind(ev.event_id, item.roomId, ev.type, ev.state_key ?? null, ev.sender, ev.origin_server_ts, JSON.stringify(ev), item.txnDevice, item.txnId, rel.eventId, rel.relType, threadId),
        ...stateStatements(db, item, ev),
        db.prepare(`UPDATE rooms SET last_stream_pos = ${STREAM_POS} WHERE room_id = ?`).bind(item.roomId),
      );
    } else if (item.kind === "state") {
      statements.push(...stateStatements(db, item, item.event));
    } else if (item.redacted) {
      // A redaction rewrites the stored copy of its target (and what state tables derived from it).
      const r = item.redacted;
      statements.push(
        db.prepare("UPDATE room_events SET json = ?, redacted_by = ? WHERE event_id = ?").bind(JSON.stringify(r), item.event.event_id, r.event_id),
      );
      if (r.type === "m.room.member") {
        statements.push(
          db
            .prepare("UPDATE room_memberships SET display_name = ?, avatar_url = ? WHERE room_id = ? AND event_id = ?")
            .bind(str(r.content.displayname), str(r.content.avatar_url), item.roomId, r.event_id),
        );
      }
      const summary = SUMMARY[r.type];
      if (summary && r.state_key === "") {
        // Only if the redacted event is still the current state.
        statements.push(
          db
            .prepare(
              `UPDATE rooms SET ${summary[0]} = ? WHERE room_id = ? AND EXISTS (SELECT 1 FROM room_state WHERE room_id = ? AND type = ? AND state_key = '' AND event_id = ?)`,
            )
            .bind(str(r.content[summary[1]]), item.roomId, item.roomId, r.type, r.event_id),
        );
      }
    }
  }
  return { statements, positionIndexes };
}

/** Position expression of a backfill group's batch: the lowest position it reserved (its history visibility mark). */
const BACKFILL_BASE = "(SELECT pos FROM backfill_counter WHERE id = 1)";

/**
 * One backfill group (durable-objects/room/backfill.ts) into the read model:
 * `events` oldest first take consecutive positions below every position taken
 * so far (the counter only decreases, and later groups are older history), above
 * a history visibility mark holding the visibility before the oldest of them
 * (d1-migrations/0017_backfill.sql). No stream position, no state rows, no
 * notification rows: nothing here is new. The first statement returns the mark's
 * position; event i is at that + 1 + i.
 */
export function backfillStatements(db: D1Database, roomId: string, events: Array<{ event: ClientEvent; redactedBy: string | null }>, historyVisibility: string): D1PreparedStatement[] {
  const out: D1PreparedStatement[] = [
    db.prepare("UPDATE backfill_counter SET pos = pos - ? WHERE id = 1 RETURNING pos").bind(events.length + 1),
    db.prepare(`INSERT INTO room_visibility_marks (room_id, stream_pos, history_visibility) VALUES (?, ${BACKFILL_BASE}, ?)`).bind(roomId, historyVisibility),
  ];
  events.forEach(({ event: ev, redactedBy }, i) => {
    const rel = relation(ev.content);
    const threadId = rel.relType === "m.thread" ? rel.eventId : null;
    out.push(
      db
        .prepare(
          "INSERT INTO room_events (stream_pos, event_id, room_id, type, state_key, sender, origin_server_ts, json, relates_to, rel_type, thread_id, redacted_by) " +
            `VALUES (${BACKFILL_BASE} + ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (event_id) DO NOTHING`,
        )
        .bind(i + 1, ev.event_id, roomId, ev.type, ev.state_key ?? null, ev.sender, ev.origin_server_ts, JSON.stringify(ev), rel.eventId, rel.relType, threadId, redactedBy),
    );
  });
  return out;
}

/** D1's copy of the room's backward extremities, rewritten whole (at most `MAX_BACKWARD_EXTREMITIES`, nearest the present first). */
export const MAX_BACKWARD_EXTREMITIES = 50;

export function backwardExtremityStatements(db: D1Database, roomId: string, list: Array<{ event_id: string; depth: number }>): D1PreparedStatement[] {
  const rows = list.slice(0, MAX_BACKWARD_EXTREMITIES).map((e) => [e.event_id, e.depth]);
  return [
    db.prepare("DELETE FROM room_backward_extremities WHERE room_id = ?").bind(roomId),
    db.prepare("INSERT INTO room_backward_extremities (room_id, event_id, depth) SELECT ?, value ->> 0, value ->> 1 FROM json_each(?)").bind(roomId, JSON.stringify(rows)),
  ];
}
