/**
 * Which thumbnail answers a request (client-server-api "Thumbnails"):
 *
 * - "scale" keeps the aspect ratio and fits inside a box; "crop" fills a box of
 *   the requested aspect ratio, cutting the middle of the image.
 * - Requests snap to the spec's recommended sizes (32x32 crop, 96x96 crop,
 *   320x240, 640x480 and 800x600 scale) when one of them is at least as large
 *   as asked, so most thumbnails are one of five cached variants; larger or
 *   odd-aspect requests get their own box (scale boxes rounded up to 32 px).
 * - Never upscale, never smaller than asked unless the source is: when the
 *   source is no larger than what is asked, the original is the answer.
 */
export type ThumbnailMethod = "crop" | "scale";

export interface ThumbnailBox {
  width: number;
  height: number;
  method: ThumbnailMethod;
}

export const RECOMMENDED_SIZES: readonly ThumbnailBox[] = [
  { width: 32, height: 32, method: "crop" },
  { width: 96, height: 96, method: "crop" },
  { width: 320, height: 240, method: "scale" },
  { width: 640, height: 480, method: "scale" },
  { width: 800, height: 600, method: "scale" },
];

export interface CropRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export type ThumbnailPlan =
  | { kind: "original" }
  | {
      kind: "resize";
      /** The box the thumbnail was made for: its cache identity. */
      box: ThumbnailBox;
      /** Region of the source to use (the whole image for scale). */
      crop: CropRect;
      width: number;
      height: number;
    };

/** Largest size of the source's aspect ratio inside the box, never larger than the source. */
export function fitInside(sw: number, sh: number, bw: number, bh: number): { width: number; height: number } {
  const s = Math.min(bw / sw, bh / sh, 1);
  return { width: Math.max(1, Math.round(sw * s)), height: Math.max(1, Math.round(sh * s)) };
}

/** Largest centred region of the source with the box's aspect ratio. */
export function centredCrop(sw: number, sh: number, bw: number, bh: number): CropRect {
  let width = sw;
  let height = Math.round((sw * bh) / bw);
  if (height > sh) {
    height = sh;
    width = Math.round((sh * bw) / bh);
  }
  width = Math.max(1, Math.min(width, sw));
  height = Math.max(1, Math.min(height, sh));
  return { x: Math.floor((sw - width) / 2), y: Math.floor((sh - height) / 2), width, height };
}

const roundUp = (n: number, step: number) => Math.ceil(n / step) * step;

export function planThumbnail(sw: number, sh: number, rw: number, rh: number, method: ThumbnailMethod): ThumbnailPlan {
  const whole: CropRect = { x: 0, y: 0, width: sw, height: sh };
  if (method === "scale") {
    const ideal = fitInside(sw, sh, rw, rh);
    if (ideal.width >= sw && ideal.height >= sh) return { kind: "original" };
    let box = RECOMMENDED_SIZES.find((b) => {
      if (b.method !== "scale") return false;
      const out = fitInside(sw, sh, b.width, b.height);
      return out.width >= ideal.width && out.height >= ideal.height;
    });
    box ??= { width: roundUp(rw, 32), height: roundUp(rh, 32), method: "scale" };
    const out = fitInside(sw, sh, box.width, box.height);
    if (out.width >= sw && out.height >= sh) return { kind: "original" };
    return { kind: "resize", box, crop: whole, width: out.width, height: out.height };
  }
  if (sw <= rw && sh <= rh) return { kind: "original" };
  const box = RECOMMENDED_SIZES.find((b) => b.method === "crop" && b.width * rh === b.height * rw && b.width >= rw) ?? {
    width: rw,
    height: rh,
    method: "crop" as const,
  };
  const crop = centredCrop(sw, sh, box.width, box.height);
  // Never upscale: a region smaller than the box is returned at its own size.
  const fits = crop.width >= box.width && crop.height >= box.height;
  return { kind: "resize", box, crop, width: fits ? box.width : crop.width, height: fits ? box.height : crop.height };
}

/** The R2 key suffix of a thumbnail variant. */
export function variantName(box: ThumbnailBox, mime: string): string {
  return `${box.width}x${box.height}-${box.method}-${mime.replace("/", "_")}`;
}
