import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../src/json.js";
import { hierarchyAnswer, openToAnyone, parseRemoteHierarchy, summaryJson } from "../../src/space-hierarchy-federation.js";

const ROOT = "!root:example.org";
const summary = (roomId: string, extra: JsonObject = {}): JsonObject => ({ room_id: roomId, num_joined_members: 3, world_readable: false, guest_can_join: false, ...extra });
const childEvent = (roomId: string, via: unknown = ["example.org"]): JsonObject =>
  ({ type: "m.space.child", state_key: roomId, content: { via }, sender: "@a:example.org", origin_server_ts: 5 }) as JsonObject;

describe("parseRemoteHierarchy", () => {
  it("takes the spec's example shape", () => {
    const r = parseRemoteHierarchy(
      {
        room: { ...summary(ROOT, { room_type: "m.space", name: "Root", allowed_room_ids: [] }), children_state: [childEvent("!a:example.org")] },
        children: [summary("!a:example.org", { join_rule: "restricted", allowed_room_ids: ["!up:example.org"] })],
        inaccessible_children: ["!secret:example.org"],
      },
      ROOT,
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.room).toMatchObject({ room_id: ROOT, name: "Root", room_type: "m.space" });
    expect(r.value.childrenState.map((e) => e.state_key)).toEqual(["!a:example.org"]);
    expect([...r.value.children.keys()]).toEqual(["!a:example.org"]);
    expect(r.value.children.get("!a:example.org")?.allowed_room_ids).toEqual(["!up:example.org"]);
    expect(r.value.inaccessible).toEqual(["!secret:example.org"]);
  });

  it("drops keys that are no part of a room summary, and children that are not summaries", () => {
    const r = parseRemoteHierarchy(
      {
        room: { ...summary(ROOT), "org.example.secret": "x", children_state: [] },
        children: [summary("!a:example.org", { extra: 1 }), { room_id: "!b:example.org" }, "nonsense", summary("not-a-room"), summary(ROOT)],
      },
      ROOT,
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(summaryJson(r.value.room)).toEqual(summary(ROOT));
    expect([...r.value.children.keys()]).toEqual(["!a:example.org"]);
    expect(summaryJson(r.value.children.get("!a:example.org")!)).toEqual(summary("!a:example.org"));
    expect(r.value.inaccessible).toEqual([]);
  });

  it("refuses an answer about another room, without a summary, or with bad children_state", () => {
    const cases: unknown[] = [
      { room: summary("!other:example.org"), children: [] },
      { room: { room_id: ROOT }, children: [] },
      { children: [] },
      { room: { ...summary(ROOT), children_state: [childEvent("!a:example.org", "example.org")] } },
      { room: { ...summary(ROOT), children_state: [childEvent("!a:example.org", [1])] } },
      { room: { ...summary(ROOT), children_state: "x" } },
      { room: summary(ROOT), children: "x" },
      { room: summary(ROOT), inaccessible_children: [3] },
      [],
      null,
    ];
    for (const c of cases) expect(parseRemoteHierarchy(c, ROOT).ok, JSON.stringify(c)).toBe(false);
  });
});

describe("openToAnyone", () => {
  it("public, knockable (or no join rule) and world-readable rooms; the rest depends on the user", () => {
    const base = { room_id: ROOT, num_joined_members: 1, world_readable: false, guest_can_join: false };
    for (const join_rule of [undefined, "public", "knock", "knock_restricted"]) expect(openToAnyone({ ...base, ...(join_rule ? { join_rule } : {}) })).toBe(true);
    for (const join_rule of ["invite", "restricted", "private"]) expect(openToAnyone({ ...base, join_rule })).toBe(false);
    expect(openToAnyone({ ...base, join_rule: "invite", world_readable: true })).toBe(true);
  });
});

describe("hierarchyAnswer", () => {
  it("is the spec's shape", () => {
    expect(hierarchyAnswer(summary(ROOT), [childEvent("!a:example.org")], [summary("!a:example.org")], ["!b:example.org"])).toEqual({
      room: { ...summary(ROOT), children_state: [childEvent("!a:example.org")] },
      children: [summary("!a:example.org")],
      inaccessible_children: ["!b:example.org"],
    });
  });
});
