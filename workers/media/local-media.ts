/**
 * Serving this server's own media, shared by the three ways it is asked for:
 *  - `legacy`: the deprecated unauthenticated `/_matrix/media/v3/{download,thumbnail}`,
 *    frozen: media uploaded at or after `MEDIA_FREEZE_TS` answers M_NOT_FOUND;
 *  - `authenticated`: `/_matrix/client/v1/media/...` (spec v1.11, MSC3916);
 *  - `federation`: `/_matrix/federation/v1/media/...`, answered as multipart/mixed
 *    (r2/multipart.ts) without Range or conditional handling.
 */
import type { Context } from "hono";
import { MatrixError, invalidParam, missingParam, notFound } from "../../src/errors.js";
import { contentDisposition } from "../../src/content-disposition.js";
import type { ThumbnailMethod } from "../../src/thumbnail-plan.js";
import { isValidMediaId } from "../../r2/keys.js";
import { getMediaConfig } from "../../r2/media-config.js";
import { getMedia, isExpiredPending, type MediaRecord } from "../../r2/media-store.js";
import { federationMultipart } from "../../r2/multipart.js";
import { serveObject } from "../../r2/serve.js";
import { thumbnailResponse } from "../../r2/thumbnails.js";
import type { AppEnv } from "../app-env.js";
import { getConfig } from "../config.js";

export type MediaAccess = "legacy" | "authenticated" | "federation";

/** Spec default for `timeout_ms`, and our cap on it ("SHOULD impose a maximum"). */
const DEFAULT_TIMEOUT_MS = 20_000;
const MAX_TIMEOUT_MS = 20_000;
const POLL_MS = 500;

type Ctx = Context<AppEnv>;

export function boolParam(c: Ctx, name: string): boolean | undefined {
  const v = c.req.query(name);
  if (v === undefined) return undefined;
  if (v === "true") return true;
  if (v === "false") return false;
  throw invalidParam(`${name} must be true or false`);
}

export function intParam(c: Ctx, name: string, opts: { required: true; min: number }): number;
export function intParam(c: Ctx, name: string, opts: { required?: false; min: number }): number | undefined;
export function intParam(c: Ctx, name: string, opts: { required?: boolean; min: number }): number | undefined {
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type ServableMedia = MediaRecord & { objectKey: string; size: number };

/**
 * The local media behind `serverName/mediaId`, waiting up to `timeout_ms` for
 * an id from /create to receive its bytes (504 M_NOT_YET_UPLOADED after that).
 */
async function findMedia(c: Ctx, serverName: string, mediaId: string, access: MediaAccess): Promise<ServableMedia> {
  const timeoutMs = Math.min(intParam(c, "timeout_ms", { min: 0 }) ?? DEFAULT_TIMEOUT_MS, MAX_TIMEOUT_MS);
  if (access !== "federation") {
    // Accepted per spec; we always answer with the bytes themselves and never fetch remote media yet.
    boolParam(c, "allow_redirect");
    if (access === "legacy") boolParam(c, "allow_remote");
  }
  if (serverName !== getConfig(c.env).serverName) throw notFound("Remote media is not available on this server yet");
  if (!isValidMediaId(mediaId)) throw notFound("Media not found");
  const { freezeTs } = getMediaConfig(c.env);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = await getMedia(c.env.DB, mediaId);
    const now = Date.now();
    if (!m || m.quarantinedTs !== null || isExpiredPending(m, now)) throw notFound("Media not found");
    // Spec 1.11 freeze: new media only through the authenticated endpoints.
    if (access === "legacy" && (m.uploadedTs ?? m.createdTs) >= freezeTs) throw notFound("Media not found");
    if (m.uploadedTs !== null && m.objectKey !== null && m.size !== null) return m as ServableMedia;
    if (now >= deadline) throw new MatrixError("M_NOT_YET_UPLOADED", "Content has not yet been uploaded", 504);
    await sleep(Math.min(POLL_MS, deadline - now));
  }
}

/** Federation answers have no Range or conditional semantics: serve as if to a bare GET. */
const requestFor = (c: Ctx, access: MediaAccess) => (access === "federation" ? new Request(c.req.url) : c.req.raw);

export async function downloadMedia(c: Ctx, serverName: string, mediaId: string, access: MediaAccess): Promise<Response> {
  const m = await findMedia(c, serverName, mediaId, access);
  const contentType = m.contentType ?? "application/octet-stream";
  const fileName = c.req.param("fileName") ?? m.uploadName;
  const res = await serveObject(requestFor(c, access), c.env.MEDIA, m.objectKey, m.size, {
    contentType,
    disposition: contentDisposition(contentType, fileName),
    cacheScope: access === "legacy" ? "public" : "private",
    etag: `"${m.mediaId}"`,
    lastModified: m.uploadedTs ?? m.createdTs,
    allowRange: access !== "federation",
  });
  return access === "federation" ? federationMultipart(res) : res;
}

export async function thumbnailMedia(c: Ctx, serverName: string, mediaId: string, access: MediaAccess): Promise<Response> {
  const width = intParam(c, "width", { required: true, min: 1 });
  const height = intParam(c, "height", { required: true, min: 1 });
  const method = c.req.query("method") ?? "scale";
  if (method !== "crop" && method !== "scale") throw invalidParam("method must be crop or scale");
  const animated = boolParam(c, "animated");
  const m = await findMedia(c, serverName, mediaId, access);
  const res = await thumbnailResponse(
    requestFor(c, access),
    c.env.MEDIA,
    m,
    { width, height, method: method as ThumbnailMethod, animated },
    getMediaConfig(c.env),
    access === "legacy" ? "public" : "private",
    (p) => c.executionCtx.waitUntil(p),
  );
  return access === "federation" ? federationMultipart(res) : res;
}
