-- OpenID tokens (client-server-api "OpenID", server-server-api "OpenID"): issued to
-- a user for a third party (widgets, integration managers), checked through
-- /_matrix/federation/v1/openid/userinfo. Stored as SHA-256 hashes, short-lived.
CREATE TABLE openid_tokens (
  token_hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  expires_ts INTEGER NOT NULL
);
