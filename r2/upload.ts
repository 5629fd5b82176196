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
): Promise<{ size: number; head: Uint8Array }> {
  const httpMetadata = { contentType: opts.contentType };
  const declared = req.headers.get("content-length");
  const length = declared !== null && /^\d+$/.test(declared.trim()) ? Number(declared) : null;
  if (length !== null && length > opts.maxBytes) {
    await req.body?.cancel().catch(() => {});
    throw uploadTooLarge(opts.maxBytes);
  }
  if (!req.body) {
    await bucket.put(key, new Uint8Array(0), { httpMetadata });
    return { size: 0, head: new Uint8Array(0) };
  }
  if (length !== null) {
    // Keep the first bytes (for image sniffing) as they stream past.
    let head: Uint8Array = new Uint8Array(0);
    const fixed = new FixedLengthStream(length);
    const tap = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, ctrl) {
        if (head.byteLength < 64 * 1024) head = concat([head, chunk.subarray(0, 64 * 1024 - head.byteLength)]);
        ctrl.enqueue(chunk);
      },
    });
    const piping = req.body.pipeThrough(tap).pipeTo(fixed.writable);
    const [obj] = await Promise.all([bucket.put(key, fixed.readable, { httpMetadata }), piping]);
    return { size: obj?.size ?? length, head };
  }
  return putChunked(bucket, key, req.body, opts.maxBytes, httpMetadata);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

async function putChunked(
  bucket: R2Bucket,
  key: string,
  body: ReadableStream<Uint8Array>,
  maxBytes: number,
  httpMetadata: R2HTTPMetadata,
): Promise<{ size: number; head: Uint8Array }> {
  const reader = body.getReader();
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let total = 0;
  let head: Uint8Array | undefined;
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
      pending.push(value);
      pendingBytes += value.byteLength;
      while (pendingBytes >= PART_BYTES) {
        const all = concat(pending);
        head ??= all.slice(0, 64 * 1024);
        await flushPart(all.subarray(0, PART_BYTES));
        const rest = all.subarray(PART_BYTES);
        pending = rest.byteLength ? [rest.slice()] : [];
        pendingBytes = rest.byteLength;
      }
    }
    const last = concat(pending);
    head ??= last.slice(0, 64 * 1024);
    if (!upload) {
      await bucket.put(key, last, { httpMetadata });
      return { size: total, head };
    }
    if (last.byteLength > 0) await flushPart(last);
    await upload.complete(parts);
    return { size: total, head };
  } catch (e) {
    await reader.cancel().catch(() => {});
    await upload?.abort().catch(() => {});
    throw e;
  }
}
