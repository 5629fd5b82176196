/**
 * Glob matching for push rules (appendices "Glob-style matching": `*` matches
 * zero or more characters, `?` exactly one) as the push module uses it
 * (client-server-api "Conditions", `event_match`):
 *
 * - case-insensitive (both sides lower-cased, as Synapse does);
 * - "whole": the pattern must match the entire value;
 * - "word" (`content.body` and content rules): the pattern must match a
 *   substring that starts and ends at a word boundary — the start or end of
 *   the value or any character outside `[A-Za-z0-9_]`.
 *
 * Matching is a simulation of the pattern's NFA over the text, so a pattern
 * with many wildcards costs O(text × pattern) and never backtracks
 * exponentially (patterns come from users; bodies may be 64 KiB).
 */

type Token = { kind: "char"; c: string } | { kind: "any" } | { kind: "star" };

export type GlobMode = "whole" | "word";

function tokens(pattern: string, literal: boolean): Token[] {
  const out: Token[] = [];
  for (const c of pattern) {
    if (!literal && c === "*") {
      // Runs of stars are one star.
      if (out.at(-1)?.kind !== "star") out.push({ kind: "star" });
    } else if (!literal && c === "?") out.push({ kind: "any" });
    else out.push({ kind: "char", c });
  }
  return out;
}

const isWordChar = (c: string | undefined): boolean => c !== undefined && /^[A-Za-z0-9_]$/.test(c);

/** Positions where a word-mode match may start or end: not between two word characters. */
function isBoundary(text: string[], pos: number): boolean {
  return !(isWordChar(text[pos - 1]) && isWordChar(text[pos]));
}

export class Glob {
  private readonly toks: Token[];

  /** `literal`: `*` and `?` are ordinary characters (a display name, not a pattern). */
  constructor(pattern: string, readonly mode: GlobMode, literal = false) {
    this.toks = tokens(pattern.toLowerCase(), literal);
  }

  /** States reachable from `set` without consuming a character (a star may match nothing). */
  private close(set: Set<number>): Set<number> {
    for (const s of [...set]) {
      let i = s;
      while (this.toks[i]?.kind === "star") set.add(++i);
    }
    return set;
  }

  matches(value: string): boolean {
    const text = Array.from(value.toLowerCase());
    const m = this.toks.length;
    const word = this.mode === "word";
    let states = new Set<number>();
    for (let pos = 0; pos <= text.length; pos++) {
      if (pos === 0 || (word && isBoundary(text, pos))) states.add(0);
      this.close(states);
      if (states.has(m) && (!word || isBoundary(text, pos)) && (word || pos === text.length)) return true;
      if (pos === text.length || states.size === 0) {
        if (!word && states.size === 0) return false;
        continue;
      }
      const c = text[pos]!;
      const next = new Set<number>();
      for (const s of states) {
        const t = this.toks[s];
        if (!t) continue;
        if (t.kind === "star") next.add(s);
        else if (t.kind === "any" || t.c === c) next.add(s + 1);
      }
      states = next;
    }
    return false;
  }
}

export function globMatches(pattern: string, value: string, mode: GlobMode): boolean {
  return new Glob(pattern, mode).matches(value);
}
