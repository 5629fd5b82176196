-- Ephemeral and per-user room data (issue "Rooms, events and /sync"): receipts,
-- typing, presence and account data (tags included). Every row carries the global
-- stream position of its last change (0004_stream.sql), so /sync reads
-- "changed since" as one indexed range.

-- Read receipts (client-server-api "Receipts", MSC3771 threads). One row per
-- (room, user, type, thread); thread_id '' = unthreaded, 'main' or a thread root
-- id otherwise. event_stream_pos is the stream_pos of the receipted event (read by
-- unread counts); stream_pos is when the receipt was written.
CREATE TABLE receipts (
  room_id TEXT,
  user_id TEXT,
  receipt_type TEXT,
  thread_id TEXT NOT NULL DEFAULT '',
  event_id TEXT,
  event_stream_pos INTEGER,
  ts INTEGER,
  stream_pos INTEGER,
  PRIMARY KEY (room_id, user_id, receipt_type, thread_id)
);
-- /sync: receipts of the user's rooms changed since a position.
CREATE INDEX receipts_room_stream ON receipts (room_id, stream_pos);

-- The current set of typing users of each room (spec "Typing Notifications"),
-- written by the room's Durable Object whenever the set changes (including when a
-- timeout expires, from its alarm). user_ids is a JSON array.
CREATE TABLE room_typing (
  room_id TEXT PRIMARY KEY,
  user_ids TEXT NOT NULL,
  stream_pos INTEGER NOT NULL
);

-- Presence of local users (spec "Presence"). last_active_ts: last pro-active
-- action (shown as last_active_ago); last_seen_ts: last sync or presence update
-- (drives the timeout to offline). stream_pos moves only when what others see
-- changes (state or status message), not on every last_active refresh.
CREATE TABLE presence (
  user_id TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  status_msg TEXT,
  last_active_ts INTEGER NOT NULL,
  last_seen_ts INTEGER NOT NULL,
  stream_pos INTEGER NOT NULL
);
CREATE INDEX presence_stream ON presence (stream_pos);

-- Account data (spec "Client Config"): global when room_id is '', else per room.
-- Tags live here as the room's m.tag, m.fully_read markers as its m.fully_read.
-- A deleted entry (MSC3391) keeps its row with content '{}' and deleted = 1 so an
-- incremental sync can still tell clients.
CREATE TABLE account_data (
  user_id TEXT NOT NULL,
  room_id TEXT NOT NULL DEFAULT '',
  type TEXT NOT NULL,
  content TEXT NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0,
  stream_pos INTEGER NOT NULL,
  PRIMARY KEY (user_id, room_id, type)
);
CREATE INDEX account_data_stream ON account_data (user_id, stream_pos);
