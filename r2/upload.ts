/**
 * Streams a request body into R2 without holding it in memory, refusing
 * anything over the upload limit with 413 M_TOO_LARGE (client-server-api
 * "Security considerations": servers should not store files that are too large).
 *
 * With a Content-Length the body goes to R2 as one streamed put (R2 needs the
 * length up front; the runtime stops the body at the declared length). Without
 * one (chunked uploads) it is cut into fixed 8 MiB parts of an R2 multipart
 * upload, so at most one part is held at a time; a body that ends within the
 * first part is a single put.
 */
import { MatrixError } from "../src/errors.js";

/** R2 wants equal-sized parts (all but the last) of at least 5 MiB. */
const PART_BYTES = 8 * 1024 * 1024;

export const uploadTooLarge = (limit: number) =>
  new MatrixError("M_TOO_LARGE", `Cannot upload files larger than ${limit} bytes`, 413);

export async function putUploadBody(
  bucket: R2Bucket,
  key: string,
  req: Request,
  opts: { maxBytes: number; contentType: string },
): Promise<{ size: number }> {
  const httpMetadata = { contentType: opts.contentType };
  const declared = req.headers.get("content-length");
  const length = declared !== null && /^\d+$/.test(declared.trim()) ? Number(declared) : null;
  if (length !== null && length > opts.maxBytes) {
    await req.body?.cancel().catch(() => {});
    throw uploadTooLarge(opts.maxBytes);
  }
  if (!req.body) {
    await bucket.put(key, new Uint8Array(0), { httpMetadata });
    return { size: 0 };
  }
  if (length !== null) {
    // The body itself, untouched: the runtime ends it at the declared length, and R2
    // reads it with backpressure. (Piping it through a JS TransformStream first was
    // measured to buffer: +95 MB of workerd RSS for a 50 MB upload, against +35 MB.)
    const obj = await bucket.put(key, req.body, { httpMetadata });
    return { size: obj?.size ?? length };
  }
  return putChunked(bucket, key, req.body, opts.maxBytes, httpMetadata);
}

async function putChunked(
  bucket: R2Bucket,
  key: string,
  body: ReadableStream<Uint8Array>,
  maxBytes: number,
  httpMetadata: R2HTTPMetadata,
): Promise<{ size: number }> {
  const reader = body.getReader();
  // One part buffer, filled in place and reused once R2 has taken each part.
  const part = new Uint8Array(PART_BYTES);
  let fill = 0;
  let total = 0;
  let upload: R2MultipartUpload | undefined;
  const parts: R2UploadedPart[] = [];
  const flushPart = async (bytes: Uint8Array) => {
    upload ??= await bucket.createMultipartUpload(key, { httpMetadata });
    parts.push(await upload.uploadPart(parts.length + 1, bytes));
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) throw uploadTooLarge(maxBytes);
      for (let off = 0; off < value.byteLength; ) {
        const n = Math.min(PART_BYTES - fill, value.byteLength - off);
        part.set(value.subarray(off, off + n), fill);
        fill += n;
        off += n;
        if (fill === PART_BYTES) {
          await flushPart(part);
          fill = 0;
        }
      }
    }
    if (!upload) {
      await bucket.put(key, part.subarray(0, fill), { httpMetadata });
      return { size: total };
    }
    if (fill > 0) await flushPart(part.subarray(0, fill));
    await upload.complete(parts);
    return { size: total };
  } catch (e) {
    await reader.cancel().catch(() => {});
    await upload?.abort().catch(() => {});
    throw e;
  }
}
