/**
 * Media responses streamed from R2: never buffered, `Range` honoured (206 /
 * 416), and the headers the content repository section asks for
 * (client-server-api "Content repository", "Serving inline content"):
 * Content-Security-Policy (the spec's recommended policy, as Synapse sends it),
 * `X-Content-Type-Options: nosniff`, `Cross-Origin-Resource-Policy: cross-origin`,
 * and immutable caching (media never changes under its mxc:// URI).
 */
import { MatrixError, notFound } from "../src/errors.js";
import { parseRange } from "../src/http-range.js";

export const MEDIA_CSP = "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; style-src 'unsafe-inline'; object-src 'self';";

export interface ServeOptions {
  contentType: string;
  disposition: string;
  /** Authenticated endpoints are `private` (a shared cache must not hand them to others). */
  cacheScope: "public" | "private";
  /** Strong validator: an mxc URI (plus variant) names immutable bytes. */
  etag: string;
  lastModified?: number;
  allowRange: boolean;
}

export function mediaHeaders(o: ServeOptions): Headers {
  const h = new Headers({
    "Content-Type": o.contentType,
    "Content-Disposition": o.disposition,
    "Content-Security-Policy": MEDIA_CSP,
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Resource-Policy": "cross-origin",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": `${o.cacheScope}, max-age=31536000, immutable`,
    ETag: o.etag,
  });
  if (o.lastModified !== undefined) h.set("Last-Modified", new Date(o.lastModified).toUTCString());
  if (o.allowRange) h.set("Accept-Ranges", "bytes");
  return h;
}

function notModified(req: Request, etag: string): boolean {
  const inm = req.headers.get("if-none-match");
  if (!inm) return false;
  return inm.trim() === "*" || inm.split(",").some((t) => t.trim().replace(/^W\//, "") === etag);
}

/**
 * Serves `key` from the bucket. `size` is the stored size (from D1), so a
 * Range is resolved before R2 is asked, and a 304 or 416 costs no R2 read.
 */
export async function serveObject(req: Request, bucket: R2Bucket, key: string, size: number, o: ServeOptions): Promise<Response> {
  const headers = mediaHeaders(o);
  if (notModified(req, o.etag)) return new Response(null, { status: 304, headers });
  // If-Range with another validator means "send everything".
  const ifRange = req.headers.get("if-range");
  const rangeHeader = o.allowRange && (!ifRange || ifRange.trim() === o.etag) ? req.headers.get("range") : null;
  const range = parseRange(rangeHeader, size);
  if (range.kind === "unsatisfiable") {
    throw new MatrixError("M_UNKNOWN", "Requested range not satisfiable", 416, {}, { "Content-Range": `bytes */${size}` });
  }
  const isHead = req.method === "HEAD";
  if (isHead) {
    headers.set("Content-Length", String(range.kind === "range" ? range.length : size));
    if (range.kind === "range") headers.set("Content-Range", `bytes ${range.offset}-${range.offset + range.length - 1}/${size}`);
    return new Response(null, { status: range.kind === "range" ? 206 : 200, headers });
  }
  const obj = await bucket.get(key, range.kind === "range" ? { range: { offset: range.offset, length: range.length } } : {});
  if (!obj) throw notFound("Media not found");
  if (range.kind === "range") {
    headers.set("Content-Range", `bytes ${range.offset}-${range.offset + range.length - 1}/${size}`);
    headers.set("Content-Length", String(range.length));
    return new Response(obj.body, { status: 206, headers });
  }
  headers.set("Content-Length", String(obj.size));
  return new Response(obj.body, { status: 200, headers });
}

/** A whole R2 body already fetched (a cached thumbnail): no Range. */
export function serveBody(req: Request, body: ReadableStream, size: number, o: ServeOptions): Response {
  const headers = mediaHeaders(o);
  if (notModified(req, o.etag) || req.method === "HEAD") {
    void body.cancel().catch(() => {});
    if (req.method === "HEAD") headers.set("Content-Length", String(size));
    return new Response(null, { status: notModified(req, o.etag) ? 304 : 200, headers });
  }
  headers.set("Content-Length", String(size));
  return new Response(body, { status: 200, headers });
}

/** Bytes already in memory (a freshly made thumbnail). */
export function serveBytes(req: Request, bytes: Uint8Array, o: ServeOptions): Response {
  const headers = mediaHeaders(o);
  if (notModified(req, o.etag)) return new Response(null, { status: 304, headers });
  headers.set("Content-Length", String(bytes.byteLength));
  return new Response(req.method === "HEAD" ? null : bytes, { status: 200, headers });
}
