-- Push rules, notifications, pushers, server-side search and the user directory
-- (client-server-api "Push Notifications", "Server Side Search", "User Directory").

-- What each user stored of their push rules (src/push-rules.ts): their own rules,
-- and their changes to server-default rules ('.' ids: enabled/actions only, NULL
-- meaning "as the default"). The ruleset is these merged with the defaults.
CREATE TABLE push_rules (
  user_id TEXT NOT NULL,
  kind TEXT NOT NULL,
  rule_id TEXT NOT NULL,
  -- User rules: larger is more important within the kind. NULL for server-default rules.
  priority INTEGER,
  conditions TEXT, -- JSON array (override/underride)
  pattern TEXT,    -- content rules
  actions TEXT,    -- JSON array
  enabled INTEGER,
  PRIMARY KEY (user_id, kind, rule_id)
) WITHOUT ROWID;

-- Notifications: one row per (user, event) whose push rules say `notify`, written by
-- the Room DO in the same D1 batch that publishes the event (durable-objects/room/
-- push-actions.ts), so a count never lags its event. thread_id is 'main' or the
-- thread root (MSC3773). stream_pos is the event's.
CREATE TABLE event_push_actions (
  user_id TEXT NOT NULL,
  room_id TEXT NOT NULL,
  stream_pos INTEGER NOT NULL,
  event_id TEXT NOT NULL,
  thread_id TEXT NOT NULL,
  highlight INTEGER NOT NULL,
  actions TEXT NOT NULL,
  ts INTEGER NOT NULL,
  PRIMARY KEY (user_id, room_id, stream_pos)
) WITHOUT ROWID;
-- GET /notifications (newest first) and "which rooms got notifications since" in /sync.
CREATE INDEX event_push_actions_user ON event_push_actions (user_id, stream_pos);
CREATE INDEX event_push_actions_highlight ON event_push_actions (user_id, stream_pos) WHERE highlight = 1;

-- "When the user updates their read receipt (either by using the API or by sending an
-- event)": the position of the user's latest own event per room and thread, a read
-- marker like a threaded receipt.
CREATE TABLE push_sent_reads (
  user_id TEXT NOT NULL,
  room_id TEXT NOT NULL,
  thread_id TEXT NOT NULL,
  stream_pos INTEGER NOT NULL,
  PRIMARY KEY (user_id, room_id, thread_id)
) WITHOUT ROWID;
CREATE INDEX push_sent_reads_pos ON push_sent_reads (user_id, stream_pos);

-- A cache of unread counts for rooms with many unread notifications, kept by /sync:
-- `notif`/`highlight` notifications of the thread in (floor_pos, upto_pos]. Valid while
-- the read position is still floor_pos (positions only move forward); later syncs add
-- what came after upto_pos instead of counting from the read position again.
CREATE TABLE push_summary (
  user_id TEXT NOT NULL,
  room_id TEXT NOT NULL,
  thread_id TEXT NOT NULL,
  floor_pos INTEGER NOT NULL,
  upto_pos INTEGER NOT NULL,
  notif INTEGER NOT NULL,
  highlight INTEGER NOT NULL,
  PRIMARY KEY (user_id, room_id, thread_id)
) WITHOUT ROWID;

-- Pushers (POST /pushers/set). A pusher is (app_id, pushkey) per user.
CREATE TABLE pushers (
  user_id TEXT NOT NULL,
  app_id TEXT NOT NULL,
  pushkey TEXT NOT NULL,
  kind TEXT NOT NULL,
  app_display_name TEXT NOT NULL,
  device_display_name TEXT NOT NULL,
  profile_tag TEXT,
  lang TEXT NOT NULL,
  data TEXT NOT NULL, -- JSON
  device_id TEXT,
  created_ts INTEGER NOT NULL,
  PRIMARY KEY (user_id, app_id, pushkey)
) WITHOUT ROWID;
-- append = false removes the same (app_id, pushkey) of other users.
CREATE INDEX pushers_key ON pushers (app_id, pushkey);

-- Server-side search: a contentless FTS5 index over the searchable keys of
-- m.room.message (content.body), m.room.name (content.name) and m.room.topic
-- (content.topic and the text/plain body of content["m.topic"]), rowid = the
-- event's stream_pos. `room` holds the room's number from event_search_rooms as a
-- token, so a search restricted to the user's rooms is an FTS posting-list
-- intersection rather than a filter over every match on the server. Filled by
-- triggers on room_events, i.e. in the very transaction that publishes the event
-- (iif, not CASE: the Worker's migration splitter counts CASE's END as a trigger's).
CREATE TABLE event_search_rooms (
  num INTEGER PRIMARY KEY AUTOINCREMENT,
  room_id TEXT NOT NULL UNIQUE
);
CREATE VIRTUAL TABLE event_search USING fts5(
  body, name, topic, room,
  content = '', contentless_delete = 1,
  tokenize = 'porter unicode61 remove_diacritics 2'
);

CREATE TRIGGER event_search_insert AFTER INSERT ON room_events
WHEN NEW.type IN ('m.room.message', 'm.room.name', 'm.room.topic') AND NEW.redacted_by IS NULL
BEGIN
  INSERT OR IGNORE INTO event_search_rooms (room_id) VALUES (NEW.room_id);
  INSERT INTO event_search (rowid, body, name, topic, room) VALUES (
    NEW.stream_pos,
    iif(NEW.type = 'm.room.message' AND json_type(NEW.json, '$.content.body') = 'text', json_extract(NEW.json, '$.content.body'), NULL),
    iif(NEW.type = 'm.room.name' AND json_type(NEW.json, '$.content.name') = 'text', json_extract(NEW.json, '$.content.name'), NULL),
    iif(NEW.type = 'm.room.topic',
      COALESCE(iif(json_type(NEW.json, '$.content.topic') = 'text', json_extract(NEW.json, '$.content.topic'), NULL), '') || ' ' ||
      COALESCE((SELECT group_concat(json_extract(t.value, '$.body'), ' ') FROM json_each(NEW.json, '$.content."m.topic"."m.text"') t
                WHERE json_type(t.value, '$.body') = 'text' AND COALESCE(json_extract(t.value, '$.mimetype'), 'text/plain') = 'text/plain'), ''),
      NULL),
    (SELECT num FROM event_search_rooms WHERE room_id = NEW.room_id)
  );
END;

-- A redacted event is no longer searchable.
CREATE TRIGGER event_search_redact AFTER UPDATE OF redacted_by ON room_events
WHEN OLD.redacted_by IS NULL AND NEW.redacted_by IS NOT NULL AND NEW.type IN ('m.room.message', 'm.room.name', 'm.room.topic')
BEGIN
  DELETE FROM event_search WHERE rowid = NEW.stream_pos;
END;

-- Events published before this migration.
INSERT OR IGNORE INTO event_search_rooms (room_id)
  SELECT DISTINCT room_id FROM room_events WHERE type IN ('m.room.message', 'm.room.name', 'm.room.topic');
INSERT INTO event_search (rowid, body, name, topic, room)
  SELECT e.stream_pos,
    iif(e.type = 'm.room.message' AND json_type(e.json, '$.content.body') = 'text', json_extract(e.json, '$.content.body'), NULL),
    iif(e.type = 'm.room.name' AND json_type(e.json, '$.content.name') = 'text', json_extract(e.json, '$.content.name'), NULL),
    iif(e.type = 'm.room.topic',
      COALESCE(iif(json_type(e.json, '$.content.topic') = 'text', json_extract(e.json, '$.content.topic'), NULL), '') || ' ' ||
      COALESCE((SELECT group_concat(json_extract(t.value, '$.body'), ' ') FROM json_each(e.json, '$.content."m.topic"."m.text"') t
                WHERE json_type(t.value, '$.body') = 'text' AND COALESCE(json_extract(t.value, '$.mimetype'), 'text/plain') = 'text/plain'), ''),
      NULL),
    r.num
  FROM room_events e JOIN event_search_rooms r ON r.room_id = e.room_id
  WHERE e.type IN ('m.room.message', 'm.room.name', 'm.room.topic') AND e.redacted_by IS NULL;

-- User directory: every user ever joined to a room known here, with the profile of
-- their latest join (a profile change re-sends join events to every room, so it is
-- the current one). Who may see whom is decided at search time from current
-- memberships (workers/search/user-directory.ts); this is only what is matched.
CREATE TABLE user_directory (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id TEXT NOT NULL UNIQUE,
  display_name TEXT,
  avatar_url TEXT
);
CREATE VIRTUAL TABLE user_directory_search USING fts5(
  user_id, display_name,
  content = 'user_directory', content_rowid = 'id',
  tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER user_directory_fts_insert AFTER INSERT ON user_directory BEGIN
  INSERT INTO user_directory_search (rowid, user_id, display_name) VALUES (NEW.id, NEW.user_id, NEW.display_name);
END;
CREATE TRIGGER user_directory_fts_update AFTER UPDATE ON user_directory BEGIN
  INSERT INTO user_directory_search (user_directory_search, rowid, user_id, display_name) VALUES ('delete', OLD.id, OLD.user_id, OLD.display_name);
  INSERT INTO user_directory_search (rowid, user_id, display_name) VALUES (NEW.id, NEW.user_id, NEW.display_name);
END;
CREATE TRIGGER user_directory_fts_delete AFTER DELETE ON user_directory BEGIN
  INSERT INTO user_directory_search (user_directory_search, rowid, user_id, display_name) VALUES ('delete', OLD.id, OLD.user_id, OLD.display_name);
END;

CREATE TRIGGER user_directory_join AFTER INSERT ON room_memberships WHEN NEW.membership = 'join' BEGIN
  INSERT INTO user_directory (user_id, display_name, avatar_url) VALUES (NEW.user_id, NEW.display_name, NEW.avatar_url)
    ON CONFLICT (user_id) DO UPDATE SET display_name = excluded.display_name, avatar_url = excluded.avatar_url
    WHERE display_name IS NOT excluded.display_name OR avatar_url IS NOT excluded.avatar_url;
END;
CREATE TRIGGER user_directory_rejoin AFTER UPDATE OF membership, display_name, avatar_url ON room_memberships WHEN NEW.membership = 'join' BEGIN
  INSERT INTO user_directory (user_id, display_name, avatar_url) VALUES (NEW.user_id, NEW.display_name, NEW.avatar_url)
    ON CONFLICT (user_id) DO UPDATE SET display_name = excluded.display_name, avatar_url = excluded.avatar_url
    WHERE display_name IS NOT excluded.display_name OR avatar_url IS NOT excluded.avatar_url;
END;

-- Members joined before this migration (the profile of each user's latest join).
INSERT INTO user_directory (user_id, display_name, avatar_url)
  SELECT m.user_id, m.display_name, m.avatar_url FROM room_memberships m
  WHERE m.membership = 'join' AND m.stream_pos = (SELECT MAX(stream_pos) FROM room_memberships x WHERE x.user_id = m.user_id AND x.membership = 'join');
