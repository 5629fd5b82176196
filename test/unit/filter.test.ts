import { describe, expect, it } from "vitest";
import { applyEventFields, eventMatches, FilterSchema, globMatch } from "../../src/filter.js";

describe("filters", () => {
  it("matches wildcards and not_* lists", () => {
    expect(globMatch("m.room.*", "m.room.message")).toBe(true);
    expect(globMatch("m.room.*", "m.reaction")).toBe(false);
    const f = { types: ["m.room.*"], not_types: ["m.room.member"], not_senders: ["@spam:x"] };
    expect(eventMatches(f, { type: "m.room.message", sender: "@a:x" })).toBe(true);
    expect(eventMatches(f, { type: "m.room.member", sender: "@a:x" })).toBe(false);
    expect(eventMatches(f, { type: "m.room.message", sender: "@spam:x" })).toBe(false);
    expect(eventMatches({ types: [] }, { type: "m.room.message" })).toBe(false);
  });
  it("filters on rooms and contains_url", () => {
    expect(eventMatches({ not_rooms: ["!a:x"] }, { type: "t", room_id: "!a:x" })).toBe(false);
    expect(eventMatches({ contains_url: true }, { type: "t", content: { url: "mxc://x/y" } })).toBe(true);
    expect(eventMatches({ contains_url: true }, { type: "t", content: {} })).toBe(false);
  });
  it("parses filters and keeps only event_fields", () => {
    expect(FilterSchema.safeParse({ room: { timeline: { limit: 5 } } }).success).toBe(true);
    expect(FilterSchema.safeParse({ room: { timeline: { limit: "5" } } }).success).toBe(false);
    expect(applyEventFields({ type: "t", content: { body: "b", x: 1 }, sender: "@a:x" }, ["type", "content.body"])).toEqual({ type: "t", content: { body: "b" } });
  });
});
