import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../src/json.js";
import {
  fixupPowerLevels,
  planUpgrade,
  restrictedOldPowerLevels,
  splitCanonicalAlias,
  type OldStateEvent,
  type UpgradeInput,
} from "../../src/room-upgrade.js";
import { getRoomVersion } from "../../src/room-versions.js";

const v = (id: string) => getRoomVersion(id)!;
const st = (type: string, content: JsonObject, state_key = "", sender = "@alice:s"): OldStateEvent => ({ type, state_key, content, sender });

const PL: JsonObject = {
  users: { "@alice:s": 100, "@bob:s": 50 },
  users_default: 0,
  events: { "m.room.name": 50, "m.room.power_levels": 100, "m.room.tombstone": 100 },
  events_default: 0,
  state_default: 50,
  ban: 50,
  kick: 50,
  redact: 50,
  invite: 0,
};

function input(over: Partial<UpgradeInput>): UpgradeInput {
  return {
    oldRoomId: "!old:s",
    oldVersion: v("11"),
    newVersion: v("12"),
    upgrader: "@alice:s",
    upgraderProfile: { displayname: "Alice" },
    oldCreate: st("m.room.create", { room_version: "11" }),
    oldPowerLevels: st("m.room.power_levels", PL),
    oldState: [
      st("m.room.name", { name: "N" }),
      st("m.room.join_rules", { join_rule: "public" }),
      st("m.room.topic", { topic: "T" }),
      st("m.room.encryption", { algorithm: "m.megolm.v1.aes-sha2" }),
      st("m.room.server_acl", { allow: ["*"] }),
      st("m.room.member", { membership: "join" }, "@bob:s"),
      st("m.custom", { x: 1 }),
    ],
    bans: [st("m.room.member", { membership: "ban", reason: "spam" }, "@eve:s")],
    ...over,
  };
}

describe("planUpgrade", () => {
  it("v11 → v12: predecessor without event_id, creators out of users, state copied, bans kept", () => {
    const plan = planUpgrade(input({ additionalCreators: ["@bob:s"] }));
    expect(plan.createContent).toEqual({ room_version: "12", predecessor: { room_id: "!old:s" }, additional_creators: ["@bob:s"] });
    expect(plan.events.map((e) => `${e.type}|${e.state_key}`)).toEqual([
      "m.room.member|@alice:s",
      "m.room.power_levels|",
      "m.room.history_visibility|",
      "m.room.guest_access|",
      "m.room.join_rules|",
      "m.room.name|",
      "m.room.topic|",
      "m.room.encryption|",
      "m.room.server_acl|",
      "m.room.member|@eve:s",
    ]);
    expect(plan.events[0]!.content).toEqual({ displayname: "Alice", membership: "join" });
    const pl = plan.events[1]!.content;
    expect(pl.users).toEqual({});
    expect(pl.events).toEqual(PL.events);
    expect(plan.restorePowerLevels).toBeUndefined();
    expect(plan.events.every((e) => e.sender === "@alice:s")).toBe(true);
    expect(plan.events.at(-1)!.content).toEqual({ membership: "ban", reason: "spam" });
    // Old room: sending and inviting need 50.
    expect(plan.oldRoomPowerLevels).toMatchObject({ events_default: 50, invite: 50, users: { "@alice:s": 100, "@bob:s": 50 } });
  });

  it("v12 → v11: creators get 100, the create event names no creator list, predecessor names the tombstone", () => {
    const plan = planUpgrade(
      input({
        oldVersion: v("12"),
        newVersion: v("11"),
        oldCreate: st("m.room.create", { room_version: "12", additional_creators: ["@carol:s"], type: "m.space" }),
        oldPowerLevels: st("m.room.power_levels", { ...PL, users: { "@bob:s": 50 } }),
        additionalCreators: ["@bob:s"],
        predecessorEventId: "$tomb",
        oldState: [st("m.space.child", { via: ["s"] }, "!child:s"), st("m.space.child", {}, "!gone:s")],
      }),
    );
    expect(plan.createContent).toEqual({ room_version: "11", predecessor: { room_id: "!old:s", event_id: "$tomb" }, type: "m.space" });
    const pl = plan.events.find((e) => e.type === "m.room.power_levels")!.content;
    expect(pl.users).toEqual({ "@alice:s": 100, "@bob:s": 50, "@carol:s": 100 });
    expect(plan.events.filter((e) => e.type === "m.space.child").map((e) => e.state_key)).toEqual(["!child:s"]);
  });

  it("v10 target: the create event has creator; a weak upgrader is raised, then restored", () => {
    const plan = planUpgrade(
      input({
        oldVersion: v("9"),
        newVersion: v("10"),
        oldCreate: st("m.room.create", { room_version: "9", creator: "@alice:s", "m.federate": false }),
        oldPowerLevels: st("m.room.power_levels", { ...PL, users: { "@alice:s": "60" }, state_default: "75" }),
        bans: [st("m.room.member", { membership: "ban" }, "@eve:s"), st("m.room.member", { membership: "ban" }, "@alice:s")],
      }),
    );
    expect(plan.createContent).toEqual({ room_version: "10", predecessor: { room_id: "!old:s" }, creator: "@alice:s", "m.federate": false });
    const pl = plan.events.find((e) => e.type === "m.room.power_levels")!.content;
    expect(pl.users).toEqual({ "@alice:s": 100 });
    expect(pl.state_default).toBe(75);
    expect(plan.restorePowerLevels).toMatchObject({ users: { "@alice:s": 60 }, state_default: 75 });
    expect(plan.events.filter((e) => e.type === "m.room.member").map((e) => e.state_key)).toEqual(["@alice:s", "@eve:s"]);
  });

  it("no power levels in the old room: none copied, old room untouched", () => {
    const plan = planUpgrade(input({ oldPowerLevels: undefined }));
    expect(plan.events.some((e) => e.type === "m.room.power_levels")).toBe(false);
    expect(plan.oldRoomPowerLevels).toBeUndefined();
  });
});

describe("power level helpers", () => {
  it("fixupPowerLevels makes values integers and drops junk", () => {
    expect(fixupPowerLevels(v("5"), { ban: "50", kick: 25.7, users: { "@a:s": " 10 ", "@b:s": "x" }, junk: "x" })).toEqual({ ban: 50, kick: 25, users: { "@a:s": 10 } });
  });
  it("restrictedOldPowerLevels raises events_default and invite to max(50, users_default + 1)", () => {
    expect(restrictedOldPowerLevels(v("11"), { users_default: 60 })).toEqual({ users_default: 60, events_default: 61, invite: 61 });
    expect(restrictedOldPowerLevels(v("11"), { events_default: 50, invite: 100 })).toBeUndefined();
  });
});

describe("splitCanonicalAlias", () => {
  it("moves local aliases to the new room", () => {
    expect(splitCanonicalAlias({ alias: "#a:s", alt_aliases: ["#b:s", "#c:other"] }, "s")).toEqual({
      old: { alt_aliases: ["#c:other"] },
      new: { alias: "#a:s", alt_aliases: ["#b:s"] },
    });
    expect(splitCanonicalAlias({ alias: "#a:other" }, "s")).toEqual({ old: { alias: "#a:other" }, new: {} });
  });
});
