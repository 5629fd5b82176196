import { describe, expect, it } from "vitest";
import { contentDisposition, essence, isInlineSafe, normaliseUploadContentType } from "../../src/content-disposition.js";
import { parseRange } from "../../src/http-range.js";
import { sniffImage } from "../../src/image-info.js";
import { buildOpenGraph, type ExtractedPage } from "../../src/opengraph.js";
import { centredCrop, fitInside, planThumbnail, RECOMMENDED_SIZES } from "../../src/thumbnail-plan.js";
import { gif, gradient, jpegHeader, pngHeader, webpHeader } from "../fixtures/images.js";

describe("Content-Disposition and Content-Type", () => {
  it("is inline only for the spec's safe types", () => {
    for (const t of ["image/png", "IMAGE/JPEG", "text/plain; charset=utf-8", "video/mp4", "audio/x-flac", "application/ld+json"]) expect(isInlineSafe(t)).toBe(true);
    for (const t of ["text/html", "image/svg+xml", "application/javascript", "application/pdf", "text/xml", "application/octet-stream", "", "image/png-evil"]) expect(isInlineSafe(t)).toBe(false);
  });

  it("writes tokens, quoted strings and RFC 8187 filename*", () => {
    expect(contentDisposition("image/png", undefined)).toBe("inline");
    expect(contentDisposition("text/html", null)).toBe("attachment");
    expect(contentDisposition("image/png", "cat.png")).toBe("inline; filename=cat.png");
    expect(contentDisposition("text/html", "page.html")).toBe("attachment; filename=page.html");
    expect(contentDisposition("application/pdf", 'War and "Peace".pdf')).toBe('attachment; filename="War and \\"Peace\\".pdf"');
    expect(contentDisposition("image/png", "a\\b.png")).toBe('inline; filename="a\\\\b.png"');
    expect(contentDisposition("image/png", "Ünïcödé 🐈.png")).toBe("inline; filename*=utf-8''%C3%9Cn%C3%AFc%C3%B6d%C3%A9%20%F0%9F%90%88.png");
    expect(contentDisposition("image/png", "semi;colon\r\n.png")).toBe("inline; filename*=utf-8''semi%3Bcolon%0D%0A.png");
    expect(contentDisposition("text/html", "x.html", true)).toBe("inline; filename=x.html");
  });

  it("normalises upload content types", () => {
    expect(normaliseUploadContentType(undefined)).toBe("application/octet-stream");
    expect(normaliseUploadContentType("")).toBe("application/octet-stream");
    expect(normaliseUploadContentType("image/png")).toBe("image/png");
    expect(normaliseUploadContentType("text/plain; charset=utf-8")).toBe("text/plain; charset=utf-8");
    expect(normaliseUploadContentType("not a type")).toBe("application/octet-stream");
    expect(normaliseUploadContentType("image/")).toBe("application/octet-stream");
    expect(essence(" Text/HTML ; charset=x")).toBe("text/html");
  });
});

describe("Range", () => {
  it.each([
    [null, { kind: "none" }],
    ["bytes=0-99", { kind: "range", offset: 0, length: 100 }],
    ["bytes=100-", { kind: "range", offset: 100, length: 900 }],
    ["bytes=-100", { kind: "range", offset: 900, length: 100 }],
    ["bytes=-5000", { kind: "range", offset: 0, length: 1000 }],
    ["bytes=990-5000", { kind: "range", offset: 990, length: 10 }],
    ["bytes=999-999", { kind: "range", offset: 999, length: 1 }],
    ["bytes=1000-", { kind: "unsatisfiable" }],
    ["bytes=5000-6000", { kind: "unsatisfiable" }],
    ["bytes=-0", { kind: "unsatisfiable" }],
    ["bytes=5-3", { kind: "none" }],
    ["bytes=0-1,5-6", { kind: "none" }],
    ["items=0-1", { kind: "none" }],
    ["bytes=-", { kind: "none" }],
    ["bytes=abc", { kind: "none" }],
  ])("%s of 1000 bytes", (header, want) => expect(parseRange(header, 1000)).toEqual(want));

  it("nothing is satisfiable in an empty body", () => {
    expect(parseRange("bytes=0-", 0)).toEqual({ kind: "unsatisfiable" });
    expect(parseRange("bytes=-1", 0)).toEqual({ kind: "unsatisfiable" });
  });
});

describe("sniffImage", () => {
  it("reads PNG and APNG", () => {
    expect(sniffImage(pngHeader(640, 480))).toMatchObject({ format: "png", mime: "image/png", width: 640, height: 480, animated: false });
    expect(sniffImage(pngHeader(10, 20, true))).toMatchObject({ format: "png", mime: "image/apng", width: 10, height: 20, animated: true });
  });

  it("reads JPEG size and EXIF orientation in both byte orders", () => {
    expect(sniffImage(jpegHeader(4000, 3000))).toMatchObject({ format: "jpeg", width: 4000, height: 3000, orientation: 1 });
    expect(sniffImage(jpegHeader(4000, 3000, 6))).toMatchObject({ orientation: 6 });
    expect(sniffImage(jpegHeader(4000, 3000, 8, true))).toMatchObject({ orientation: 8 });
    expect(sniffImage(jpegHeader(1, 1, 42))).toMatchObject({ orientation: 1 });
  });

  it("reads WebP lossy, lossless and extended (animation flag)", () => {
    expect(sniffImage(webpHeader("VP8 ", 300, 200))).toMatchObject({ format: "webp", width: 300, height: 200, animated: false });
    expect(sniffImage(webpHeader("VP8L", 16384, 1))).toMatchObject({ width: 16384, height: 1 });
    expect(sniffImage(webpHeader("VP8X", 5000, 7000, true))).toMatchObject({ width: 5000, height: 7000, animated: true });
  });

  it("reads GIF size and counts frames", () => {
    expect(sniffImage(gif(30, 20, [gradient(30, 20)]))).toMatchObject({ format: "gif", width: 30, height: 20, animated: false });
    expect(sniffImage(gif(30, 20, [gradient(30, 20), gradient(30, 20, 9)]))).toMatchObject({ animated: true });
  });

  it("refuses anything else, and truncated headers", () => {
    for (const b of [new Uint8Array(0), new TextEncoder().encode("<html>"), new TextEncoder().encode("GIF8"), pngHeader(1, 1).slice(0, 16), new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 4])])
      expect(sniffImage(b)).toBeNull();
  });
});

describe("planThumbnail", () => {
  it("fits and crops", () => {
    expect(fitInside(1000, 500, 320, 240)).toEqual({ width: 320, height: 160 });
    expect(fitInside(100, 50, 320, 240)).toEqual({ width: 100, height: 50 });
    expect(centredCrop(1000, 500, 96, 96)).toEqual({ x: 250, y: 0, width: 500, height: 500 });
    expect(centredCrop(300, 900, 4, 3)).toEqual({ x: 0, y: 337, width: 300, height: 225 });
  });

  it("snaps to the recommended sizes", () => {
    expect(planThumbnail(4000, 3000, 32, 32, "crop")).toMatchObject({ kind: "resize", box: RECOMMENDED_SIZES[0], width: 32, height: 32 });
    expect(planThumbnail(4000, 3000, 50, 50, "crop")).toMatchObject({ box: RECOMMENDED_SIZES[1], width: 96, height: 96 });
    expect(planThumbnail(4000, 3000, 100, 100, "scale")).toMatchObject({ box: RECOMMENDED_SIZES[2], width: 320, height: 240 });
    expect(planThumbnail(4000, 3000, 320, 240, "scale")).toMatchObject({ box: RECOMMENDED_SIZES[2], width: 320, height: 240 });
    expect(planThumbnail(4000, 3000, 321, 241, "scale")).toMatchObject({ box: RECOMMENDED_SIZES[3], width: 640, height: 480 });
    expect(planThumbnail(4000, 3000, 800, 600, "scale")).toMatchObject({ box: RECOMMENDED_SIZES[4], width: 800, height: 600 });
    // A tall image: 320x240 gives 180x240, which covers a 100x100 request's 75x100.
    expect(planThumbnail(3000, 4000, 100, 100, "scale")).toMatchObject({ box: RECOMMENDED_SIZES[2], width: 180, height: 240 });
  });

  it("never returns less than asked, going beyond the recommended sizes when needed", () => {
    const big = planThumbnail(4000, 3000, 1000, 1000, "scale");
    expect(big).toMatchObject({ kind: "resize", box: { width: 1024, height: 1024, method: "scale" }, width: 1024, height: 768 });
    const odd = planThumbnail(4000, 3000, 64, 48, "crop");
    expect(odd).toMatchObject({ kind: "resize", box: { width: 64, height: 48, method: "crop" }, width: 64, height: 48 });
    for (const [sw, sh] of [[4000, 3000], [3000, 4000], [1000, 1000], [5000, 100], [100, 5000]] as const)
      for (const [rw, rh] of [[32, 32], [96, 96], [320, 240], [640, 480], [800, 600], [1, 1], [200, 50], [50, 200], [1000, 700]] as const)
        for (const m of ["crop", "scale"] as const) {
          const p = planThumbnail(sw, sh, rw, rh, m);
          if (p.kind === "original") {
            expect(sw <= rw || sh <= rh || m === "scale").toBe(true);
            continue;
          }
          // Never upscaled.
          expect(p.width).toBeLessThanOrEqual(p.crop.width);
          expect(p.height).toBeLessThanOrEqual(p.crop.height);
          if (m === "scale") {
            const ideal = fitInside(sw, sh, rw, rh);
            expect(p.width).toBeGreaterThanOrEqual(ideal.width);
            expect(p.height).toBeGreaterThanOrEqual(ideal.height);
          } else if (p.crop.width >= rw && p.crop.height >= rh) {
            expect(p.width).toBeGreaterThanOrEqual(rw);
            expect(p.height).toBeGreaterThanOrEqual(rh);
            expect(Math.abs(p.width / p.height - rw / rh)).toBeLessThan(0.05);
          }
        }
  });

  it("serves the original when the source is no larger than asked", () => {
    expect(planThumbnail(20, 20, 32, 32, "crop")).toEqual({ kind: "original" });
    expect(planThumbnail(300, 200, 320, 240, "scale")).toEqual({ kind: "original" });
    expect(planThumbnail(300, 200, 800, 600, "scale")).toEqual({ kind: "original" });
    // Scale: the 320x240 box of a 330x200 image is 320x194, still smaller than the source.
    expect(planThumbnail(330, 200, 100, 100, "scale")).toMatchObject({ kind: "resize", width: 320, height: 194 });
    // Crop of a narrow source: the largest square region, not upscaled.
    expect(planThumbnail(20, 200, 32, 32, "crop")).toMatchObject({ kind: "resize", width: 20, height: 20, crop: { x: 0, y: 90, width: 20, height: 20 } });
  });
});

describe("buildOpenGraph", () => {
  const page = (p: Partial<ExtractedPage>): ExtractedPage => ({ metas: [], links: [], images: [], ...p });

  it("takes og: tags, first of repeated ones, and resolves og:image", () => {
    const og = buildOpenGraph(
      page({
        metas: [
          { property: "og:title", content: "  The   Title " },
          { property: "og:image", content: "/img/a.png" },
          { property: "og:image", content: "/img/b.png" },
          { property: "OG:Type", content: "article" },
          { name: "og:ignored", content: "name= is not property=" },
          { property: "og:description", content: "x".repeat(2000) },
        ],
        title: "Fallback",
      }),
      "https://example.com/post/1",
    );
    expect(og).toEqual({ "og:title": "The Title", "og:image": "https://example.com/img/a.png", "og:type": "article" });
  });

  it("falls back to twitter cards, <title>, meta description, body text and images", () => {
    expect(buildOpenGraph(page({ metas: [{ name: "twitter:title", content: "TT" }, { name: "description", content: "Desc" }], title: "T" }), "http://a.example/")).toEqual({
      "og:title": "TT",
      "og:description": "Desc",
    });
    const og = buildOpenGraph(
      page({ title: "T", text: "word ".repeat(200), images: [{ src: "pixel.gif", width: 1, height: 1 }, { src: "small.png" }, { src: "big.png", width: 200, height: 200 }] }),
      "http://a.example/dir/",
    );
    expect(og["og:title"]).toBe("T");
    expect(String(og["og:description"]).length).toBeLessThanOrEqual(501);
    expect(og["og:image"]).toBe("http://a.example/dir/big.png");
    expect(buildOpenGraph(page({ h1: "Heading", images: [{ src: "pixel.gif", width: 1, height: 1 }, { src: "a.png" }] }), "http://a.example/")).toEqual({
      "og:title": "Heading",
      "og:image": "http://a.example/a.png",
    });
    expect(buildOpenGraph(page({ links: [{ rel: "shortcut icon", href: "/favicon.ico" }] }), "http://a.example/x")).toEqual({ "og:image": "http://a.example/favicon.ico" });
  });

  it("drops og:image that is not http(s)", () => {
    expect(buildOpenGraph(page({ metas: [{ property: "og:image", content: "javascript:alert(1)" }] }), "http://a.example/")).toEqual({});
    expect(buildOpenGraph(page({ metas: [{ property: "og:image", content: "data:image/png;base64,AAAA" }] }), "http://a.example/")).toEqual({});
  });
});
