-- Indexes that let an incremental /sync read only what changed since `since`
-- (workers/sync/rooms.ts loadSyncBase): a user's memberships by position, and
-- typing and receipt changes by position across rooms.
CREATE INDEX room_memberships_user_pos ON room_memberships (user_id, stream_pos);
CREATE INDEX receipts_stream ON receipts (stream_pos);
CREATE INDEX room_typing_stream ON room_typing (stream_pos);
