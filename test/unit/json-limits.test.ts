import { describe, expect, it } from "vitest";
import { canonicalJson } from "../../src/canonical-json.js";
import { MatrixError } from "../../src/errors.js";
import { assertJsonLimits, jsonLimitViolation, MAX_JSON_DEPTH } from "../../src/json-limits.js";

const nestedObjects = (n: number) => '{"a":'.repeat(n) + "1" + "}".repeat(n);
const nestedArrays = (n: number) => "[".repeat(n) + "]".repeat(n);

describe("jsonLimitViolation: depth", () => {
  it("accepts scalars and nesting up to the limit, objects and arrays alike", () => {
    for (const v of [null, true, 1, "x", {}, [], { a: [{ b: [] }] }]) expect(jsonLimitViolation(v)).toBeUndefined();
    expect(jsonLimitViolation(JSON.parse(nestedObjects(MAX_JSON_DEPTH)))).toBeUndefined();
    expect(jsonLimitViolation(JSON.parse(nestedArrays(MAX_JSON_DEPTH)))).toBeUndefined();
  });

  it("refuses one level more, whichever the container", () => {
    const why = { reason: `nested deeper than ${MAX_JSON_DEPTH} levels`, path: "" };
    expect(jsonLimitViolation(JSON.parse(nestedObjects(MAX_JSON_DEPTH + 1)))).toEqual(why);
    expect(jsonLimitViolation(JSON.parse(nestedArrays(MAX_JSON_DEPTH + 1)))).toEqual(why);
    expect(jsonLimitViolation(JSON.parse(`{"a":[{"b":${nestedArrays(MAX_JSON_DEPTH - 2)}}]}`))).toEqual(why);
  });

  it("takes a custom limit", () => {
    expect(jsonLimitViolation({ a: { b: 1 } }, { maxDepth: 2 })).toBeUndefined();
    expect(jsonLimitViolation({ a: { b: {} } }, { maxDepth: 2 })?.reason).toBe("nested deeper than 2 levels");
  });

  it("walks hostile depths without recursion (no RangeError)", () => {
    for (const n of [6_000, 100_000]) {
      expect(jsonLimitViolation(JSON.parse(nestedArrays(n)))?.reason).toBe(`nested deeper than ${MAX_JSON_DEPTH} levels`);
      // Even with no limit at all the walk finishes: it keeps its own stack.
      expect(jsonLimitViolation(JSON.parse(nestedObjects(n)), { maxDepth: Infinity })).toBeUndefined();
    }
  });

  it("finds a deep branch next to shallow ones", () => {
    const deep = JSON.parse(`{"ok":[1,2,3],"x":{"y":${nestedObjects(MAX_JSON_DEPTH)}}}`);
    expect(jsonLimitViolation(deep)?.reason).toMatch(/nested deeper/);
  });
});

describe("jsonLimitViolation: numbers", () => {
  it("always refuses what JSON.parse made infinite: 400-digit integers, 1e400, -1e400", () => {
    for (const text of ["9".repeat(400), "1e400", "-1e400", "-" + "9".repeat(400)]) {
      const v = JSON.parse(`{"a":[0,${text}]}`);
      expect(jsonLimitViolation(v)).toEqual({ reason: "number too large to represent", path: "/a/1" });
      expect(jsonLimitViolation(v, { numbers: "integer" })?.path).toBe("/a/1");
    }
  });

  it("finite mode keeps floats and big integers (non-event JSON: tag order, account data)", () => {
    expect(jsonLimitViolation(JSON.parse('{"order":0.5,"big":9007199254740993,"e":1e300}'))).toBeUndefined();
  });

  it("integer mode is canonical JSON's range exactly: ±(2^53−1), no fractions", () => {
    const ok = [0, 1, -1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 1e10];
    for (const n of ok) expect(jsonLimitViolation({ n }, { numbers: "integer" })).toBeUndefined();
    expect(jsonLimitViolation({ n: 2 ** 53 }, { numbers: "integer" })).toEqual({ reason: "integer 9007199254740992 is outside ±(2^53-1)", path: "/n" });
    expect(jsonLimitViolation({ n: -(2 ** 53) }, { numbers: "integer" })?.path).toBe("/n");
    expect(jsonLimitViolation({ n: [1.5] }, { numbers: "integer" })).toEqual({ reason: "float 1.5 is not allowed in canonical JSON", path: "/n/0" });
  });

  it("accepts -0 as the integer 0, which canonical JSON writes as 0 (appendix: -0 MUST NOT appear)", () => {
    const v = JSON.parse('{"a":-0}');
    expect(jsonLimitViolation(v, { numbers: "integer" })).toBeUndefined();
    expect(canonicalJson(v)).toBe('{"a":0}');
  });

  it("agrees with the canonical JSON encoder on what strict mode refuses", () => {
    for (const n of [1.5, 2 ** 53, -(2 ** 53), Infinity]) {
      expect(jsonLimitViolation({ n }, { numbers: "integer" })).toBeDefined();
      expect(() => canonicalJson({ n })).toThrow();
    }
  });
});

describe("jsonLimitViolation: strings", () => {
  it("refuses lone surrogates in values and keys only when asked", () => {
    const value = JSON.parse('{"a":["ok","\\ud800"]}');
    const key = JSON.parse('{"b":{"\\udc00":1}}');
    expect(jsonLimitViolation(value)).toBeUndefined();
    expect(jsonLimitViolation(value, { wellFormedStrings: true })).toEqual({ reason: "string contains a lone UTF-16 surrogate", path: "/a/1" });
    expect(jsonLimitViolation(key, { wellFormedStrings: true })).toEqual({ reason: "key contains a lone UTF-16 surrogate", path: "/b" });
    // A surrogate pair is one code point, and fine.
    expect(jsonLimitViolation({ "😀": "😀" }, { wellFormedStrings: true })).toBeUndefined();
  });
});

describe("assertJsonLimits", () => {
  it("throws 400 M_BAD_JSON naming the place", () => {
    let err: unknown;
    try {
      assertJsonLimits({ a: [1, 1e400] }, "content");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MatrixError);
    expect((err as MatrixError).errcode).toBe("M_BAD_JSON");
    expect((err as MatrixError).status).toBe(400);
    expect((err as MatrixError).message).toBe("content/a/1: number too large to represent");
    expect(() => assertJsonLimits({ a: 1 }, "content")).not.toThrow();
  });
});
