-- The read side of rooms (/messages, /context, /state, /members, /relations,
-- /threads, timestamp_to_event): indexes on room_events and a thread summary
-- kept by triggers, so listing threads by latest activity and bundling thread
-- summaries read one row per thread, never the whole thread.

-- History visibility changes and a user's own member events (two queries per read
-- request), a sender's member event at a position (lazy-loading members).
CREATE INDEX room_events_state_pos ON room_events (room_id, type, state_key, stream_pos);
-- Children of an event in stream order (/relations).
CREATE INDEX room_events_relates_pos ON room_events (relates_to, stream_pos);
-- GET /timestamp_to_event.
CREATE INDEX room_events_room_ts ON room_events (room_id, origin_server_ts);

-- One row per thread root (client-server-api "Threading"): the number of live
-- m.thread children and the stream position of the latest one.
CREATE TABLE room_threads (
  thread_id TEXT PRIMARY KEY,
  room_id TEXT NOT NULL,
  latest_pos INTEGER NOT NULL,
  count INTEGER NOT NULL
);
CREATE INDEX room_threads_room ON room_threads (room_id, latest_pos);

-- Who took part in a thread: the root's sender and every sender of an m.thread
-- child (`current_user_participated`, /threads?include=participated).
CREATE TABLE room_thread_participants (
  thread_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  PRIMARY KEY (thread_id, user_id)
);

-- A published m.thread child whose root is in the same room (room_events inserts
-- are idempotent: a repeated publish inserts nothing and fires nothing).
CREATE TRIGGER room_events_thread_insert AFTER INSERT ON room_events
WHEN NEW.rel_type = 'm.thread' AND NEW.relates_to IS NOT NULL
  AND EXISTS (SELECT 1 FROM room_events r WHERE r.event_id = NEW.relates_to AND r.room_id = NEW.room_id)
BEGIN
  INSERT INTO room_threads (thread_id, room_id, latest_pos, count) VALUES (NEW.relates_to, NEW.room_id, NEW.stream_pos, 1)
    ON CONFLICT (thread_id) DO UPDATE SET latest_pos = MAX(latest_pos, excluded.latest_pos), count = count + 1;
  INSERT OR IGNORE INTO room_thread_participants (thread_id, user_id) VALUES (NEW.relates_to, NEW.sender);
  INSERT OR IGNORE INTO room_thread_participants (thread_id, user_id)
    SELECT NEW.relates_to, sender FROM room_events WHERE event_id = NEW.relates_to;
END;

-- A redacted child no longer relates to its root (spec "Aggregations of child
-- events": the relationship is broken): recount, and drop threads left empty.
CREATE TRIGGER room_events_thread_redact AFTER UPDATE OF redacted_by ON room_events
WHEN NEW.rel_type = 'm.thread' AND NEW.relates_to IS NOT NULL AND OLD.redacted_by IS NULL AND NEW.redacted_by IS NOT NULL
BEGIN
  UPDATE room_threads SET
    count = (SELECT COUNT(*) FROM room_events WHERE relates_to = NEW.relates_to AND room_id = NEW.room_id AND rel_type = 'm.thread' AND redacted_by IS NULL),
    latest_pos = COALESCE(
      (SELECT MAX(stream_pos) FROM room_events WHERE relates_to = NEW.relates_to AND room_id = NEW.room_id AND rel_type = 'm.thread' AND redacted_by IS NULL),
      latest_pos)
  WHERE thread_id = NEW.relates_to AND room_id = NEW.room_id;
  DELETE FROM room_threads WHERE thread_id = NEW.relates_to AND count = 0;
END;

-- Threads published before this migration.
INSERT INTO room_threads (thread_id, room_id, latest_pos, count)
  SELECT c.relates_to, c.room_id, MAX(c.stream_pos), COUNT(*) FROM room_events c JOIN room_events r ON r.event_id = c.relates_to AND r.room_id = c.room_id
  WHERE c.rel_type = 'm.thread' AND c.redacted_by IS NULL GROUP BY c.relates_to, c.room_id;
INSERT OR IGNORE INTO room_thread_participants (thread_id, user_id)
  SELECT c.relates_to, c.sender FROM room_events c JOIN room_threads t ON t.thread_id = c.relates_to AND t.room_id = c.room_id
  WHERE c.rel_type = 'm.thread' AND c.redacted_by IS NULL;
INSERT OR IGNORE INTO room_thread_participants (thread_id, user_id)
  SELECT t.thread_id, e.sender FROM room_threads t JOIN room_events e ON e.event_id = t.thread_id;
