import { describe, expect, it } from "vitest";
import { MatrixError } from "../../src/errors.js";
import { parseDirection, parseLimit, parseStreamToken, streamToken } from "../../src/stream-token.js";

const errcode = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return (e as MatrixError).errcode;
  }
  return undefined;
};

describe("stream tokens", () => {
  it("round-trips s<pos>", () => {
    expect(parseStreamToken(streamToken(42), "from", 100)).toBe(42);
    expect(parseStreamToken("s0", "from", 0)).toBe(0);
  });
  it("refuses other shapes and future positions", () => {
    for (const bad of ["", "42", "s", "s-1", "s1.5", "t1", "s1_2", "s1234567890123456"]) expect(errcode(() => parseStreamToken(bad, "from", 10))).toBe("M_INVALID_PARAM");
    expect(errcode(() => parseStreamToken("s11", "from", 10))).toBe("M_INVALID_PARAM");
  });
  it("parses dir and limit", () => {
    expect(parseDirection("f", true)).toBe("f");
    expect(parseDirection(undefined, false)).toBe("b");
    expect(errcode(() => parseDirection(undefined, true))).toBe("M_MISSING_PARAM");
    expect(errcode(() => parseDirection("x", false))).toBe("M_INVALID_PARAM");
    expect(parseLimit(undefined, 10, 100)).toBe(10);
    expect(parseLimit("5000", 10, 100)).toBe(100);
    expect(parseLimit("0", 10, 100)).toBe(0);
    expect(errcode(() => parseLimit("0", 10, 100, { min: 1 }))).toBe("M_INVALID_PARAM");
    expect(errcode(() => parseLimit("-3", 10, 100))).toBe("M_INVALID_PARAM");
    expect(errcode(() => parseLimit("1e3", 10, 100))).toBe("M_INVALID_PARAM");
    expect(MatrixError).toBeDefined();
  });
});
