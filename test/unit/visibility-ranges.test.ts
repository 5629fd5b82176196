import { describe, expect, it } from "vitest";
import { isEventVisible, type VisibilityTimeline } from "../../src/history-visibility.js";
import { clipRanges, inRanges, visibleRanges } from "../../src/visibility-ranges.js";

const t = (visibility: Array<[number, string]>, memberships: Array<[number, string]>): VisibilityTimeline => ({
  visibility: visibility.map(([pos, value]) => ({ pos, value })),
  memberships: memberships.map(([pos, membership]) => ({ pos, membership })),
});

/** The ranges must agree with the per-event rule at every position. */
function agrees(tl: VisibilityTimeline, upper: number): void {
  const ranges = visibleRanges(tl, upper);
  for (let p = 1; p <= upper; p++) expect([p, inRanges(ranges, p)]).toEqual([p, isEventVisible(tl, p)]);
}

describe("visibleRanges", () => {
  it("a member since creation sees everything", () => {
    expect(visibleRanges(t([[4, "shared"]], [[2, "join"]]), 50)).toEqual([[1, 50]]);
  });
  it("joined: from the join on (before any visibility event the room counts as shared)", () => {
    const tl = t([[4, "joined"]], [[2, "join"], [10, "leave"], [20, "join"]]);
    expect(visibleRanges(tl, 30)).toEqual([[1, 10], [20, 30]]);
    agrees(tl, 30);
  });
  it("shared: up to the leave, not after", () => {
    const tl = t([[3, "shared"]], [[5, "join"], [12, "leave"]]);
    expect(visibleRanges(tl, 20)).toEqual([[1, 12]]);
    agrees(tl, 20);
  });
  it("a visibility change in the middle splits the history", () => {
    const tl = t([[3, "shared"], [8, "joined"], [15, "shared"]], [[11, "join"]]);
    agrees(tl, 25);
    expect(visibleRanges(tl, 25)).toEqual([[1, 8], [11, 25]]);
  });
  it("world_readable is visible to non-members; invited from the invite", () => {
    // Both visibility events count too: one switches to world_readable, the other from it.
    expect(visibleRanges(t([[3, "joined"], [6, "world_readable"], [9, "joined"]], []), 12)).toEqual([[6, 9]]);
    const inv = t([[2, "invited"]], [[6, "invite"], [9, "join"]]);
    agrees(inv, 12);
    expect(visibleRanges(inv, 12)).toEqual([[1, 2], [6, 12]]);
  });
  it("a history_visibility event is visible if the visibility before or after it allows", () => {
    // joined → world_readable and world_readable → joined, seen by someone who never joined.
    expect(isEventVisible(t([[2, "joined"], [5, "world_readable"]], []), 5)).toBe(true);
    expect(isEventVisible(t([[2, "world_readable"], [5, "joined"]], []), 5)).toBe(true);
    expect(isEventVisible(t([[2, "joined"], [5, "shared"]], [[9, "join"]]), 5)).toBe(true);
    expect(isEventVisible(t([[2, "joined"], [5, "joined"]], [[9, "join"]]), 5)).toBe(false);
    const tl = t([[2, "joined"], [5, "shared"], [8, "joined"]], [[12, "join"]]);
    agrees(tl, 15);
    expect(visibleRanges(tl, 15)).toEqual([[1, 2], [5, 8], [12, 15]]);
  });
  it("nothing for strangers, nothing below 1", () => {
    expect(visibleRanges(t([[2, "shared"]], []), 10)).toEqual([]);
    expect(visibleRanges(t([], [[1, "join"]]), 0)).toEqual([]);
  });
  it("agrees with isEventVisible on random timelines", () => {
    const values = ["shared", "joined", "invited", "world_readable"];
    const ms = ["join", "leave", "invite", "ban", "knock"];
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let i = 0; i < 200; i++) {
      const used = new Set<number>();
      const pick = () => {
        let p: number;
        do p = 1 + rnd(40);
        while (used.has(p));
        used.add(p);
        return p;
      };
      const vis = Array.from({ length: rnd(4) }, () => [pick(), values[rnd(4)]!] as [number, string]).sort((a, b) => a[0] - b[0]);
      const mem = Array.from({ length: rnd(5) }, () => [pick(), ms[rnd(5)]!] as [number, string]).sort((a, b) => a[0] - b[0]);
      agrees(t(vis, mem), 45);
    }
  });
});

describe("clipRanges", () => {
  it("keeps the parts inside the bounds", () => {
    expect(clipRanges([[1, 5], [8, 12], [20, 30]], 4, 21)).toEqual([[4, 5], [8, 12], [20, 21]]);
    expect(clipRanges([[1, 5]], 6, 9)).toEqual([]);
  });
});
