/**
 * Canonical JSON (spec: appendices "Canonical JSON", rooms/fragments/v1-canonical-json.md,
 * rooms/fragments/v6-canonical-json.md).
 *
 * "The shortest UTF-8 JSON encoding with dictionary keys lexicographically sorted by
 * Unicode codepoint. Numbers in the JSON must be integers in the range
 * [-(2**53)+1, (2**53)-1], represented without exponents or decimal places, and
 * negative zero -0 MUST NOT appear."
 *
 * Strings are written with exactly the escapes of the appendix grammar: `\"`, `\\`,
 * `\b \t \n \f \r`, and `\u00XX` (lowercase hex) for the remaining C0 controls.
 * Everything else, including `/`, DEL (U+007F) and non-ASCII, is written verbatim
 * as UTF-8. Lone surrogates cannot be encoded as UTF-8 and are rejected.
 *
 * Strict vs lenient: room versions 1–5 "might not be fully compliant" and servers
 * "SHOULD be capable of handling" such JSON "where possible" (v1-canonical-json).
 * With `strict: false` we therefore accept any finite number and print it
 * (integers as the exact decimal value of the double, floats in ECMAScript's
 * shortest round-trip form).
 * This is a best effort only: JSON.parse has already rounded integers beyond 2^53
 * and erased the text of floats (`1.0` vs `1`), so a hash or signature computed by a
 * server that kept the original number text may not be reproducible. NaN, ±Infinity
 * and non-JSON values are rejected in both modes. Strict is the default: it is what
 * v6+ rooms require and what every server-generated object must satisfy.
 */

/** The bounds of integers representable in canonical JSON: ±(2^53 − 1). */
export const CANONICAL_JSON_MAX_INT = Number.MAX_SAFE_INTEGER;
export const CANONICAL_JSON_MIN_INT = Number.MIN_SAFE_INTEGER;

export class CanonicalJsonError extends Error {
  /** What is wrong, without the location. */
  readonly detail: string;
  /** JSON-pointer-ish path of the offending value, e.g. `/content/a/0` ("" for the root). */
  readonly path: string;
  constructor(detail: string, path = "") {
    super(path === "" ? detail : `${detail} at ${path}`);
    this.name = "CanonicalJsonError";
    this.detail = detail;
    this.path = path;
  }
}

export interface CanonicalJsonOptions {
  /**
   * true (default): the appendix rules exactly (integers within ±(2^53−1) only).
   * false: also accept floats and out-of-range integers (room versions 1–5).
   */
  strict?: boolean;
}

const textEncoder = new TextEncoder();

/** Encode `value` as canonical JSON text. Throws CanonicalJsonError. */
export function canonicalJson(value: unknown, options: CanonicalJsonOptions = {}): string {
  return encode(value, options.strict ?? true, 0);
}

/** Canonical JSON as UTF-8 bytes (what is hashed and signed). */
export function canonicalJsonBytes(value: unknown, options: CanonicalJsonOptions = {}): Uint8Array {
  return textEncoder.encode(canonicalJson(value, options));
}

/**
 * Throw CanonicalJsonError unless `value` can be encoded. `strict` as in
 * CanonicalJsonOptions; pass `roomVersion.strictCanonicalJson` for events.
 */
export function assertCanonicalisable(value: unknown, strict: boolean): void {
  encode(value, strict, 0);
}

/** true iff `value` can be encoded (see assertCanonicalisable). */
export function isCanonicalisable(value: unknown, strict: boolean): boolean {
  try {
    assertCanonicalisable(value, strict);
    return true;
  } catch (e) {
    if (e instanceof CanonicalJsonError) return false;
    throw e;
  }
}

/**
 * Compare two (well-formed) strings by Unicode code point, which is also UTF-8 byte
 * order. JavaScript's default sort compares UTF-16 code units, which puts
 * U+E000–U+FFFF after astral characters; fix up the first differing unit.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      if (x >= 0xd800 && y >= 0xd800) {
        // Surrogates (astral code points) sort above the BMP's U+E000–U+FFFF.
        x = x <= 0xdfff ? x + 0x2000 : x - 0x800;
        y = y <= 0xdfff ? y + 0x2000 : y - 0x800;
      }
      return x - y;
    }
  }
  return a.length - b.length;
}

// Nesting limit: far above anything a 64 KiB event can contain, but stops
// pathological inputs from overflowing the JS stack with an unhelpful RangeError.
const MAX_DEPTH = 512;

const LONE_SURROGATE = /[\ud800-\udfff]/u;
// Characters the grammar escapes: C0 controls, `"` and `\`.
const NEEDS_ESCAPE = /[\u0000-\u001f"\\]/;
const SHORT_ESCAPES: Record<number, string> = {
  0x08: "\\b",
  0x09: "\\t",
  0x0a: "\\n",
  0x0c: "\\f",
  0x0d: "\\r",
  0x22: '\\"',
  0x5c: "\\\\",
};

function quote(s: string): string {
  if (LONE_SURROGATE.test(s)) throw new CanonicalJsonError("string contains a lone UTF-16 surrogate");
  if (!NEEDS_ESCAPE.test(s)) return `"${s}"`;
  let r = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const short = SHORT_ESCAPES[c];
    if (short !== undefined) r += short;
    else if (c < 0x20) r += "\\u00" + c.toString(16).padStart(2, "0");
    else r += s[i];
  }
  return r + '"';
}

function isPlainObject(v: object): boolean {
  const proto: unknown = Object.getPrototypeOf(v);
  // Object.prototype of this (or another) realm, or a null-prototype dictionary.
  return proto === null || proto === Object.prototype || Object.getPrototypeOf(proto) === null;
}

function encodeNumber(n: number, strict: boolean): string {
  if (!Number.isFinite(n)) throw new CanonicalJsonError(`${n} is not representable in JSON`);
  if (Number.isInteger(n)) {
    if (n >= CANONICAL_JSON_MIN_INT && n <= CANONICAL_JSON_MAX_INT) return Object.is(n, -0) ? "0" : String(n);
    if (strict) throw new CanonicalJsonError(`integer ${n} is outside ±(2^53-1)`);
    // The exact decimal value of the double, never an exponent (as Python prints ints).
    return BigInt(n).toString();
  }
  if (strict) throw new CanonicalJsonError(`float ${n} is not allowed in canonical JSON`);
  return JSON.stringify(n);
}

/** Re-throw a CanonicalJsonError from a child with `segment` prepended to its path. */
function withSegment(e: unknown, segment: string): never {
  if (e instanceof CanonicalJsonError) throw new CanonicalJsonError(e.detail, `/${segment}${e.path}`);
  throw e;
}

// Paths are built only on failure (catch and re-throw per level), so the success
// path allocates nothing but the output.
function encode(v: unknown, strict: boolean, depth: number): string {
  switch (typeof v) {
    case "string":
      return quote(v);
    case "number":
      return encodeNumber(v, strict);
    case "boolean":
      return v ? "true" : "false";
    case "object":
      break;
    default:
      throw new CanonicalJsonError(`${typeof v} is not a JSON value`);
  }
  if (v === null) return "null";
  if (depth >= MAX_DEPTH) throw new CanonicalJsonError("JSON nested too deeply");
  if (Array.isArray(v)) {
    let r = "[";
    for (let i = 0; i < v.length; i++) {
      // Holes and undefined would silently become null in JSON.stringify: refuse.
      if (!(i in v) || v[i] === undefined) throw new CanonicalJsonError("undefined is not a JSON value", `/${i}`);
      let item: string;
      try {
        item = encode(v[i], strict, depth + 1);
      } catch (e) {
        withSegment(e, String(i));
      }
      r += i === 0 ? item : "," + item;
    }
    return r + "]";
  }
  if (!isPlainObject(v)) throw new CanonicalJsonError(`${v.constructor?.name ?? "object"} is not a plain JSON object`);
  const obj = v as Record<string, unknown>;
  // Members whose value is undefined are omitted, exactly as JSON.stringify (and hence
  // the wire) would: optional fields typed `x?: T` may be present-but-undefined.
  const keys = Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort(compareCodePoints);
  let r = "{";
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    let member: string;
    try {
      member = quote(k) + ":" + encode(obj[k], strict, depth + 1);
    } catch (e) {
      withSegment(e, k);
    }
    r += i === 0 ? member : "," + member;
  }
  return r + "}";
}
