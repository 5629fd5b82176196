-- Simplified sliding sync (MSC4186): rooms are listed by `bump_stamp`, the stream
-- position of the room's latest event of a bump type (src/sliding-sync.ts
-- BUMP_EVENT_TYPES). Kept on `rooms` by a trigger so a room list is one indexed
-- read, whether or not the bump event is in what a response sends.
ALTER TABLE rooms ADD COLUMN bump_pos INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER rooms_bump AFTER INSERT ON room_events
WHEN NEW.type IN ('m.room.create', 'm.room.message', 'm.room.encrypted', 'm.sticker', 'm.call.invite', 'm.poll.start', 'm.beacon_info') BEGIN
  UPDATE rooms SET bump_pos = NEW.stream_pos WHERE room_id = NEW.room_id AND bump_pos < NEW.stream_pos;
END;

-- The create event is written before its room's row (durable-objects/room/publish.ts).
CREATE TRIGGER rooms_bump_create AFTER INSERT ON rooms BEGIN
  UPDATE rooms SET bump_pos = COALESCE((SELECT MAX(stream_pos) FROM room_events WHERE room_id = NEW.room_id), 0) WHERE room_id = NEW.room_id;
END;

UPDATE rooms SET bump_pos = COALESCE((SELECT MAX(stream_pos) FROM room_events e WHERE e.room_id = rooms.room_id AND e.type IN
  ('m.room.create', 'm.room.message', 'm.room.encrypted', 'm.sticker', 'm.call.invite', 'm.poll.start', 'm.beacon_info')), 0);
