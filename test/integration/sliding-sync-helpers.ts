/** Shared by the sliding sync tests (sliding-sync*.test.ts). */

/** matrix-sdk-ui room_list_service DEFAULT_REQUIRED_STATE, with ruma's type strings. */
export const DEFAULT_REQUIRED_STATE: Array<[string, string]> = [
  ["m.room.name", ""],
  ["m.room.encryption", ""],
  ["m.room.member", "$LAZY"],
  ["m.room.member", "$ME"],
  ["m.room.topic", ""],
  ["m.room.avatar", ""],
  ["m.room.canonical_alias", ""],
  ["m.room.power_levels", ""],
  ["org.matrix.msc3401.call.member", "*"],
  ["m.room.join_rules", ""],
  ["m.room.tombstone", ""],
  ["m.room.create", ""],
  ["m.room.history_visibility", ""],
  ["io.element.functional_members", ""],
  ["m.space.parent", "*"],
  ["m.space.child", "*"],
  ["org.matrix.msc3672.beacon_info", "*"],
];
