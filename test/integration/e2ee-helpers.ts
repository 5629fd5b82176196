// Shared steps of the e2ee-*.test.ts integration tests.
import { env } from "cloudflare:workers";
import type { JsonObject } from "../../src/json.js";
import { makeDevice, signedKeys, type TestDevice } from "../fixtures/e2ee.js";
import { callJson, type TestUser } from "./helpers.js";

export const V3 = "/_matrix/client/v3";

export async function post<T = Record<string, unknown>>(path: string, token: string, json: unknown) {
  return callJson<T>(`${V3}${path}`, { method: "POST", token, json });
}

export async function put<T = Record<string, unknown>>(path: string, token: string, json: unknown) {
  return callJson<T>(`${V3}${path}`, { method: "PUT", token, json });
}

export async function get<T = Record<string, unknown>>(path: string, token: string) {
  return callJson<T>(`${V3}${path}`, { token });
}

/** Uploads fresh device keys for the user's device (plus the given OTK ids and fallback key id). */
export async function uploadDevice(
  user: TestUser,
  opts: { otks?: string[]; fallback?: string } = {},
): Promise<{ dev: TestDevice; counts: Record<string, number> }> {
  const dev = makeDevice(user.userId, user.deviceId);
  const body: JsonObject = { device_keys: dev.keys };
  if (opts.otks) body.one_time_keys = signedKeys(dev, opts.otks);
  if (opts.fallback) body.fallback_keys = signedKeys(dev, [opts.fallback], { fallback: true });
  const r = await post<{ one_time_key_counts: Record<string, number> }>("/keys/upload", user.accessToken, body);
  if (r.status !== 200) throw new Error(`keys/upload ${r.status} ${JSON.stringify(r.body)}`);
  return { dev, counts: r.body.one_time_key_counts };
}

export async function streamPos(): Promise<number> {
  const row = await env.DB.prepare("SELECT pos FROM stream_counter WHERE id = 1").first<{ pos: number }>();
  return row!.pos;
}

export async function createRoom(token: string, body: Record<string, unknown> = {}): Promise<string> {
  const r = await callJson<{ room_id: string }>(`${V3}/createRoom`, { method: "POST", token, json: body });
  if (r.status !== 200) throw new Error(`createRoom ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.room_id;
}

export async function joinRoom(token: string, roomId: string): Promise<void> {
  const r = await post(`/rooms/${encodeURIComponent(roomId)}/join`, token, {});
  if (r.status !== 200) throw new Error(`join ${r.status} ${JSON.stringify(r.body)}`);
}

export async function leaveRoom(token: string, roomId: string): Promise<void> {
  const r = await post(`/rooms/${encodeURIComponent(roomId)}/leave`, token, {});
  if (r.status !== 200) throw new Error(`leave ${r.status} ${JSON.stringify(r.body)}`);
}
