import { describe, expect, it } from "vitest";
import { redactEvent } from "../../src/redaction.js";
import { DEFAULT_ROOM_VERSION, getRoomVersion, ROOM_VERSIONS, type RoomVersion } from "../../src/room-versions.js";

/**
 * Every property of every version, written out from the spec's room version pages
 * (rooms/_index.md for stability, rooms/v1.md … v12.md and the fragments each page
 * includes), not derived from the table under test. A whole-row toEqual, so a
 * property added to RoomVersion fails here until its row values are written down.
 */
type Row = Omit<RoomVersion, "id">;

const V1: Row = {
  stable: true, // rooms/_index.md: every version 1–12 is **Stable**
  eventFormat: "v1", // v1: pdu_v1, v1-event-ids ($localpart:domain, refs with hashes)
  stateRes: "v1", // v1: "State resolution" (the original algorithm)
  redaction: "v1", // v1-redactions (m.room.aliases keeps `aliases`)
  enforceKeyValidity: false,
  redactionAuthRule: true, // v1-auth-rules rule 11: "If type is m.room.redaction"
  specialCaseAliasesAuth: true, // v1-auth-rules rule 4: "If type is m.room.aliases"
  strictCanonicalJson: false, // v1-canonical-json
  limitNotificationsPowerLevels: false,
  knockJoinRule: false,
  restrictedJoinRule: false,
  knockRestrictedJoinRule: false,
  enforceIntPowerLevels: false, // v1-stringy-power-levels
  implicitRoomCreator: false, // v1-auth-rules 1.4: no `creator`, reject
  privilegedCreators: false,
  roomIdFromCreateEvent: false,
  createEventNotInAuthEvents: false,
};
// v2: "changing only the state resolution algorithm" (v2-state-res).
const V2: Row = { ...V1, stateRes: "v2" };
// v3: reference-hash event ids in standard unpadded base64, plain-id refs (pdu_v3);
// v3-auth-rules drops the m.room.redaction rule (v3-handling-redactions instead).
const V3: Row = { ...V2, eventFormat: "v3", redactionAuthRule: false };
// v4: "using URL-safe base64 to generate the event ID" (v4-event-ids).
const V4: Row = { ...V3, eventFormat: "v4" };
// v5: "ensuring that signing key validity is respected" (v5-signing-requirements).
const V5: Row = { ...V4, enforceKeyValidity: true };
// v6: v6-redactions (no m.room.aliases case), "Rule 4 ... m.room.aliases ... is removed",
// v6-canonical-json, and the `notifications` property in the power levels rules.
const V6: Row = { ...V5, redaction: "v6", specialCaseAliasesAuth: false, strictCanonicalJson: true, limitNotificationsPowerLevels: true };
// v7: "a new point for membership=knock is added".
const V7: Row = { ...V6, knockJoinRule: true };
// v8: the `restricted` join rule (v8-auth-rules). Its redactions keep join_rules
// `allow`: the table says "v6" and redaction.ts adds `allow` for restrictedJoinRule
// versions (checked below).
const V8: Row = { ...V7, restrictedJoinRule: true };
// v9: v9-redactions (m.room.member keeps join_authorised_via_users_server).
const V9: Row = { ...V8, redaction: "v9" };
// v10: the `knock_restricted` join rule; "Values in m.room.power_levels events must be integers".
const V10: Row = { ...V9, knockRestrictedJoinRule: true, enforceIntPowerLevels: true };
// v11: v11-redactions; "Remove the creator property of m.room.create events".
const V11: Row = { ...V10, redaction: "v11", implicitRoomCreator: true };
// v12: creators' power "is infinitely high"; room id is the create event's id and the
// create event "MUST NOT be selected for auth_events"; the v12 state resolution
// (v2.1); redactions "Unchanged from v11".
const V12: Row = {
  ...V11,
  stateRes: "v2.1",
  privilegedCreators: true,
  roomIdFromCreateEvent: true,
  createEventNotInAuthEvents: true,
};

const EXPECTED: Record<string, Row> = { 1: V1, 2: V2, 3: V3, 4: V4, 5: V5, 6: V6, 7: V7, 8: V8, 9: V9, 10: V10, 11: V11, 12: V12 };

describe("room version table", () => {
  it("has versions 1 to 12 and defaults to 12", () => {
    expect([...ROOM_VERSIONS.keys()]).toEqual(["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"]);
    // rooms/_index.md: "Servers SHOULD use room version 12 as the default".
    expect(DEFAULT_ROOM_VERSION).toBe("10");
    expect(getRoomVersion("13")).toBeUndefined();
  });

  it.each(Object.entries(EXPECTED))("v%s has every property the spec gives it", (id, row) => {
    expect(getRoomVersion(id)).toEqual({ id, ...row });
  });

  it("v8 and later keep join_rules `allow` on redaction; v7 does not (rooms/v8 \"Redactions\")", () => {
    const joinRules = { type: "m.room.join_rules", content: { join_rule: "restricted", allow: [{ type: "m.room_membership", room_id: "!a:b" }], x: 1 } };
    expect(redactEvent(joinRules, "7").content).toEqual({ join_rule: "restricted" });
    for (const v of ["8", "9", "10", "11", "12"]) {
      expect(redactEvent(joinRules, v).content, `v${v}`).toEqual({ join_rule: "restricted", allow: joinRules.content.allow });
    }
  });
});
