-- Other servers' signing keys (server-server-api "Retrieving server keys"), fetched
-- from their /_matrix/key/v2/server to check X-Matrix request signatures and,
-- once events federate, event signatures.

-- One row per key ever seen. Current keys (expired_ts NULL) sign requests and events;
-- old keys only events sent before expired_ts.
CREATE TABLE remote_server_keys (
  server_name TEXT NOT NULL,
  key_id TEXT NOT NULL,
  public_key TEXT NOT NULL,
  -- The response's valid_until_ts, capped at fetch time + 7 days.
  valid_until_ts INTEGER NOT NULL,
  expired_ts INTEGER,
  fetched_ts INTEGER NOT NULL,
  PRIMARY KEY (server_name, key_id)
) WITHOUT ROWID;

-- The newest self-signed key response per server, kept verbatim (as parsed JSON) so
-- /_matrix/key/v2/query can serve it, countersigned, while the server is unreachable.
CREATE TABLE remote_server_key_responses (
  server_name TEXT PRIMARY KEY,
  response_json TEXT NOT NULL,
  valid_until_ts INTEGER NOT NULL,
  fetched_ts INTEGER NOT NULL
);

-- Server discovery results (server-server-api "Resolving server names") for names that
-- needed .well-known or SRV lookups, kept as long as the .well-known answer may be
-- cached (an error answer: one hour).
CREATE TABLE federation_destinations (
  server_name TEXT PRIMARY KEY,
  host TEXT NOT NULL,
  port INTEGER NOT NULL,
  host_header TEXT NOT NULL,
  expires_ts INTEGER NOT NULL
);
