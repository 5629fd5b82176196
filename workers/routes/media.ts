/**
 * Content repository (client-server-api "Content repository"):
 *  - authenticated media, spec v1.11 / MSC3916: `/_matrix/client/v1/media/{config,download,thumbnail,preview_url}`;
 *  - uploads: `POST /_matrix/media/v3/upload`, `POST /_matrix/media/v1/create`,
 *    `PUT /_matrix/media/v3/upload/{serverName}/{mediaId}`;
 *  - the deprecated unauthenticated `/_matrix/media/v3/{download,thumbnail}`, frozen
 *    (workers/media/local-media.ts); `/_matrix/media/v3/{config,preview_url}` keep
 *    working with an access token.
 * Remote media (a server name other than ours) is M_NOT_FOUND until federation fetching lands.
 */
import { Hono, type Context } from "hono";
import { z } from "zod";
import { MatrixError, invalidParam, missingParam, notFound } from "../../src/errors.js";
import { normaliseUploadContentType } from "../../src/content-disposition.js";
import { isValidMediaId, newMediaId, originalKey } from "../../r2/keys.js";
import { getMediaConfig } from "../../r2/media-config.js";
import {
  assertUploadable,
  completePendingUpload,
  createPendingMedia,
  getMedia,
  insertUploadedMedia,
} from "../../r2/media-store.js";
import { putUploadBody } from "../../r2/upload.js";
import type { AppEnv } from "../app-env.js";
import { getConfig } from "../config.js";
import { jsonBody } from "../middleware/body.js";
import { requireAuth } from "../middleware/auth.js";
import { downloadMedia, intParam, thumbnailMedia } from "../media/local-media.js";
import { previewUrl } from "../media/url-preview.js";

type Ctx = Context<AppEnv>;

const mxc = (serverName: string, mediaId: string) => `mxc://${serverName}/${mediaId}`;
const param = (c: Ctx, name: string) => c.req.param(name) ?? "";
const download = (c: Ctx, legacy: boolean) => downloadMedia(c, param(c, "serverName"), param(c, "mediaId"), legacy ? "legacy" : "authenticated");
const thumbnail = (c: Ctx, legacy: boolean) => thumbnailMedia(c, param(c, "serverName"), param(c, "mediaId"), legacy ? "legacy" : "authenticated");

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
mediaRoutes.post("/_matrix/media/v3/upload", requireAuth(), async (c) => {
  const content = await receiveUpload(c, newMediaId());
  try {
    await insertUploadedMedia(c.env.DB, c.get("auth").userId, content);
  } catch (e) {
    c.executionCtx.waitUntil(c.env.MEDIA.delete(content.objectKey).catch(() => {}));
    throw e;
  }
  return c.json({ content_uri: mxc(getConfig(c.env).serverName, content.mediaId) });
});

/** The create request has no parameters (spec "POST /_matrix/media/v1/create"): any object, or no body. */
const CreateBody = z.looseObject({});

/** POST /_matrix/media/v1/create */
mediaRoutes.post("/_matrix/media/v1/create", requireAuth(), jsonBody(CreateBody, { allowEmpty: true }), async (c) => {
  const cfg = getMediaConfig(c.env);
  const { mediaId, unusedExpiresAt } = await createPendingMedia(c.env.DB, c.get("auth").userId, {
    maxPending: cfg.maxPendingUploads,
    expiryMs: cfg.unusedExpiryMs,
  });
  return c.json({ content_uri: mxc(getConfig(c.env).serverName, mediaId), unused_expires_at: unusedExpiresAt });
});

/** PUT /_matrix/media/v3/upload/{serverName}/{mediaId} */
mediaRoutes.put("/_matrix/media/v3/upload/:serverName/:mediaId", requireAuth(), async (c) => {
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

mediaRoutes.get("/_matrix/media/v3/config", requireAuth({ allowGuest: true }), mediaConfig);
mediaRoutes.get("/_matrix/media/v3/download/:serverName/:mediaId", (c) => download(c, true));
mediaRoutes.get("/_matrix/media/v3/download/:serverName/:mediaId/:fileName", (c) => download(c, true));
mediaRoutes.get("/_matrix/media/v3/thumbnail/:serverName/:mediaId", (c) => thumbnail(c, true));
mediaRoutes.get("/_matrix/media/v3/preview_url", requireAuth(), preview);
