import { describe, expect, it } from "vitest";
import { createApp } from "../../workers/app.js";
import { call, callJson, registerUser } from "./helpers.js";

function b64decode(s: string): Uint8Array {
  const bin = atob(s.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (s.length % 4)) % 4));
  return Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
}

/** Canonical JSON written independently of src/ for the verification below (sorted keys, no spaces). */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object") {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(",")}}`;
  }
  return JSON.stringify(v);
}

describe("discovery and versions", () => {
  it("GET /_matrix/client/versions lists spec versions", async () => {
    const { status, body } = await callJson<{ versions: string[]; unstable_features: Record<string, boolean> }>(
      "/_matrix/client/versions",
    );
    expect(status).toBe(200);
    expect(body.versions.length).toBeGreaterThan(0);
    for (const v of body.versions) expect(v).toMatch(/^v1\.\d+$/);
    expect(typeof body.unstable_features).toBe("object");
  });

  it("serves /.well-known/matrix/client and /server", async () => {
    const client = await callJson<{ "m.homeserver": { base_url: string } }>("/.well-known/matrix/client");
    expect(client.status).toBe(200);
    expect(client.body["m.homeserver"].base_url).toBe("http://localhost:8008");
    expect(client.res.headers.get("access-control-allow-origin")).toBe("*");
    const server = await callJson<{ "m.server": string }>("/.well-known/matrix/server");
    expect(server.body["m.server"]).toBe("localhost:8008");
  });

  it("GET /_matrix/federation/v1/version names the implementation", async () => {
    const { status, body } = await callJson<{ server: { name: string; version: string } }>("/_matrix/federation/v1/version");
    expect(status).toBe(200);
    expect(body.server.name).toBeTruthy();
    expect(body.server.version).toBeTruthy();
  });
});

describe("server keys", () => {
  it("publishes a self-signed ed25519 key that WebCrypto verifies", async () => {
    const { status, body } = await callJson<{
      server_name: string;
      valid_until_ts: number;
      verify_keys: Record<string, { key: string }>;
      old_verify_keys: Record<string, unknown>;
      signatures: Record<string, Record<string, string>>;
    }>("/_matrix/key/v2/server");
    expect(status).toBe(200);
    expect(body.server_name).toBe("localhost:8008");
    expect(body.valid_until_ts).toBeGreaterThan(Date.now());
    expect(body.old_verify_keys).toEqual({});
    const [keyId, ...more] = Object.keys(body.verify_keys);
    expect(more).toHaveLength(0);
    expect(keyId).toMatch(/^ed25519:[a-zA-Z0-9_]+$/);
    const sig = body.signatures["localhost:8008"]?.[keyId!];
    expect(sig).toBeTruthy();

    const { signatures: _s, ...unsigned } = body;
    const key = await crypto.subtle.importKey("raw", b64decode(body.verify_keys[keyId!]!.key), { name: "Ed25519" }, false, ["verify"]);
    const message = new TextEncoder().encode(canonical(unsigned));
    expect(await crypto.subtle.verify("Ed25519", key, b64decode(sig!), message)).toBe(true);
    // A tampered body must not verify.
    const tampered = new TextEncoder().encode(canonical({ ...unsigned, valid_until_ts: 1 }));
    expect(await crypto.subtle.verify("Ed25519", key, b64decode(sig!), tampered)).toBe(false);
  });

  it("keeps the same key across requests", async () => {
    const a = await callJson<{ verify_keys: Record<string, unknown> }>("/_matrix/key/v2/server");
    const b = await callJson<{ verify_keys: Record<string, unknown> }>("/_matrix/key/v2/server");
    expect(Object.keys(a.body.verify_keys)).toEqual(Object.keys(b.body.verify_keys));
    // The older path with a key id (dropped from the spec, still asked by older servers) answers the same.
    const byId = await callJson<{ verify_keys: Record<string, unknown> }>(`/_matrix/key/v2/server/${encodeURIComponent(Object.keys(a.body.verify_keys)[0]!)}`);
    expect(byId.body.verify_keys).toEqual(a.body.verify_keys);
  });

  it("answers notary queries for itself and nothing for unknown servers", async () => {
    const own = await callJson<{ server_keys: { server_name: string }[] }>("/_matrix/key/v2/query", {
      method: "POST",
      json: { server_keys: { "localhost:8008": {}, "unreachable.example": {} } },
    });
    expect(own.status).toBe(200);
    expect(own.body.server_keys.map((k) => k.server_name)).toEqual(["localhost:8008"]);
    const get = await callJson<{ server_keys: unknown[] }>("/_matrix/key/v2/query/unreachable.example");
    expect(get.body.server_keys).toEqual([]);
  });
});

describe("one error path", () => {
  it("unknown endpoints are 404 M_UNRECOGNIZED", async () => {
    for (const path of ["/_matrix/client/v3/nope", "/nope", "/_matrix/federation/v1/nope"]) {
      const { status, body } = await callJson(path);
      expect(status).toBe(404);
      expect(body).toMatchObject({ errcode: "M_UNRECOGNIZED" });
      expect(typeof body.error).toBe("string");
    }
  });

  it("known path with the wrong method is 405 M_UNRECOGNIZED", async () => {
    const { status, body, res } = await callJson("/_matrix/client/versions", { method: "POST", body: "{}" });
    expect(status).toBe(405);
    expect(body).toMatchObject({ errcode: "M_UNRECOGNIZED" });
    expect(res.headers.get("allow")).toContain("GET");
    const del = await callJson("/_matrix/key/v2/query", { method: "DELETE" });
    expect(del.status).toBe(405);
  });

  it("unparsable bodies are 400 M_NOT_JSON", async () => {
    for (const body of ["{", "not json", "", "\xff\xfe"]) {
      const r = await callJson("/_matrix/key/v2/query", { method: "POST", body });
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ errcode: "M_NOT_JSON" });
    }
    const invalidUtf8 = await callJson("/_matrix/key/v2/query", { method: "POST", body: new Uint8Array([0x7b, 0xc3, 0x28, 0x7d]) });
    expect(invalidUtf8.body).toMatchObject({ errcode: "M_NOT_JSON" });
  });

  it("valid JSON of the wrong shape is 400 M_BAD_JSON", async () => {
    for (const json of [[], 1, "x", null, { server_keys: 5 }, { server_keys: { a: { b: { minimum_valid_until_ts: "x" } } } }]) {
      const r = await callJson("/_matrix/key/v2/query", { method: "POST", json });
      expect(r.status).toBe(400);
      expect(r.body).toMatchObject({ errcode: "M_BAD_JSON" });
    }
  });

  it("an object without a required key is 400 M_MISSING_PARAM", async () => {
    // server_keys is required (server-server-api "POST /_matrix/key/v2/query").
    const r = await callJson("/_matrix/key/v2/query", { method: "POST", json: {} });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ errcode: "M_MISSING_PARAM" });
  });

  it("bodies over the limit are 413 M_TOO_LARGE, with or without Content-Length", async () => {
    const big = JSON.stringify({ server_keys: {}, pad: "x".repeat(1_100_000) });
    const r = await callJson("/_matrix/key/v2/query", { method: "POST", body: big });
    expect(r.status).toBe(413);
    expect(r.body).toMatchObject({ errcode: "M_TOO_LARGE" });
    const chunks = new ReadableStream<Uint8Array>({
      start(ctrl) {
        for (let i = 0; i < 12; i++) ctrl.enqueue(new TextEncoder().encode("x".repeat(100_000)));
        ctrl.close();
      },
    });
    const streamed = await callJson("/_matrix/key/v2/query", { method: "POST", body: chunks, duplex: "half" } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(streamed.body).toMatchObject({ errcode: "M_TOO_LARGE" });
  });

  it("query parameters of the wrong type are 400 M_INVALID_PARAM", async () => {
    const r = await callJson("/_matrix/key/v2/query/localhost:8008?minimum_valid_until_ts=soon");
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ errcode: "M_INVALID_PARAM" });
  });

  it("rate limits answer 429 M_LIMIT_EXCEEDED with retry_after_ms", async () => {
    const ip = "192.0.2.77";
    let limited: Response | undefined;
    // The binding counts in fixed windows: one window boundary may reset the count, so keep
    // sending (20 at a time; the test limit is 400 per minute) until a whole window has passed.
    // Bounded by time, not by count: under `npm run coverage` requests are several times slower.
    const deadline = Date.now() + 125_000;
    while (!limited && Date.now() < deadline) {
      const batch = await Promise.all(Array.from({ length: 20 }, () => call("/_matrix/client/versions", { ip })));
      for (const res of batch) {
        if (res.status === 429 && !limited) limited = res;
        else await res.arrayBuffer();
      }
    }
    expect(limited).toBeDefined();
    const body = (await limited!.json()) as { errcode: string; retry_after_ms: number };
    expect(body.errcode).toBe("M_LIMIT_EXCEEDED");
    expect(body.retry_after_ms).toBeGreaterThan(0);
    // Another client is not affected.
    expect((await call("/_matrix/client/versions", { ip: "192.0.2.78" })).status).toBe(200);
  }, 150_000);
});

describe("CORS", () => {
  it("answers preflight on any path without running endpoint logic", async () => {
    for (const path of ["/_matrix/client/versions", "/_matrix/client/v3/rooms/!x:y/send/m.room.message/1", "/_matrix/key/v2/query"]) {
      const res = await call(path, { method: "OPTIONS", headers: { Origin: "https://app.element.io", "Access-Control-Request-Method": "PUT" } });
      expect(res.status).toBe(204);
      expect(res.headers.get("access-control-allow-origin")).toBe("*");
      expect(res.headers.get("access-control-allow-methods")).toContain("PUT");
      expect(res.headers.get("access-control-allow-headers")).toContain("Authorization");
    }
  });

  it("puts CORS headers on errors too", async () => {
    const res = await call("/_matrix/client/v3/unknown");
    expect(res.status).toBe(404);
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
  });
});

describe("routing", () => {
  it("every route fits Hono's RegExpRouter (a parameter beside static siblings would drop every request to the slower trie router)", () => {
    const app = createApp();
    app.router.match("GET", "/_matrix/client/v3/sync");
    expect((app.router as unknown as { activeRouter: { name: string } }).activeRouter.name).toBe("RegExpRouter");
  });

  it("/r0/ paths are served as their /v3/ twins, client and media", async () => {
    const u = await registerUser();
    expect((await callJson<{ user_id: string }>("/_matrix/client/r0/account/whoami", { token: u.accessToken })).body.user_id).toBe(u.userId);
    const config = await callJson<{ "m.upload.size": number }>("/_matrix/media/r0/config", { token: u.accessToken });
    expect(config.status).toBe(200);
    expect(config.body["m.upload.size"]).toBeGreaterThan(0);
    // Only the version segment is mapped: an unknown version is not a route.
    expect((await call("/_matrix/client/r1/account/whoami", { token: u.accessToken })).status).toBe(404);
  });
});
