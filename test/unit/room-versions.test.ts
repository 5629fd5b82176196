import { describe, expect, it } from "vitest";
import { DEFAULT_ROOM_VERSION, getRoomVersion, ROOM_VERSIONS } from "../../src/room-versions.js";

describe("room version table", () => {
  it("has versions 1 to 12 and defaults to 12", () => {
    expect([...ROOM_VERSIONS.keys()]).toEqual(["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"]);
    expect(DEFAULT_ROOM_VERSION).toBe("12");
    expect(getRoomVersion("13")).toBeUndefined();
  });
  it("changes event formats where the spec says", () => {
    expect(getRoomVersion("2")?.eventFormat).toBe("v1");
    expect(getRoomVersion("3")?.eventFormat).toBe("v3");
    expect(getRoomVersion("4")?.eventFormat).toBe("v4");
  });
  it("switches state res to v2.1 only in v12", () => {
    expect(getRoomVersion("1")?.stateRes).toBe("v1");
    expect(getRoomVersion("11")?.stateRes).toBe("v2");
    expect(getRoomVersion("12")?.stateRes).toBe("v2.1");
  });
});
