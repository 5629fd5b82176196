import { describe, expect, it } from "vitest";
import { parseHostRules } from "../../src/url-preview-policy.js";
import { decodeHtml, extractPage } from "../../workers/media/html-extract.js";
import { DohResolver, type Resolver } from "../../services/net/resolver.js";
import { PreviewRefused, safeFetch } from "../../services/net/safe-fetch.js";

const staticResolver = (zone: Record<string, string[]>): Resolver => ({ resolve: async (h) => zone[h] ?? [] });

function fakeFetch(routes: Record<string, () => Response>, log: string[]): typeof fetch {
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    log.push(url);
    expect(init?.redirect).toBe("manual");
    return routes[url]?.() ?? new Response("nope", { status: 404 });
  }) as typeof fetch;
}

describe("DohResolver", () => {
  it("asks for A and AAAA and keeps only address answers", async () => {
    const asked: string[] = [];
    const fetcher = (async (input: RequestInfo | URL, init?: RequestInit) => {
      const u = new URL(String(input));
      asked.push(`${u.searchParams.get("name")} ${u.searchParams.get("type")} ${new Headers(init?.headers).get("accept")}`);
      const type = u.searchParams.get("type");
      return Response.json({
        Status: 0,
        Answer:
          type === "A"
            ? [{ type: 5, data: "cname.example." }, { type: 1, data: "93.184.216.34" }]
            : [{ type: 28, data: "2606:2800::1" }],
      });
    }) as typeof fetch;
    const r = new DohResolver("https://doh.test/dns-query", fetcher);
    expect(await r.resolve("example.com")).toEqual(["93.184.216.34", "2606:2800::1"]);
    expect(asked.sort()).toEqual(["example.com A application/dns-json", "example.com AAAA application/dns-json"]);
  });

  it("resolves to nothing on NXDOMAIN, HTTP errors, garbage, network errors, or without an endpoint", async () => {
    const cases: (typeof fetch)[] = [
      (async () => Response.json({ Status: 3 })) as typeof fetch,
      (async () => new Response("x", { status: 500 })) as typeof fetch,
      (async () => new Response("not json")) as typeof fetch,
      (async () => {
        throw new Error("offline");
      }) as typeof fetch,
    ];
    for (const f of cases) expect(await new DohResolver("https://doh.test/dns-query", f).resolve("x.example")).toEqual([]);
    expect(await new DohResolver("", cases[0]).resolve("x.example")).toEqual([]);
  });
});

describe("safeFetch", () => {
  const policy = { allow: [], deny: parseHostRules("blocked.example") };
  const resolver = staticResolver({ "pub.example": ["93.184.216.34"], "in.example": ["10.0.0.1"], "blocked.example": ["93.184.216.35"] });
  const opts = (log: string[], routes: Record<string, () => Response>, maxBytes = 1000) => ({
    policy,
    resolver,
    maxBytes,
    signal: AbortSignal.timeout(5000),
    accept: "text/html",
    fetcher: fakeFetch(routes, log),
  });

  it("follows relative redirects and returns the final body", async () => {
    const log: string[] = [];
    const r = await safeFetch("http://pub.example/a", opts(log, {
      "http://pub.example/a": () => new Response(null, { status: 301, headers: { location: "/b?x=1" } }),
      "http://pub.example/b?x=1": () => new Response("<p>hi</p>", { headers: { "content-type": "text/html" } }),
    }));
    expect(new TextDecoder().decode(r.bytes)).toBe("<p>hi</p>");
    expect(r.url).toBe("http://pub.example/b?x=1");
    expect(log).toEqual(["http://pub.example/a", "http://pub.example/b?x=1"]);
  });

  it("refuses before connecting, including at a redirect hop", async () => {
    for (const [start, routes, fetched] of [
      ["http://in.example/", {}, []],
      ["http://blocked.example/", {}, []],
      ["http://127.1/", {}, []],
      ["http://pub.example/r", { "http://pub.example/r": () => new Response(null, { status: 302, headers: { location: "http://[::ffff:10.0.0.1]/" } }) }, ["http://pub.example/r"]],
      ["http://pub.example/r", { "http://pub.example/r": () => new Response(null, { status: 308, headers: { location: "//in.example/x" } }) }, ["http://pub.example/r"]],
    ] as [string, Record<string, () => Response>, string[]][]) {
      const log: string[] = [];
      await expect(safeFetch(start, opts(log, routes))).rejects.toBeInstanceOf(PreviewRefused);
      expect(log).toEqual(fetched);
    }
  });

  it("gives up after 5 redirects, on errors, and past the byte cap", async () => {
    const log: string[] = [];
    await expect(safeFetch("http://pub.example/loop", opts(log, { "http://pub.example/loop": () => new Response(null, { status: 302, headers: { location: "/loop" } }) }))).rejects.toMatchObject({ status: 502 });
    expect(log).toHaveLength(6);
    await expect(safeFetch("http://pub.example/404", opts([], {}))).rejects.toMatchObject({ status: 502 });
    await expect(safeFetch("http://pub.example/big", opts([], { "http://pub.example/big": () => new Response("x".repeat(1001)) }))).rejects.toMatchObject({ errcode: "M_TOO_LARGE" });
    await expect(safeFetch("http://pub.example/nolocation", opts([], { "http://pub.example/nolocation": () => new Response(null, { status: 302 }) }))).rejects.toMatchObject({ status: 502 });
  });
});

describe("HTML extraction (linkedom)", () => {
  it("collects metas, links, images, title, h1 and visible text", () => {
    const page = extractPage(`<!doctype html><html><head><title>T</title>
      <meta property="og:title" content="OG"><meta name="description" content="D">
      <link rel="Icon" href="/i.ico"></head>
      <body><h1>Head</h1><script>secret()</script><style>.x{}</style><p>Visible   text</p><img src="a.png" width="200" height="100"></body></html>`);
    expect(page.title).toBe("T");
    expect(page.h1).toBe("Head");
    expect(page.metas).toEqual([{ property: "og:title", content: "OG" }, { name: "description", content: "D" }]);
    expect(page.links).toEqual([{ rel: "icon", href: "/i.ico" }]);
    expect(page.images).toEqual([{ src: "a.png", width: 200, height: 100 }]);
    expect(page.text).toBe("Head Visible text");
  });

  it("decodes by the header charset, then <meta charset>, else UTF-8", () => {
    const latin1 = Uint8Array.from([0x3c, 0x70, 0x3e, 0xe9, 0x3c, 0x2f, 0x70, 0x3e]); // <p>é</p>
    expect(decodeHtml(latin1, "text/html; charset=iso-8859-1")).toBe("<p>é</p>");
    const withMeta = new Uint8Array([...new TextEncoder().encode('<meta charset="windows-1252">'), 0xe9]);
    expect(decodeHtml(withMeta, "text/html")).toContain("é");
    expect(decodeHtml(new TextEncoder().encode("<p>ü</p>"), "text/html")).toBe("<p>ü</p>");
    expect(decodeHtml(new TextEncoder().encode("<p>ü</p>"), "text/html; charset=bogus-charset")).toBe("<p>ü</p>");
  });
});
