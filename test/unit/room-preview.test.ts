import { describe, expect, it } from "vitest";
import { allowedRoomIds, canPreviewRoom, type PreviewFacts } from "../../src/room-preview.js";
import { getRoomVersion } from "../../src/room-versions.js";

const v = (id: string) => getRoomVersion(id)!;
const facts = (f: Partial<PreviewFacts>): PreviewFacts => ({ version: v("11"), joinRule: "invite", historyVisibility: "shared", membership: null, inAllowedRoom: false, ...f });

describe("canPreviewRoom", () => {
  it("members and invitees see the room", () => {
    expect(canPreviewRoom(facts({ membership: "join" }))).toBe(true);
    expect(canPreviewRoom(facts({ membership: "invite" }))).toBe(true);
    expect(canPreviewRoom(facts({ membership: "leave" }))).toBe(false);
    expect(canPreviewRoom(facts({ membership: "ban" }))).toBe(false);
    expect(canPreviewRoom(facts({}))).toBe(false);
  });
  it("public, knockable (per version) and world-readable rooms are visible", () => {
    expect(canPreviewRoom(facts({ joinRule: "public" }))).toBe(true);
    expect(canPreviewRoom(facts({ joinRule: "knock" }))).toBe(true);
    expect(canPreviewRoom(facts({ joinRule: "knock", version: v("6") }))).toBe(false);
    expect(canPreviewRoom(facts({ joinRule: "knock_restricted" }))).toBe(true);
    expect(canPreviewRoom(facts({ joinRule: "knock_restricted", version: v("9") }))).toBe(false);
    expect(canPreviewRoom(facts({ historyVisibility: "world_readable" }))).toBe(true);
  });
  it("restricted rooms are visible to members of an allowed room", () => {
    expect(canPreviewRoom(facts({ joinRule: "restricted" }))).toBe(false);
    expect(canPreviewRoom(facts({ joinRule: "restricted", inAllowedRoom: true }))).toBe(true);
    expect(canPreviewRoom(facts({ joinRule: "restricted", inAllowedRoom: true, version: v("7") }))).toBe(false);
  });
  it("allowedRoomIds reads m.room_membership conditions", () => {
    expect(allowedRoomIds([{ type: "m.room_membership", room_id: "!a:s" }, { type: "other", room_id: "!b:s" }, { type: "m.room_membership", room_id: "!a:s" }, "x"])).toEqual(["!a:s"]);
    expect(allowedRoomIds(undefined)).toEqual([]);
  });
});
