// Helpers shared by the push, notifications, search and user-directory integration tests.
import { callJson, type TestUser } from "./helpers.js";

export type Json = Record<string, any>;

export const enc = encodeURIComponent;

export async function ok<T = Json>(path: string, u: TestUser, init: { method?: string; json?: unknown } = {}): Promise<T> {
  const r = await callJson<T>(path, { method: init.method ?? "GET", token: u.accessToken, ...(init.json !== undefined ? { json: init.json } : {}) });
  if (r.status !== 200) throw new Error(`${init.method ?? "GET"} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export async function createRoom(u: TestUser, body: Json = {}): Promise<string> {
  return (await ok<{ room_id: string }>("/_matrix/client/v3/createRoom", u, { method: "POST", json: body })).room_id;
}

export async function join(u: TestUser, roomId: string): Promise<void> {
  await ok(`/_matrix/client/v3/join/${enc(roomId)}`, u, { method: "POST", json: {} });
}

export async function invite(u: TestUser, roomId: string, userId: string): Promise<void> {
  await ok(`/_matrix/client/v3/rooms/${enc(roomId)}/invite`, u, { method: "POST", json: { user_id: userId } });
}

export async function leave(u: TestUser, roomId: string): Promise<void> {
  await ok(`/_matrix/client/v3/rooms/${enc(roomId)}/leave`, u, { method: "POST", json: {} });
}

export async function sendEvent(u: TestUser, roomId: string, type: string, content: Json): Promise<string> {
  return (await ok<{ event_id: string }>(`/_matrix/client/v3/rooms/${enc(roomId)}/send/${enc(type)}/${crypto.randomUUID()}`, u, { method: "PUT", json: content })).event_id;
}

export function sendText(u: TestUser, roomId: string, body: string, extra: Json = {}): Promise<string> {
  return sendEvent(u, roomId, "m.room.message", { msgtype: "m.text", body, ...extra });
}

export async function setState(u: TestUser, roomId: string, type: string, content: Json, stateKey = ""): Promise<string> {
  return (await ok<{ event_id: string }>(`/_matrix/client/v3/rooms/${enc(roomId)}/state/${enc(type)}/${enc(stateKey)}`, u, { method: "PUT", json: content })).event_id;
}

export async function sync(u: TestUser, params: Record<string, string> = {}): Promise<Json> {
  const qs = new URLSearchParams(params).toString();
  return ok(`/_matrix/client/v3/sync${qs ? `?${qs}` : ""}`, u);
}

export async function receipt(u: TestUser, roomId: string, eventId: string, type = "m.read", body: Json = {}): Promise<void> {
  await ok(`/_matrix/client/v3/rooms/${enc(roomId)}/receipt/${type}/${enc(eventId)}`, u, { method: "POST", json: body });
}
