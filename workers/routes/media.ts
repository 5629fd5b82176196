/**
 * Content repository (client-server-api "Content repository"):
 *  - authenticated media, spec v1.11 / MSC3916: `/_matrix/client/v1/media/{config,download,thumbnail,preview_url}`;
 *  - uploads: `POST /_matrix/media/v3/upload`, `POST /_matrix/media/v1/create`,
 *    `PUT /_matrix/media/v3/upload/{serverName}/{mediaId}`;
 *  - the deprecated unauthenticated `/_matrix/media/v3/{download,thumbnail}`, frozen:
 *    media uploaded at or after `MEDIA_FREEZE_TS` answers M_NOT_FOUND there;
 *    `/_matrix/media/v3/{config,preview_url}` keep working with an access token.
 * Remote media (a server name other than ours) is M_NOT_FOUND until federation fetching lands.
 */
import { Hono, type Context } from "hono";
import { MatrixError, invalidParam, missingParam, notFound } from "../../src/errors.js";
import { contentDisposition, normaliseUploadContentType } from "../../src/content-disposition.js";
import type { ThumbnailMethod } from "../../src/thumbnail-plan.js";
import { isValidMediaId, newMediaId, originalKey } from "../../r2/keys.js";
import { getMediaConfig } from "../../r2/media-config.js";
import {
  assertUploadable,
  completePendingUpload,
  createPendingMedia,
  getMedia,
  insertUploadedMedia,
  isExpiredPending,
  type MediaRecord,
} from "../../r2/media-store.js";
import { serveObject } from "../../r2/serve.js";
import { thumbnailResponse } from "../../r2/thumbnails.js";
import { putUploadBody } from "../../r2/upload.js";
import type { AppEnv } from "../app-env.js";
import { getConfig } from "../config.js";
import { readJsonObject } from "../middleware/body.js";
import { requireAuth } from "../middleware/auth.js";
import { previewUrl } from "../media/url-preview.js";

/** Spec default for `timeout_ms`, and our cap on it ("SHOULD impose a maximum"). */
const DEFAULT_TIMEOUT_MS = 20_000;
const MAX_TIMEOUT_MS = 20_000;
const POLL_MS = 500;

type Ctx = Context<AppEnv>;

function boolParam(c: Ctx, name: string): boolean | undefined {
  const v = c.req.query(name);
  if (v === undefined) return undefined;
  if (v === "true") return true;
  if (v === "false") return false;
  throw invalidParam(`${name} must be true or false`);
}

function intParam(c: Ctx, name: string, opts: { required: true; min: number }): number;
function intParam(c: Ctx, name: string, opts: { required?: false; min: number }): number | undefined;
function intParam(c: Ctx, name: string, opts: { required?: boolean; min: number }): number | undefined {
  const v = c.req.query(name);
  if (v === undefined || v === "") {
    if (opts.required) throw missingParam(`Missing ${name}`);
    return undefined;
  }
  if (!/^-?\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw invalidParam(`${name} must be an integer`);
  const n = Number(v);
  if (n < opts.min) throw invalidParam(`${name} must be at least ${opts.min}`);
  return n;
}

const mxc = (serverName: string, mediaId: string) => `mxc://${serverName}/${mediaId}`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type ServableMedia = MediaRecord & { objectKey: string; size: number };

/**
 * The local media behind `serverName/mediaId`, waiting up to `timeout_ms` for
 * an id from /create to receive its bytes (504 M_NOT_YET_UPLOADED after that).
 */
async function findMedia(c: Ctx, legacy: boolean): Promise<ServableMedia> {
  const serverName = c.req.param("serverName") ?? "";
  const mediaId = c.req.param("mediaId") ?? "";
  const timeoutMs = Math.min(intParam(c, "timeout_ms", { min: 0 }) ?? DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS);
  // Accepted per spec; we always answer with the bytes themselves and never fetch remote media yet.
  boolParam(c, "allow_redirect");
  if (legacy) boolParam(c, "allow_remote");
  if (serverName !== getConfig(c.env).serverName) throw notFound("Remote media is not available on this server yet");
  if (!isValidMediaId(mediaId)) throw notFound("Media not found");
  const { freezeTs } = getMediaConfig(c.env);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = await getMedia(c.env.DB, mediaId);
    const now = Date.now();
    if (!m || m.quarantinedTs !== null || isExpiredPending(m, now)) throw notFound("Media not found");
    // Spec 1.11 freeze: new media only through the authenticated endpoints.
    if (legacy && (m.uploadedTs ?? m.createdTs) >= freezeTs) throw notFound("Media not found");
    if (m.uploadedTs !== null && m.objectKey !== null && m.size !== null) return m as ServableMedia;
    if (now >= deadline) throw new MatrixError("M_NOT_YET_UPLOADED", "Content has not yet been uploaded", 504);
    await sleep(Math.min(POLL_MS, deadline - now));
  }
}

async function download(c: Ctx, legacy: boolean): Promise<Response> {
  const m = await findMedia(c, legacy);
  const contentType = m.contentType ?? "application/octet-stream";
  const fileName = c.req.param("fileName") ?? m.uploadName;
  return serveObject(c.req.raw, c.env.MEDIA, m.objectKey, m.size, {
    contentType,
    disposition: contentDisposition(contentType, fileName),
    cacheScope: legacy ? "public" : "private",
    etag: `"${m.mediaId}"`,
    lastModified: m.uploadedTs ?? m.createdTs,
    allowRange: true,
  });
}

async function thumbnail(c: Ctx, legacy: boolean): Promise<Response> {
  const width = intParam(c, "width", { required: true, min: 1 });
  const height = intParam(c, "height", { required: true, min: 1 });
  const method = c.req.query("method") ?? "scale";
  if (method !== "crop" && method !== "scale") throw invalidParam("method must be crop or scale");
  const animated = boolParam(c, "animated");
  const m = await findMedia(c, legacy);
  return thumbnailResponse(
    c.req.raw,
    c.env.MEDIA,
    m,
    { width, height, method: method as ThumbnailMethod, animated },
    getMediaConfig(c.env),
    legacy ? "public" : "private",
    (p) => c.executionCtx.waitUntil(p),
  );
}

const mediaConfig = (c: Ctx) => c.json({ "m.upload.size": getMediaConfig(c.env).maxUploadBytes });

async function preview(c: Ctx): Promise<Response> {
  const url = c.req.query("url");
  if (!url) throw missingParam("Missing url");
  intParam(c, "ts", { min: 0 });
  return c.json(await previewUrl(c.env, getConfig(c.env).serverName, url));
}

/** Streams the body to a fresh R2 object; the caller records it. */
async function receiveUpload(c: Ctx, mediaId: string) {
  const { maxUploadBytes } = getMediaConfig(c.env);
  const contentType = normaliseUploadContentType(c.req.header("content-type"));
  const uploadName = c.req.query("filename") || null;
  if (uploadName !== null && uploadName.length > 1024) throw invalidParam("filename is too long");
  const objectKey = originalKey(mediaId);
  let size: number;
  try {
    ({ size } = await putUploadBody(c.env.MEDIA, objectKey, c.req.raw, { maxBytes: maxUploadBytes, contentType }));
  } catch (e) {
    if (e instanceof MatrixError) throw e;
    // The client went away or sent fewer bytes than it declared.
    c.executionCtx.waitUntil(c.env.MEDIA.delete(objectKey).catch(() => {}));
    throw new MatrixError("M_UNKNOWN", "The upload was interrupted", 400);
  }
  return { mediaId, objectKey, contentType, uploadName, size };
}

export const mediaRoutes = new Hono<AppEnv>();

// --- Uploads (still under /_matrix/media in spec v1.11+) ---

/** POST /_matrix/media/v3/upload */
mediaRoutes.post("/_matrix/media/:v{v3|r0}/upload", requireAuth(), async (c) => {
  const content = await receiveUpload(c, newMediaId());
  try {
    await insertUploadedMedia(c.env.DB, c.get("auth").userId, content);
  } catch (e) {
    c.executionCtx.waitUntil(c.env.MEDIA.delete(content.objectKey).catch(() => {}));
    throw e;
  }
  return c.json({ content_uri: mxc(getConfig(c.env).serverName, content.mediaId) });
});

/** POST /_matrix/media/v1/create */
mediaRoutes.post("/_matrix/media/v1/create", requireAuth(), async (c) => {
  await readJsonObject(c, { allowEmpty: true });
  const cfg = getMediaConfig(c.env);
  const { mediaId, unusedExpiresAt } = await createPendingMedia(c.env.DB, c.get("auth").userId, {
    maxPending: cfg.maxPendingUploads,
    expiryMs: cfg.unusedExpiryMs,
  });
  return c.json({ content_uri: mxc(getConfig(c.env).serverName, mediaId), unused_expires_at: unusedExpiresAt });
});

/** PUT /_matrix/media/v3/upload/{serverName}/{mediaId} */
mediaRoutes.put("/_matrix/media/:v{v3|r0}/upload/:serverName/:mediaId", requireAuth(), async (c) => {
  const { userId } = c.get("auth");
  const mediaId = c.req.param("mediaId");
  if (c.req.param("serverName") !== getConfig(c.env).serverName || !isValidMediaId(mediaId)) throw notFound("Unknown media ID");
  assertUploadable(await getMedia(c.env.DB, mediaId), userId);
  const content = await receiveUpload(c, mediaId);
  if (!(await completePendingUpload(c.env.DB, userId, content))) {
    // Someone else's upload to this id won the race: keep theirs.
    c.executionCtx.waitUntil(c.env.MEDIA.delete(content.objectKey).catch(() => {}));
    assertUploadable(await getMedia(c.env.DB, mediaId), userId);
    throw new MatrixError("M_CANNOT_OVERWRITE_MEDIA", "Media already uploaded", 409);
  }
  return c.json({});
});

// --- Authenticated media (spec v1.11, MSC3916) ---

const authed = requireAuth({ allowGuest: true });
mediaRoutes.get("/_matrix/client/v1/media/config", authed, mediaConfig);
mediaRoutes.get("/_matrix/client/v1/media/download/:serverName/:mediaId", authed, (c) => download(c, false));
mediaRoutes.get("/_matrix/client/v1/media/download/:serverName/:mediaId/:fileName", authed, (c) => download(c, false));
mediaRoutes.get("/_matrix/client/v1/media/thumbnail/:serverName/:mediaId", authed, (c) => thumbnail(c, false));
mediaRoutes.get("/_matrix/client/v1/media/preview_url", requireAuth(), preview);

// --- Deprecated unauthenticated media (frozen, see above) ---

mediaRoutes.get("/_matrix/media/:v{v3|r0}/config", requireAuth({ allowGuest: true }), mediaConfig);
mediaRoutes.get("/_matrix/media/:v{v3|r0}/download/:serverName/:mediaId", (c) => download(c, true));
mediaRoutes.get("/_matrix/media/:v{v3|r0}/download/:serverName/:mediaId/:fileName", (c) => download(c, true));
mediaRoutes.get("/_matrix/media/:v{v3|r0}/thumbnail/:serverName/:mediaId", (c) => thumbnail(c, true));
mediaRoutes.get("/_matrix/media/:v{v3|r0}/preview_url", requireAuth(), preview);
