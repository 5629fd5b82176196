-- Rooms shared with other servers (server-server-api "Transactions", "Inviting to a room").

-- Transactions already processed, per sending server: a retried PUT /send/{txnId}
-- gets the same answer and nothing is applied twice. Trimmed by the maintenance job.
CREATE TABLE federation_inbound_txns (
  origin TEXT NOT NULL,
  txn_id TEXT NOT NULL,
  response_json TEXT NOT NULL,
  received_ts INTEGER NOT NULL,
  PRIMARY KEY (origin, txn_id)
) WITHOUT ROWID;

-- Invites of our users to rooms this server is not in yet: the invite event is
-- all we have, with the stripped state the inviting server sent (shown in
-- /sync's invite_state) and the server to join or reject through.
CREATE TABLE remote_invites (
  room_id TEXT NOT NULL,
  user_id TEXT NOT NULL,
  event_id TEXT NOT NULL,
  room_version TEXT NOT NULL,
  via_server TEXT NOT NULL,
  stripped_state TEXT NOT NULL,
  PRIMARY KEY (room_id, user_id)
) WITHOUT ROWID;
