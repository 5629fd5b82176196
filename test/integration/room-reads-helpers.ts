/** Helpers for the room read tests (room-reads*.test.ts, relations*.test.ts). */
import { callJson, type TestUser } from "./helpers.js";

export type Ev = Record<string, any>;

export const enc = encodeURIComponent;
export const v3 = (roomId: string, rest: string) => `/_matrix/client/v3/rooms/${enc(roomId)}/${rest}`;
export const v1 = (roomId: string, rest: string) => `/_matrix/client/v1/rooms/${enc(roomId)}/${rest}`;

export async function createRoom(u: TestUser, body: Record<string, unknown> = {}): Promise<string> {
  const r = await callJson<{ room_id: string }>("/_matrix/client/v3/createRoom", { method: "POST", token: u.accessToken, json: body });
  if (r.status !== 200) throw new Error(`createRoom ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.room_id;
}

export async function sendEvent(u: TestUser, roomId: string, content: Record<string, unknown>, type = "m.room.message"): Promise<string> {
  const r = await callJson<{ event_id: string }>(v3(roomId, `send/${enc(type)}/${crypto.randomUUID()}`), { method: "PUT", token: u.accessToken, json: content });
  if (r.status !== 200) throw new Error(`send ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.event_id;
}

export const text = (u: TestUser, roomId: string, body: string) => sendEvent(u, roomId, { msgtype: "m.text", body });

export async function setState(u: TestUser, roomId: string, type: string, stateKey: string, content: Record<string, unknown>): Promise<string> {
  const r = await callJson<{ event_id: string }>(v3(roomId, `state/${enc(type)}/${enc(stateKey)}`), { method: "PUT", token: u.accessToken, json: content });
  if (r.status !== 200) throw new Error(`state ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.event_id;
}

export async function membership(u: TestUser, roomId: string, action: "join" | "leave" | "forget"): Promise<void> {
  const r = await callJson(v3(roomId, action), { method: "POST", token: u.accessToken, json: {} });
  if (r.status !== 200) throw new Error(`${action} ${r.status} ${JSON.stringify(r.body)}`);
}

export async function invite(u: TestUser, roomId: string, target: TestUser): Promise<void> {
  const r = await callJson(v3(roomId, "invite"), { method: "POST", token: u.accessToken, json: { user_id: target.userId } });
  if (r.status !== 200) throw new Error(`invite ${r.status} ${JSON.stringify(r.body)}`);
}

export async function redact(u: TestUser, roomId: string, eventId: string): Promise<string> {
  const r = await callJson<{ event_id: string }>(v3(roomId, `redact/${enc(eventId)}/${crypto.randomUUID()}`), { method: "PUT", token: u.accessToken, json: {} });
  if (r.status !== 200) throw new Error(`redact ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.event_id;
}

export async function get<T = Ev>(u: TestUser, path: string): Promise<{ status: number; body: T }> {
  const r = await callJson<T>(path, { token: u.accessToken });
  return { status: r.status, body: r.body };
}

/** GET that must succeed. */
export async function ok<T = Ev>(u: TestUser, path: string): Promise<T> {
  const r = await get<T>(u, path);
  if (r.status !== 200) throw new Error(`GET ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

export interface MessagesPage {
  start: string;
  end?: string;
  chunk: Ev[];
  state?: Ev[];
}

export function messages(u: TestUser, roomId: string, qs: Record<string, string | number | undefined>) {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(qs)) if (v !== undefined) params.set(k, String(v));
  return get<MessagesPage>(u, v3(roomId, `messages?${params}`));
}

/** Follows `end` until it is omitted; returns every event in order of arrival. */
export async function paginateAll(u: TestUser, roomId: string, dir: "b" | "f", qs: Record<string, string | number | undefined> = {}): Promise<Ev[]> {
  const out: Ev[] = [];
  let from = qs.from as string | undefined;
  for (let i = 0; i < 100; i++) {
    const r = await messages(u, roomId, { ...qs, dir, from });
    if (r.status !== 200) throw new Error(`messages ${r.status} ${JSON.stringify(r.body)}`);
    out.push(...r.body.chunk);
    if (r.body.end === undefined) return out;
    from = r.body.end;
  }
  throw new Error("pagination did not end");
}

export const ids = (events: Ev[]) => events.map((e) => e.event_id as string);
export const bodies = (events: Ev[]) => events.filter((e) => e.type === "m.room.message").map((e) => e.content.body as string);
