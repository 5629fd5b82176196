-- Content repository (issue: media on R2). Bytes live in R2 under `object_key`;
-- this table is the metadata every download reads first (quarantine, freeze, type).

CREATE TABLE media (
  -- The media-id of mxc://<our server>/<media_id> ([A-Za-z0-9_-], spec "Matrix Content (mxc://) URIs").
  media_id TEXT PRIMARY KEY,
  -- Uploader; NULL for images fetched by the URL previewer.
  user_id TEXT,
  created_ts INTEGER NOT NULL,
  -- NULL while an id from POST /_matrix/media/v1/create waits for its bytes.
  uploaded_ts INTEGER,
  -- Pending ids only: when the id is given up (`unused_expires_at`).
  unused_expires_ts INTEGER,
  -- Set once uploaded. Each upload attempt writes its own key, so a lost race never overwrites.
  object_key TEXT,
  content_type TEXT,
  upload_name TEXT,
  size INTEGER,
  -- Image dimensions when the bytes are an image we can read the header of.
  width INTEGER,
  height INTEGER,
  -- Quarantined media answers M_NOT_FOUND everywhere (admin API hook, r2/media-store.ts).
  quarantined_ts INTEGER,
  quarantined_by TEXT
);
-- Pending uploads per user (M_LIMIT_EXCEEDED) and expiry sweeps.
CREATE INDEX media_pending ON media (user_id, unused_expires_ts) WHERE uploaded_ts IS NULL;
CREATE INDEX media_unused_expiry ON media (unused_expires_ts) WHERE uploaded_ts IS NULL;
CREATE INDEX media_by_user ON media (user_id, created_ts);

-- preview_url results, cached for a TTL. `og` is the JSON answer.
CREATE TABLE url_previews (
  url TEXT PRIMARY KEY,
  og TEXT NOT NULL,
  fetched_ts INTEGER NOT NULL,
  expires_ts INTEGER NOT NULL
);
CREATE INDEX url_previews_expiry ON url_previews (expires_ts);
