import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../src/json.js";
import {
  type ChildEvent,
  type HierarchySource,
  compareChildren,
  initialWalk,
  isWalkState,
  parseSuggestedOnly,
  spaceChildren,
  walkHierarchy,
} from "../../src/space-hierarchy.js";

const child = (roomId: string, ts: number, content: JsonObject = {}): ChildEvent => ({
  type: "m.space.child",
  state_key: roomId,
  content: { via: ["s"], ...content },
  sender: "@u:s",
  origin_server_ts: ts,
});

describe("space children", () => {
  it("orders by valid order, then timestamp, then room id (the spec's example)", () => {
    const evs = [
      child("!b:example.org", 1640341000000, { order: " " }),
      child("!a:example.org", 1640141000000, { order: "aaaa" }),
      child("!c:example.org", 1640841000000, { order: "first" }),
      child("!e:example.org", 1640641000000),
      child("!d:example.org", 1640741000000),
    ];
    expect([...evs].reverse().sort(compareChildren).map((e) => e.state_key)).toEqual([
      "!b:example.org",
      "!a:example.org",
      "!c:example.org",
      "!e:example.org",
      "!d:example.org",
    ]);
    // Invalid orders count as none; equal timestamps fall back to room ids.
    const tie = [child("!z", 5, { order: "\u00e9" }), child("!y", 5, { order: "x".repeat(51) }), child("!x", 5, { order: 3 })];
    expect(tie.sort(compareChildren).map((e) => e.state_key)).toEqual(["!x", "!y", "!z"]);
  });

  it("drops children without a valid via, and non-suggested ones when asked", () => {
    const evs = [child("!a", 1), { ...child("!b", 2), content: {} }, { ...child("!c", 3), content: { via: [] } }, { ...child("!d", 4), content: { via: [1] } }, child("!e", 5, { suggested: true })];
    expect(spaceChildren(evs, false).map((e) => e.state_key)).toEqual(["!a", "!e"]);
    expect(spaceChildren(evs, true).map((e) => e.state_key)).toEqual(["!e"]);
  });
});

/** A tree of rooms: spaces list children; `hidden` rooms are unknown or invisible. */
function source(tree: Record<string, { space?: boolean; children?: ChildEvent[]; hidden?: boolean }>, log: string[] = []): HierarchySource {
  return {
    async room(id) {
      log.push(id);
      const r = tree[id];
      if (!r || r.hidden) return undefined;
      return { room_id: id, ...(r.space ? { room_type: "m.space" } : {}) };
    },
    async children(id) {
      return tree[id]?.children ?? [];
    },
  };
}

const ids = (rooms: JsonObject[]) => rooms.map((r) => r.room_id);

describe("walkHierarchy", () => {
  const tree = {
    "!root": { space: true, children: [child("!s1", 1), child("!r1", 2), child("!hidden", 3), child("!s2", 4, { suggested: true })] },
    "!s1": { space: true, children: [child("!r2", 1), child("!root", 2), child("!r1", 3)] },
    "!s2": { space: true, children: [child("!r3", 1, { suggested: true })] },
    "!r1": {},
    "!r2": {},
    "!r3": {},
    "!hidden": { space: true, hidden: true, children: [child("!r4", 1)] },
    "!r4": {},
  };
  const opts = { limit: 50, maxDepth: 10, suggestedOnly: false, budget: 100 };

  it("walks depth first in child order, once per room, skipping hidden rooms and their subtrees", async () => {
    const { rooms, state } = await walkHierarchy(source(tree), initialWalk("!root"), opts);
    expect(ids(rooms)).toEqual(["!root", "!s1", "!r2", "!r1", "!s2", "!r3"]);
    expect(state).toBeUndefined();
    // children_state lists every valid child, visible or not; non-spaces have none.
    expect((rooms[0]!.children_state as JsonObject[]).map((c) => c.state_key)).toEqual(["!s1", "!r1", "!hidden", "!s2"]);
    expect(rooms[0]!.children_state).toContainEqual({ type: "m.space.child", state_key: "!s1", content: { via: ["s"] }, sender: "@u:s", origin_server_ts: 1 });
    expect(rooms[2]!.children_state).toEqual([]);
  });

  it("honours max_depth and suggested_only", async () => {
    expect(ids((await walkHierarchy(source(tree), initialWalk("!root"), { ...opts, maxDepth: 0 })).rooms)).toEqual(["!root"]);
    expect(ids((await walkHierarchy(source(tree), initialWalk("!root"), { ...opts, maxDepth: 1 })).rooms)).toEqual(["!root", "!s1", "!r1", "!s2"]);
    expect(ids((await walkHierarchy(source(tree), initialWalk("!root"), { ...opts, suggestedOnly: true })).rooms)).toEqual(["!root", "!s2", "!r3"]);
  });

  it("pages with limit, resuming from the saved state to the same overall order", async () => {
    const seen: string[] = [];
    let state = initialWalk("!root");
    for (let i = 0; i < 10; i++) {
      const page = await walkHierarchy(source(tree), state, { ...opts, limit: 2 });
      seen.push(...(ids(page.rooms) as string[]));
      if (!page.state) break;
      expect(isWalkState(JSON.parse(JSON.stringify(page.state)))).toBe(true);
      state = page.state;
    }
    expect(seen).toEqual(["!root", "!s1", "!r2", "!r1", "!s2", "!r3"]);
  });

  it("stops after the visit budget and carries on later", async () => {
    const log: string[] = [];
    const page = await walkHierarchy(source(tree, log), initialWalk("!root"), { ...opts, budget: 2 });
    expect(log).toHaveLength(2);
    expect(page.state).toBeDefined();
    const rest = await walkHierarchy(source(tree), page.state!, opts);
    expect([...ids(page.rooms), ...ids(rest.rooms)]).toEqual(["!root", "!s1", "!r2", "!r1", "!s2", "!r3"]);
  });

  it("hands each room the first servers of its child event's via, and the root the servers it started with", async () => {
    const asked: Array<[string, string[], boolean]> = [];
    const viaTree = {
      "!root": { space: true, children: [child("!a", 1, { via: ["one", "two", "three", "four"] }), child("!b", 2, { via: ["x"] })] },
      "!a": { space: true, children: [child("!c", 1, { via: ["y"] })] },
      "!b": {},
      "!c": {},
    };
    const inner = source(viaTree);
    const spy: HierarchySource = { ...inner, room: (id, ctx) => (asked.push([id, ctx.via, ctx.wantChildren]), inner.room(id, ctx)) };
    await walkHierarchy(spy, initialWalk("!root", ["origin"]), { ...opts, maxDepth: 2 });
    expect(asked).toEqual([
      ["!root", ["origin"], true],
      ["!a", ["one", "two", "three"], true],
      ["!c", ["y"], false],
      ["!b", ["x"], true],
    ]);
    // The servers travel in the saved walk.
    const page = await walkHierarchy(source(viaTree), initialWalk("!root", ["origin"]), { ...opts, limit: 1 });
    expect(page.state?.queue).toEqual([["!b", 1, ["x"]], ["!a", 1, ["one", "two", "three"]]]);
    expect(isWalkState(JSON.parse(JSON.stringify(page.state)))).toBe(true);
    expect(isWalkState({ queue: [["!a", 1, ["s", 2]]], processed: [] })).toBe(false);
  });

  it("stops when the source is exhausted, keeping the rest for the next page", async () => {
    let calls = 0;
    const inner = source(tree);
    const tired: HierarchySource = { ...inner, room: (id, ctx) => (calls++, inner.room(id, ctx)), exhausted: () => calls >= 2 };
    const page = await walkHierarchy(tired, initialWalk("!root"), opts);
    expect(ids(page.rooms)).toEqual(["!root", "!s1"]);
    const rest = await walkHierarchy(source(tree), page.state!, opts);
    expect([...ids(page.rooms), ...ids(rest.rooms)]).toEqual(["!root", "!s1", "!r2", "!r1", "!s2", "!r3"]);
  });

  it("suggested_only is true, false or absent", () => {
    expect(parseSuggestedOnly(undefined)).toBe(false);
    expect(parseSuggestedOnly("false")).toBe(false);
    expect(parseSuggestedOnly("true")).toBe(true);
    expect(() => parseSuggestedOnly("1")).toThrow(/suggested_only/);
  });

  it("an invisible root gives nothing", async () => {
    expect((await walkHierarchy(source(tree), initialWalk("!hidden"), opts)).rooms).toEqual([]);
    expect(isWalkState({ queue: [["!a", "x"]], processed: [] })).toBe(false);
  });
});
