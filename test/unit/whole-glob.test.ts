import { describe, expect, it } from "vitest";
import { Glob } from "../../src/push-glob.js";
import { anyWholeGlobMatches, wholeGlobMatches } from "../../src/whole-glob.js";

describe("whole-string globs", () => {
  it("* matches any run, ? exactly one character, and the whole value must match", () => {
    expect(wholeGlobMatches("*", "")).toBe(true);
    expect(wholeGlobMatches("*", "anything.example")).toBe(true);
    expect(wholeGlobMatches("", "")).toBe(true);
    expect(wholeGlobMatches("", "a")).toBe(false);
    expect(wholeGlobMatches("?", "")).toBe(false);
    expect(wholeGlobMatches("?", "a")).toBe(true);
    expect(wholeGlobMatches("?", "ab")).toBe(false);
    expect(wholeGlobMatches("good*.com", "good.com")).toBe(true);
    expect(wholeGlobMatches("good*.com", "good.aa.com")).toBe(true);
    expect(wholeGlobMatches("good*.com", "ishgood.com")).toBe(false);
    expect(wholeGlobMatches("good*.com", "good.com.au")).toBe(false);
    expect(wholeGlobMatches("*.evil.com", "evil.com")).toBe(false);
    expect(wholeGlobMatches("*.evil.com", "a.b.evil.com")).toBe(true);
    expect(wholeGlobMatches("ev?l.com", "evil.com")).toBe(true);
    expect(wholeGlobMatches("ev?l.com", "evl.com")).toBe(false);
    expect(wholeGlobMatches("a*b*c", "abc")).toBe(true);
    expect(wholeGlobMatches("a*b*c", "axxbyyc")).toBe(true);
    expect(wholeGlobMatches("a*b*c", "axxcyyb")).toBe(false);
    expect(wholeGlobMatches("a**?*", "a")).toBe(false);
    expect(wholeGlobMatches("a**?*", "ab")).toBe(true);
    // Segments that overlap the value's ends: the leftmost choice must leave room for the last.
    expect(wholeGlobMatches("*aa*aa", "aaaa")).toBe(true);
    expect(wholeGlobMatches("*aa*aa", "aaa")).toBe(false);
    expect(wholeGlobMatches("a*a", "a")).toBe(false);
  });

  it("is case-insensitive on both sides", () => {
    expect(wholeGlobMatches("EVIL.com", "evil.COM")).toBe(true);
    expect(wholeGlobMatches("*.Example.ORG", "Matrix.example.org")).toBe(true);
  });

  it("? is one character (code point), not one UTF-16 unit", () => {
    expect(wholeGlobMatches("a?b", "a😀b")).toBe(true);
    expect(wholeGlobMatches("a??b", "a😀b")).toBe(false);
  });

  it("any of several patterns; none of none", () => {
    expect(anyWholeGlobMatches([], "x")).toBe(false);
    expect(anyWholeGlobMatches(["a", "b*"], "bee")).toBe(true);
    expect(anyWholeGlobMatches(["a", "b?"], "bee")).toBe(false);
  });

  it("a pattern far longer than the value fails quickly", () => {
    const start = performance.now();
    expect(wholeGlobMatches("a*".repeat(30_000), "a".repeat(250))).toBe(false);
    expect(wholeGlobMatches("*a".repeat(200) + "b", "a".repeat(250))).toBe(false);
    expect(performance.now() - start).toBeLessThan(500);
  });

  it("agrees with the push rules' automaton (src/push-glob.ts) on random patterns", () => {
    // A small alphabet so that matches are common.
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const pick = (chars: string, max: number) => Array.from({ length: rand(max + 1) }, () => chars[rand(chars.length)]).join("");
    let matched = 0;
    for (let i = 0; i < 5000; i++) {
      const pattern = pick("aAb.*?", 7);
      const value = pick("aAb.", 8);
      const expected = new Glob(pattern, "whole").matches(value);
      expect(wholeGlobMatches(pattern, value), `${JSON.stringify(pattern)} ~ ${JSON.stringify(value)}`).toBe(expected);
      if (expected) matched++;
    }
    // Both answers are well represented.
    expect(matched).toBeGreaterThan(500);
    expect(matched).toBeLessThan(4500);
  });
});
