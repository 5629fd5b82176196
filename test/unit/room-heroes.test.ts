import { describe, expect, it } from "vitest";
import { pickHeroes, syncRoomSummary } from "../../src/room-heroes.js";

const c = (userId: string, membership: string, pos: number) => ({ userId, membership, pos });

describe("room summary heroes (sync.yaml RoomSummary m.heroes)", () => {
  it("takes the first 5 joined or invited members by stream order, never the user", () => {
    const members = [c("@g:x", "join", 7), c("@me:x", "join", 1), c("@b:x", "invite", 3), c("@a:x", "join", 2), c("@l:x", "leave", 4), c("@c:x", "join", 5), c("@d:x", "join", 6), c("@e:x", "join", 8)];
    expect(pickHeroes(members, "@me:x")).toEqual(["@a:x", "@b:x", "@c:x", "@d:x", "@g:x"]);
  });

  it("falls back to members who left or were banned when nobody else is joined or invited", () => {
    expect(pickHeroes([c("@me:x", "join", 1), c("@b:x", "ban", 4), c("@a:x", "leave", 3), c("@k:x", "knock", 2)], "@me:x")).toEqual(["@a:x", "@b:x"]);
    expect(pickHeroes([c("@me:x", "join", 1)], "@me:x")).toEqual([]);
  });

  it("carries the counts always and heroes only for rooms without a name or canonical alias", () => {
    const base = { joined: 2, invited: 1, candidates: [c("@a:x", "join", 1), c("@me:x", "join", 2)] };
    expect(syncRoomSummary({ ...base, name: null, canonicalAlias: null }, "@me:x")).toEqual({
      "m.joined_member_count": 2,
      "m.invited_member_count": 1,
      "m.heroes": ["@a:x"],
    });
    // An empty name counts as unset (spec: "unset or empty").
    expect(syncRoomSummary({ ...base, name: "", canonicalAlias: null }, "@me:x")["m.heroes"]).toEqual(["@a:x"]);
    expect(syncRoomSummary({ ...base, name: "Room", canonicalAlias: null }, "@me:x")).toEqual({ "m.joined_member_count": 2, "m.invited_member_count": 1 });
    expect(syncRoomSummary({ ...base, name: null, canonicalAlias: "#a:x" }, "@me:x")["m.heroes"]).toBeUndefined();
  });
});
