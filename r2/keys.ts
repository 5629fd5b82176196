/**
 * Media ids and R2 object keys. A media id is what follows the server name in
 * `mxc://<server>/<media-id>`; the spec allows only `[A-Za-z0-9_-]`
 * (client-server-api "Matrix Content (mxc://) URIs", "Security considerations").
 */
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

export const MEDIA_ID = /^[A-Za-z0-9_-]{1,255}$/;

export function isValidMediaId(id: string): boolean {
  return MEDIA_ID.test(id);
}

/** 24 characters of a 62-letter alphabet: ~143 bits, unguessable. */
export function newMediaId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  let out = "";
  for (const b of bytes) {
    if (b >= 248) continue; // 248 = 4 × 62: keep the distribution uniform
    out += ALPHABET[b % 62];
    if (out.length === 24) return out;
  }
  return out + newMediaId().slice(0, 24 - out.length);
}

/** Each upload attempt writes its own object, so a lost race for a pending id never overwrites the winner. */
export function originalKey(mediaId: string): string {
  return `local/${mediaId}/${crypto.randomUUID()}`;
}

export function thumbnailPrefix(mediaId: string): string {
  return `thumbnails/${mediaId}/`;
}

export function thumbnailKey(mediaId: string, variant: string): string {
  return `${thumbnailPrefix(mediaId)}${variant}`;
}
