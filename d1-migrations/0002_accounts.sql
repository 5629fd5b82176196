-- Accounts, devices, tokens, user-interactive auth and profiles (issue: accounts).
-- Secrets are never stored: access, refresh and login tokens are kept as SHA-256
-- hashes of 256-bit random values; passwords as salted PBKDF2 (src/password.ts).

CREATE TABLE users (
  user_id TEXT PRIMARY KEY,
  localpart TEXT NOT NULL,
  password_hash TEXT,
  is_guest INTEGER NOT NULL DEFAULT 0,
  is_admin INTEGER NOT NULL DEFAULT 0,
  deactivated INTEGER NOT NULL DEFAULT 0,
  erased INTEGER NOT NULL DEFAULT 0,
  user_type TEXT,
  created_ts INTEGER NOT NULL
);

-- displayname, avatar_url and the extended profile fields (spec "Profiles"), one row per field.
CREATE TABLE profile_fields (
  user_id TEXT NOT NULL,
  field TEXT NOT NULL,
  value TEXT NOT NULL, -- JSON
  PRIMARY KEY (user_id, field)
);

CREATE TABLE devices (
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  display_name TEXT,
  created_ts INTEGER NOT NULL,
  last_seen_ts INTEGER,
  last_seen_ip TEXT,
  last_seen_user_agent TEXT,
  PRIMARY KEY (user_id, device_id)
);

CREATE TABLE access_tokens (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  token_hash TEXT NOT NULL UNIQUE,
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  created_ts INTEGER NOT NULL,
  -- NULL: never expires (logins without refresh tokens).
  expires_ts INTEGER,
  refresh_token_id INTEGER,
  -- After /refresh the previous access token stays valid until this one is first used.
  prev_token_id INTEGER
);
CREATE INDEX access_tokens_device ON access_tokens (user_id, device_id);

CREATE TABLE refresh_tokens (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  token_hash TEXT NOT NULL UNIQUE,
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  created_ts INTEGER NOT NULL,
  -- Set once the token has been exchanged; a used refresh token is never accepted again.
  used_ts INTEGER
);
CREATE INDEX refresh_tokens_device ON refresh_tokens (user_id, device_id);

-- m.login.token (spec "Login" / POST /login/get_token): single use, short-lived.
CREATE TABLE login_tokens (
  token_hash TEXT PRIMARY KEY,
  user_id TEXT NOT NULL,
  expires_ts INTEGER NOT NULL,
  used_ts INTEGER
);

-- User-interactive authentication sessions (spec "User-Interactive Authentication API").
CREATE TABLE uia_sessions (
  session_id TEXT PRIMARY KEY,
  -- METHOD + path the session was started for; a session cannot be reused for another operation.
  operation TEXT NOT NULL,
  user_id TEXT,
  completed TEXT NOT NULL DEFAULT '[]', -- JSON array of completed stage types
  -- Data carried between stages (e.g. the registration token that was accepted).
  data TEXT NOT NULL DEFAULT '{}',
  created_ts INTEGER NOT NULL
);

-- Registration tokens (spec m.login.registration_token; Synapse's admin API shape).
CREATE TABLE registration_tokens (
  token TEXT PRIMARY KEY,
  uses_allowed INTEGER,
  pending INTEGER NOT NULL DEFAULT 0,
  completed INTEGER NOT NULL DEFAULT 0,
  expiry_time INTEGER
);

-- Nonces of Synapse-compatible shared-secret registration (/_synapse/admin/v1/register).
CREATE TABLE admin_register_nonces (
  nonce TEXT PRIMARY KEY,
  created_ts INTEGER NOT NULL
);
