/**
 * Thumbnails on demand, cached in R2 (client-server-api "Thumbnails"): the
 * request is mapped to a variant (src/thumbnail-plan.ts), a cached variant is
 * streamed from R2, a missing one is made from the source and stored.
 * The source's real format comes from its bytes, never from its claimed type.
 */
import { MatrixError } from "../src/errors.js";
import { sniffImage, type ImageInfo } from "../src/image-info.js";
import { planThumbnail, variantName, type ThumbnailMethod, type ThumbnailPlan } from "../src/thumbnail-plan.js";
import type { MediaConfig } from "./media-config.js";
import type { MediaRecord } from "./media-store.js";
import { thumbnailKey } from "./keys.js";
import { serveBody, serveBytes, serveObject } from "./serve.js";
import { cannotThumbnail, displaySize, renderThumbnail, thumbnailMime } from "./thumbnailer.js";

export interface ThumbnailRequest {
  width: number;
  height: number;
  method: ThumbnailMethod;
  /** `animated` query parameter: true, false, or absent. */
  animated: boolean | undefined;
}

const tooLargeToThumbnail = () => new MatrixError("M_TOO_LARGE", "Content is too large to thumbnail", 413);

const HEAD_BYTES = 64 * 1024;

async function readHead(bucket: R2Bucket, key: string): Promise<Uint8Array> {
  const obj = await bucket.get(key, { range: { offset: 0, length: HEAD_BYTES } });
  if (!obj) throw cannotThumbnail();
  return new Uint8Array(await obj.arrayBuffer());
}

async function readAll(bucket: R2Bucket, key: string): Promise<Uint8Array> {
  const obj = await bucket.get(key);
  if (!obj) throw cannotThumbnail();
  return new Uint8Array(await obj.arrayBuffer());
}

export async function thumbnailResponse(
  req: Request,
  bucket: R2Bucket,
  media: MediaRecord & { objectKey: string; size: number },
  q: ThumbnailRequest,
  config: MediaConfig,
  cacheScope: "public" | "private",
  waitUntil: (p: Promise<unknown>) => void,
): Promise<Response> {
  if (media.size > config.thumbnailMaxSourceBytes) throw tooLargeToThumbnail();
  let full: Uint8Array | undefined;
  let info: ImageInfo | null = sniffImage(await readHead(bucket, media.objectKey));
  if (!info && media.size > HEAD_BYTES) {
    // JPEG APP segments (EXIF, ICC profiles) can push the frame header past the first bytes.
    full = await readAll(bucket, media.objectKey);
    info = sniffImage(full);
  }
  if (!info) throw cannotThumbnail();
  if (info.width * info.height > config.thumbnailMaxPixels || info.width === 0 || info.height === 0) throw tooLargeToThumbnail();

  const original = (mime: string) =>
    serveObject(req, bucket, media.objectKey, media.size, {
      contentType: mime,
      disposition: `inline; filename=thumbnail.${mime.split("/")[1]}`,
      cacheScope,
      etag: `"${media.mediaId}"`,
      lastModified: media.uploadedTs ?? media.createdTs,
      allowRange: false,
    });
  // A GIF's frame count needs the whole file; the other formats say so in their header.
  const readFrames = async () => {
    if (info && info.format === "gif" && !full) {
      full = await readAll(bucket, media.objectKey);
      info = sniffImage(full) ?? info;
    }
  };

  // animated=true: the original animation when it is small enough (we do not re-encode animations).
  if (q.animated === true && media.size <= config.animatedMaxBytes) {
    await readFrames();
    if (info.animated) return original(info.mime === "image/apng" ? "image/png" : info.mime);
  }

  const shown = displaySize(info);
  let plan: ThumbnailPlan = planThumbnail(shown.width, shown.height, q.width, q.height, q.method);
  if (plan.kind === "original") {
    // The source is no larger than asked: serve it, unless it animates (animation was not asked for).
    await readFrames();
    if (!info.animated) return original(info.mime);
    plan = {
      kind: "resize",
      box: { width: shown.width, height: shown.height, method: "scale" },
      crop: { x: 0, y: 0, width: shown.width, height: shown.height },
      width: shown.width,
      height: shown.height,
    };
  }
  const mime = thumbnailMime(info);
  const key = thumbnailKey(media.mediaId, variantName(plan.box, mime));
  const etag = `"${media.mediaId}-${variantName(plan.box, mime)}"`;
  const opts = { contentType: mime, disposition: `inline; filename=thumbnail.${mime.split("/")[1]}`, cacheScope, etag, allowRange: false };
  const cached = await bucket.get(key);
  if (cached) return serveBody(req, cached.body, cached.size, { ...opts, lastModified: cached.uploaded.getTime() });

  full ??= await readAll(bucket, media.objectKey);
  const bytes = renderThumbnail(full, info, plan);
  full = undefined;
  waitUntil(bucket.put(key, bytes, { httpMetadata: { contentType: mime } }).catch((e: unknown) => console.error("thumbnail cache write failed", e)));
  return serveBytes(req, bytes, { ...opts, lastModified: Date.now() });
}
