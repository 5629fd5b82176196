/**
 * Housekeeping run by the cron trigger (wrangler.toml `[triggers]`, hourly):
 * storage that nobody's request would ever clean up. Each pass does a bounded
 * amount of work; whatever is left waits for the next one.
 *  - images the URL previewer fetched (media rows without an uploader) older than
 *    `URL_PREVIEW_IMAGE_RETENTION_MS`: bytes, thumbnails and record. A later
 *    preview of the same page fetches its image again (Synapse expires its URL
 *    cache media the same way);
 *  - expired preview answers and server-discovery results.
 */
import { getMediaConfig } from "../r2/media-config.js";
import { deleteMedia } from "../r2/media-store.js";
import type { Env } from "../services/env.js";

/** Preview images deleted per pass (each lists and deletes its R2 thumbnails). */
export const PREVIEW_IMAGES_PER_PASS = 200;

export interface MaintenanceReport {
  previewImagesDeleted: number;
  previewAnswersDeleted: number;
  destinationsDeleted: number;
}

export async function runMaintenance(env: Env, now = Date.now()): Promise<MaintenanceReport> {
  const { previewImageRetentionMs, urlPreviewCacheTtlMs } = getMediaConfig(env);
  let previewImagesDeleted = 0;
  if (previewImageRetentionMs > 0) {
    // Never before a cached preview answer that may still point at the image expires.
    const keepMs = Math.max(previewImageRetentionMs, urlPreviewCacheTtlMs);
    const { results } = await env.DB.prepare(
      "SELECT media_id FROM media WHERE user_id IS NULL AND uploaded_ts IS NOT NULL AND uploaded_ts < ? ORDER BY uploaded_ts LIMIT ?",
    )
      .bind(now - keepMs, PREVIEW_IMAGES_PER_PASS)
      .all<{ media_id: string }>();
    for (const { media_id } of results) if (await deleteMedia(env.DB, env.MEDIA, media_id)) previewImagesDeleted++;
  }
  const [previews, destinations] = await env.DB.batch([
    env.DB.prepare("DELETE FROM url_previews WHERE expires_ts <= ?").bind(now),
    env.DB.prepare("DELETE FROM federation_destinations WHERE expires_ts <= ?").bind(now),
  ]);
  return {
    previewImagesDeleted,
    previewAnswersDeleted: previews?.meta.changes ?? 0,
    destinationsDeleted: destinations?.meta.changes ?? 0,
  };
}
