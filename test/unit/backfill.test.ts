import { describe, expect, it } from "vitest";
import { type DagNode, backfillOrder, batchEdges, requestedHistory } from "../../src/backfill.js";
import { isEventVisible, type VisibilityTimeline } from "../../src/history-visibility.js";
import { BEFORE_ALL_EVENTS, LOWEST_EVENT_POS, parseRoomToken, parseStreamToken, streamToken } from "../../src/stream-token.js";
import { inRanges, visibleRanges } from "../../src/visibility-ranges.js";

const n = (eventId: string, prevs: string[], depth: number): DagNode => ({ eventId, prevs, depth });
const ids = (nodes: DagNode[]) => nodes.map((e) => e.eventId);

describe("backfillOrder", () => {
  it("puts every event after its prev events, whatever the answer's order", () => {
    // create ← a ← b ← c, and a fork b' from a merged by c.
    const batch = [n("c", ["b", "b2"], 4), n("b2", ["a"], 3), n("a", ["create"], 2), n("b", ["a"], 3), n("create", [], 1)];
    expect(ids(backfillOrder(batch))).toEqual(["create", "a", "b", "b2", "c"]);
  });
  it("follows the edges when depths lie", () => {
    // A server claims depth 1 for the newest event: its prev still comes first.
    const batch = [n("new", ["old"], 1), n("old", ["older"], 9), n("older", [], 5)];
    expect(ids(backfillOrder(batch))).toEqual(["older", "old", "new"]);
  });
  it("ignores prev events outside the batch, and duplicates", () => {
    const batch = [n("y", ["x"], 11), n("x", ["outside"], 10), n("x", ["outside"], 10)];
    expect(ids(backfillOrder(batch))).toEqual(["x", "y"]);
  });
  it("puts events on a cycle last instead of looping", () => {
    const batch = [n("p", ["q"], 2), n("q", ["p"], 3), n("r", [], 1)];
    expect(ids(backfillOrder(batch))).toEqual(["r", "p", "q"]);
  });
});

describe("requestedHistory", () => {
  it("keeps the requested events and their ancestors in the answer, nothing else", () => {
    const batch = [n("x", ["m2"], 5), n("m2", ["m1"], 4), n("m1", ["c"], 3), n("c", [], 1), n("injected", ["m1"], 4), n("loose", [], 2)];
    expect(ids(requestedHistory(["x"], batch))).toEqual(["x", "m2", "m1", "c"]);
  });
  it("several extremities, one missing from the answer", () => {
    const batch = [n("a", ["c"], 3), n("b", ["c"], 3), n("c", [], 2)];
    expect(ids(requestedHistory(["a", "gone"], batch))).toEqual(["a", "c"]);
    expect(requestedHistory(["gone"], batch)).toEqual([]);
  });
});

describe("batchEdges", () => {
  it("the events citing prev events outside the batch, nearest the present first", () => {
    const batch = [n("m9", ["m8"], 9), n("m8", ["m7"], 8), n("m7", ["m6"], 7), n("f", ["m7", "elsewhere"], 8)];
    expect(ids(batchEdges(batch))).toEqual(["f", "m7"]);
    expect(batchEdges([n("create", [], 1), n("a", ["create"], 2)])).toEqual([]);
  });
});

describe("positions below the stream", () => {
  it("room tokens take backfilled (negative) positions; sync tokens do not", () => {
    expect(parseRoomToken(streamToken(-31), "from", 5)).toBe(-31);
    expect(parseRoomToken("s12", "from", 20)).toBe(12);
    expect(() => parseRoomToken("s--1", "from", 5)).toThrow();
    expect(() => parseRoomToken("s21", "from", 20)).toThrow();
    expect(() => parseStreamToken("s-31", "since", 5)).toThrow();
    expect(BEFORE_ALL_EVENTS).toBeLessThan(LOWEST_EVENT_POS);
    expect(Number.isSafeInteger(BEFORE_ALL_EVENTS)).toBe(true);
  });

  const t = (visibility: Array<[number, string]>, memberships: Array<[number, string]>): VisibilityTimeline => ({
    visibility: visibility.map(([pos, value]) => ({ pos, value })),
    memberships: memberships.map(([pos, membership]) => ({ pos, membership })),
  });

  it("a batch's mark gives it the visibility before its oldest event", () => {
    // A remote room joined at 105 (invite at 104, imported state from 100 with history_visibility
    // "joined" at 101); a backfilled batch at -30..-1 with its mark at -31 saying "joined".
    const tl = t([[-31, "joined"], [101, "joined"]], [[104, "invite"], [105, "join"]]);
    const ranges = visibleRanges(tl, 110, LOWEST_EVENT_POS);
    for (let p = -40; p <= 110; p++) expect([p, inRanges(ranges, p)]).toEqual([p, isEventVisible(tl, p)]);
    expect(inRanges(ranges, -5)).toBe(false);
    expect(inRanges(ranges, 106)).toBe(true);
    // Without the mark the batch would inherit the spec's default "shared" and show.
    expect(isEventVisible(t([[101, "joined"]], [[104, "invite"], [105, "join"]]), -5)).toBe(true);
    // Under "shared" the joined user sees it all.
    const shared = t([[-31, "shared"], [101, "shared"]], [[104, "invite"], [105, "join"]]);
    expect(visibleRanges(shared, 110, LOWEST_EVENT_POS)).toEqual([[LOWEST_EVENT_POS, 110]]);
  });

  it("several batches: each mark holds until the next change", () => {
    // Older batch -70..-41 (mark -71: joined, a change to shared at -50), newer batch -30..-1 (mark -31: shared).
    const tl = t([[-71, "joined"], [-50, "shared"], [-31, "shared"]], [[5, "join"]]);
    const ranges = visibleRanges(tl, 10, LOWEST_EVENT_POS);
    expect(inRanges(ranges, -60)).toBe(false);
    expect(inRanges(ranges, -50)).toBe(true);
    expect(inRanges(ranges, -45)).toBe(true);
    expect(inRanges(ranges, -10)).toBe(true);
    for (let p = -80; p <= 10; p++) expect([p, inRanges(ranges, p)]).toEqual([p, isEventVisible(tl, p)]);
  });

  it("/sync's ranges start at 1 whatever lies below", () => {
    const tl = t([[-31, "shared"]], [[5, "join"]]);
    expect(visibleRanges(tl, 10)).toEqual([[1, 10]]);
  });
});
