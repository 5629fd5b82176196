/**
 * Content-Type and Content-Disposition for served media (client-server-api
 * "Serving inline content"; RFC 6266 with RFC 8187 `filename*`).
 */

/** The spec's list of types that are safe to serve with `Content-Disposition: inline`. */
export const INLINE_SAFE_TYPES: ReadonlySet<string> = new Set([
  "text/css",
  "text/plain",
  "text/csv",
  "application/json",
  "application/ld+json",
  "image/jpeg",
  "image/gif",
  "image/png",
  "image/apng",
  "image/webp",
  "image/avif",
  "video/mp4",
  "video/webm",
  "video/ogg",
  "video/quicktime",
  "audio/mp4",
  "audio/webm",
  "audio/aac",
  "audio/mpeg",
  "audio/ogg",
  "audio/wave",
  "audio/wav",
  "audio/x-wav",
  "audio/x-pn-wav",
  "audio/flac",
  "audio/x-flac",
]);

/** The media type without parameters, lower-cased: `Text/Plain; charset=x` → `text/plain`. */
export function essence(contentType: string): string {
  return (contentType.split(";", 1)[0] ?? "").trim().toLowerCase();
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const MEDIA_TYPE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+\/[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * The Content-Type we store for an upload: as the client gave it when it is a
 * well-formed media type (parameters kept), else `application/octet-stream`
 * (spec: the default when the header is absent).
 */
export function normaliseUploadContentType(header: string | undefined | null): string {
  if (!header) return "application/octet-stream";
  const value = header.trim();
  if (value.length > 255 || !MEDIA_TYPE.test(essence(value))) return "application/octet-stream";
  // Only printable ASCII survives into a response header.
  if (!/^[\x20-\x7e]*$/.test(value)) return "application/octet-stream";
  return value;
}

export function isInlineSafe(contentType: string): boolean {
  return INLINE_SAFE_TYPES.has(essence(contentType));
}

/** RFC 8187 `attr-char` percent-encoding for `filename*=utf-8''…`. */
function encodeRfc8187(s: string): string {
  let out = "";
  for (const byte of new TextEncoder().encode(s)) {
    const ch = String.fromCharCode(byte);
    out += /[A-Za-z0-9!#$&+.^_`|~-]/.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

/**
 * `inline` or `attachment` (by the safe-type list), with the file name when there
 * is one: as a token when it is one, as a quoted-string when it is printable
 * ASCII, and otherwise only as `filename*=utf-8''…` (RFC 6266 §4.3).
 */
export function contentDisposition(contentType: string, filename: string | null | undefined, forceInline = false): string {
  const kind = forceInline || isInlineSafe(contentType) ? "inline" : "attachment";
  if (!filename) return kind;
  if (TOKEN.test(filename)) return `${kind}; filename=${filename}`;
  if (/^[\x20-\x7e]*$/.test(filename)) return `${kind}; filename="${filename.replace(/[\\"]/g, "\\$&")}"`;
  return `${kind}; filename*=utf-8''${encodeRfc8187(filename)}`;
}
