/**
 * What an image file is, from its bytes rather than its claimed Content-Type:
 * format, pixel size, whether it is animated and (JPEG) its EXIF orientation.
 * Used to refuse thumbnailing of images too large to decode in a Worker's
 * memory before decoding them, and to honour `animated` (client-server-api "Thumbnails").
 */
export type ImageFormat = "jpeg" | "png" | "gif" | "webp";

export interface ImageInfo {
  format: ImageFormat;
  mime: `image/${ImageFormat}` | "image/apng";
  width: number;
  height: number;
  animated: boolean;
  /** EXIF orientation 1–8 (JPEG only); 1 when absent. */
  orientation: number;
}

const u16be = (b: Uint8Array, o: number) => ((b[o] as number) << 8) | (b[o + 1] as number);
const u16le = (b: Uint8Array, o: number) => (b[o] as number) | ((b[o + 1] as number) << 8);
const u24le = (b: Uint8Array, o: number) => u16le(b, o) | ((b[o + 2] as number) << 16);
const u32be = (b: Uint8Array, o: number) => u16be(b, o) * 65536 + u16be(b, o + 2);
const u32le = (b: Uint8Array, o: number) => u16le(b, o) + u16le(b, o + 2) * 65536;
const ascii = (b: Uint8Array, o: number, n: number) => String.fromCharCode(...b.subarray(o, o + n));

export function sniffImage(b: Uint8Array): ImageInfo | null {
  try {
    if (b.length >= 24 && ascii(b, 1, 3) === "PNG" && b[0] === 0x89) return png(b);
    if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return jpeg(b);
    if (b.length >= 10 && (ascii(b, 0, 6) === "GIF87a" || ascii(b, 0, 6) === "GIF89a")) return gif(b);
    if (b.length >= 30 && ascii(b, 0, 4) === "RIFF" && ascii(b, 8, 4) === "WEBP") return webp(b);
  } catch {
    // Truncated or corrupt headers: not an image we can work with.
  }
  return null;
}

function png(b: Uint8Array): ImageInfo | null {
  if (ascii(b, 12, 4) !== "IHDR") return null;
  const width = u32be(b, 16);
  const height = u32be(b, 20);
  // APNG: an acTL chunk before the first IDAT.
  let animated = false;
  for (let o = 8; o + 8 <= b.length; ) {
    const len = u32be(b, o);
    const type = ascii(b, o + 4, 4);
    if (type === "acTL") animated = true;
    if (type === "IDAT" || type === "IEND") break;
    o += 12 + len;
  }
  return { format: "png", mime: animated ? "image/apng" : "image/png", width, height, animated, orientation: 1 };
}

function jpeg(b: Uint8Array): ImageInfo | null {
  let orientation = 1;
  for (let o = 2; o + 4 <= b.length; ) {
    if (b[o] !== 0xff) return null;
    const marker = b[o + 1] as number;
    if (marker === 0xff) {
      o++;
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      o += 2;
      continue;
    }
    const len = u16be(b, o + 2);
    if (marker === 0xe1 && ascii(b, o + 4, 6) === "Exif\0\0") orientation = exifOrientation(b, o + 10, o + 2 + len) ?? 1;
    // SOF0–SOF15 except DHT (C4), JPG (C8) and DAC (CC).
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      const height = u16be(b, o + 5);
      const width = u16be(b, o + 7);
      return { format: "jpeg", mime: "image/jpeg", width, height, animated: false, orientation };
    }
    if (marker === 0xda || marker === 0xd9) return null;
    o += 2 + len;
  }
  return null;
}

/** Tag 0x0112 of IFD0 in a TIFF structure starting at `t`. */
function exifOrientation(b: Uint8Array, t: number, end: number): number | null {
  const order = ascii(b, t, 2);
  const le = order === "II";
  if (!le && order !== "MM") return null;
  const r16 = (o: number) => (le ? u16le(b, o) : u16be(b, o));
  const r32 = (o: number) => (le ? u32le(b, o) : u32be(b, o));
  const ifd = t + r32(t + 4);
  if (ifd + 2 > end) return null;
  const count = r16(ifd);
  for (let i = 0; i < count; i++) {
    const e = ifd + 2 + i * 12;
    if (e + 12 > end) return null;
    if (r16(e) === 0x0112) {
      const v = r16(e + 8);
      return v >= 1 && v <= 8 ? v : null;
    }
  }
  return null;
}

function gif(b: Uint8Array): ImageInfo | null {
  const width = u16le(b, 6);
  const height = u16le(b, 8);
  let o = 13;
  const flags = b[10] as number;
  if (flags & 0x80) o += 3 * (1 << ((flags & 7) + 1));
  let frames = 0;
  const skipSubBlocks = () => {
    while (o < b.length) {
      const n = b[o] as number;
      o += 1 + n;
      if (n === 0) return;
    }
  };
  while (o < b.length && frames < 2) {
    const block = b[o];
    if (block === 0x3b) break;
    if (block === 0x21) {
      o += 2;
      skipSubBlocks();
    } else if (block === 0x2c) {
      frames++;
      const f = b[o + 9] as number;
      o += 10;
      if (f & 0x80) o += 3 * (1 << ((f & 7) + 1));
      o += 1; // LZW minimum code size
      skipSubBlocks();
    } else break;
  }
  return { format: "gif", mime: "image/gif", width, height, animated: frames > 1, orientation: 1 };
}

function webp(b: Uint8Array): ImageInfo | null {
  const chunk = ascii(b, 12, 4);
  if (chunk === "VP8X") {
    const animated = ((b[20] as number) & 0x02) !== 0;
    return { format: "webp", mime: "image/webp", width: u24le(b, 24) + 1, height: u24le(b, 27) + 1, animated, orientation: 1 };
  }
  if (chunk === "VP8 ") {
    // Frame tag (3 bytes) and start code 9d 01 2a, then 14-bit width and height.
    if (b[23] !== 0x9d || b[24] !== 0x01 || b[25] !== 0x2a) return null;
    return { format: "webp", mime: "image/webp", width: u16le(b, 26) & 0x3fff, height: u16le(b, 28) & 0x3fff, animated: false, orientation: 1 };
  }
  if (chunk === "VP8L") {
    if (b[20] !== 0x2f) return null;
    const bits = u32le(b, 21);
    return { format: "webp", mime: "image/webp", width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1, animated: false, orientation: 1 };
  }
  return null;
}
