/** Helpers for the typing, receipts, presence and account data tests. */
import { callJson, type TestUser } from "./helpers.js";

export type Json = Record<string, any>;

export interface SyncBody {
  next_batch: string;
  rooms: { join: Record<string, Json>; invite: Record<string, Json>; leave: Record<string, Json> };
  presence: { events: Json[] };
  account_data: { events: Json[] };
}

export const enc = encodeURIComponent;

export async function syncOf(u: TestUser, qs = ""): Promise<SyncBody> {
  const r = await callJson<SyncBody>(`/_matrix/client/v3/sync${qs}`, { token: u.accessToken });
  if (r.status !== 200) throw new Error(`sync ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** An incremental sync after `since` (optionally a long-poll). */
export function syncSince(u: TestUser, since: string, extra = ""): Promise<SyncBody> {
  return syncOf(u, `?since=${since}${extra}`);
}

export async function createRoom(u: TestUser, body: Record<string, unknown> = {}): Promise<string> {
  const r = await callJson<{ room_id: string }>("/_matrix/client/v3/createRoom", { method: "POST", token: u.accessToken, json: body });
  if (r.status !== 200) throw new Error(`createRoom ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.room_id;
}

export async function join(u: TestUser, roomId: string): Promise<void> {
  const r = await callJson(`/_matrix/client/v3/join/${enc(roomId)}`, { method: "POST", token: u.accessToken, json: {} });
  if (r.status !== 200) throw new Error(`join ${r.status} ${JSON.stringify(r.body)}`);
}

export async function leave(u: TestUser, roomId: string): Promise<void> {
  const r = await callJson(`/_matrix/client/v3/rooms/${enc(roomId)}/leave`, { method: "POST", token: u.accessToken, json: {} });
  if (r.status !== 200) throw new Error(`leave ${r.status} ${JSON.stringify(r.body)}`);
}

export async function send(u: TestUser, roomId: string, content: Json, type = "m.room.message"): Promise<string> {
  const r = await callJson<{ event_id: string }>(`/_matrix/client/v3/rooms/${enc(roomId)}/send/${type}/${crypto.randomUUID()}`, {
    method: "PUT",
    token: u.accessToken,
    json: content,
  });
  if (r.status !== 200) throw new Error(`send ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.event_id;
}

export const text = (u: TestUser, roomId: string, body: string) => send(u, roomId, { msgtype: "m.text", body });

/** A public room of `owner` that every other user has joined. */
export async function sharedRoom(owner: TestUser, ...others: TestUser[]): Promise<string> {
  const roomId = await createRoom(owner, { preset: "public_chat" });
  for (const u of others) await join(u, roomId);
  return roomId;
}

export function ephemeralOf(s: SyncBody, roomId: string, type: string): Json[] {
  return ((s.rooms.join[roomId]?.ephemeral?.events ?? []) as Json[]).filter((e) => e.type === type);
}

export function roomAccountData(s: SyncBody, roomId: string): Json[] {
  return (s.rooms.join[roomId]?.account_data?.events ?? []) as Json[];
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a value (or the deadline passes). */
export async function eventually<T>(fn: () => Promise<T | undefined>, timeoutMs = 10_000, stepMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await sleep(stepMs);
  }
}
