-- The homeserver's own ed25519 signing keys (server-server-api "Publishing Keys").
-- A key generated on first start keeps its seed here; a key supplied as the
-- SIGNING_KEY secret is recorded with seed NULL so that, once rotated, its public
-- half is still published in old_verify_keys.
CREATE TABLE server_signing_keys (
  key_id TEXT PRIMARY KEY,
  public_key TEXT NOT NULL,
  seed TEXT,
  created_ts INTEGER NOT NULL,
  expired_ts INTEGER
);
-- At most one current key: concurrent first starts race on this index and one wins.
CREATE UNIQUE INDEX server_signing_keys_one_current
  ON server_signing_keys ((expired_ts IS NULL)) WHERE expired_ts IS NULL;
