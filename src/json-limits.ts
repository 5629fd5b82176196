/**
 * Limits on JSON values that arrive from outside, checked right after parsing and
 * before any recursive work touches them: zod, canonical JSON, hashing,
 * JSON.stringify, Durable Object RPC (structured clone) and D1's JSON functions all
 * recurse, and a deep enough value overflows their stacks (a 500) or is refused
 * with an unhelpful error. The walk here uses an explicit stack, so no depth can
 * overflow it.
 *
 * Depth: the spec's canonical JSON (appendices "Canonical JSON") sets no nesting
 * limit, but every real parser has one: Python's json (Synapse) fails near its
 * recursion limit of 1000, SQLite's JSON functions at 1000, and serde_json (ruma,
 * Conduit and its forks) by default refuses 128 levels. A client body becomes an
 * event's content, which sits one level down in the PDU and three in a federation
 * transaction (`{"pdus": [{"content": ...}]}`), so MAX_JSON_DEPTH = 100 keeps
 * everything we accept below the tightest peer's 127 with room to spare, and is
 * far above what real content needs (a handful of levels).
 *
 * Numbers: JSON's grammar has no NaN or Infinity, but JSON.parse turns a literal
 * too large for a double (a 400-digit integer, 1e400) into ±Infinity, which no
 * JSON encoder can write back: always refused. Event content must additionally be
 * canonical JSON in room versions that say so (rooms/fragments/v6-canonical-json.md):
 * integers within ±(2^53−1) only. `-0` is accepted as the integer 0, as Synapse's
 * parser reads it; canonical JSON writes it as `0`, so `-0` never appears on the wire.
 */
import { CANONICAL_JSON_MAX_INT, CANONICAL_JSON_MIN_INT } from "./canonical-json.js";
import { MatrixError } from "./errors.js";

/** Deepest nesting accepted in anything received; the outermost object or array is level 1. */
export const MAX_JSON_DEPTH = 100;

export interface JsonLimits {
  /** Deepest nesting allowed (default MAX_JSON_DEPTH). */
  maxDepth?: number;
  /**
   * "finite" (default): any number a double holds. "integer": canonical JSON's
   * integers within ±(2^53−1), no fractions.
   */
  numbers?: "finite" | "integer";
  /** Refuse strings and keys holding a lone UTF-16 surrogate: UTF-8, hence canonical JSON, cannot carry one. */
  wellFormedStrings?: boolean;
}

export interface JsonLimitViolation {
  /** What is wrong, without the location. */
  reason: string;
  /** JSON-pointer-ish location of the offending value, e.g. `/content/a/0` ("" for the root). */
  path: string;
}

interface Frame {
  value: unknown;
  depth: number;
  key: string;
  parent: Frame | undefined;
}

// With the u flag a surrogate range matches only unpaired halves (as in canonical-json.ts).
const LONE_SURROGATE = /[\ud800-\udfff]/u;

function pathOf(frame: Frame | undefined): string {
  const segments: string[] = [];
  for (let f = frame; f?.parent; f = f.parent) segments.push(f.key);
  return segments.reverse().map((s) => `/${s}`).join("");
}

function numberProblem(n: number, numbers: "finite" | "integer"): string | undefined {
  if (!Number.isFinite(n)) return "number too large to represent";
  if (numbers === "finite") return undefined;
  if (!Number.isInteger(n)) return `float ${n} is not allowed in canonical JSON`;
  if (n < CANONICAL_JSON_MIN_INT || n > CANONICAL_JSON_MAX_INT) return `integer ${n} is outside ±(2^53-1)`;
  return undefined;
}

/**
 * The first place where `value` (as JSON.parse returns it) breaks `limits`, or
 * undefined. Iterative, so safe on any depth; stops at the first problem.
 */
export function jsonLimitViolation(value: unknown, limits: JsonLimits = {}): JsonLimitViolation | undefined {
  const maxDepth = limits.maxDepth ?? MAX_JSON_DEPTH;
  const numbers = limits.numbers ?? "finite";
  const strings = limits.wellFormedStrings ?? false;
  const stack: Frame[] = [{ value, depth: 0, key: "", parent: undefined }];
  for (let frame = stack.pop(); frame !== undefined; frame = stack.pop()) {
    const v = frame.value;
    if (typeof v === "number") {
      const problem = numberProblem(v, numbers);
      if (problem) return { reason: problem, path: pathOf(frame) };
    } else if (typeof v === "string") {
      if (strings && LONE_SURROGATE.test(v)) return { reason: "string contains a lone UTF-16 surrogate", path: pathOf(frame) };
    } else if (typeof v === "object" && v !== null) {
      const depth = frame.depth + 1;
      if (depth > maxDepth) return { reason: `nested deeper than ${maxDepth} levels`, path: "" };
      if (Array.isArray(v)) {
        for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], depth, key: String(i), parent: frame });
      } else {
        const entries = Object.entries(v);
        for (let i = entries.length - 1; i >= 0; i--) {
          const [k, child] = entries[i]!;
          if (strings && LONE_SURROGATE.test(k)) return { reason: "key contains a lone UTF-16 surrogate", path: pathOf(frame) };
          stack.push({ value: child, depth, key: k, parent: frame });
        }
      }
    }
  }
  return undefined;
}

/** Throws 400 M_BAD_JSON naming `what` unless `value` is within `limits`. */
export function assertJsonLimits(value: unknown, what: string, limits: JsonLimits = {}): void {
  const v = jsonLimitViolation(value, limits);
  if (v) throw new MatrixError("M_BAD_JSON", `${what}${v.path}: ${v.reason}`, 400);
}
