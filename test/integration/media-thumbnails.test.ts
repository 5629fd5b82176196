import { PhotonImage } from "@cf-wasm/photon";
import { env as workerEnv } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import type { Env } from "../../services/env.js";
import { gif, gradient, pngHeader } from "../fixtures/images.js";
import { call, callJson, registerUser, type TestUser } from "./helpers.js";

const env = workerEnv as unknown as Env;
const SERVER = "localhost:8008";
let user: TestUser;

beforeAll(async () => {
  user = await registerUser();
}, 60_000);

/** An RGBA image: left half red, right half blue (so orientation is visible). */
function halves(width: number, height: number): PhotonImage {
  const px = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const o = (y * width + x) * 4;
      px.set(x < width / 2 ? [255, 0, 0, 255] : [0, 0, 255, 255], o);
    }
  return new PhotonImage(px, width, height);
}

async function upload(body: Uint8Array, contentType: string): Promise<string> {
  const r = await callJson<{ content_uri: string }>("/_matrix/media/v3/upload", { method: "POST", token: user.accessToken, body, headers: { "Content-Type": contentType } });
  expect(r.status).toBe(200);
  return r.body.content_uri.split("/").pop()!;
}

async function thumb(id: string, query: string): Promise<{ res: Response; bytes: Uint8Array }> {
  const res = await call(`/_matrix/client/v1/media/thumbnail/${SERVER}/${id}?${query}`, { token: user.accessToken });
  return { res, bytes: new Uint8Array(await res.arrayBuffer()) };
}

function decode(bytes: Uint8Array): { width: number; height: number; pixel: (x: number, y: number) => number[] } {
  const img = PhotonImage.new_from_byteslice(bytes);
  const width = img.get_width();
  const height = img.get_height();
  const raw = img.get_raw_pixels();
  img.free();
  return { width, height, pixel: (x, y) => Array.from(raw.slice((y * width + x) * 4, (y * width + x) * 4 + 3)) };
}

/** Splices an EXIF APP1 segment carrying `orientation` right after the JPEG's SOI. */
function withOrientation(jpeg: Uint8Array, orientation: number): Uint8Array {
  const tiff = [0x4d, 0x4d, 0, 42, 0, 0, 0, 8, 0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, orientation, 0, 0, 0, 0, 0, 0];
  const app1 = [0x45, 0x78, 0x69, 0x66, 0, 0, ...tiff];
  const seg = [0xff, 0xe1, ((app1.length + 2) >> 8) & 255, (app1.length + 2) & 255, ...app1];
  return new Uint8Array([...jpeg.subarray(0, 2), ...seg, ...jpeg.subarray(2)]);
}

describe("thumbnails", () => {
  it("crops PNG to the recommended 32x32 and caches the variant in R2", async () => {
    const src = halves(1000, 500);
    const id = await upload(src.get_bytes(), "image/png");
    src.free();
    const { res, bytes } = await thumb(id, "width=32&height=32&method=crop");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/png");
    expect(res.headers.get("content-disposition")).toBe("inline; filename=thumbnail.png");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(decode(bytes)).toMatchObject({ width: 32, height: 32 });
    // A smaller request in the same aspect snaps to the same variant, served from R2 this time.
    await new Promise((r) => setTimeout(r, 50));
    const listed = await env.MEDIA.list({ prefix: `thumbnails/${id}/` });
    expect(listed.objects.map((o) => o.key)).toEqual([`thumbnails/${id}/32x32-crop-image_png`]);
    const again = await thumb(id, "width=20&height=20&method=crop");
    expect(again.bytes).toEqual(bytes);
    expect(again.res.headers.get("content-length")).toBe(String(bytes.byteLength));
    const etag = again.res.headers.get("etag")!;
    const revalidated = await call(`/_matrix/client/v1/media/thumbnail/${SERVER}/${id}?width=32&height=32&method=crop`, { token: user.accessToken, headers: { "If-None-Match": etag } });
    expect(revalidated.status).toBe(304);
    const head = await call(`/_matrix/client/v1/media/thumbnail/${SERVER}/${id}?width=32&height=32&method=crop`, { token: user.accessToken, method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(bytes.byteLength));
    expect((await head.arrayBuffer()).byteLength).toBe(0);
  });

  it("scales JPEG to 320x240 keeping the aspect ratio, as JPEG", async () => {
    const src = halves(1000, 500);
    const id = await upload(src.get_bytes_jpeg(90), "image/jpeg");
    src.free();
    const { res, bytes } = await thumb(id, "width=300&height=200&method=scale");
    expect(res.headers.get("content-type")).toBe("image/jpeg");
    const d = decode(bytes);
    expect([d.width, d.height]).toEqual([320, 160]);
    expect(d.pixel(10, 80)[0]).toBeGreaterThan(200); // red on the left
    expect(d.pixel(310, 80)[2]).toBeGreaterThan(200); // blue on the right
  });

  it("thumbnails WebP (to PNG) and defaults method to scale", async () => {
    const src = halves(900, 900);
    const id = await upload(src.get_bytes_webp(), "image/webp");
    src.free();
    const { res, bytes } = await thumb(id, "width=96&height=96");
    expect(res.headers.get("content-type")).toBe("image/png");
    expect(decode(bytes)).toMatchObject({ width: 240, height: 240 });
  });

  it("never upscales: a source smaller than asked is returned as it is", async () => {
    const src = halves(20, 20);
    const png = src.get_bytes();
    src.free();
    const id = await upload(png, "image/png");
    const { res, bytes } = await thumb(id, "width=96&height=96&method=crop");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("image/png");
    expect(bytes).toEqual(png);
    const big = await thumb(id, "width=800&height=600&method=scale");
    expect(big.bytes).toEqual(png);
  });

  it("uses the first frame of GIFs, and returns the animation itself only for animated=true", async () => {
    const frames = [gradient(600, 400), gradient(600, 400, 128)];
    const animatedGif = gif(600, 400, frames);
    const id = await upload(animatedGif, "image/gif");
    const still = await thumb(id, "width=320&height=240&method=scale");
    expect(still.res.headers.get("content-type")).toBe("image/png");
    expect(decode(still.bytes)).toMatchObject({ width: 320, height: 213 });
    const stillFalse = await thumb(id, "width=320&height=240&method=scale&animated=false");
    expect(stillFalse.res.headers.get("content-type")).toBe("image/png");
    const moving = await thumb(id, "width=320&height=240&method=scale&animated=true");
    expect(moving.res.headers.get("content-type")).toBe("image/gif");
    expect(moving.bytes).toEqual(animatedGif);

    // A one-frame GIF cannot animate: animated=true behaves like false.
    const single = await upload(gif(600, 400, [frames[0]!]), "image/gif");
    const s = await thumb(single, "width=320&height=240&animated=true");
    expect(s.res.headers.get("content-type")).toBe("image/png");

    // A small animated GIF without animated=true: a still at its own size, never the animation.
    const tiny = await upload(gif(20, 10, [gradient(20, 10), gradient(20, 10, 99)]), "image/gif");
    const t = await thumb(tiny, "width=96&height=96&method=crop");
    expect(t.res.headers.get("content-type")).toBe("image/png");
    expect(decode(t.bytes)).toMatchObject({ width: 20, height: 10 });
  });

  it("turns JPEGs upright by their EXIF orientation", async () => {
    const src = halves(800, 400);
    const id = await upload(withOrientation(src.get_bytes_jpeg(90), 6), "image/jpeg");
    src.free();
    const { bytes } = await thumb(id, "width=100&height=100&method=scale");
    const d = decode(bytes);
    // Displayed 400x800 (a quarter turn clockwise): the red left half is now on top.
    expect([d.width, d.height]).toEqual([120, 240]);
    expect(d.pixel(60, 10)[0]).toBeGreaterThan(200);
    expect(d.pixel(60, 230)[2]).toBeGreaterThan(200);
  });

  it("turns JPEGs upright for each of the eight EXIF orientations", async () => {
    // Stored 800x400 in quadrants: red, green over blue, black.
    const W = 800;
    const H = 400;
    const colours = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [0, 0, 0]] as const;
    const quadrant = (x: number, y: number) => (x < W / 2 ? 0 : 1) + (y < H / 2 ? 0 : 2);
    const px = new Uint8Array(W * H * 4);
    for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) px.set([...colours[quadrant(x, y)]!, 255], (y * W + x) * 4);
    const src = new PhotonImage(px, W, H);
    const jpeg = src.get_bytes_jpeg(90);
    src.free();
    // EXIF/TIFF Orientation: the stored pixel shown at display position (x, y), display size w x h.
    const storedAt: Record<number, (x: number, y: number) => [number, number]> = {
      1: (x, y) => [x, y],
      2: (x, y) => [W - 1 - x, y],
      3: (x, y) => [W - 1 - x, H - 1 - y],
      4: (x, y) => [x, H - 1 - y],
      5: (x, y) => [y, x],
      6: (x, y) => [y, H - 1 - x],
      7: (x, y) => [W - 1 - y, H - 1 - x],
      8: (x, y) => [W - 1 - y, x],
    };
    const nearest = (rgb: number[]) => colours.findIndex((c) => c.every((v, i) => Math.abs(v - rgb[i]!) < 60));
    for (let o = 1; o <= 8; o++) {
      const id = await upload(withOrientation(jpeg, o), "image/jpeg");
      const { res, bytes } = await thumb(id, "width=100&height=100&method=scale");
      expect(res.status).toBe(200);
      const d = decode(bytes);
      const [dw, dh] = o >= 5 ? [H, W] : [W, H];
      expect(d.width / d.height, `orientation ${o}`).toBeCloseTo(dw / dh, 1);
      // The centre of each display quadrant shows the stored quadrant the orientation maps there.
      for (const [fx, fy] of [[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]] as const) {
        const [sx, sy] = storedAt[o]!(Math.floor(fx * dw), Math.floor(fy * dh));
        expect(nearest(d.pixel(Math.floor(fx * d.width), Math.floor(fy * d.height))), `orientation ${o} at ${fx},${fy}`).toBe(quadrant(sx, sy));
      }
    }
  });

  it("finds the JPEG frame header behind large APP segments (ICC profiles, EXIF)", async () => {
    const src = halves(1000, 500);
    const jpeg = src.get_bytes_jpeg(80);
    src.free();
    const app2 = (n: number) => [0xff, 0xe2, ((n + 2) >> 8) & 255, (n + 2) & 255, ...new Array<number>(n).fill(0x41)];
    const padded = new Uint8Array([...jpeg.subarray(0, 2), ...app2(60_000), ...app2(60_000), ...jpeg.subarray(2)]);
    const id = await upload(padded, "image/jpeg");
    const { res, bytes } = await thumb(id, "width=96&height=96&method=crop");
    expect(res.status).toBe(200);
    expect(decode(bytes)).toMatchObject({ width: 96, height: 96 });
  });

  it("refuses what it cannot thumbnail: 400 M_UNKNOWN for non-images, 413 M_TOO_LARGE for huge images", async () => {
    const text = await upload(new TextEncoder().encode("not an image"), "image/png");
    const r = await callJson(`/_matrix/client/v1/media/thumbnail/${SERVER}/${text}?width=32&height=32`, { token: user.accessToken });
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ errcode: "M_UNKNOWN" });
    const huge = await upload(pngHeader(20000, 20000), "image/png");
    const h = await callJson(`/_matrix/client/v1/media/thumbnail/${SERVER}/${huge}?width=32&height=32`, { token: user.accessToken });
    expect(h.status).toBe(413);
    expect(h.body).toMatchObject({ errcode: "M_TOO_LARGE" });
  });

  it("validates width, height, method and animated", async () => {
    const src = halves(100, 100);
    const id = await upload(src.get_bytes(), "image/png");
    src.free();
    const cases: [string, string][] = [
      ["height=32", "M_MISSING_PARAM"],
      ["width=32", "M_MISSING_PARAM"],
      ["width=abc&height=32", "M_INVALID_PARAM"],
      ["width=1.5&height=32", "M_INVALID_PARAM"],
      ["width=0&height=32", "M_INVALID_PARAM"],
      ["width=-5&height=32", "M_INVALID_PARAM"],
      ["width=32&height=32&method=stretch", "M_INVALID_PARAM"],
      ["width=32&height=32&animated=yes", "M_INVALID_PARAM"],
      ["width=32&height=32&timeout_ms=soon", "M_INVALID_PARAM"],
    ];
    for (const [q, errcode] of cases) {
      const r = await callJson(`/_matrix/client/v1/media/thumbnail/${SERVER}/${id}?${q}`, { token: user.accessToken });
      expect(r.status, q).toBe(400);
      expect(r.body, q).toMatchObject({ errcode });
    }
  });
});
