/**
 * `GET /_matrix/client/v1/media/preview_url` (and the deprecated v3 one): fetch
 * the page through the SSRF guard (safe-fetch.ts), build OpenGraph data, put
 * `og:image` into the media store as an mxc:// URI (fetched through the same
 * guard), and cache the answer in D1 (`url_previews`) for a TTL.
 */
import { essence, normaliseUploadContentType } from "../../src/content-disposition.js";
import { MatrixError } from "../../src/errors.js";
import { sniffImage } from "../../src/image-info.js";
import { buildOpenGraph, type OpenGraph } from "../../src/opengraph.js";
import { originalKey, newMediaId } from "../../r2/keys.js";
import { getMediaConfig } from "../../r2/media-config.js";
import { insertUploadedMedia } from "../../r2/media-store.js";
import type { Env } from "../../services/env.js";
import { decodeHtml, extractPage } from "./html-extract.js";
import { DohResolver, type Resolver } from "../../services/net/resolver.js";
import { PreviewRefused, safeFetch } from "../../services/net/safe-fetch.js";

export interface PreviewDeps {
  resolver?: Resolver;
  fetcher?: typeof fetch;
  now?: number;
}

const refused = () => new MatrixError("M_FORBIDDEN", "This URL may not be previewed", 403);

export async function previewUrl(env: Env, serverName: string, rawUrl: string, deps: PreviewDeps = {}): Promise<OpenGraph> {
  const config = getMediaConfig(env);
  if (!config.urlPreviewEnabled) throw new MatrixError("M_UNKNOWN", "URL previews are disabled on this server", 403);
  let url: string;
  try {
    url = new URL(rawUrl).href;
  } catch {
    throw new MatrixError("M_INVALID_PARAM", "url must be an absolute URL", 400);
  }
  const now = deps.now ?? Date.now();
  const hit = await env.DB.prepare("SELECT og FROM url_previews WHERE url = ? AND expires_ts > ?").bind(url, now).first<{ og: string }>();
  if (hit) return JSON.parse(hit.og) as OpenGraph;

  const resolver = deps.resolver ?? new DohResolver(config.dohUrl, deps.fetcher);
  const signal = AbortSignal.timeout(config.urlPreviewTimeoutMs);
  const guard = { policy: config.previewPolicy, resolver, maxBytes: config.urlPreviewMaxBytes, signal, ...(deps.fetcher ? { fetcher: deps.fetcher } : {}) };
  let og: OpenGraph;
  try {
    const page = await safeFetch(url, { ...guard, accept: "text/html,application/xhtml+xml,image/*;q=0.9,*/*;q=0.1" });
    const type = page.contentType.toLowerCase();
    if (type.startsWith("image/")) {
      og = await storeImage(env, page.bytes, type);
    } else if (type.startsWith("text/html") || type.startsWith("application/xhtml")) {
      og = buildOpenGraph(extractPage(decodeHtml(page.bytes, page.contentType)), page.url);
      const imageUrl = og["og:image"];
      delete og["og:image"];
      if (typeof imageUrl === "string") {
        try {
          const img = await safeFetch(imageUrl, { ...guard, accept: "image/*" });
          if (img.contentType.toLowerCase().startsWith("image/")) og = { ...og, ...(await storeImage(env, img.bytes, img.contentType)) };
        } catch (e) {
          // A page is still previewed without its image (refused, too large or unreachable).
          if (!(e instanceof PreviewRefused || e instanceof MatrixError)) throw e;
        }
      }
    } else og = {};
  } catch (e) {
    if (e instanceof PreviewRefused) {
      console.log(`preview_url refused: ${e.message}`);
      throw refused();
    }
    throw e;
  }
  await env.DB.batch([
    // Expired entries go as new ones arrive (indexed on expires_ts).
    env.DB.prepare("DELETE FROM url_previews WHERE expires_ts <= ?").bind(now),
    env.DB.prepare("INSERT OR REPLACE INTO url_previews (url, og, fetched_ts, expires_ts) VALUES (?, ?, ?, ?)").bind(url, JSON.stringify(og), now, now + config.urlPreviewCacheTtlMs),
  ]);
  return og;

  async function storeImage(e: Env, bytes: Uint8Array, contentType: string): Promise<OpenGraph> {
    const mediaId = newMediaId();
    const key = originalKey(mediaId);
    const type = essence(normaliseUploadContentType(contentType));
    await e.MEDIA.put(key, bytes, { httpMetadata: { contentType: type } });
    const info = sniffImage(bytes);
    await insertUploadedMedia(e.DB, null, { mediaId, objectKey: key, contentType: type, uploadName: null, size: bytes.byteLength, width: info?.width ?? null, height: info?.height ?? null });
    const out: OpenGraph = { "og:image": `mxc://${serverName}/${mediaId}`, "og:image:type": type, "matrix:image:size": bytes.byteLength };
    if (info) {
      out["og:image:width"] = info.width;
      out["og:image:height"] = info.height;
    }
    return out;
  }
}
