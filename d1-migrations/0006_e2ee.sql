-- End-to-end encryption (issue: e2ee): device keys, one-time and fallback keys,
-- cross-signing keys and signatures, the device-list change log, the to-device
-- inbox and server-side key backups. Key JSON is stored as canonical JSON, exactly
-- as uploaded (signatures included), and served back unchanged.

-- Device identity keys (POST /keys/upload device_keys), one row per device.
CREATE TABLE e2e_device_keys (
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  key_json TEXT NOT NULL,
  ed25519_key TEXT NOT NULL,
  created_ts INTEGER NOT NULL,
  PRIMARY KEY (user_id, device_id)
);

-- One-time keys. `id` is the upload order: keys are claimed oldest first (spec
-- /keys/claim), each exactly once (a claim is one DELETE ... RETURNING).
CREATE TABLE e2e_one_time_keys (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  algorithm TEXT NOT NULL,
  key_id TEXT NOT NULL,
  key_json TEXT NOT NULL,
  UNIQUE (user_id, device_id, algorithm, key_id)
);
CREATE INDEX e2e_one_time_keys_claim ON e2e_one_time_keys (user_id, device_id, algorithm, id);

-- Fallback keys: at most one per device and algorithm; `used` once handed out by
-- /keys/claim (then no longer listed in device_unused_fallback_key_types).
CREATE TABLE e2e_fallback_keys (
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  algorithm TEXT NOT NULL,
  key_id TEXT NOT NULL,
  key_json TEXT NOT NULL,
  used INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, device_id, algorithm)
);

-- Cross-signing keys (POST /keys/device_signing/upload).
CREATE TABLE e2e_cross_signing_keys (
  user_id TEXT NOT NULL,
  key_type TEXT NOT NULL CHECK (key_type IN ('master', 'self_signing', 'user_signing')),
  public_key TEXT NOT NULL,
  key_json TEXT NOT NULL,
  PRIMARY KEY (user_id, key_type)
);

-- Signatures uploaded through POST /keys/signatures/upload, merged into
-- /keys/query answers. target_key_id is a device id or a cross-signing public key.
CREATE TABLE e2e_cross_signing_signatures (
  target_user_id TEXT NOT NULL,
  target_key_id TEXT NOT NULL,
  signer_user_id TEXT NOT NULL,
  signer_key_id TEXT NOT NULL,
  signature TEXT NOT NULL,
  PRIMARY KEY (target_user_id, target_key_id, signer_user_id, signer_key_id)
);

-- A user's devices or cross-signing keys changed at stream_pos (device_lists.changed
-- in /sync, /keys/changes). only_for: when set, only that user is told (changes of
-- a user-signing key, and signatures made with it, concern no one else).
CREATE TABLE device_list_changes (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id TEXT NOT NULL,
  stream_pos INTEGER NOT NULL,
  only_for TEXT
);
CREATE INDEX device_list_changes_pos ON device_list_changes (stream_pos);

-- To-device inbox, delivered in id order. delivered_pos: the sync position of the
-- first response that carried the message; a later sync with since >= it is the
-- client's acknowledgement and deletes the message (spec "Send-to-Device messaging").
CREATE TABLE to_device_messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  stream_pos INTEGER NOT NULL,
  sender TEXT NOT NULL,
  type TEXT NOT NULL,
  content TEXT NOT NULL,
  delivered_pos INTEGER
);
CREATE INDEX to_device_messages_inbox ON to_device_messages (user_id, device_id, id);

-- PUT /sendToDevice transaction ids, for idempotent retries (per sending device).
CREATE TABLE to_device_txns (
  user_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  txn_id TEXT NOT NULL,
  stream_pos INTEGER NOT NULL,
  created_ts INTEGER NOT NULL,
  PRIMARY KEY (user_id, device_id, txn_id)
);

-- Server-side key backup versions. Versions count up per user and are never reused;
-- a deleted version keeps its row (deleted = 1) so DELETE stays idempotent.
CREATE TABLE room_key_backup_versions (
  user_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  algorithm TEXT NOT NULL,
  auth_data TEXT NOT NULL,
  etag INTEGER NOT NULL DEFAULT 0,
  deleted INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (user_id, version)
);

CREATE TABLE room_key_backup_keys (
  user_id TEXT NOT NULL,
  version INTEGER NOT NULL,
  room_id TEXT NOT NULL,
  session_id TEXT NOT NULL,
  first_message_index INTEGER NOT NULL,
  forwarded_count INTEGER NOT NULL,
  is_verified INTEGER NOT NULL,
  session_data TEXT NOT NULL,
  PRIMARY KEY (user_id, version, room_id, session_id)
);

-- Device lists in /sync start from the membership changes in the synced range.
CREATE INDEX IF NOT EXISTS e2ee_room_memberships_pos ON room_memberships (stream_pos);
