import { exports } from "cloudflare:workers";

/** A fresh client address per request unless a test names one, so per-IP rate limits only bite where a test means them to. */
const randomIp = () => `10.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`;

export const BASE = "http://localhost:8008";

export interface CallInit extends RequestInit {
  ip?: string;
  token?: string;
  json?: unknown;
}

/** Sends a request through the real Worker entry point. */
export async function call(path: string, init: CallInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("cf-connecting-ip", init.ip ?? randomIp());
  if (init.token) headers.set("Authorization", `Bearer ${init.token}`);
  let body = init.body;
  if (init.json !== undefined) {
    body = JSON.stringify(init.json);
    headers.set("Content-Type", "application/json");
  }
  return exports.default.fetch(new Request(`${BASE}${path}`, { ...init, headers, body }));
}

export async function callJson<T = Record<string, unknown>>(path: string, init: CallInit = {}): Promise<{ status: number; body: T; res: Response }> {
  const res = await call(path, init);
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T, res };
}

export interface TestUser {
  userId: string;
  accessToken: string;
  deviceId: string;
  password: string;
}

let counter = 0;

/** Registers a user through the real UIA flow of an open server (dummy stage). */
export async function registerUser(localpart?: string, opts: { password?: string; ip?: string } = {}): Promise<TestUser> {
  const username = localpart ?? `user${Date.now().toString(36)}${(counter++).toString(36)}`;
  const password = opts.password ?? "correct horse battery staple";
  const first = await callJson<{ session: string }>("/_matrix/client/v3/register", {
    method: "POST",
    json: { username, password },
    ...(opts.ip ? { ip: opts.ip } : {}),
  });
  if (first.status !== 401) throw new Error(`register: expected 401, got ${first.status} ${JSON.stringify(first.body)}`);
  const done = await callJson<{ user_id: string; access_token: string; device_id: string }>("/_matrix/client/v3/register", {
    method: "POST",
    json: { username, password, auth: { type: "m.login.dummy", session: first.body.session } },
    ...(opts.ip ? { ip: opts.ip } : {}),
  });
  if (done.status !== 200) throw new Error(`register: ${done.status} ${JSON.stringify(done.body)}`);
  return { userId: done.body.user_id, accessToken: done.body.access_token, deviceId: done.body.device_id, password };
}

/** Logs in with a password; returns the raw login response body. */
export async function login(user: string, password: string, extra: Record<string, unknown> = {}) {
  return callJson<{ user_id: string; access_token: string; device_id: string; refresh_token?: string; expires_in_ms?: number }>(
    "/_matrix/client/v3/login",
    { method: "POST", json: { type: "m.login.password", identifier: { type: "m.id.user", user }, password, ...extra } },
  );
}
