/**
 * Media metadata in D1 (table `media`, d1-migrations/0003_media.sql) and the
 * lifecycle operations on it: create/upload, lookup, quarantine, delete. The
 * admin API calls `quarantineMedia`, `unquarantineMedia` and `deleteMedia`.
 */
import { limitExceeded, MatrixError, notFound } from "../src/errors.js";
import { newMediaId, thumbnailPrefix } from "./keys.js";

export interface MediaRecord {
  mediaId: string;
  userId: string | null;
  createdTs: number;
  uploadedTs: number | null;
  unusedExpiresTs: number | null;
  objectKey: string | null;
  contentType: string | null;
  uploadName: string | null;
  size: number | null;
  width: number | null;
  height: number | null;
  quarantinedTs: number | null;
  quarantinedBy: string | null;
}

interface MediaRow {
  media_id: string;
  user_id: string | null;
  created_ts: number;
  uploaded_ts: number | null;
  unused_expires_ts: number | null;
  object_key: string | null;
  content_type: string | null;
  upload_name: string | null;
  size: number | null;
  width: number | null;
  height: number | null;
  quarantined_ts: number | null;
  quarantined_by: string | null;
}

const fromRow = (r: MediaRow): MediaRecord => ({
  mediaId: r.media_id,
  userId: r.user_id,
  createdTs: r.created_ts,
  uploadedTs: r.uploaded_ts,
  unusedExpiresTs: r.unused_expires_ts,
  objectKey: r.object_key,
  contentType: r.content_type,
  uploadName: r.upload_name,
  size: r.size,
  width: r.width,
  height: r.height,
  quarantinedTs: r.quarantined_ts,
  quarantinedBy: r.quarantined_by,
});

export async function getMedia(db: D1Database, mediaId: string): Promise<MediaRecord | null> {
  const row = await db.prepare("SELECT * FROM media WHERE media_id = ?").bind(mediaId).first<MediaRow>();
  return row ? fromRow(row) : null;
}

/** A pending id whose `unused_expires_at` has passed is gone (client-server-api `POST /_matrix/media/v1/create`). */
export function isExpiredPending(m: MediaRecord, now: number): boolean {
  return m.uploadedTs === null && m.unusedExpiresTs !== null && m.unusedExpiresTs <= now;
}

export interface UploadedContent {
  mediaId: string;
  objectKey: string;
  contentType: string;
  uploadName: string | null;
  size: number;
  width?: number | null;
  height?: number | null;
}

/** Records content uploaded in one step (`POST /_matrix/media/v3/upload`, or a previewed image). */
export async function insertUploadedMedia(db: D1Database, userId: string | null, content: UploadedContent, now = Date.now()): Promise<void> {
  await db
    .prepare(
      `INSERT INTO media (media_id, user_id, created_ts, uploaded_ts, object_key, content_type, upload_name, size, width, height)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    .bind(content.mediaId, userId, now, now, content.objectKey, content.contentType, content.uploadName, content.size, content.width ?? null, content.height ?? null)
    .run();
}

/**
 * Reserves an id for a later upload (`POST /_matrix/media/v1/create`). The count of
 * the user's live pending ids and the insert are one statement, so concurrent
 * creates cannot overshoot the limit. Over it: 429 M_LIMIT_EXCEEDED, retry when
 * the oldest pending id expires.
 */
export async function createPendingMedia(
  db: D1Database,
  userId: string,
  opts: { maxPending: number; expiryMs: number; now?: number },
): Promise<{ mediaId: string; unusedExpiresAt: number }> {
  const now = opts.now ?? Date.now();
  const mediaId = newMediaId();
  const expires = now + opts.expiryMs;
  const [, insert] = await db.batch([
    db.prepare("DELETE FROM media WHERE uploaded_ts IS NULL AND unused_expires_ts <= ?").bind(now),
    db
      .prepare(
        `INSERT INTO media (media_id, user_id, created_ts, unused_expires_ts)
         SELECT ?, ?, ?, ?
         WHERE (SELECT COUNT(*) FROM media WHERE user_id = ? AND uploaded_ts IS NULL AND unused_expires_ts > ?) < ?`,
      )
      .bind(mediaId, userId, now, expires, userId, now, opts.maxPending),
  ]);
  if (!insert || insert.meta.changes !== 1) {
    const oldest = await db
      .prepare("SELECT MIN(unused_expires_ts) AS t FROM media WHERE user_id = ? AND uploaded_ts IS NULL AND unused_expires_ts > ?")
      .bind(userId, now)
      .first<{ t: number | null }>();
    throw limitExceeded(Math.max(1000, (oldest?.t ?? now + 1000) - now));
  }
  return { mediaId, unusedExpiresAt: expires };
}

/**
 * Checks that `userId` may upload to the pending id now (`PUT /_matrix/media/v3/upload/{serverName}/{mediaId}`):
 * 404 for unknown or expired ids, 403 for another user's, 409 M_CANNOT_OVERWRITE_MEDIA once uploaded.
 */
export function assertUploadable(m: MediaRecord | null, userId: string, now = Date.now()): asserts m is MediaRecord {
  if (!m || isExpiredPending(m, now) || m.quarantinedTs !== null) throw notFound("Unknown media ID");
  if (m.userId !== userId) throw new MatrixError("M_FORBIDDEN", "This media ID was created by another user", 403);
  if (m.uploadedTs !== null) throw new MatrixError("M_CANNOT_OVERWRITE_MEDIA", "Media already uploaded", 409);
}

/** Fills a pending id. False when another request filled it first (the caller then drops its object). */
export async function completePendingUpload(db: D1Database, userId: string, content: UploadedContent, now = Date.now()): Promise<boolean> {
  const res = await db
    .prepare(
      `UPDATE media SET uploaded_ts = ?, unused_expires_ts = NULL, object_key = ?, content_type = ?, upload_name = ?, size = ?, width = ?, height = ?
       WHERE media_id = ? AND user_id = ? AND uploaded_ts IS NULL`,
    )
    .bind(now, content.objectKey, content.contentType, content.uploadName, content.size, content.width ?? null, content.height ?? null, content.mediaId, userId)
    .run();
  return res.meta.changes === 1;
}

/** Quarantined media answers M_NOT_FOUND on every endpoint; the bytes are kept for review. */
export async function quarantineMedia(db: D1Database, mediaId: string, by: string, now = Date.now()): Promise<boolean> {
  const res = await db
    .prepare("UPDATE media SET quarantined_ts = ?, quarantined_by = ? WHERE media_id = ? AND quarantined_ts IS NULL")
    .bind(now, by, mediaId)
    .run();
  return res.meta.changes === 1;
}

export async function unquarantineMedia(db: D1Database, mediaId: string): Promise<boolean> {
  const res = await db.prepare("UPDATE media SET quarantined_ts = NULL, quarantined_by = NULL WHERE media_id = ? AND quarantined_ts IS NOT NULL").bind(mediaId).run();
  return res.meta.changes === 1;
}

/** Quarantines every piece of media a user uploaded (e.g. when an account is suspended). Returns how many. */
export async function quarantineMediaByUser(db: D1Database, userId: string, by: string, now = Date.now()): Promise<number> {
  const res = await db
    .prepare("UPDATE media SET quarantined_ts = ?, quarantined_by = ? WHERE user_id = ? AND quarantined_ts IS NULL")
    .bind(now, by, userId)
    .run();
  return res.meta.changes;
}

/** Deletes the bytes, every cached thumbnail and the record. False if there was no such media. */
export async function deleteMedia(db: D1Database, bucket: R2Bucket, mediaId: string): Promise<boolean> {
  const m = await getMedia(db, mediaId);
  if (!m) return false;
  const keys: string[] = m.objectKey ? [m.objectKey] : [];
  let cursor: string | undefined;
  do {
    const page = await bucket.list({ prefix: thumbnailPrefix(mediaId), ...(cursor ? { cursor } : {}) });
    keys.push(...page.objects.map((o) => o.key));
    cursor = page.truncated ? page.cursor : undefined;
  } while (cursor);
  // R2 deletes up to 1000 keys per call.
  for (let i = 0; i < keys.length; i += 1000) await bucket.delete(keys.slice(i, i + 1000));
  await db.prepare("DELETE FROM media WHERE media_id = ?").bind(mediaId).run();
  return true;
}
