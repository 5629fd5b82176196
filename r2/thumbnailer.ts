/**
 * Image resizing inside workerd with Photon (Rust `image` crate compiled to
 * WASM, @cf-wasm/photon): decodes JPEG, PNG, WebP and GIF (first frame), crops
 * and scales per `ThumbnailPlan`, applies the JPEG EXIF orientation, and
 * encodes JPEG for JPEG sources and PNG (keeps transparency) for the rest.
 * Every PhotonImage is freed as soon as it is done with: WASM memory only grows.
 */
import { crop, fliph, flipv, PhotonImage, resize, rotate, SamplingFilter } from "@cf-wasm/photon";
import { MatrixError } from "../src/errors.js";
import type { ImageInfo } from "../src/image-info.js";
import { centredCrop, type ThumbnailPlan } from "../src/thumbnail-plan.js";

export const cannotThumbnail = () => new MatrixError("M_UNKNOWN", "Cannot generate thumbnails for the requested content", 400);

export function thumbnailMime(info: ImageInfo): "image/jpeg" | "image/png" {
  return info.format === "jpeg" ? "image/jpeg" : "image/png";
}

/** EXIF orientations 5–8 store the image rotated by a quarter turn. */
export function displaySize(info: ImageInfo): { width: number; height: number } {
  return info.orientation >= 5 ? { width: info.height, height: info.width } : { width: info.width, height: info.height };
}

/** Turns the stored pixels upright (EXIF 2–8), freeing the input when it makes a new image. */
function orient(img: PhotonImage, orientation: number): PhotonImage {
  const turn = (deg: number) => {
    const out = rotate(img, deg);
    img.free();
    return out;
  };
  switch (orientation) {
    case 2:
      fliph(img);
      return img;
    case 3:
      return turn(180);
    case 4:
      flipv(img);
      return img;
    case 5: {
      const out = turn(90);
      fliph(out);
      return out;
    }
    case 6:
      return turn(90);
    case 7: {
      const out = turn(270);
      fliph(out);
      return out;
    }
    case 8:
      return turn(270);
    default:
      return img;
  }
}

/** Renders a `resize` plan (computed in display orientation) from the full source bytes. */
export function renderThumbnail(source: Uint8Array, info: ImageInfo, plan: Extract<ThumbnailPlan, { kind: "resize" }>): Uint8Array {
  let img: PhotonImage;
  try {
    img = PhotonImage.new_from_byteslice(source);
  } catch {
    throw cannotThumbnail();
  }
  try {
    const swap = info.orientation >= 5;
    const sw = img.get_width();
    const sh = img.get_height();
    // The plan's crop is centred in display space; centred stays centred in stored space.
    const cw = Math.min(sw, swap ? plan.crop.height : plan.crop.width);
    const ch = Math.min(sh, swap ? plan.crop.width : plan.crop.height);
    const region = cw === sw && ch === sh ? { x: 0, y: 0, width: sw, height: sh } : centredCrop(sw, sh, cw, ch);
    if (region.width !== sw || region.height !== sh) {
      const cut = crop(img, region.x, region.y, region.x + region.width, region.y + region.height);
      img.free();
      img = cut;
    }
    const ow = swap ? plan.height : plan.width;
    const oh = swap ? plan.width : plan.height;
    if (ow !== img.get_width() || oh !== img.get_height()) {
      const small = resize(img, ow, oh, SamplingFilter.Triangle);
      img.free();
      img = small;
    }
    img = orient(img, info.orientation);
    return info.format === "jpeg" ? img.get_bytes_jpeg(80) : img.get_bytes();
  } finally {
    img.free();
  }
}
