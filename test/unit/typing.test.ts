import { describe, expect, it } from "vitest";
import {
  DEFAULT_TYPING_TIMEOUT_MS,
  MAX_TYPING_TIMEOUT_MS,
  type TypingMap,
  applyTyping,
  clampTypingTimeout,
  expireTyping,
  nextTypingExpiry,
  typingEvent,
  typingUsers,
} from "../../src/typing.js";

describe("typing", () => {
  it("clamps timeouts like Synapse", () => {
    expect(clampTypingTimeout(undefined)).toBe(DEFAULT_TYPING_TIMEOUT_MS);
    expect(clampTypingTimeout(5000)).toBe(5000);
    expect(clampTypingTimeout(10 * 60_000)).toBe(MAX_TYPING_TIMEOUT_MS);
    expect(clampTypingTimeout(-5)).toBe(0);
  });

  it("reports set changes, not refreshes", () => {
    const m: TypingMap = new Map();
    expect(applyTyping(m, "@a:x", true, 1000, 0)).toBe(true);
    expect(applyTyping(m, "@a:x", true, 1000, 500)).toBe(false);
    expect(m.get("@a:x")).toBe(1500);
    expect(applyTyping(m, "@b:x", true, 1000, 600)).toBe(true);
    expect(applyTyping(m, "@a:x", false, 0, 700)).toBe(true);
    expect(applyTyping(m, "@a:x", false, 0, 800)).toBe(false);
    // A zero timeout is a stop.
    expect(applyTyping(m, "@b:x", true, 0, 900)).toBe(true);
    expect(m.size).toBe(0);
  });

  it("a restart after expiry counts as a change", () => {
    const m: TypingMap = new Map([["@a:x", 100]]);
    expect(applyTyping(m, "@a:x", true, 1000, 200)).toBe(true);
  });

  it("expires entries and finds the next expiry", () => {
    const m: TypingMap = new Map([
      ["@a:x", 100],
      ["@b:x", 300],
      ["@c:x", 200],
    ]);
    expect(nextTypingExpiry(m)).toBe(100);
    expect(typingUsers(m, 150)).toEqual(["@b:x", "@c:x"]);
    expect(expireTyping(m, 150)).toBe(true);
    expect(expireTyping(m, 150)).toBe(false);
    expect(nextTypingExpiry(m)).toBe(200);
    expect(expireTyping(m, 1000)).toBe(true);
    expect(nextTypingExpiry(m)).toBeNull();
  });

  it("builds the m.typing event with a sorted, complete list", () => {
    const m: TypingMap = new Map([
      ["@z:x", 10],
      ["@a:x", 10],
    ]);
    expect(typingEvent(typingUsers(m, 0))).toEqual({ type: "m.typing", content: { user_ids: ["@a:x", "@z:x"] } });
    expect(typingEvent([])).toEqual({ type: "m.typing", content: { user_ids: [] } });
  });
});
