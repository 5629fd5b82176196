import { describe, expect, it } from "vitest";
import {
  assertCanonicalisable,
  canonicalJson,
  canonicalJsonBytes,
  CanonicalJsonError,
  compareCodePoints,
  isCanonicalisable,
} from "../../src/canonical-json.js";

// Spec: appendices "Canonical JSON" → "Examples". Inputs are given as JSON text and
// parsed, as a server would, so `\u65E5`, `-0` and `1e10` go through JSON.parse.
const APPENDIX_EXAMPLES: [string, string][] = [
  ["{}", "{}"],
  ['{\n    "one": 1,\n    "two": "Two"\n}', '{"one":1,"two":"Two"}'],
  ['{\n    "b": "2",\n    "a": "1"\n}', '{"a":"1","b":"2"}'],
  ['{"b":"2","a":"1"}', '{"a":"1","b":"2"}'],
  [
    `{
    "auth": {
        "success": true,
        "mxid": "@john.doe:example.com",
        "profile": {
            "display_name": "John Doe",
            "three_pids": [
                {
                    "medium": "email",
                    "address": "john.doe@example.org"
                },
                {
                    "medium": "msisdn",
                    "address": "123456789"
                }
            ]
        }
    }
}`,
    '{"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe","three_pids":[{"address":"john.doe@example.org","medium":"email"},{"address":"123456789","medium":"msisdn"}]},"success":true}}',
  ],
  ['{\n    "a": "日本語"\n}', '{"a":"日本語"}'],
  ['{\n    "本": 2,\n    "日": 1\n}', '{"日":1,"本":2}'],
  ['{\n    "a": "\\u65E5"\n}', '{"a":"日"}'],
  ['{\n    "a": null\n}', '{"a":null}'],
  ['{\n    "a": -0,\n    "b": 1e10\n}', '{"a":0,"b":10000000000}'],
];

describe("canonicalJson: appendix examples", () => {
  for (const [input, expected] of APPENDIX_EXAMPLES) {
    it(`encodes ${expected}`, () => {
      const value: unknown = JSON.parse(input);
      expect(canonicalJson(value)).toBe(expected);
      expect(canonicalJsonBytes(value)).toEqual(new TextEncoder().encode(expected));
    });
  }
});

describe("canonicalJson: strings", () => {
  it("uses the short escapes for \\b \\t \\n \\f \\r \\\" \\\\", () => {
    expect(canonicalJson("\b\t\n\f\r\"\\")).toBe('"\\b\\t\\n\\f\\r\\"\\\\"');
  });
  it("escapes other C0 controls as lowercase \\u00XX", () => {
    expect(canonicalJson("\u0000\u0001\u000b\u000e\u001f")).toBe('"\\u0000\\u0001\\u000b\\u000e\\u001f"');
    for (let c = 0; c < 0x20; c++) {
      const enc = canonicalJson(String.fromCharCode(c));
      expect(enc).toMatch(/^"(\\[btnfr]|\\u00[01][0-9a-f])"$/);
      expect(JSON.parse(enc)).toBe(String.fromCharCode(c));
    }
  });
  it("does not escape '/', DEL, non-ASCII or astral characters", () => {
    expect(canonicalJson("a/b\u007f\u00e9\u2028\u2029😀")).toBe('"a/b\u007f\u00e9\u2028\u2029😀"');
  });
  it("writes non-ASCII as UTF-8 bytes", () => {
    expect([...canonicalJsonBytes("é")]).toEqual([0x22, 0xc3, 0xa9, 0x22]);
    expect([...canonicalJsonBytes("😀")]).toEqual([0x22, 0xf0, 0x9f, 0x98, 0x80, 0x22]);
  });
  it("rejects lone surrogates in values and keys", () => {
    expect(() => canonicalJson("\ud800")).toThrow(CanonicalJsonError);
    expect(() => canonicalJson("a\udc00b")).toThrow(CanonicalJsonError);
    expect(() => canonicalJson({ "\ud83d": 1 })).toThrow(CanonicalJsonError);
  });
  it("escapes control characters inside keys too", () => {
    expect(canonicalJson({ "a\nb": 1 })).toBe('{"a\\nb":1}');
  });
});

describe("canonicalJson: key order", () => {
  it("sorts keys by code point, not UTF-16 code unit", () => {
    // U+FF61 < U+1F600 by code point, but 0xFF61 > 0xD83D as UTF-16 units.
    const obj = { "😀": 1, "\uff61": 2, a: 3, B: 4, "": 5 };
    expect(canonicalJson(obj)).toBe('{"":5,"B":4,"a":3,"\uff61":2,"😀":1}');
  });
  it("compareCodePoints agrees with UTF-8 byte order", () => {
    const strings = ["", "a", "ab", "b", "\u00e9", "\ue000", "\uffff", "😀", "😀a", "\u{10ffff}", "Z"];
    const bytes = (s: string) => [...new TextEncoder().encode(s)];
    const byteCmp = (a: string, b: string) => {
      const x = bytes(a);
      const y = bytes(b);
      for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return (x[i] as number) - (y[i] as number);
      return x.length - y.length;
    };
    for (const a of strings) for (const b of strings) expect(Math.sign(compareCodePoints(a, b))).toBe(Math.sign(byteCmp(a, b)));
  });
  it("sorts nested objects and keeps array order", () => {
    expect(canonicalJson({ z: [3, 1, { y: 1, x: 2 }], a: {} })).toBe('{"a":{},"z":[3,1,{"x":2,"y":1}]}');
  });
  it("handles a __proto__ own key like any other key", () => {
    const obj: unknown = JSON.parse('{"__proto__":{"x":1},"a":1}');
    expect(canonicalJson(obj)).toBe('{"__proto__":{"x":1},"a":1}');
  });
});

describe("canonicalJson: numbers", () => {
  it("accepts the integer range ±(2^53-1) exactly", () => {
    expect(canonicalJson(9007199254740991)).toBe("9007199254740991");
    expect(canonicalJson(-9007199254740991)).toBe("-9007199254740991");
    expect(() => canonicalJson(9007199254740992)).toThrow(CanonicalJsonError);
    expect(() => canonicalJson(-9007199254740992)).toThrow(CanonicalJsonError);
  });
  it("writes -0 as 0 and large exact doubles without exponent", () => {
    expect(canonicalJson(-0)).toBe("0");
    expect(canonicalJson(1e15)).toBe("1000000000000000");
  });
  it("rejects floats in strict mode with a path", () => {
    expect(() => canonicalJson({ a: [1, 1.5] })).toThrow(/float 1.5.*\/a\/1/);
    try {
      canonicalJson({ content: { x: 0.1 } });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(CanonicalJsonError);
      expect((e as CanonicalJsonError).path).toBe("/content/x");
    }
  });
  it("rejects NaN and Infinity in both modes", () => {
    for (const strict of [true, false]) {
      expect(() => canonicalJson(NaN, { strict })).toThrow(CanonicalJsonError);
      expect(() => canonicalJson(Infinity, { strict })).toThrow(CanonicalJsonError);
      expect(() => canonicalJson(-Infinity, { strict })).toThrow(CanonicalJsonError);
    }
  });
  it("accepts floats and big integers in lenient (v1–v5) mode", () => {
    expect(canonicalJson({ a: 1.5, b: 2 ** 60, c: -0.25 }, { strict: false })).toBe('{"a":1.5,"b":1152921504606846976,"c":-0.25}');
  });
});

describe("canonicalJson: non-JSON values", () => {
  it("rejects undefined, functions, symbols, bigints", () => {
    expect(() => canonicalJson(undefined)).toThrow(CanonicalJsonError);
    expect(() => canonicalJson(() => 1)).toThrow(CanonicalJsonError);
    expect(() => canonicalJson(Symbol("x"))).toThrow(CanonicalJsonError);
    expect(() => canonicalJson(1n)).toThrow(CanonicalJsonError);
  });
  it("rejects class instances (Date, Map, Uint8Array)", () => {
    expect(() => canonicalJson({ d: new Date(0) })).toThrow(CanonicalJsonError);
    expect(() => canonicalJson(new Map())).toThrow(CanonicalJsonError);
    expect(() => canonicalJson(new Uint8Array(2))).toThrow(CanonicalJsonError);
  });
  it("rejects undefined and holes in arrays", () => {
    expect(() => canonicalJson([undefined])).toThrow(CanonicalJsonError);
    // eslint-disable-next-line no-sparse-arrays
    expect(() => canonicalJson([1, , 2])).toThrow(CanonicalJsonError);
  });
  it("omits object members whose value is undefined, like JSON.stringify", () => {
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}');
  });
  it("accepts null-prototype objects", () => {
    const o = Object.create(null) as Record<string, number>;
    o.b = 1;
    o.a = 2;
    expect(canonicalJson(o)).toBe('{"a":2,"b":1}');
  });
  it("refuses absurd nesting with a CanonicalJsonError, not a stack overflow", () => {
    let v: unknown = 1;
    for (let i = 0; i < 10000; i++) v = [v];
    expect(() => canonicalJson(v)).toThrow(CanonicalJsonError);
  });
});

describe("assertCanonicalisable / isCanonicalisable", () => {
  it("follows the strict flag", () => {
    expect(() => assertCanonicalisable({ a: 1.5 }, false)).not.toThrow();
    expect(() => assertCanonicalisable({ a: 1.5 }, true)).toThrow(CanonicalJsonError);
    expect(isCanonicalisable({ a: 2 ** 53 }, true)).toBe(false);
    expect(isCanonicalisable({ a: 2 ** 53 }, false)).toBe(true);
    expect(isCanonicalisable({ a: "\ud800" }, false)).toBe(false);
  });
  it("agrees with JSON.stringify on plain JSON after re-parsing", () => {
    const value = { b: [1, "x", null, true, { d: "é\n" }], a: { c: false } };
    expect(JSON.parse(canonicalJson(value))).toEqual(value);
  });
});
