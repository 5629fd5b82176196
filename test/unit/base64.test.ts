import { describe, expect, it } from "vitest";
import {
  Base64Error,
  decodeBase64,
  decodeBase64Url,
  encodeBase64,
  encodeBase64Url,
  tryDecodeBase64,
} from "../../src/base64.js";

const utf8 = (s: string) => new TextEncoder().encode(s);

// Spec: appendices "Unpadded Base64" examples.
const EXAMPLES: [string, string][] = [
  ["", ""],
  ["f", "Zg"],
  ["fo", "Zm8"],
  ["foo", "Zm9v"],
  ["foob", "Zm9vYg"],
  ["fooba", "Zm9vYmE"],
  ["foobar", "Zm9vYmFy"],
];

describe("unpadded base64", () => {
  for (const [plain, encoded] of EXAMPLES) {
    it(`UNPADDED_BASE64(${JSON.stringify(plain)}) = ${JSON.stringify(encoded)}`, () => {
      expect(encodeBase64(utf8(plain))).toBe(encoded);
      expect(decodeBase64(encoded)).toEqual(utf8(plain));
    });
  }

  it("accepts padded input too", () => {
    expect(decodeBase64("Zg==")).toEqual(utf8("f"));
    expect(decodeBase64("Zm8=")).toEqual(utf8("fo"));
    expect(decodeBase64Url("Zg==")).toEqual(utf8("f"));
  });

  it("rejects wrong padding, bad lengths and foreign characters", () => {
    for (const bad of ["Zg=", "Zg===", "Z", "Zm9vY", "Zm=9", "Zm 9v", "Zm9v\n", "Zm9v!", "Zé"]) {
      expect(() => decodeBase64(bad), bad).toThrow(Base64Error);
    }
    expect(tryDecodeBase64("!!")).toBeUndefined();
  });

  it("keeps the alphabets apart", () => {
    const bytes = new Uint8Array([0xfb, 0xff, 0xbf]);
    expect(encodeBase64(bytes)).toBe("+/+/");
    expect(encodeBase64Url(bytes)).toBe("-_-_");
    expect(decodeBase64Url("-_-_")).toEqual(bytes);
    expect(() => decodeBase64("-_-_")).toThrow(Base64Error);
    expect(() => decodeBase64Url("+/+/")).toThrow(Base64Error);
  });

  it("tolerates non-zero trailing bits (the appendix's own seed has them)", () => {
    const seed = decodeBase64("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1");
    expect(seed.length).toBe(32);
    // Re-encoding yields the canonical form with the stray bits cleared.
    expect(encodeBase64(seed)).toBe("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0");
  });

  it("round-trips every length and byte value", () => {
    for (let n = 0; n < 70; n++) {
      const bytes = new Uint8Array(n).map((_, i) => (i * 37 + n * 11) & 0xff);
      expect(decodeBase64(encodeBase64(bytes))).toEqual(bytes);
      expect(decodeBase64Url(encodeBase64Url(bytes))).toEqual(bytes);
      expect(encodeBase64(bytes)).not.toContain("=");
      expect(encodeBase64(bytes)).toBe(Buffer.from(bytes).toString("base64").replace(/=+$/, ""));
      expect(encodeBase64Url(bytes)).toBe(Buffer.from(bytes).toString("base64url"));
    }
  });
});
