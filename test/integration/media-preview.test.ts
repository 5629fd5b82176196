import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { call, callJson, registerUser, type TestUser } from "./helpers.js";

/**
 * preview_url against a fake web: the Worker's outbound `fetch` (same isolate)
 * is replaced by a table of URLs, and DNS-over-HTTPS questions are answered from
 * a fake zone. Every outbound request is recorded, so refusals are checked by
 * what was never asked for. Nothing leaves the isolate.
 */
const DOH = "https://1.1.1.1/dns-query";
const zone: Record<string, string[]> = {
  "public.example": ["93.184.216.34"],
  "img.example": ["93.184.216.35"],
  "internal.example": ["10.0.0.7"],
  "metadata.example": ["169.254.169.254"],
  "v6local.example": ["fd00::1"],
  "mapped.example": ["::ffff:127.0.0.1"],
  "mixed.example": ["93.184.216.36", "192.168.1.1"],
};

const PNG_1X1 = Uint8Array.from(atob("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="), (c) => c.charCodeAt(0));

const pages: Record<string, () => Response> = {
  "http://public.example/article": () =>
    new Response(
      `<!doctype html><html><head><title>Fallback title</title>
       <meta property="og:title" content="Matrix Blog Post">
       <meta property="og:description" content="This is a really cool blog post">
       <meta property="og:image" content="/logo.png">
       <meta property="og:type" content="article"></head><body><p>Body</p></body></html>`,
      { headers: { "content-type": "text/html; charset=utf-8" } },
    ),
  "http://public.example/logo.png": () => new Response(PNG_1X1, { headers: { "content-type": "image/png" } }),
  "http://public.example/plain": () =>
    new Response(
      `<html><head><title>  Plain   page </title><meta name="description" content="described"></head>
       <body><script>var x = 1;</script><img src="/pixel.gif" width="1" height="1"><img src="http://img.example/pic.png"></body></html>`,
      { headers: { "content-type": "text/html" } },
    ),
  "http://img.example/pic.png": () => new Response(PNG_1X1, { headers: { "content-type": "image/png" } }),
  "https://public.example/image.png": () => new Response(PNG_1X1, { headers: { "content-type": "image/png" } }),
  "http://public.example/to-internal": () => new Response(null, { status: 302, headers: { location: "http://internal.example/secret" } }),
  "http://public.example/to-loopback": () => new Response(null, { status: 301, headers: { location: "http://2130706433:8080/admin" } }),
  "http://public.example/to-metadata": () => new Response(null, { status: 307, headers: { location: "http://[::ffff:169.254.169.254]/latest/meta-data/" } }),
  "http://public.example/to-file": () => new Response(null, { status: 302, headers: { location: "file:///etc/passwd" } }),
  "http://public.example/hop": () => new Response(null, { status: 302, headers: { location: "/hop2" } }),
  "http://public.example/hop2": () => new Response(null, { status: 302, headers: { location: "http://public.example/article" } }),
  "http://public.example/loop": () => new Response(null, { status: 302, headers: { location: "/loop" } }),
  "http://public.example/huge": () => new Response("x".repeat(10), { headers: { "content-type": "text/html", "content-length": String(50 * 1024 * 1024) } }),
  "http://public.example/endless": () =>
    new Response(
      new ReadableStream({
        pull(ctrl) {
          ctrl.enqueue(new Uint8Array(256 * 1024).fill(0x20));
        },
      }),
      { headers: { "content-type": "text/html" } },
    ),
  "http://public.example/bad-image": () =>
    new Response(`<html><head><meta property="og:title" content="T"><meta property="og:image" content="http://internal.example/x.png"></head></html>`, {
      headers: { "content-type": "text/html" },
    }),
  "http://public.example/counted": () => new Response(`<title>counted</title>`, { headers: { "content-type": "text/html" } }),
};

const seen: string[] = [];
const realFetch = globalThis.fetch;
let user: TestUser;

beforeAll(async () => {
  user = await registerUser();
  globalThis.fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input, init);
    seen.push(req.url);
    if (req.url.startsWith(DOH)) {
      const u = new URL(req.url);
      const name = u.searchParams.get("name") ?? "";
      const type = u.searchParams.get("type");
      const answers = (zone[name] ?? []).filter((a) => (type === "AAAA" ? a.includes(":") : !a.includes(":")));
      return Response.json({ Status: zone[name] ? 0 : 3, Answer: answers.map((data) => ({ name, type: type === "AAAA" ? 28 : 1, TTL: 60, data })) });
    }
    expect(req.redirect).toBe("manual");
    const page = pages[req.url];
    return page ? page() : new Response("not found", { status: 404 });
  };
}, 60_000);

afterAll(() => {
  globalThis.fetch = realFetch;
});

beforeEach(() => {
  seen.length = 0;
});

const fetchedPages = () => seen.filter((u) => !u.startsWith(DOH));

async function preview(url: string) {
  return callJson<Record<string, unknown>>(`/_matrix/client/v1/media/preview_url?url=${encodeURIComponent(url)}`, { token: user.accessToken });
}

describe("preview_url", () => {
  it("returns OpenGraph data with og:image stored as mxc://", async () => {
    const r = await preview("http://public.example/article");
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      "og:title": "Matrix Blog Post",
      "og:description": "This is a really cool blog post",
      "og:type": "article",
      "og:image:type": "image/png",
      "og:image:width": 1,
      "og:image:height": 1,
      "matrix:image:size": PNG_1X1.byteLength,
    });
    const mxc = String(r.body["og:image"]);
    expect(mxc).toMatch(/^mxc:\/\/localhost:8008\/[A-Za-z0-9]+$/);
    const img = await call(`/_matrix/client/v1/media/download/${mxc.slice(6)}`, { token: user.accessToken });
    expect(img.status).toBe(200);
    expect(new Uint8Array(await img.arrayBuffer())).toEqual(PNG_1X1);
    expect(fetchedPages()).toEqual(["http://public.example/article", "http://public.example/logo.png"]);
  });

  it("falls back to <title>, meta description and the first real image", async () => {
    const r = await preview("http://public.example/plain");
    expect(r.body).toMatchObject({ "og:title": "Plain page", "og:description": "described", "og:image:type": "image/png" });
    expect(fetchedPages()).toContain("http://img.example/pic.png");
  });

  it("previews an image URL as the image", async () => {
    const r = await preview("https://public.example/image.png");
    expect(r.body).toMatchObject({ "og:image:type": "image/png", "matrix:image:size": PNG_1X1.byteLength });
    expect(String(r.body["og:image"])).toMatch(/^mxc:\/\//);
  });

  it("follows redirects that stay public", async () => {
    const r = await preview("http://public.example/hop");
    expect(r.body).toMatchObject({ "og:title": "Matrix Blog Post" });
  });

  it.each([
    "http://127.0.0.1/",
    "http://2130706433/",
    "http://0x7f.1/",
    "http://0177.0.0.1/",
    "http://127.1/",
    "http://localhost/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[fd00:ec2::254]/",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://192.168.0.1/",
    "http://100.64.0.1/",
    "http://0.0.0.0/",
    "http://[fe80::1]/",
    "http://[64:ff9b::10.0.0.1]/",
    "http://internal.example/",
    "http://metadata.example/",
    "http://v6local.example/",
    "http://mapped.example/",
    "http://mixed.example/",
    "http://unresolvable.example/",
    "http://public.example:8080/",
    "ftp://public.example/",
    "file:///etc/passwd",
  ])("refuses %s without fetching it", async (url) => {
    const r = await preview(url);
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({ errcode: "M_FORBIDDEN" });
    expect(fetchedPages()).toEqual([]);
  });

  it.each(["/to-internal", "/to-loopback", "/to-metadata", "/to-file"])("re-checks redirect targets: %s", async (path) => {
    const r = await preview(`http://public.example${path}`);
    expect(r.status).toBe(403);
    expect(fetchedPages()).toEqual([`http://public.example${path}`]);
  });

  it("stops after 5 redirects", async () => {
    const r = await preview("http://public.example/loop");
    expect(r.status).toBe(502);
    expect(fetchedPages()).toHaveLength(6);
  });

  it("caps the response size, declared or streamed", async () => {
    for (const path of ["/huge", "/endless"]) {
      const r = await preview(`http://public.example${path}`);
      expect(r.status, path).toBe(502);
      expect(r.body).toMatchObject({ errcode: "M_TOO_LARGE" });
    }
  });

  it("previews a page whose og:image is internal without fetching the image", async () => {
    const r = await preview("http://public.example/bad-image");
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ "og:title": "T" });
    expect(fetchedPages()).toEqual(["http://public.example/bad-image"]);
  });

  it("caches results", async () => {
    expect((await preview("http://public.example/counted")).body).toEqual({ "og:title": "counted" });
    expect((await preview("http://public.example/counted")).body).toEqual({ "og:title": "counted" });
    expect(fetchedPages()).toEqual(["http://public.example/counted"]);
  });

  it("validates the url parameter and needs a token on both paths", async () => {
    const missing = await callJson("/_matrix/client/v1/media/preview_url", { token: user.accessToken });
    expect(missing.body).toMatchObject({ errcode: "M_MISSING_PARAM" });
    const bad = await callJson("/_matrix/client/v1/media/preview_url?url=not%20a%20url", { token: user.accessToken });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ errcode: "M_INVALID_PARAM" });
    const legacy = await callJson(`/_matrix/media/v3/preview_url?url=${encodeURIComponent("http://public.example/counted")}`, { token: user.accessToken });
    expect(legacy.body).toEqual({ "og:title": "counted" });
    expect((await callJson("/_matrix/media/v3/preview_url?url=http://public.example/")).status).toBe(401);
  });
});
