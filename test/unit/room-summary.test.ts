import { describe, expect, it } from "vitest";
import { publishedRoomChunk, roomSummary, type RoomSummaryRow } from "../../src/room-summary.js";

const row: RoomSummaryRow = {
  room_id: "!r:s",
  room_version: "11",
  room_type: null,
  name: "Name",
  topic: null,
  avatar_url: "mxc://s/a",
  canonical_alias: "#a:s",
  join_rule: "public",
  history_visibility: "world_readable",
  guest_access: "can_join",
  encryption: "m.megolm.v1.aes-sha2",
  joined_members: 3,
};

describe("room summaries", () => {
  it("builds the published room chunk, omitting absent fields", () => {
    expect(publishedRoomChunk(row)).toEqual({
      room_id: "!r:s",
      name: "Name",
      canonical_alias: "#a:s",
      num_joined_members: 3,
      avatar_url: "mxc://s/a",
      world_readable: true,
      guest_can_join: true,
      join_rule: "public",
    });
    expect(publishedRoomChunk({ ...row, history_visibility: "shared", guest_access: "forbidden", room_type: "m.space" })).toMatchObject({
      world_readable: false,
      guest_can_join: false,
      room_type: "m.space",
    });
  });
  it("adds room_version, encryption and allowed_room_ids to the summary", () => {
    expect(roomSummary(row, [])).toMatchObject({ room_version: "11", encryption: "m.megolm.v1.aes-sha2" });
    expect(roomSummary(row, [])).not.toHaveProperty("allowed_room_ids");
    expect(roomSummary({ ...row, encryption: null }, ["!x:s"])).toMatchObject({ allowed_room_ids: ["!x:s"] });
    expect(roomSummary({ ...row, encryption: null }, [])).not.toHaveProperty("encryption");
  });
});
