/**
 * No 5xx for bad input, on every route the app serves: garbage path parameters,
 * unparsable bodies, JSON of the wrong shape, wrong types everywhere. A 500 is a
 * bug by definition (README "Design": errors).
 */
import { env as workerEnv } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { decodeBase64 } from "../../src/base64.js";
import { signRequest } from "../../src/x-matrix.js";
import { createApp } from "../../workers/app.js";
import type { Env } from "../../services/env.js";
import { call, registerUser } from "./helpers.js";

const env = workerEnv as unknown as Env;
const SERVER = "localhost:8008";

/** Federation routes are signed with this server's own key (X-Matrix), so they too are exercised past authentication. */
async function federationSigner(): Promise<(method: string, path: string, body: string | undefined) => string> {
  await call("/_matrix/key/v2/server");
  const row = await env.DB.prepare("SELECT key_id, seed FROM server_signing_keys WHERE expired_ts IS NULL").first<{ key_id: string; seed: string }>();
  const seed = decodeBase64(row!.seed);
  return (method, path, body) => {
    let content: unknown;
    try {
      content = body === undefined ? undefined : JSON.parse(body);
    } catch {
      content = undefined;
    }
    const uri = new URL(path, "http://x").pathname + new URL(path, "http://x").search;
    const request = { method, uri, origin: SERVER, destination: SERVER };
    try {
      return signRequest({ ...request, ...(content === undefined ? {} : { content: content as never }) }, row!.key_id, seed);
    } catch {
      // Content canonical JSON cannot hold (hostile bodies below): signed without it, the server must still answer 4xx.
      return signRequest(request, row!.key_id, seed);
    }
  };
}

const PARAM_VALUES = ["x", "!nope:localhost:8008", "@nobody:localhost:8008%00", "a".repeat(300)];
const BODIES: Array<string | undefined> = [
  "{",
  "[]",
  '{"a":{"b":[1,2,{"c":null}]}}',
  JSON.stringify({ auth: 5, user_id: 7, content: "x", device_keys: [], one_time_keys: "k", type: 1, body: {}, rooms: 3, filter: [] }),
  // Hostile JSON (test/integration/hostile-json.test.ts has the exact answers): numbers JSON.parse
  // makes Infinity, and nesting far past any recursive function's stack.
  `{"n":${"9".repeat(400)},"m":1e400,"a":${'{"a":'.repeat(6_000)}1${"}".repeat(6_000)}}`,
];

function fill(path: string, value: string): string {
  return path
    .replace(/:[A-Za-z]+\{[^}]+\}/g, (m) => (m.includes("v3|r0") ? "v3" : m.includes("email|msisdn") ? "email" : value))
    .replace(/:[A-Za-z]+/g, value)
    .replace(/\*/g, value);
}

describe("robustness", () => {
  it("never answers 5xx to bad input on any route", async () => {
    const user = await registerUser();
    const sign = await federationSigner();
    const routes = createApp()
      // Logging out or deactivating would end the session the rest of the run uses.
      .routes.filter((r) => r.method !== "ALL" && !/logout|deactivate/.test(r.path))
      .map((r) => ({ method: r.method, path: r.path }));
    const seen = new Set<string>();
    const failures: string[] = [];
    const unauthorised: string[] = [];
    for (const r of routes) {
      for (const value of PARAM_VALUES) {
        const path = fill(r.path, value);
        const bodies = r.method === "GET" || r.method === "DELETE" ? [undefined] : value === "x" ? BODIES : BODIES.slice(0, 1);
        await Promise.all(
          bodies.map(async (body) => {
            const key = `${r.method} ${path} ${body}`;
            if (seen.has(key)) return;
            seen.add(key);
            const federation = path.startsWith("/_matrix/federation/") && !/\/version$|openid\/userinfo/.test(path);
            const res = federation
              ? await call(path, { method: r.method, body, headers: { "Content-Type": "application/json", Authorization: sign(r.method, path, body) } })
              : await call(path, { method: r.method, body, token: user.accessToken, headers: { "Content-Type": "application/json" } });
            await res.arrayBuffer();
            if (res.status === 401 && !/register|login|refresh|openid\/userinfo|admin\/v1\/register|media\/v3\/(download|thumbnail)|key\/v2|well-known|versions/.test(path)) {
              unauthorised.push(`${r.method} ${path}`);
            }
            if (res.status >= 500) failures.push(`${r.method} ${path} body=${body?.slice(0, 40)} → ${res.status}`);
          }),
        );
      }
    }
    expect(failures).toEqual([]);
    // The session stayed valid throughout, so every route was exercised past authentication.
    expect(unauthorised.slice(0, 5)).toEqual([]);
    expect(seen.size).toBeGreaterThan(100);
  }, 300_000);
});
