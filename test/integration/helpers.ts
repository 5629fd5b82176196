import { exports } from "cloudflare:workers";

/** A client address unique to this test file, so per-IP rate limits never leak between files. */
const fileIp = `10.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`;

export const BASE = "http://localhost:8008";

export interface CallInit extends RequestInit {
  ip?: string;
  token?: string;
  json?: unknown;
}

/** Sends a request through the real Worker entry point. */
export async function call(path: string, init: CallInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("cf-connecting-ip", init.ip ?? fileIp);
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
