/**
 * Unpadded Base64 (spec: appendices "Unpadded Base64" and "URL-safe unpadded Base64").
 *
 * Encoders never emit `=`. Decoders accept input with or without padding, as the
 * appendix asks ("SHOULD accept input with or without padding characters"), and
 * reject characters outside the chosen alphabet, misplaced or excess padding, and
 * impossible lengths (4n+1 characters).
 *
 * Non-zero trailing bits in the last character are accepted (and ignored), like
 * most decoders: the appendix's own test-vector seed
 * `YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1` ends in such a character.
 */

export class Base64Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = "Base64Error";
  }
}

const STANDARD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

function reverse(alphabet: string): Int16Array {
  const table = new Int16Array(128).fill(-1);
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = i;
  return table;
}
const STANDARD_REV = reverse(STANDARD);
const URL_SAFE_REV = reverse(URL_SAFE);

function encode(bytes: Uint8Array, alphabet: string): string {
  let out = "";
  const n = bytes.length;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number);
    out += alphabet[v >>> 18]! + alphabet[(v >>> 12) & 63]! + alphabet[(v >>> 6) & 63]! + alphabet[v & 63]!;
  }
  const rest = n - i;
  if (rest === 1) {
    const v = (bytes[i] as number) << 16;
    out += alphabet[v >>> 18]! + alphabet[(v >>> 12) & 63]!;
  } else if (rest === 2) {
    const v = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8);
    out += alphabet[v >>> 18]! + alphabet[(v >>> 12) & 63]! + alphabet[(v >>> 6) & 63]!;
  }
  return out;
}

function decode(input: string, rev: Int16Array, name: string): Uint8Array {
  let s = input;
  // Strip correct padding only: total length a multiple of 4, at most two `=`.
  if (s.endsWith("=")) {
    const unpadded = s.replace(/=+$/, "");
    const pad = s.length - unpadded.length;
    if (pad > 2 || s.length % 4 !== 0) throw new Base64Error(`invalid ${name} padding`);
    s = unpadded;
  }
  if (s.length % 4 === 1) throw new Base64Error(`invalid ${name} length`);
  const out = new Uint8Array(Math.floor((s.length * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const v = c < 128 ? (rev[c] as number) : -1;
    if (v < 0) throw new Base64Error(`invalid ${name} character at offset ${i}`);
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 0xff;
    }
  }
  return out;
}

/** Standard alphabet, no padding. */
export function encodeBase64(bytes: Uint8Array): string {
  return encode(bytes, STANDARD);
}

/** URL-safe alphabet (`-`, `_`), no padding. */
export function encodeBase64Url(bytes: Uint8Array): string {
  return encode(bytes, URL_SAFE);
}

/** Standard alphabet, padding optional. Throws Base64Error. */
export function decodeBase64(s: string): Uint8Array {
  return decode(s, STANDARD_REV, "base64");
}

/** URL-safe alphabet, padding optional. Throws Base64Error. */
export function decodeBase64Url(s: string): Uint8Array {
  return decode(s, URL_SAFE_REV, "url-safe base64");
}

/** decodeBase64 returning undefined instead of throwing. */
export function tryDecodeBase64(s: string): Uint8Array | undefined {
  try {
    return decodeBase64(s);
  } catch {
    return undefined;
  }
}
