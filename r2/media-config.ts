import { z } from "zod";
import { parseHostRules, type PreviewPolicy } from "../src/url-preview-policy.js";
import type { Env } from "../services/env.js";

const MediaConfigSchema = z.object({
  /** `m.upload.size`. Workers cap request bodies at 100 MB on Free/Pro zones (PLATFORM.md §1). */
  maxUploadBytes: z.number().int().positive(),
  /** Unauthenticated-media freeze (spec 1.11): media uploaded at or after this time (ms) is only served on /_matrix/client/v1/media. */
  freezeTs: z.number().int().nonnegative(),
  maxPendingUploads: z.number().int().positive(),
  unusedExpiryMs: z.number().int().positive(),
  /**
   * Sources with more pixels than this are not decoded. Photon's decode peaks at
   * roughly 10 bytes per pixel (measured in Node: +73 MB for an 8 MP JPEG, +80 MB
   * PNG, +108 MB for 12 MP, +167 MB for 16 MP) and a Worker isolate has 128 MB.
   */
  thumbnailMaxPixels: z.number().int().positive(),
  thumbnailMaxSourceBytes: z.number().int().positive(),
  /** With `animated=true`, animated sources up to this size are returned as they are. */
  animatedMaxBytes: z.number().int().nonnegative(),
  urlPreviewEnabled: z.boolean(),
  previewPolicy: z.custom<PreviewPolicy>(),
  urlPreviewMaxBytes: z.number().int().positive(),
  urlPreviewTimeoutMs: z.number().int().positive(),
  urlPreviewCacheTtlMs: z.number().int().nonnegative(),
  /** Images fetched for previews are deleted (bytes, thumbnails, record) this long after the fetch; 0 keeps them. */
  previewImageRetentionMs: z.number().int().nonnegative(),
  /** DoH JSON endpoint for the previewer's resolver; empty: no DNS, only IP-literal URLs. */
  dohUrl: z.string(),
});

export type MediaConfig = z.infer<typeof MediaConfigSchema>;

const cache = new WeakMap<Env, MediaConfig>();

const num = (v: string | undefined, dflt: number) => (v === undefined || v.trim() === "" ? dflt : Number(v));

export function getMediaConfig(env: Env): MediaConfig {
  const hit = cache.get(env);
  if (hit) return hit;
  const vars = env;
  const config = MediaConfigSchema.parse({
    maxUploadBytes: num(vars.MEDIA_MAX_UPLOAD_BYTES, 50 * 1024 * 1024),
    freezeTs: num(vars.MEDIA_FREEZE_TS, 0),
    maxPendingUploads: num(vars.MEDIA_MAX_PENDING_UPLOADS, 5),
    unusedExpiryMs: num(vars.MEDIA_UNUSED_EXPIRY_MS, 24 * 60 * 60 * 1000),
    thumbnailMaxPixels: num(vars.MEDIA_THUMBNAIL_MAX_PIXELS, 8_000_000),
    thumbnailMaxSourceBytes: num(vars.MEDIA_THUMBNAIL_MAX_SOURCE_BYTES, 10 * 1024 * 1024),
    animatedMaxBytes: num(vars.MEDIA_ANIMATED_MAX_BYTES, 10 * 1024 * 1024),
    urlPreviewEnabled: (vars.URL_PREVIEW_ENABLED ?? "true") !== "false",
    previewPolicy: { allow: parseHostRules(vars.URL_PREVIEW_ALLOW), deny: parseHostRules(vars.URL_PREVIEW_DENY) },
    urlPreviewMaxBytes: num(vars.URL_PREVIEW_MAX_BYTES, 5 * 1024 * 1024),
    urlPreviewTimeoutMs: num(vars.URL_PREVIEW_TIMEOUT_MS, 10_000),
    urlPreviewCacheTtlMs: num(vars.URL_PREVIEW_CACHE_TTL_MS, 60 * 60 * 1000),
    previewImageRetentionMs: num(vars.URL_PREVIEW_IMAGE_RETENTION_MS, 7 * 24 * 60 * 60 * 1000),
    dohUrl: vars.URL_PREVIEW_DOH_URL ?? "https://1.1.1.1/dns-query",
  });
  cache.set(env, config);
  return config;
}
