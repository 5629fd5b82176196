/**
 * A single `Range: bytes=…` request (RFC 9110 §14). Several ranges, other units
 * and malformed headers are ignored (the whole body is served, as §14.2 allows);
 * a well-formed range wholly outside the body is unsatisfiable (416).
 */
export type RangeRequest =
  | { kind: "none" }
  | { kind: "range"; offset: number; length: number }
  | { kind: "unsatisfiable" };

export function parseRange(header: string | null | undefined, size: number): RangeRequest {
  if (!header) return { kind: "none" };
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m) return { kind: "none" };
  const [, first, last] = m as unknown as [string, string, string];
  if (first === "" && last === "") return { kind: "none" };
  if (first === "") {
    // Suffix range: the last N bytes.
    const n = Number(last);
    if (n === 0) return { kind: "unsatisfiable" };
    const length = Math.min(n, size);
    if (size === 0) return { kind: "unsatisfiable" };
    return { kind: "range", offset: size - length, length };
  }
  const start = Number(first);
  if (!Number.isSafeInteger(start)) return { kind: "unsatisfiable" };
  if (start >= size) return { kind: "unsatisfiable" };
  let end = last === "" ? size - 1 : Number(last);
  if (!Number.isSafeInteger(end) || end >= size) end = size - 1;
  if (end < start) return { kind: "none" };
  return { kind: "range", offset: start, length: end - start + 1 };
}
