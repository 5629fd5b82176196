import { describe, expect, it } from "vitest";
import type { JsonObject, JsonValue } from "../../src/json.js";
import type { Pdu } from "../../src/pdu.js";
import {
  banLevel,
  canSendEvent,
  domainOf,
  effectivePowerLevels,
  inviteLevel,
  isPrivilegedCreator,
  isValidServerName,
  isValidUserId,
  kickLevel,
  notificationPowerLevel,
  parsePowerLevelsContent,
  parsePowerLevelValue,
  readPowerLevelsContent,
  redactLevel,
  requiredPowerForEvent,
  roomCreators,
  userPowerLevel,
} from "../../src/power-levels.js";
import { ROOM_VERSIONS, type RoomVersion } from "../../src/room-versions.js";

const ALL: RoomVersion[] = [...ROOM_VERSIONS.values()];
const V = (id: string): RoomVersion => ROOM_VERSIONS.get(id) as RoomVersion;
const ALICE = "@alice:a.example";
const BOB = "@bob:b.example";
const CAROL = "@carol:c.example";

function pdu(type: string, sender: string, content: JsonObject, stateKey = ""): Pdu {
  return {
    room_id: "!r:a.example",
    type,
    sender,
    state_key: stateKey,
    content,
    origin_server_ts: 0,
    depth: 1,
    prev_events: [],
    auth_events: [],
    hashes: { sha256: "x" },
    signatures: {},
  };
}
const createEvent = (v: RoomVersion, sender = ALICE, extra: JsonObject = {}): Pdu =>
  pdu("m.room.create", sender, { ...(v.implicitRoomCreator ? {} : { creator: sender }), room_version: v.id, ...extra });
const powerLevels = (content: JsonObject): Pdu => pdu("m.room.power_levels", ALICE, content);

describe("parsePowerLevelValue", () => {
  // [value, v1–v5, v6–v9, v10+]
  const table: Array<[JsonValue, number | undefined, number | undefined, number | undefined]> = [
    [50, 50, 50, 50],
    [-7, -7, -7, -7],
    [0, 0, 0, 0],
    ["50", 50, 50, undefined],
    [" +050 ", 50, 50, undefined],
    ["-5", -5, -5, undefined],
    ["\t100\n", 100, 100, undefined],
    ["5.5", undefined, undefined, undefined],
    ["1e3", undefined, undefined, undefined],
    ["", undefined, undefined, undefined],
    ["+-5", undefined, undefined, undefined],
    ["0x10", undefined, undefined, undefined],
    ["1_000", undefined, undefined, undefined],
    [50.57, 50, undefined, undefined],
    [-50.57, -50, undefined, undefined],
    [5.114698e4, 51146, undefined, undefined],
    [true, undefined, undefined, undefined],
    [null, undefined, undefined, undefined],
    [[50], undefined, undefined, undefined],
    [{ a: 1 }, undefined, undefined, undefined],
  ];
  for (const [value, old, mid, strict] of table) {
    it.each(ALL)(`v$id: ${JSON.stringify(value)}`, (v) => {
      const expected = v.enforceIntPowerLevels ? strict : v.strictCanonicalJson ? mid : old;
      expect(parsePowerLevelValue(v, value)).toBe(expected);
    });
  }

  it("non-finite numbers are never power levels", () => {
    expect(parsePowerLevelValue(V("1"), Infinity)).toBeUndefined();
    expect(parsePowerLevelValue(V("1"), NaN)).toBeUndefined();
    expect(parsePowerLevelValue(V("1"), "9".repeat(400))).toBeUndefined();
  });

  it("negative zero is normalised", () => {
    expect(Object.is(parsePowerLevelValue(V("1"), -0.5), 0)).toBe(true);
    expect(Object.is(parsePowerLevelValue(V("9"), "-0"), 0)).toBe(true);
  });
});

describe("parsePowerLevelsContent", () => {
  it.each(ALL)("v$id: parses every property and keeps absent ones absent", (v) => {
    const r = parsePowerLevelsContent(v, {
      ban: 60,
      users: { [ALICE]: 100 },
      events: { "m.room.name": 50 },
      notifications: { room: 20 },
    });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.ban).toBe(60);
    expect(r.value.kick).toBeUndefined();
    expect(r.value.users?.get(ALICE)).toBe(100);
    expect(r.value.events?.get("m.room.name")).toBe(50);
    expect(r.value.notifications?.get("room")).toBe(v.limitNotificationsPowerLevels ? 20 : undefined);
  });

  it.each(ALL)("v$id: rejects bad user ids, non-objects and bad values", (v) => {
    for (const content of [
      { users: { alice: 1 } },
      { users: { "@alice": 1 } },
      { users: 5 },
      { events: [] },
      { events: { x: "high" } },
      { ban: "fifty" },
      { invite: false },
      { kick: null },
    ] as JsonObject[]) {
      expect(parsePowerLevelsContent(v, content).ok, JSON.stringify(content)).toBe(false);
    }
  });

  it("v1–v5 do not look at notifications; v6+ do", () => {
    expect(parsePowerLevelsContent(V("5"), { notifications: { room: "x" } }).ok).toBe(true);
    expect(parsePowerLevelsContent(V("5"), { notifications: "junk" }).ok).toBe(true);
    expect(parsePowerLevelsContent(V("6"), { notifications: { room: "x" } }).ok).toBe(false);
    expect(parsePowerLevelsContent(V("6"), { notifications: { room: "7" } }).ok).toBe(true);
    expect(parsePowerLevelsContent(V("10"), { notifications: { room: "7" } }).ok).toBe(false);
  });

  it("readPowerLevelsContent is lenient: malformed values fall back to defaults", () => {
    const pl = readPowerLevelsContent(V("10"), { ban: "50", kick: 10, users: { [ALICE]: "x", [BOB]: 5 }, events: 3 });
    expect(pl.ban).toBeUndefined();
    expect(pl.kick).toBe(10);
    expect([...(pl.users ?? [])]).toEqual([[BOB, 5]]);
    expect(pl.events).toBeUndefined();
    expect(readPowerLevelsContent(V("1"), undefined)).toEqual({});
  });
});

describe("roomCreators", () => {
  it.each(ALL)("v$id: who the creators are", (v) => {
    const create = createEvent(v, ALICE, { creator: BOB, additional_creators: [CAROL, 5] });
    const expected = v.implicitRoomCreator ? [ALICE] : [BOB];
    if (v.privilegedCreators) expected.push(CAROL);
    expect([...roomCreators(v, create)].sort()).toEqual(expected.sort());
  });

  it("no create event, no creators", () => {
    expect(roomCreators(V("12"), undefined).size).toBe(0);
  });

  it("v1–v10 without content.creator there is no creator", () => {
    const create = pdu("m.room.create", ALICE, {});
    expect(roomCreators(V("10"), create).size).toBe(0);
    expect(userPowerLevel(V("10"), ALICE, create)).toBe(0);
  });
});

describe("userPowerLevel", () => {
  it.each(ALL)("v$id: without power levels: creator 100 (v12: infinite), others 0", (v) => {
    const create = createEvent(v);
    expect(userPowerLevel(v, ALICE, create)).toBe(v.privilegedCreators ? Infinity : 100);
    expect(userPowerLevel(v, BOB, create)).toBe(0);
  });

  it.each(ALL)("v$id: with power levels: users entry, else users_default, else 0", (v) => {
    const create = createEvent(v);
    const pl = powerLevels({ users: { [BOB]: 42 }, users_default: 7 });
    expect(userPowerLevel(v, BOB, create, pl)).toBe(42);
    expect(userPowerLevel(v, CAROL, create, pl)).toBe(7);
    expect(userPowerLevel(v, CAROL, create, powerLevels({}))).toBe(0);
    // the creator is not special once there is a power levels event, except in v12
    expect(userPowerLevel(v, ALICE, create, pl)).toBe(v.privilegedCreators ? Infinity : 7);
  });

  it.each(ALL)("v$id: stringy levels in a stored event", (v) => {
    const pl = powerLevels({ users: { [BOB]: "42" }, users_default: "3" });
    expect(userPowerLevel(v, BOB, createEvent(v), pl)).toBe(v.enforceIntPowerLevels ? 0 : 42);
  });

  it("v12: additional creators are infinite, even if listed in users", () => {
    const v = V("12");
    const create = createEvent(v, ALICE, { additional_creators: [BOB] });
    expect(userPowerLevel(v, BOB, create)).toBe(Infinity);
    expect(userPowerLevel(v, BOB, create, powerLevels({ users: { [BOB]: 1 } }))).toBe(Infinity);
    expect(isPrivilegedCreator(v, BOB, create)).toBe(true);
    expect(isPrivilegedCreator(v, CAROL, create)).toBe(false);
  });

  it("v11: additional_creators gives no power", () => {
    const v = V("11");
    const create = createEvent(v, ALICE, { additional_creators: [BOB] });
    expect(userPowerLevel(v, BOB, create)).toBe(0);
    expect(isPrivilegedCreator(v, ALICE, create)).toBe(false);
  });

  it("accepts parsed content as well as the event", () => {
    const v = V("10");
    const parsed = parsePowerLevelsContent(v, { users: { [BOB]: 9 } });
    if (!parsed.ok) throw new Error(parsed.reason);
    expect(userPowerLevel(v, BOB, createEvent(v), parsed.value)).toBe(9);
  });
});

describe("named and required levels", () => {
  it.each(ALL)("v$id: defaults without a power levels event", (v) => {
    expect(inviteLevel(v)).toBe(0);
    expect(kickLevel(v)).toBe(50);
    expect(banLevel(v)).toBe(50);
    expect(redactLevel(v)).toBe(50);
    expect(requiredPowerForEvent(v, { type: "m.room.name", state_key: "" })).toBe(50);
    expect(requiredPowerForEvent(v, { type: "m.room.message" })).toBe(0);
    expect(notificationPowerLevel(v, "room")).toBe(50);
  });

  it.each(ALL)("v$id: values from the power levels event", (v) => {
    const pl = powerLevels({
      invite: 5,
      kick: 6,
      ban: 7,
      redact: 8,
      state_default: 9,
      events_default: 10,
      events: { "m.room.name": 11, "m.room.message": 12 },
      notifications: { room: 13 },
    });
    expect([inviteLevel(v, pl), kickLevel(v, pl), banLevel(v, pl), redactLevel(v, pl)]).toEqual([5, 6, 7, 8]);
    expect(requiredPowerForEvent(v, { type: "m.room.name", state_key: "" }, pl)).toBe(11);
    expect(requiredPowerForEvent(v, { type: "m.room.topic", state_key: "" }, pl)).toBe(9);
    expect(requiredPowerForEvent(v, { type: "m.room.message" }, pl)).toBe(12);
    expect(requiredPowerForEvent(v, { type: "m.reaction" }, pl)).toBe(10);
    expect(notificationPowerLevel(v, "room", pl)).toBe(13);
    expect(notificationPowerLevel(v, "other", pl)).toBe(50);
  });

  it.each(ALL)("v$id: a state event of a type listed in events uses it whatever the state_key", (v) => {
    const pl = powerLevels({ events: { "org.x": 3 } });
    expect(requiredPowerForEvent(v, { type: "org.x", state_key: "@a:b" }, pl)).toBe(3);
    expect(requiredPowerForEvent(v, { type: "org.x" }, pl)).toBe(3);
  });

  it.each(ALL)("v$id: canSendEvent", (v) => {
    const create = createEvent(v);
    expect(canSendEvent(v, ALICE, { type: "m.room.name", state_key: "" }, create)).toBe(true);
    expect(canSendEvent(v, BOB, { type: "m.room.name", state_key: "" }, create)).toBe(false);
    expect(canSendEvent(v, BOB, { type: "m.room.message" }, create)).toBe(true);
  });
});

describe("effectivePowerLevels", () => {
  it.each(ALL)("v$id: defaults without an event", (v) => {
    const e = effectivePowerLevels(v, createEvent(v));
    expect(e).toEqual({
      users: v.privilegedCreators ? {} : { [ALICE]: 100 },
      users_default: 0,
      events: {},
      events_default: 0,
      state_default: 50,
      ban: 50,
      kick: 50,
      redact: 50,
      invite: 0,
      notifications: { room: 50 },
    });
  });

  it("from an event", () => {
    const v = V("9");
    const e = effectivePowerLevels(v, createEvent(v), powerLevels({ users: { [BOB]: "20" }, ban: "70", notifications: { x: 1 } }));
    expect(e.users).toEqual({ [BOB]: 20 });
    expect(e.ban).toBe(70);
    expect(e.notifications).toEqual({ room: 50, x: 1 });
  });
});

describe("identifiers as the auth rules see them", () => {
  it.each([
    ["@alice:example.org", true],
    ["@alice:example.org:8448", true],
    ["@alice:1.2.3.4", true],
    ["@alice:[::1]:8448", true],
    ["@:example.org", true], // historical: empty localpart
    ["@Ălice☃:example.org", true], // historical: any code points
    ["@alice:", false],
    ["@alice", false],
    ["alice:example.org", false],
    ["@alice:exa mple.org", false],
    ["@alice:example.org:port", false],
    ["@al\u0000ice:example.org", false],
    [`@${"a".repeat(250)}:example.org`, false],
  ] as const)("isValidUserId(%j) = %s", (id, valid) => {
    expect(isValidUserId(id)).toBe(valid);
  });

  it("server names and domains", () => {
    expect(isValidServerName("matrix.org")).toBe(true);
    expect(isValidServerName("[1234:5678::abcd]:5678")).toBe(true);
    expect(isValidServerName("[zz]")).toBe(false);
    expect(isValidServerName("host:123456")).toBe(false);
    expect(domainOf("@a:b.example:80")).toBe("b.example:80");
    expect(domainOf("nodomain")).toBeUndefined();
  });
});
