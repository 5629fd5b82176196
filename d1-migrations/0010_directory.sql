-- Room directory, reports and space hierarchy pagination
-- (client-server-api "Room directory", "Published room directory", "Reporting content", "Spaces").

-- /publicRooms pages rooms by joined members (largest first, room id as tie-break, as
-- Synapse). The count lives on `rooms`, written by the Room DO's publish; a copy kept
-- here by triggers lets one index serve the keyset pagination over published rooms only.
ALTER TABLE room_directory ADD COLUMN joined_members INTEGER NOT NULL DEFAULT 0;
CREATE INDEX room_directory_order ON room_directory (joined_members, room_id);

CREATE TRIGGER room_directory_publish AFTER INSERT ON room_directory BEGIN
  UPDATE room_directory SET joined_members = COALESCE((SELECT joined_members FROM rooms WHERE room_id = NEW.room_id), 0)
  WHERE room_id = NEW.room_id;
END;

CREATE TRIGGER room_directory_members AFTER UPDATE OF joined_members ON rooms BEGIN
  UPDATE room_directory SET joined_members = NEW.joined_members WHERE room_id = NEW.room_id;
END;

UPDATE room_directory SET joined_members = COALESCE((SELECT joined_members FROM rooms WHERE rooms.room_id = room_directory.room_id), 0);

-- POST /rooms/{roomId}/report/{eventId}, read back by GET /_synapse/admin/v1/event_reports.
CREATE TABLE event_reports (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  received_ts INTEGER NOT NULL,
  room_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  reason TEXT,
  -- Removed from the spec in v1.18 but still sent by older clients (-100..0).
  score INTEGER,
  -- The whole request body, as Synapse keeps it.
  content TEXT NOT NULL
);
CREATE INDEX event_reports_ts ON event_reports (received_ts);
CREATE INDEX event_reports_user ON event_reports (user_id, received_ts);
CREATE INDEX event_reports_room ON event_reports (room_id, received_ts);

-- POST /rooms/{roomId}/report (v1.13).
CREATE TABLE room_reports (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  received_ts INTEGER NOT NULL,
  room_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  reason TEXT NOT NULL
);
CREATE INDEX room_reports_ts ON room_reports (received_ts);

-- POST /users/{userId}/report (v1.14).
CREATE TABLE user_reports (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  received_ts INTEGER NOT NULL,
  target_user_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  reason TEXT NOT NULL
);
CREATE INDEX user_reports_ts ON user_reports (received_ts);

-- GET /rooms/{roomId}/hierarchy: the walk's queue between pages, behind the opaque
-- `next_batch` token (Synapse keeps the same in a session table, valid for 5 minutes).
CREATE TABLE hierarchy_pages (
  token TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  room_id TEXT NOT NULL,
  suggested_only INTEGER NOT NULL,
  max_depth INTEGER NOT NULL,
  state TEXT NOT NULL,
  expires_ts INTEGER NOT NULL
);
CREATE INDEX hierarchy_pages_expiry ON hierarchy_pages (expires_ts);
