-- History fetched from other servers (server-server-api "Backfilling and retrieving
-- missing events"; client-server-api GET /rooms/{roomId}/messages).

-- Backfilled events go into room_events below every other position: negative and
-- decreasing (as Synapse's backfilled stream orderings), one range per batch, the
-- batch's oldest event lowest. /sync reads positions above its token (>= 0), so it
-- never sees them; /messages pages into them past the oldest event the room had.
CREATE TABLE backfill_counter (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  pos INTEGER NOT NULL
);
INSERT INTO backfill_counter (id, pos) VALUES (1, 0);

-- The room's history visibility just before a backfilled batch's oldest event (from
-- the Room DO's state there), at the position reserved below the batch. The read
-- model decides visibility by the last change before a position
-- (src/history-visibility.ts); without this a batch would inherit whatever came
-- below it, or the spec's default "shared" when nothing does. Read beside the
-- m.room.history_visibility events of room_events (workers/rooms/room-access.ts,
-- workers/rooms/visibility-timelines.ts).
CREATE TABLE room_visibility_marks (
  room_id TEXT NOT NULL,
  stream_pos INTEGER NOT NULL,
  history_visibility TEXT NOT NULL,
  PRIMARY KEY (room_id, stream_pos)
) WITHOUT ROWID;

-- Backward extremities: prev events of the room's events that this server does not
-- have in its DAG (after a join, the join's prev events; after a backfill, those of
-- its oldest events). /messages backfills from these when it runs out of history and
-- stops once none are left (the room's creation was reached). A copy of the Room
-- DO's own table, written by its outbox.
CREATE TABLE room_backward_extremities (
  room_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  depth INTEGER NOT NULL,
  PRIMARY KEY (room_id, event_id)
) WITHOUT ROWID;
