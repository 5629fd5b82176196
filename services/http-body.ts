/** Reading HTTP bodies with a byte cap (requests we receive, responses we fetch). */
import { MatrixError } from "../src/errors.js";

export const tooLarge = (limit: number) =>
  new MatrixError("M_TOO_LARGE", `Request body exceeds the limit of ${limit} bytes`, 413);

/** Reads the raw body, refusing anything over `limit` bytes even when no Content-Length was sent. */
export async function readBodyBytes(req: Request | Response, limit: number): Promise<Uint8Array> {
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) throw tooLarge(limit);
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      await reader.cancel();
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const ch of chunks) {
    out.set(ch, off);
    off += ch.byteLength;
  }
  return out;
}
