import { describe, expect, it } from "vitest";
import { type ListedRoom, SlidingSyncRequestSchema, configKey, decodeRoomList, encodeRoomList, formatPos, matchesFilters, mergeConfigs, parseConfigKey, parsePos, selectedIndexes, wantsState } from "../../src/sliding-sync.js";

describe("sliding sync rules (MSC4186)", () => {
  it("ranges select indexes in order, once, within the count", () => {
    expect(selectedIndexes([[0, 2]], 10)).toEqual([0, 1, 2]);
    expect(selectedIndexes([[0, 19]], 3)).toEqual([0, 1, 2]);
    expect(selectedIndexes([[5, 6], [0, 1], [1, 2]], 10)).toEqual([5, 6, 0, 1, 2]);
    expect(selectedIndexes([[4, 9]], 3)).toEqual([]);
    expect(selectedIndexes(undefined, 3)).toEqual([]);
  });

  it("required_state: exact pairs, type and key wildcards, $ME and $LAZY", () => {
    const me = "@me:x";
    const lazy = new Set(["@sender:x"]);
    const req: Array<[string, string]> = [["m.room.name", ""], ["m.space.child", "*"], ["m.room.member", "$ME"], ["m.room.member", "$LAZY"]];
    expect(wantsState(req, "m.room.name", "", me, lazy)).toBe(true);
    expect(wantsState(req, "m.room.topic", "", me, lazy)).toBe(false);
    expect(wantsState(req, "m.space.child", "!a:x", me, lazy)).toBe(true);
    expect(wantsState(req, "m.room.member", me, me, lazy)).toBe(true);
    expect(wantsState(req, "m.room.member", "@sender:x", me, lazy)).toBe(true);
    expect(wantsState(req, "m.room.member", "@quiet:x", me, lazy)).toBe(false);
    expect(wantsState([["*", "*"]], "anything", "k", me, lazy)).toBe(true);
    expect(wantsState([["*", ""]], "m.room.topic", "", me, lazy)).toBe(true);
    expect(wantsState([["*", ""]], "m.room.member", me, me, lazy)).toBe(false);
    // $LAZY only means members.
    expect(wantsState([["m.room.topic", "$LAZY"]], "m.room.topic", "@sender:x", me, lazy)).toBe(false);
  });

  it("a kept room list survives encoding; a list in another shape reads as none (read afresh)", () => {
    const room: ListedRoom = {
      roomId: "!a:x", membership: "invite", memberPos: 7, memberSender: "@b:x", roomType: null, encrypted: true, isDm: false, bump: 7, lastPos: 7,
    };
    expect(decodeRoomList(encodeRoomList([room, { ...room, roomId: "!b:x", roomType: "m.space" }]))).toEqual([room, { ...room, roomId: "!b:x", roomType: "m.space" }]);
    expect(decodeRoomList(encodeRoomList([]))).toEqual([]);
    expect(decodeRoomList(JSON.stringify([room]))).toBeNull();
    expect(decodeRoomList("not json")).toBeNull();
  });

  it("filters: every given filter must match; null stands for rooms without a type", () => {
    const room = { isDm: true, isEncrypted: false, isInvite: false, roomType: null };
    expect(matchesFilters(undefined, room)).toBe(true);
    expect(matchesFilters({ is_dm: true }, room)).toBe(true);
    expect(matchesFilters({ is_dm: true, is_encrypted: true }, room)).toBe(false);
    expect(matchesFilters({ room_types: [null] }, room)).toBe(true);
    expect(matchesFilters({ room_types: ["m.space"] }, room)).toBe(false);
    expect(matchesFilters({ not_room_types: ["m.space"] }, { ...room, roomType: "m.space" })).toBe(false);
    expect(matchesFilters({ is_invite: true }, { ...room, isInvite: true })).toBe(true);
  });

  it("configs merge to the largest timeline and every pair, in a stable order", () => {
    const a = mergeConfigs([{ timeline_limit: 1, required_state: [["m.room.name", ""]] }, { timeline_limit: 20, required_state: [["m.room.topic", ""], ["m.room.name", ""]] }]);
    expect(a).toEqual({ timelineLimit: 20, requiredState: [["m.room.name", ""], ["m.room.topic", ""]] });
    const b = mergeConfigs([{ timeline_limit: 20, required_state: [["m.room.topic", ""], ["m.room.name", ""]] }, { timeline_limit: 1 }]);
    expect(configKey(a)).toBe(configKey(b));
    // The key gives the config back (what a changed required_state is compared against); anything else is null.
    expect(parseConfigKey(configKey(a))).toEqual(a);
    for (const bad of ["", "{}", "[1]", '["1",[]]', "not json"]) expect(parseConfigKey(bad)).toBeNull();
  });

  it("pos round-trips and refuses anything else", () => {
    expect(parsePos(formatPos("abc_-1", 42))).toEqual({ nonce: "abc_-1", n: 42 });
    for (const bad of ["", "42", "a.b", "a.-1", "a b.1", "a.1.2", `${"x".repeat(40)}.1`]) expect(parsePos(bad)).toBeNull();
  });

  it("the request schema takes Element X's shape and ignores unknown keys", () => {
    const body = {
      conn_id: "room-list",
      lists: { all_rooms: { ranges: [[0, 19]], timeline_limit: 1, required_state: [["m.room.member", "$LAZY"]], filters: {}, bump_event_types: [] } },
      room_subscriptions: { "!r:x": { timeline_limit: 20, required_state: [["*", "*"]] } },
      extensions: { to_device: { enabled: true, since: "5" }, "io.element.msc4308.thread_subscriptions": { enabled: true, limit: 10 } },
    };
    expect(SlidingSyncRequestSchema.safeParse(body).success).toBe(true);
    expect(SlidingSyncRequestSchema.safeParse({ lists: { a: { ranges: [[2, 1]] } } }).success).toBe(false);
  });
});
