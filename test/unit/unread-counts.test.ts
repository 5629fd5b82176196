import { describe, expect, it } from "vitest";
import { type CachedThread, type ReadPositions, mergeCounts, planCounts, syncFields } from "../../src/unread-counts.js";

const pos = (unthreaded: number, threads: Record<string, number> = {}): ReadPositions => ({ unthreaded, threads: new Map(Object.entries(threads)) });
const cache = (entries: Record<string, CachedThread>) => new Map(Object.entries(entries));

describe("planCounts", () => {
  it("without a cache counts from the unthreaded read position, with threads' own positions as floors", () => {
    const plan = planCounts(["!a", "!b"], new Map([["!a", pos(10, { main: 5, $t: 20 })]]), new Map(), 100);
    expect(plan.ranges).toEqual([
      { room: "!a", from: 10, to: 100, floors: [{ t: "$t", p: 20 }] },
      { room: "!b", from: 0, to: 100, floors: [] },
    ]);
    expect(plan.floorOf("!a", "main")).toBe(10);
    expect(plan.floorOf("!a", "$t")).toBe(20);
    expect(plan.floorOf("!b", "main")).toBe(0);
  });

  it("nothing to count when the read position is at the head", () => {
    expect(planCounts(["!a"], new Map([["!a", pos(100)]]), new Map(), 100).ranges).toEqual([]);
  });

  it("a valid cache carries its counts and only the rows after it are counted", () => {
    const plan = planCounts(["!a"], new Map([["!a", pos(10)]]), new Map([["!a", cache({ main: { floor: 10, upto: 80, notify: 60, highlight: 2 } })]]), 100);
    expect(plan.ranges).toEqual([{ room: "!a", from: 80, to: 100, floors: [] }]);
    expect(plan.base.get("!a")).toEqual(new Map([["main", { notify: 60, highlight: 2 }]]));
    const merged = mergeCounts(plan, [{ range: 0, thread: "main", notify: 3, highlight: 1 }, { range: 0, thread: "$t", notify: 1, highlight: 0 }]);
    expect(merged.get("!a")).toEqual(new Map([["main", { notify: 63, highlight: 3 }], ["$t", { notify: 1, highlight: 0 }]]));
  });

  it("a moved read position recounts the cached part from it, or drops it when past the cache", () => {
    const c = cache({ main: { floor: 10, upto: 80, notify: 60, highlight: 2 }, $t: { floor: 10, upto: 80, notify: 5, highlight: 0 } });
    const behind = planCounts(["!a"], new Map([["!a", pos(40)]]), new Map([["!a", c]]), 100);
    expect(behind.ranges).toEqual([
      { room: "!a", thread: "main", from: 40, to: 80, floors: [] },
      { room: "!a", thread: "$t", from: 40, to: 80, floors: [] },
      { room: "!a", from: 80, to: 100, floors: [] },
    ]);
    expect(behind.base.get("!a")!.size).toBe(0);
    const past = planCounts(["!a"], new Map([["!a", pos(10, { $t: 90 })]]), new Map([["!a", c]]), 100);
    // main still valid; $t's own receipt is past the cache: its cached part is gone, and its new rows need > 90.
    expect(past.base.get("!a")).toEqual(new Map([["main", { notify: 60, highlight: 2 }]]));
    expect(past.ranges).toEqual([{ room: "!a", from: 80, to: 100, floors: [{ t: "$t", p: 90 }] }]);
  });

  it("an unthreaded receipt past the cache starts counting at it", () => {
    const c = cache({ main: { floor: 10, upto: 80, notify: 60, highlight: 2 } });
    const plan = planCounts(["!a"], new Map([["!a", pos(95)]]), new Map([["!a", c]]), 100);
    expect(plan.ranges).toEqual([{ room: "!a", from: 95, to: 100, floors: [] }]);
    expect(plan.base.get("!a")!.size).toBe(0);
  });
});

describe("syncFields", () => {
  const threads = new Map([
    ["main", { notify: 2, highlight: 1 }],
    ["$t1", { notify: 3, highlight: 0 }],
    ["$t2", { notify: 0, highlight: 0 }],
  ]);
  it("sums every thread without the thread flag", () => {
    expect(syncFields(threads, false)).toEqual({ unread_notifications: { notification_count: 5, highlight_count: 1 } });
    expect(syncFields(undefined, false)).toEqual({ unread_notifications: { notification_count: 0, highlight_count: 0 } });
  });
  it("splits main and threads with it (MSC3773)", () => {
    expect(syncFields(threads, true)).toEqual({
      unread_notifications: { notification_count: 2, highlight_count: 1 },
      unread_thread_notifications: { $t1: { notification_count: 3, highlight_count: 0 } },
    });
    expect(syncFields(undefined, true)).toEqual({ unread_notifications: { notification_count: 0, highlight_count: 0 }, unread_thread_notifications: {} });
  });
});
