import { callJson } from "./helpers.js";

/** The secret the integration projects configure (vitest.config.ts). */
export const TEST_SHARED_SECRET = "test-shared-secret";

async function hmacSha1Hex(secret: string, message: string): Promise<string> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-1" }, false, ["sign"]);
  const sig = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(message)));
  return Array.from(sig, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Creates a user the way Synapse's register_new_matrix_user does (nonce + HMAC-SHA1). */
export async function sharedSecretRegister(username: string, password: string, admin: boolean, secret = TEST_SHARED_SECRET) {
  const { body } = await callJson<{ nonce: string }>("/_synapse/admin/v1/register");
  const mac = await hmacSha1Hex(secret, [body.nonce, username, password, admin ? "admin" : "notadmin"].join("\x00"));
  return callJson<{ user_id: string; access_token: string; device_id: string; errcode?: string }>("/_synapse/admin/v1/register", {
    method: "POST",
    json: { nonce: body.nonce, username, password, admin, mac },
  });
}
