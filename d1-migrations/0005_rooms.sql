-- The read model of rooms, written only by Room Durable Objects when they publish
-- an accepted event (the outbox), read by /sync, /messages and the directories.

-- Every event of every room in stream order. `json` is the client-format event
-- (redacted once a redaction is accepted); stream_pos is the global position.
CREATE TABLE room_events (
  stream_pos INTEGER PRIMARY KEY,
  event_id TEXT NOT NULL UNIQUE,
  room_id TEXT NOT NULL,
  type TEXT NOT NULL,
  state_key TEXT,
  sender TEXT NOT NULL,
  origin_server_ts INTEGER NOT NULL,
  json TEXT NOT NULL,
  -- The sending device's transaction id, shown back to that device only (unsigned.transaction_id).
  txn_device TEXT,
  txn_id TEXT,
  -- m.relates_to of the event, for /relations, threads and edits.
  relates_to TEXT,
  rel_type TEXT,
  -- The thread root an event belongs to (itself for a root with replies), for receipts and counts.
  thread_id TEXT,
  redacted_by TEXT
);
CREATE INDEX room_events_room ON room_events (room_id, stream_pos);
CREATE INDEX room_events_relates ON room_events (relates_to, rel_type);

-- Current state of each room.
CREATE TABLE room_state (
  room_id TEXT NOT NULL,
  type TEXT NOT NULL,
  state_key TEXT NOT NULL,
  event_id TEXT NOT NULL,
  stream_pos INTEGER NOT NULL,
  PRIMARY KEY (room_id, type, state_key)
);

-- Current membership of every user (local or remote) in every room.
CREATE TABLE room_memberships (
  room_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  membership TEXT NOT NULL,
  event_id TEXT NOT NULL,
  stream_pos INTEGER NOT NULL,
  sender TEXT NOT NULL,
  display_name TEXT,
  avatar_url TEXT,
  -- Set when a user forgets a room they have left (spec "Forgetting rooms").
  forgotten INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (room_id, user_id)
);
CREATE INDEX room_memberships_user ON room_memberships (user_id, membership);

-- A summary of each room for directories, /summary and sync headers.
CREATE TABLE rooms (
  room_id TEXT PRIMARY KEY,
  room_version TEXT NOT NULL,
  creator TEXT NOT NULL,
  created_ts INTEGER NOT NULL,
  room_type TEXT,
  name TEXT,
  topic TEXT,
  avatar_url TEXT,
  canonical_alias TEXT,
  join_rule TEXT,
  history_visibility TEXT,
  guest_access TEXT,
  encryption TEXT,
  joined_members INTEGER NOT NULL DEFAULT 0,
  invited_members INTEGER NOT NULL DEFAULT 0,
  last_stream_pos INTEGER NOT NULL DEFAULT 0
);

-- Rooms published in the local public room directory (spec "Listing rooms").
CREATE TABLE room_directory (
  room_id TEXT PRIMARY KEY,
  published_ts INTEGER NOT NULL
);

CREATE TABLE room_aliases (
  alias TEXT PRIMARY KEY,
  room_id TEXT NOT NULL,
  creator TEXT NOT NULL,
  created_ts INTEGER NOT NULL
);
CREATE INDEX room_aliases_room ON room_aliases (room_id);
