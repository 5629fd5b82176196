import { env as workerEnv } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { deleteMedia, quarantineMedia, quarantineMediaByUser, unquarantineMedia } from "../../r2/media-store.js";
import { MEDIA_CSP } from "../../r2/serve.js";
import type { Env } from "../../services/env.js";
import { call, callJson, registerUser, type TestUser } from "./helpers.js";

const env = workerEnv as unknown as Env;

const SERVER = "localhost:8008";
const enc = new TextEncoder();

let alice: TestUser;
let bob: TestUser;

// Registration hashes passwords (PBKDF2): slow on a loaded 2-core machine.
beforeAll(async () => {
  alice = await registerUser();
  bob = await registerUser();
}, 60_000);

async function upload(token: string, body: BodyInit, contentType?: string, filename?: string): Promise<string> {
  const q = filename === undefined ? "" : `?filename=${encodeURIComponent(filename)}`;
  const headers: Record<string, string> = contentType ? { "Content-Type": contentType } : {};
  const r = await callJson<{ content_uri: string }>(`/_matrix/media/v3/upload${q}`, { method: "POST", token, body, headers });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  expect(r.body.content_uri).toMatch(/^mxc:\/\/localhost:8008\/[A-Za-z0-9_-]+$/);
  return r.body.content_uri.split("/").pop()!;
}

describe("upload and authenticated download", () => {
  it("round-trips bytes, type and file name with the spec's headers", async () => {
    const id = await upload(alice.accessToken, enc.encode("hello world"), "text/plain", "hello.txt");
    const res = await call(`/_matrix/client/v1/media/download/${SERVER}/${id}`, { token: bob.accessToken });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("hello world");
    expect(res.headers.get("content-type")).toBe("text/plain");
    expect(res.headers.get("content-disposition")).toBe("inline; filename=hello.txt");
    expect(res.headers.get("content-security-policy")).toBe(MEDIA_CSP);
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("cross-origin-resource-policy")).toBe("cross-origin");
    expect(res.headers.get("cache-control")).toContain("immutable");
    expect(res.headers.get("cache-control")).toContain("private");
    expect(res.headers.get("content-length")).toBe("11");
    expect(res.headers.get("accept-ranges")).toBe("bytes");
    expect(res.headers.get("access-control-allow-origin")).toBe("*");
  });

  it("serves unsafe types as attachment, overrides the file name, encodes non-ASCII names", async () => {
    const id = await upload(alice.accessToken, enc.encode("<script>alert(1)</script>"), "text/html", "page.html");
    const res = await call(`/_matrix/client/v1/media/download/${SERVER}/${id}`, { token: alice.accessToken });
    expect(res.headers.get("content-type")).toBe("text/html");
    expect(res.headers.get("content-disposition")).toBe("attachment; filename=page.html");
    await res.arrayBuffer();
    const renamed = await call(`/_matrix/client/v1/media/download/${SERVER}/${id}/${encodeURIComponent("Grüße 1.html")}`, { token: alice.accessToken });
    expect(renamed.headers.get("content-disposition")).toBe("attachment; filename*=utf-8''Gr%C3%BC%C3%9Fe%201.html");
    await renamed.arrayBuffer();
  });

  it("defaults to application/octet-stream and no file name", async () => {
    const id = await upload(alice.accessToken, new Uint8Array([1, 2, 3]));
    const res = await call(`/_matrix/client/v1/media/download/${SERVER}/${id}`, { token: alice.accessToken });
    expect(res.headers.get("content-type")).toBe("application/octet-stream");
    expect(res.headers.get("content-disposition")).toBe("attachment");
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(new Uint8Array([1, 2, 3]));
  });

  it("accepts a streamed body without Content-Length", async () => {
    const stream = new ReadableStream<Uint8Array>({
      start(ctrl) {
        for (let i = 0; i < 10; i++) ctrl.enqueue(enc.encode(`chunk${i};`));
        ctrl.close();
      },
    });
    const r = await callJson<{ content_uri: string }>("/_matrix/media/v3/upload", { method: "POST", token: alice.accessToken, body: stream, duplex: "half" } as RequestInit);
    expect(r.status).toBe(200);
    const id = r.body.content_uri.split("/").pop()!;
    const res = await call(`/_matrix/client/v1/media/download/${SERVER}/${id}`, { token: alice.accessToken });
    expect(await res.text()).toBe(Array.from({ length: 10 }, (_, i) => `chunk${i};`).join(""));
  });

  it("needs an access token on the authenticated endpoints and for uploads", async () => {
    const id = await upload(alice.accessToken, enc.encode("x"), "text/plain");
    for (const path of [`/_matrix/client/v1/media/download/${SERVER}/${id}`, `/_matrix/client/v1/media/thumbnail/${SERVER}/${id}?width=32&height=32`, "/_matrix/client/v1/media/config", "/_matrix/client/v1/media/preview_url?url=https://example.com/"]) {
      const r = await callJson(path);
      expect(r.status, path).toBe(401);
      expect(r.body).toMatchObject({ errcode: "M_MISSING_TOKEN" });
    }
    const bad = await callJson(`/_matrix/client/v1/media/download/${SERVER}/${id}`, { token: "nope" });
    expect(bad.body).toMatchObject({ errcode: "M_UNKNOWN_TOKEN" });
    const up = await callJson("/_matrix/media/v3/upload", { method: "POST", body: "x" });
    expect(up.status).toBe(401);
    // The deprecated access_token query parameter still authenticates.
    const q = await call(`/_matrix/client/v1/media/download/${SERVER}/${id}?access_token=${alice.accessToken}`);
    expect(q.status).toBe(200);
    await q.arrayBuffer();
  });

  it("accepts allow_redirect and allow_remote, and validates them", async () => {
    const id = await upload(alice.accessToken, enc.encode("params"), "text/plain");
    const ok = await call(`/_matrix/client/v1/media/download/${SERVER}/${id}?allow_redirect=true`, { token: alice.accessToken });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe("params");
    const bad = await callJson(`/_matrix/client/v1/media/download/${SERVER}/${id}?allow_redirect=maybe`, { token: alice.accessToken });
    expect(bad.body).toMatchObject({ errcode: "M_INVALID_PARAM" });
    const legacy = await callJson(`/_matrix/media/v3/download/matrix.org/abc?allow_remote=false`);
    expect(legacy.status).toBe(404);
  });

  it("answers M_NOT_FOUND for unknown, malformed and remote ids", async () => {
    for (const path of [`${SERVER}/doesnotexist`, `${SERVER}/bad.id`, `${SERVER}/..%2F..%2Fetc`, "matrix.org/abcdef", "not_a_server!/abc"]) {
      const r = await callJson(`/_matrix/client/v1/media/download/${path}`, { token: alice.accessToken });
      expect(r.status, path).toBe(404);
      expect(r.body).toMatchObject({ errcode: "M_NOT_FOUND" });
    }
  });

  it("advertises m.upload.size and refuses larger uploads with 413 M_TOO_LARGE, with or without Content-Length", async () => {
    const cfg = await callJson<{ "m.upload.size": number }>("/_matrix/client/v1/media/config", { token: alice.accessToken });
    expect(cfg.body["m.upload.size"]).toBe(50 * 1024 * 1024);
    const legacyCfg = await callJson<{ "m.upload.size": number }>("/_matrix/media/v3/config", { token: alice.accessToken });
    expect(legacyCfg.body).toEqual(cfg.body);
    const declared = await callJson("/_matrix/media/v3/upload", {
      method: "POST",
      token: alice.accessToken,
      body: new Uint8Array(50 * 1024 * 1024 + 1),
    });
    expect(declared.status).toBe(413);
    expect(declared.body).toMatchObject({ errcode: "M_TOO_LARGE" });
    const chunk = new Uint8Array(1024 * 1024);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(ctrl) {
        if (sent++ >= 51) ctrl.close();
        else ctrl.enqueue(chunk);
      },
    });
    const streamed = await callJson("/_matrix/media/v3/upload", { method: "POST", token: alice.accessToken, body: stream, duplex: "half" } as RequestInit);
    expect(streamed.status).toBe(413);
    expect(streamed.body).toMatchObject({ errcode: "M_TOO_LARGE" });
  });
});

describe("Range and conditional requests", () => {
  let id: string;
  const body = Uint8Array.from({ length: 1000 }, (_, i) => i % 251);
  beforeAll(async () => {
    id = await upload(alice.accessToken, body, "application/octet-stream", "data.bin");
  });

  it("serves 206 with Content-Range", async () => {
    const res = await call(`/_matrix/client/v1/media/download/${SERVER}/${id}`, { token: alice.accessToken, headers: { Range: "bytes=10-19" } });
    expect(res.status).toBe(206);
    expect(res.headers.get("content-range")).toBe("bytes 10-19/1000");
    expect(res.headers.get("content-length")).toBe("10");
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(body.slice(10, 20));
    const suffix = await call(`/_matrix/client/v1/media/download/${SERVER}/${id}`, { token: alice.accessToken, headers: { Range: "bytes=-5" } });
    expect(suffix.status).toBe(206);
    expect(suffix.headers.get("content-range")).toBe("bytes 995-999/1000");
    expect(new Uint8Array(await suffix.arrayBuffer())).toEqual(body.slice(995));
  });

  it("answers 416 for a range past the end", async () => {
    const res = await call(`/_matrix/client/v1/media/download/${SERVER}/${id}`, { token: alice.accessToken, headers: { Range: "bytes=1000-" } });
    expect(res.status).toBe(416);
    expect(res.headers.get("content-range")).toBe("bytes */1000");
    await res.arrayBuffer();
  });

  it("answers 304 to a matching If-None-Match, and HEAD without a body", async () => {
    const first = await call(`/_matrix/client/v1/media/download/${SERVER}/${id}`, { token: alice.accessToken });
    const etag = first.headers.get("etag")!;
    await first.arrayBuffer();
    const again = await call(`/_matrix/client/v1/media/download/${SERVER}/${id}`, { token: alice.accessToken, headers: { "If-None-Match": etag } });
    expect(again.status).toBe(304);
    const head = await call(`/_matrix/client/v1/media/download/${SERVER}/${id}`, { token: alice.accessToken, method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe("1000");
    expect((await head.arrayBuffer()).byteLength).toBe(0);
  });
});

describe("async upload (create, then PUT)", () => {
  it("creates an id that expires, uploads once, and downloads", async () => {
    const before = Date.now();
    const created = await callJson<{ content_uri: string; unused_expires_at: number }>("/_matrix/media/v1/create", { method: "POST", token: alice.accessToken, json: {} });
    expect(created.status).toBe(200);
    expect(created.body.unused_expires_at).toBeGreaterThanOrEqual(before + 24 * 3600 * 1000 - 1000);
    const id = created.body.content_uri.split("/").pop()!;

    // Not yet uploaded: 504 M_NOT_YET_UPLOADED after timeout_ms.
    const t0 = Date.now();
    const early = await callJson(`/_matrix/client/v1/media/download/${SERVER}/${id}?timeout_ms=600`, { token: bob.accessToken });
    expect(early.status).toBe(504);
    expect(early.body).toMatchObject({ errcode: "M_NOT_YET_UPLOADED" });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(500);

    // Another user may not fill it.
    const stolen = await callJson(`/_matrix/media/v3/upload/${SERVER}/${id}`, { method: "PUT", token: bob.accessToken, body: "x", headers: { "Content-Type": "text/plain" } });
    expect(stolen.status).toBe(403);
    expect(stolen.body).toMatchObject({ errcode: "M_FORBIDDEN" });

    // A download waiting on the id sees the bytes as soon as they arrive.
    const waiting = call(`/_matrix/client/v1/media/download/${SERVER}/${id}?timeout_ms=10000`, { token: bob.accessToken });
    await new Promise((r) => setTimeout(r, 300));
    const put = await callJson(`/_matrix/media/v3/upload/${SERVER}/${id}?filename=late.txt`, { method: "PUT", token: alice.accessToken, body: "late bytes", headers: { "Content-Type": "text/plain" } });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({});
    const res = await waiting;
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("late bytes");
    expect(res.headers.get("content-disposition")).toBe("inline; filename=late.txt");

    const twice = await callJson(`/_matrix/media/v3/upload/${SERVER}/${id}`, { method: "PUT", token: alice.accessToken, body: "again" });
    expect(twice.status).toBe(409);
    expect(twice.body).toMatchObject({ errcode: "M_CANNOT_OVERWRITE_MEDIA" });
  });

  it("lets exactly one of two racing uploads fill an id", async () => {
    const created = await callJson<{ content_uri: string }>("/_matrix/media/v1/create", { method: "POST", token: alice.accessToken });
    const id = created.body.content_uri.split("/").pop()!;
    const put = (body: string) => callJson(`/_matrix/media/v3/upload/${SERVER}/${id}`, { method: "PUT", token: alice.accessToken, body, headers: { "Content-Type": "text/plain" } });
    const results = await Promise.all([put("first"), put("second")]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
    const res = await call(`/_matrix/client/v1/media/download/${SERVER}/${id}`, { token: alice.accessToken });
    const text = await res.text();
    expect(["first", "second"]).toContain(text);
    // The loser's bytes do not linger in R2.
    await new Promise((r) => setTimeout(r, 100));
    const objects = await env.MEDIA.list({ prefix: `local/${id}/` });
    expect(objects.objects).toHaveLength(1);
  });

  it("accepts a chunked body for a pending id, and create refuses a non-JSON body", async () => {
    const created = await callJson<{ content_uri: string }>("/_matrix/media/v1/create", { method: "POST", token: alice.accessToken, json: {} });
    const id = created.body.content_uri.split("/").pop()!;
    const stream = new ReadableStream<Uint8Array>({
      start(ctrl) {
        ctrl.enqueue(enc.encode("part one, "));
        ctrl.enqueue(enc.encode("part two"));
        ctrl.close();
      },
    });
    const put = await callJson(`/_matrix/media/v3/upload/${SERVER}/${id}`, { method: "PUT", token: alice.accessToken, body: stream, duplex: "half" } as RequestInit);
    expect(put.status).toBe(200);
    expect(await (await call(`/_matrix/client/v1/media/download/${SERVER}/${id}`, { token: alice.accessToken })).text()).toBe("part one, part two");
    const notJson = await callJson("/_matrix/media/v1/create", { method: "POST", token: alice.accessToken, body: "{oops" });
    expect(notJson.body).toMatchObject({ errcode: "M_NOT_JSON" });
  });

  it("refuses ids that were never created, or belong to another server", async () => {
    for (const path of [`${SERVER}/neverCreated123`, `other.example/abc`]) {
      const r = await callJson(`/_matrix/media/v3/upload/${path}`, { method: "PUT", token: alice.accessToken, body: "x" });
      expect(r.status).toBe(404);
      expect(r.body).toMatchObject({ errcode: "M_NOT_FOUND" });
    }
  });

  it("limits pending ids per user with 429 M_LIMIT_EXCEEDED, and expired ids are gone", async () => {
    const carol = await registerUser();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await callJson<{ content_uri: string }>("/_matrix/media/v1/create", { method: "POST", token: carol.accessToken });
      expect(r.status).toBe(200);
      ids.push(r.body.content_uri.split("/").pop()!);
    }
    const over = await callJson<{ retry_after_ms: number }>("/_matrix/media/v1/create", { method: "POST", token: carol.accessToken });
    expect(over.status).toBe(429);
    expect(over.body).toMatchObject({ errcode: "M_LIMIT_EXCEEDED" });
    expect(over.body.retry_after_ms).toBeGreaterThan(0);
    // Uploading to one frees a slot.
    const put = await callJson(`/_matrix/media/v3/upload/${SERVER}/${ids[0]}`, { method: "PUT", token: carol.accessToken, body: "x" });
    expect(put.status).toBe(200);
    expect((await callJson("/_matrix/media/v1/create", { method: "POST", token: carol.accessToken })).status).toBe(200);
    // Expire one by hand: it answers 404 for upload and download, and frees a slot.
    await env.DB.prepare("UPDATE media SET unused_expires_ts = ? WHERE media_id = ?").bind(Date.now() - 1, ids[1]).run();
    const expiredPut = await callJson(`/_matrix/media/v3/upload/${SERVER}/${ids[1]}`, { method: "PUT", token: carol.accessToken, body: "x" });
    expect(expiredPut.status).toBe(404);
    const expiredGet = await callJson(`/_matrix/client/v1/media/download/${SERVER}/${ids[1]}`, { token: carol.accessToken });
    expect(expiredGet.status).toBe(404);
    expect((await callJson("/_matrix/media/v1/create", { method: "POST", token: carol.accessToken })).status).toBe(200);
  });
});

describe("legacy unauthenticated endpoints are frozen", () => {
  it("new media is M_NOT_FOUND on /_matrix/media/v3/download and thumbnail; media from before the freeze is served", async () => {
    const id = await upload(alice.accessToken, enc.encode("frozen"), "text/plain");
    for (const path of [`/_matrix/media/v3/download/${SERVER}/${id}`, `/_matrix/media/v3/download/${SERVER}/${id}/x.txt`, `/_matrix/media/v3/thumbnail/${SERVER}/${id}?width=32&height=32`]) {
      const r = await callJson(path);
      expect(r.status, path).toBe(404);
      expect(r.body).toMatchObject({ errcode: "M_NOT_FOUND" });
    }
    // Pretend it was uploaded before the freeze (MEDIA_FREEZE_TS is 0 here): no rows before 0 exist, so
    // move the clock of this row back past the cut-off by making it negative.
    await env.DB.prepare("UPDATE media SET uploaded_ts = -1, created_ts = -1 WHERE media_id = ?").bind(id).run();
    const old = await call(`/_matrix/media/v3/download/${SERVER}/${id}`);
    expect(old.status).toBe(200);
    expect(await old.text()).toBe("frozen");
    expect(old.headers.get("cache-control")).toContain("public");
  });
});

describe("quarantine and deletion hooks", () => {
  it("quarantined media answers M_NOT_FOUND until released; deleted media is gone from D1 and R2", async () => {
    const id = await upload(alice.accessToken, enc.encode("evidence"), "text/plain");
    expect(await quarantineMedia(env.DB, id, "@admin:localhost:8008")).toBe(true);
    expect(await quarantineMedia(env.DB, id, "@admin:localhost:8008")).toBe(false);
    const q = await callJson(`/_matrix/client/v1/media/download/${SERVER}/${id}`, { token: alice.accessToken });
    expect(q.status).toBe(404);
    expect(q.body).toMatchObject({ errcode: "M_NOT_FOUND" });
    expect(await unquarantineMedia(env.DB, id)).toBe(true);
    const back = await call(`/_matrix/client/v1/media/download/${SERVER}/${id}`, { token: alice.accessToken });
    expect(await back.text()).toBe("evidence");

    const row = await env.DB.prepare("SELECT object_key FROM media WHERE media_id = ?").bind(id).first<{ object_key: string }>();
    expect(await env.MEDIA.head(row!.object_key)).not.toBeNull();
    expect(await deleteMedia(env.DB, env.MEDIA, id)).toBe(true);
    expect(await env.MEDIA.head(row!.object_key)).toBeNull();
    expect(await deleteMedia(env.DB, env.MEDIA, id)).toBe(false);
    const gone = await callJson(`/_matrix/client/v1/media/download/${SERVER}/${id}`, { token: alice.accessToken });
    expect(gone.status).toBe(404);
  });

  it("quarantines everything a user uploaded", async () => {
    const dave = await registerUser();
    const a = await upload(dave.accessToken, enc.encode("a"), "text/plain");
    const b = await upload(dave.accessToken, enc.encode("b"), "text/plain");
    expect(await quarantineMediaByUser(env.DB, dave.userId, "@admin:localhost:8008")).toBe(2);
    for (const id of [a, b]) expect((await callJson(`/_matrix/client/v1/media/download/${SERVER}/${id}`, { token: alice.accessToken })).status).toBe(404);
  });
});
