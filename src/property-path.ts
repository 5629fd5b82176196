/**
 * Dot-separated property paths (appendices "Dot-separated property paths"):
 * `content.m\.relates_to.rel_type` names `content["m.relates_to"]["rel_type"]`.
 * A backslash escapes a dot or a backslash; any other `\x` is a literal
 * backslash followed by `x`.
 */
import type { JsonValue } from "./json.js";

export function splitPropertyPath(path: string): string[] {
  const parts: string[] = [];
  let cur = "";
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    if (c === "\\" && (path[i + 1] === "." || path[i + 1] === "\\")) {
      cur += path[++i]!;
    } else if (c === ".") {
      parts.push(cur);
      cur = "";
    } else {
      cur += c;
    }
  }
  parts.push(cur);
  return parts;
}

/** The value at `path` in `obj`, or undefined when any step is missing or not an object. */
export function valueAtPath(obj: unknown, path: string): JsonValue | undefined {
  let v: unknown = obj;
  for (const p of splitPropertyPath(path)) {
    if (typeof v !== "object" || v === null || Array.isArray(v) || !Object.hasOwn(v, p)) return undefined;
    v = (v as Record<string, unknown>)[p];
  }
  return v as JsonValue;
}
