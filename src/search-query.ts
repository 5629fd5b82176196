/**
 * Server-side search terms (client-server-api "Server Side Search"): the user's
 * `search_term` turned into an FTS5 MATCH expression, the words to highlight,
 * and the opaque `next_batch` tokens.
 *
 * Search terms read as web search syntax, as Synapse's: words (each also
 * matching as a prefix, so "mart" finds "martians"), "quoted phrases", `or`
 * between terms, and `-word` to exclude. Nothing the user types reaches FTS5
 * unquoted.
 */
import { MatrixError } from "./errors.js";

/** The searchable keys and the index column each lives in (d1-migrations/0009_push_search.sql). */
export const SEARCH_KEYS = { "content.body": "body", "content.name": "name", "content.topic": "topic" } as const;
export type SearchKey = keyof typeof SEARCH_KEYS;

type Term = { kind: "word"; text: string } | { kind: "phrase"; words: string[] } | { kind: "or" };

const WORD = /[\p{L}\p{N}_]+/gu;

function words(s: string): string[] {
  return [...s.matchAll(WORD)].map((m) => m[0]);
}

export interface ParsedSearch {
  /** FTS5 expression over the text columns, or null when nothing is searchable. */
  expr: string | null;
  /** Lower-cased words of the positive terms. */
  highlights: string[];
}

const quote = (w: string) => `"${w.replace(/"/g, '""')}"`;

export function parseSearchTerm(term: string): ParsedSearch {
  const positives: string[] = [];
  const negatives: string[] = [];
  const highlights = new Set<string>();
  // Split into quoted phrases and bare tokens.
  const parts = term.match(/-?"[^"]*"?|[^\s"]+/g) ?? [];
  let pendingOr = false;
  let group: string[] = [];
  const flush = () => {
    if (group.length) positives.push(group.length === 1 ? group[0]! : `(${group.join(" OR ")})`);
    group = [];
  };
  for (const raw of parts) {
    const negated = raw.startsWith("-") && raw.length > 1;
    const body = negated ? raw.slice(1) : raw;
    let t: Term;
    if (body.startsWith('"')) {
      const ws = words(body);
      if (!ws.length) continue;
      t = { kind: "phrase", words: ws };
    } else if (!negated && body.toLowerCase() === "or") {
      t = { kind: "or" };
    } else {
      const ws = words(body);
      if (!ws.length) continue;
      // "foo-bar" or "foo.bar": one phrase of its words.
      t = ws.length === 1 ? { kind: "word", text: ws[0]! } : { kind: "phrase", words: ws };
    }
    if (t.kind === "or") {
      pendingOr = group.length > 0;
      continue;
    }
    const fts = t.kind === "word" ? `${quote(t.text)}*` : quote(t.words.join(" "));
    if (negated) {
      negatives.push(fts);
      continue;
    }
    for (const w of t.kind === "word" ? [t.text] : t.words) highlights.add(w.toLowerCase());
    if (!pendingOr) flush();
    group.push(fts);
    pendingOr = false;
  }
  flush();
  if (!positives.length) return { expr: null, highlights: [] };
  // FTS5's NOT is binary: positives NOT (any negative).
  let expr = positives.join(" AND ");
  if (negatives.length) expr = `(${expr}) NOT (${negatives.join(" OR ")})`;
  return { expr, highlights: [...highlights] };
}

/** The full MATCH string: the term over the chosen keys' columns, within the given room numbers. */
export function matchExpression(expr: string, keys: SearchKey[], roomNums: number[]): string {
  const cols = [...new Set(keys.map((k) => SEARCH_KEYS[k]))].join(" ");
  return `{${cols}} : (${expr}) AND room : (${roomNums.map((n) => `"${n}"`).join(" OR ")})`;
}

/** Words of `text` that a highlighted query word is a prefix of (prefix matching found them). */
export function matchedWords(text: string, highlights: string[]): string[] {
  const out = new Set<string>();
  for (const w of words(text)) {
    const lw = w.toLowerCase();
    if (highlights.some((h) => lw.startsWith(h))) out.add(lw);
  }
  return [...out];
}

// ---- next_batch tokens ---------------------------------------------------------

export type SearchOrder = "rank" | "recent";

export interface SearchBatch {
  order: SearchOrder;
  /** rank: how many ranked candidates were consumed; recent: the last stream position consumed (negative inside backfilled history). */
  cursor: number;
  /** A batch within one group (Synapse's group next_batch). */
  group?: { key: "room_id" | "sender"; value: string };
}

export function encodeBatch(b: SearchBatch): string {
  const json = JSON.stringify([b.order, b.cursor, b.group?.key ?? null, b.group?.value ?? null]);
  return btoa(String.fromCharCode(...new TextEncoder().encode(json)))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

export function decodeBatch(token: string): SearchBatch {
  const bad = () => new MatrixError("M_INVALID_PARAM", "Invalid next_batch token", 400);
  let v: unknown;
  try {
    const bin = atob(token.replace(/-/g, "+").replace(/_/g, "/"));
    v = JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))));
  } catch {
    throw bad();
  }
  if (!Array.isArray(v) || v.length !== 4) throw bad();
  const [order, cursor, key, value] = v as unknown[];
  if ((order !== "rank" && order !== "recent") || typeof cursor !== "number" || !Number.isSafeInteger(cursor) || (order === "rank" && cursor < 0)) throw bad();
  if (key === null) return { order, cursor };
  if ((key !== "room_id" && key !== "sender") || typeof value !== "string") throw bad();
  return { order, cursor, group: { key, value } };
}
