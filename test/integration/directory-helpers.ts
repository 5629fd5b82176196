import { sharedSecretRegister } from "./admin-helpers.js";
import { type TestUser, callJson, registerUser } from "./helpers.js";

/** Helpers for the directory, alias, summary, hierarchy, upgrade and report tests. */

export const SERVER = "localhost:8008";
export const enc = encodeURIComponent;

export async function createRoom(token: string, body: Record<string, unknown> = {}): Promise<string> {
  const r = await callJson<{ room_id: string }>("/_matrix/client/v3/createRoom", { method: "POST", token, json: body });
  if (r.status !== 200) throw new Error(`createRoom ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.room_id;
}

export async function putState(token: string, roomId: string, type: string, content: Record<string, unknown>, stateKey = "") {
  return callJson<{ event_id: string; errcode?: string }>(`/_matrix/client/v3/rooms/${enc(roomId)}/state/${enc(type)}/${enc(stateKey)}`, {
    method: "PUT",
    token,
    json: content,
  });
}

export async function mustPutState(token: string, roomId: string, type: string, content: Record<string, unknown>, stateKey = ""): Promise<string> {
  const r = await putState(token, roomId, type, content, stateKey);
  if (r.status !== 200) throw new Error(`state ${type} ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.event_id;
}

let txn = 0;
export async function sendMessage(token: string, roomId: string, body: string): Promise<string> {
  const r = await callJson<{ event_id: string }>(`/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/dt${txn++}`, {
    method: "PUT",
    token,
    json: { msgtype: "m.text", body },
  });
  if (r.status !== 200) throw new Error(`send ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.event_id;
}

export async function join(token: string, roomIdOrAlias: string) {
  return callJson(`/_matrix/client/v3/join/${enc(roomIdOrAlias)}`, { method: "POST", token, json: {} });
}

export async function mustJoin(token: string, roomIdOrAlias: string): Promise<void> {
  const r = await join(token, roomIdOrAlias);
  if (r.status !== 200) throw new Error(`join ${r.status} ${JSON.stringify(r.body)}`);
}

export async function invite(token: string, roomId: string, userId: string): Promise<void> {
  const r = await callJson(`/_matrix/client/v3/rooms/${enc(roomId)}/invite`, { method: "POST", token, json: { user_id: userId } });
  if (r.status !== 200) throw new Error(`invite ${r.status} ${JSON.stringify(r.body)}`);
}

let admins = 0;
/** A server admin, registered the way Synapse's register_new_matrix_user does. */
export async function registerAdmin(): Promise<TestUser> {
  const username = `dadmin${Date.now().toString(36)}${admins++}`;
  const r = await sharedSecretRegister(username, "admin password", true);
  if (r.status !== 200) throw new Error(`admin ${r.status} ${JSON.stringify(r.body)}`);
  return { userId: r.body.user_id, accessToken: r.body.access_token, deviceId: r.body.device_id, password: "admin password" };
}

export { callJson, registerUser, type TestUser };
