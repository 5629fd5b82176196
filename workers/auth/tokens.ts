import { encodeBase64, encodeBase64Url } from "../../src/base64.js";

/**
 * Opaque secrets handed to clients: 256 random bits, URL-safe base64 with a
 * prefix that says what kind of token it is. The server keeps only the SHA-256
 * hash; lookup by hash means no secret is ever compared byte by byte.
 */
export function newSecret(prefix: "mat" | "mar" | "mlt" | "mot"): string {
  return `${prefix}_${encodeBase64Url(crypto.getRandomValues(new Uint8Array(32)))}`;
}

export async function hashSecret(secret: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(secret));
  return encodeBase64(new Uint8Array(digest));
}

/** Device ids as Synapse makes them: 10 upper-case letters. */
export function newDeviceId(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  const bytes = crypto.getRandomValues(new Uint8Array(10));
  return Array.from(bytes, (b) => alphabet[b % 26]).join("");
}
