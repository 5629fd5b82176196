import { describe, expect, it } from "vitest";
import { isEventVisible, type VisibilityTimeline } from "../../src/history-visibility.js";

const t = (visibility: Array<[number, string]>, memberships: Array<[number, string]>): VisibilityTimeline => ({
  visibility: visibility.map(([pos, value]) => ({ pos, value })),
  memberships: memberships.map(([pos, membership]) => ({ pos, membership })),
});

describe("history visibility", () => {
  it("shared: events before a join are visible once joined", () => {
    const tl = t([[2, "shared"]], [[10, "join"]]);
    expect(isEventVisible(tl, 5)).toBe(true);
    expect(isEventVisible(tl, 12)).toBe(true);
  });
  it("shared: a user who left sees up to their leave, not after", () => {
    const tl = t([[2, "shared"]], [[10, "join"], [20, "leave"]]);
    expect(isEventVisible(tl, 15)).toBe(true);
    expect(isEventVisible(tl, 20)).toBe(true); // own leave event
    expect(isEventVisible(tl, 25)).toBe(false);
  });
  it("joined: nothing before the join", () => {
    const tl = t([[2, "joined"]], [[10, "join"]]);
    expect(isEventVisible(tl, 5)).toBe(false);
    expect(isEventVisible(tl, 10)).toBe(true);
    expect(isEventVisible(tl, 11)).toBe(true);
  });
  it("invited: visible from the invite on", () => {
    const tl = t([[2, "invited"]], [[8, "invite"], [12, "join"]]);
    expect(isEventVisible(tl, 5)).toBe(false);
    expect(isEventVisible(tl, 9)).toBe(true);
    const joinedOnly = t([[2, "joined"]], [[8, "invite"], [12, "join"]]);
    expect(isEventVisible(joinedOnly, 9)).toBe(false);
  });
  it("world_readable: everything, even to non-members", () => {
    const tl = t([[2, "world_readable"]], []);
    expect(isEventVisible(tl, 5)).toBe(true);
  });
  it("uses the visibility in force before the event", () => {
    const tl = t([[2, "joined"], [6, "world_readable"]], []);
    expect(isEventVisible(tl, 5)).toBe(false);
    // The visibility event itself: before *or* after (spec "History visibility", "Server behaviour").
    expect(isEventVisible(tl, 6)).toBe(true);
    expect(isEventVisible(tl, 7)).toBe(true);
  });
});
