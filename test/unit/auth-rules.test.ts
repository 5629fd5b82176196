import { ed25519 } from "@noble/curves/ed25519.js";
import { describe, expect, it } from "vitest";
import {
  authStateFromEvents,
  authTypesForEvent,
  checkAuthEventsMatch,
  checkEventAuth,
  checkEventAuthById,
  verifySignedWithPublicKey,
  type AuthOptions,
  type AuthResult,
} from "../../src/auth-rules.js";
import { canonicalJsonBytes } from "../../src/canonical-json.js";
import type { JsonObject } from "../../src/json.js";
import { stateKey, type Pdu, type StateMap } from "../../src/pdu.js";
import { ROOM_VERSIONS, type RoomVersion } from "../../src/room-versions.js";

// ---------------------------------------------------------------------------
// A tiny room builder: plain Pdu objects, no real hashes or signatures.

const ALICE = "@alice:a.example"; // creator
const MOD = "@mod:a.example";
const BOB = "@bob:b.example";
const CAROL = "@carol:c.example";
const EVE = "@eve:e.example";

const ALL: RoomVersion[] = [...ROOM_VERSIONS.values()];
const V = (id: string): RoomVersion => {
  const v = ROOM_VERSIONS.get(id);
  if (!v) throw new Error(`no version ${id}`);
  return v;
};
const versions = (ids: string[]): RoomVersion[] => ids.map(V);
const range = (from: number, to: number): RoomVersion[] =>
  ALL.filter((v) => Number(v.id) >= from && Number(v.id) <= to);

const ids = new WeakMap<Pdu, string>();
const OPTS: AuthOptions = { eventId: (p) => ids.get(p) };
let seq = 0;

/** An event before the builder fills in room, refs, hashes and signatures. */
interface Draft {
  type: string;
  sender: string;
  state_key?: string;
  content: JsonObject;
  redacts?: string;
  room_id?: string;
  prev_events?: Pdu["prev_events"];
  auth_events?: Pdu["auth_events"];
  signatures?: Pdu["signatures"];
}

function domain(user: string): string {
  return user.slice(user.indexOf(":") + 1);
}

function makePdu(version: RoomVersion, roomId: string | undefined, p: Draft): Pdu {
  const id = version.eventFormat === "v1" ? `$e${++seq}:${domain(p.sender)}` : `$ev${++seq}`;
  const pdu: Pdu = {
    ...p,
    ...(roomId !== undefined ? { room_id: roomId } : {}),
    origin_server_ts: 1_700_000_000_000 + seq,
    depth: seq,
    prev_events: p.prev_events ?? ["$prev"],
    auth_events: p.auth_events ?? [],
    hashes: { sha256: "x" },
    signatures: p.signatures ?? { [domain(p.sender)]: { "ed25519:1": "sig" } },
  };
  if (roomId === undefined) delete pdu.room_id;
  if (version.eventFormat === "v1") pdu.event_id = id;
  ids.set(pdu, id);
  return pdu;
}

function createContent(version: RoomVersion, creator: string, extra: JsonObject = {}): JsonObject {
  return { ...(version.implicitRoomCreator ? {} : { creator }), room_version: version.id, ...extra };
}

class Room {
  readonly state: StateMap<Pdu> = new Map();
  readonly roomId: string;
  readonly create: Pdu;

  constructor(
    readonly version: RoomVersion,
    creator = ALICE,
    extraCreateContent: JsonObject = {},
  ) {
    if (version.roomIdFromCreateEvent) {
      this.create = makePdu(version, undefined, {
        type: "m.room.create",
        state_key: "",
        sender: creator,
        content: createContent(version, creator, extraCreateContent),
        prev_events: [],
      });
      this.roomId = "!" + (ids.get(this.create) as string).slice(1);
    } else {
      this.roomId = `!room:${domain(creator)}`;
      this.create = makePdu(version, this.roomId, {
        type: "m.room.create",
        state_key: "",
        sender: creator,
        content: createContent(version, creator, extraCreateContent),
        prev_events: [],
      });
    }
    this.state.set(stateKey("m.room.create", ""), this.create);
  }

  get createId(): string {
    return ids.get(this.create) as string;
  }

  pdu(p: Draft): Pdu {
    return makePdu(this.version, this.roomId, p);
  }

  check(p: Draft | Pdu, options: AuthOptions = OPTS): AuthResult {
    const pdu = "hashes" in p ? (p as Pdu) : this.pdu(p);
    return checkEventAuth(this.version, pdu, this.state, options);
  }

  /** Puts an event into the state without checking it. */
  force(p: Draft): this {
    const pdu = this.pdu(p);
    this.state.set(stateKey(pdu.type, pdu.state_key as string), pdu);
    return this;
  }

  /** Checks an event and adds it to the state; throws if rejected. */
  send(p: Draft): this {
    const pdu = this.pdu(p);
    const r = checkEventAuth(this.version, pdu, this.state, OPTS);
    if (!r.ok) throw new Error(`setup event rejected: ${r.reason} (${JSON.stringify(p)})`);
    this.state.set(stateKey(pdu.type, pdu.state_key as string), pdu);
    return this;
  }

  member(user: string, membership: string, sender = user, content: JsonObject = {}): Draft {
    return { type: "m.room.member", state_key: user, sender, content: { membership, ...content } };
  }
  /** Force a membership into the state. */
  setMember(user: string, membership: string): this {
    return this.force(this.member(user, membership, membership === "join" ? user : ALICE));
  }
  setPowerLevels(content: JsonObject): this {
    return this.force({ type: "m.room.power_levels", state_key: "", sender: ALICE, content });
  }
  setJoinRule(rule: string, extra: JsonObject = {}): this {
    return this.force({ type: "m.room.join_rules", state_key: "", sender: ALICE, content: { join_rule: rule, ...extra } });
  }
  message(sender: string, content: JsonObject = { body: "hi" }): Draft {
    return { type: "m.room.message", sender, content };
  }
}

/**
 * The usual room: Alice created it and joined, power levels give her 100
 * (v12: she is the creator and is not listed) and MOD 50, join rule as given.
 */
function standardRoom(version: RoomVersion, joinRule = "public", plExtra: JsonObject = {}): Room {
  const room = new Room(version);
  room.send({ ...room.member(ALICE, "join"), prev_events: [room.createId], auth_events: [room.createId] });
  const users: JsonObject = version.privilegedCreators ? { [MOD]: 50 } : { [ALICE]: 100, [MOD]: 50 };
  room.send({ type: "m.room.power_levels", state_key: "", sender: ALICE, content: { users, ...plExtra } });
  room.send({ type: "m.room.join_rules", state_key: "", sender: ALICE, content: { join_rule: joinRule } });
  room.setMember(MOD, "join");
  return room;
}

function ok(r: AuthResult): void {
  expect(r, JSON.stringify(r)).toEqual({ ok: true });
}
function rejected(r: AuthResult, reason?: RegExp): void {
  expect(r.ok, "expected rejection").toBe(false);
  if (reason && !r.ok) expect(r.reason).toMatch(reason);
}

// ---------------------------------------------------------------------------

describe("rule 1: m.room.create", () => {
  it.each(ALL)("v$id: a well-formed create event is allowed", (v) => {
    const room = new Room(v);
    ok(checkEventAuth(v, room.create, new Map(), OPTS));
  });

  it.each(ALL)("v$id: a create event with prev_events is rejected", (v) => {
    const room = new Room(v);
    rejected(checkEventAuth(v, { ...room.create, prev_events: ["$x"] }, new Map()), /prev_events/);
  });

  it.each(range(1, 10))("v$id: content.creator is required", (v) => {
    const room = new Room(v);
    const { creator: _c, ...content } = room.create.content;
    rejected(checkEventAuth(v, { ...room.create, content }, new Map()), /creator/);
  });

  it.each(range(11, 12))("v$id: content.creator is not required (the sender is the creator)", (v) => {
    const room = new Room(v);
    expect(room.create.content["creator"]).toBeUndefined();
    ok(checkEventAuth(v, room.create, new Map()));
  });

  it.each(range(1, 11))("v$id: the room id's domain must be the sender's", (v) => {
    const room = new Room(v);
    rejected(checkEventAuth(v, { ...room.create, room_id: "!room:elsewhere.example" }, new Map()), /domain/);
    rejected(checkEventAuth(v, { ...room.create, room_id: "!nodomain" }, new Map()));
  });

  it("v12: the create event must not have a room_id", () => {
    const v = V("12");
    const room = new Room(v);
    rejected(checkEventAuth(v, { ...room.create, room_id: "!room:a.example" }, new Map()), /room_id/);
  });

  it.each(ALL)("v$id: content.room_version must be recognised when present", (v) => {
    const room = new Room(v);
    rejected(checkEventAuth(v, { ...room.create, content: { ...room.create.content, room_version: "999" } }, new Map()));
    rejected(checkEventAuth(v, { ...room.create, content: { ...room.create.content, room_version: 1 } }, new Map()));
    const { room_version: _rv, ...noVersion } = room.create.content;
    ok(checkEventAuth(v, { ...room.create, content: noVersion }, new Map()));
  });

  it.each([
    [["@bob:b.example", "@carol:c.example"], true],
    [[], true],
    ["@bob:b.example", false],
    [["bob"], false],
    [["@bob"], false],
    [[5], false],
    [["@bob:bad host"], false],
    [null, false],
  ] as const)("v12: additional_creators %j valid=%s", (extra, valid) => {
    const v = V("12");
    const room = new Room(v);
    const ev = { ...room.create, content: { ...room.create.content, additional_creators: extra as never } };
    const r = checkEventAuth(v, ev, new Map());
    if (valid) ok(r);
    else rejected(r, /additional_creators/);
  });

  it("v11: additional_creators is not validated", () => {
    const v = V("11");
    const room = new Room(v);
    ok(checkEventAuth(v, { ...room.create, content: { ...room.create.content, additional_creators: "junk" } }, new Map()));
  });
});

describe("rooms without a usable create event", () => {
  it.each(ALL)("v$id: an event is rejected when there is no create event", (v) => {
    const room = standardRoom(v);
    const state = new Map(room.state);
    state.delete(stateKey("m.room.create", ""));
    rejected(checkEventAuth(v, room.pdu(room.message(ALICE)), state, OPTS), /create/);
  });

  it.each(ALL)("v$id: an auth event from another room is rejected", (v) => {
    const room = standardRoom(v);
    const pl = room.state.get(stateKey("m.room.power_levels", "")) as Pdu;
    room.state.set(stateKey("m.room.power_levels", ""), { ...pl, room_id: "!other:a.example" });
    rejected(room.check(room.message(ALICE)), /another room/);
  });

  it("v12: the room id must be the create event's id (with the eventId hook)", () => {
    const v = V("12");
    const room = standardRoom(v);
    const ev = makePdu(v, "!someotherroom", room.message(ALICE));
    rejected(checkEventAuth(v, ev, room.state, OPTS), /create event/);
    ok(room.check(room.message(ALICE)));
  });

  it("v12: a create event carrying a room_id in the state is refused", () => {
    const v = V("12");
    const room = standardRoom(v);
    room.state.set(stateKey("m.room.create", ""), { ...room.create, room_id: room.roomId });
    rejected(room.check(room.message(ALICE)));
  });
});

describe("m.federate", () => {
  it.each(ALL)("v$id: m.federate=false keeps other servers out", (v) => {
    const room = new Room(v, ALICE, { "m.federate": false });
    room.send({ ...room.member(ALICE, "join"), prev_events: [room.createId], auth_events: [room.createId] });
    room.setJoinRule("public");
    rejected(room.check(room.member(BOB, "join")), /federat/);
    ok(room.check(room.member("@alice2:a.example", "join")));
  });
});

describe("joins", () => {
  it.each(ALL)("v$id: the creator's first join after the create event is allowed", (v) => {
    const room = new Room(v);
    ok(room.check({ ...room.member(ALICE, "join"), prev_events: [room.createId], auth_events: [room.createId] }));
  });

  it.each(ALL)("v$id: the creator's join with another prev event falls back to the join rules", (v) => {
    const room = new Room(v);
    rejected(room.check({ ...room.member(ALICE, "join"), prev_events: ["$other"], auth_events: [room.createId] }));
  });

  it.each(ALL)("v$id: someone else's join right after the create event is not special", (v) => {
    const room = new Room(v);
    rejected(room.check({ ...room.member(BOB, "join"), prev_events: [room.createId], auth_events: [room.createId] }));
  });

  it.each(range(3, 11))("v$id: without the eventId hook, the single prev = single auth event fallback applies", (v) => {
    const room = new Room(v);
    const join = room.pdu({ ...room.member(ALICE, "join"), prev_events: ["$c"], auth_events: ["$c"] });
    ok(checkEventAuth(v, join, room.state));
    const other = room.pdu({ ...room.member(ALICE, "join"), prev_events: ["$c"], auth_events: ["$d"] });
    rejected(checkEventAuth(v, other, room.state));
  });

  it.each(range(1, 10))("v$id: the creator is content.creator, not the create event's sender", (v) => {
    const room = new Room(v, ALICE, { creator: BOB });
    // the room id is on a.example (ALICE's server) but the declared creator is BOB
    ok(room.check({ ...room.member(BOB, "join"), prev_events: [room.createId], auth_events: [room.createId] }));
    rejected(room.check({ ...room.member(ALICE, "join"), prev_events: [room.createId], auth_events: [room.createId] }));
  });

  it.each(range(11, 12))("v$id: the creator is the create event's sender; content.creator is ignored", (v) => {
    const room = new Room(v, ALICE, { creator: BOB });
    ok(room.check({ ...room.member(ALICE, "join"), prev_events: [room.createId], auth_events: [room.createId] }));
    rejected(room.check({ ...room.member(BOB, "join"), prev_events: [room.createId], auth_events: [room.createId] }));
  });

  it("v12: an additional creator's join right after the create event is not special", () => {
    const v = V("12");
    const room = new Room(v, ALICE, { additional_creators: [BOB] });
    rejected(room.check({ ...room.member(BOB, "join"), prev_events: [room.createId], auth_events: [room.createId] }));
  });

  it.each(ALL)("v$id: public rooms can be joined", (v) => {
    const room = standardRoom(v, "public");
    ok(room.check(room.member(BOB, "join")));
  });

  it.each(ALL)("v$id: nobody can be joined by someone else", (v) => {
    const room = standardRoom(v, "public");
    rejected(room.check(room.member(BOB, "join", ALICE)), /behalf/);
  });

  it.each(ALL)("v$id: banned users cannot join", (v) => {
    const room = standardRoom(v, "public").setMember(BOB, "ban");
    rejected(room.check(room.member(BOB, "join")), /banned/);
  });

  it.each(ALL)("v$id: invite-only rooms need an invite", (v) => {
    const room = standardRoom(v, "invite");
    rejected(room.check(room.member(BOB, "join")), /not invited/);
    room.setMember(BOB, "invite");
    ok(room.check(room.member(BOB, "join")));
  });

  it.each(ALL)("v$id: a joined user may re-join (profile change) in an invite-only room", (v) => {
    const room = standardRoom(v, "invite").setMember(BOB, "join");
    ok(room.check(room.member(BOB, "join", BOB, { displayname: "Bob" })));
  });

  it.each(ALL)("v$id: without a join rules event the room is invite-only", (v) => {
    const room = new Room(v);
    room.send({ ...room.member(ALICE, "join"), prev_events: [room.createId], auth_events: [room.createId] });
    rejected(room.check(room.member(BOB, "join")));
    room.setMember(BOB, "invite");
    ok(room.check(room.member(BOB, "join")));
  });

  it.each(ALL)("v$id: an unknown join rule allows nobody new", (v) => {
    const room = standardRoom(v, "private");
    rejected(room.check(room.member(BOB, "join")));
  });

  it.each(ALL)("v$id: join rule knock lets the invited join only from v7", (v) => {
    const room = standardRoom(v, "knock").setMember(BOB, "invite");
    const r = room.check(room.member(BOB, "join"));
    if (v.knockJoinRule) ok(r);
    else rejected(r);
    rejected(room.check(room.member(CAROL, "join")));
  });
});

describe("restricted joins (v8+) and knock_restricted (v10+)", () => {
  const allow = [{ type: "m.room_membership", room_id: "!space:a.example" }];

  function restrictedRoom(v: RoomVersion, rule = "restricted", plExtra: JsonObject = {}): Room {
    const room = standardRoom(v, "public", plExtra);
    room.setJoinRule(rule, { allow });
    return room;
  }
  const viaMod = (room: Room, signers: string[] = ["b.example", "a.example"]): Draft => ({
    ...room.member(BOB, "join", BOB, { join_authorised_via_users_server: MOD }),
    signatures: Object.fromEntries(signers.map((s) => [s, { "ed25519:1": "sig" }])),
  });

  for (const rule of ["restricted", "knock_restricted"]) {
    const supported = (v: RoomVersion): boolean =>
      rule === "restricted" ? v.restrictedJoinRule : v.knockRestrictedJoinRule;

    it.each(ALL)(`v$id: ${rule}: join authorised by a joined user who can invite`, (v) => {
      const room = restrictedRoom(v, rule);
      const r = room.check(viaMod(room));
      if (supported(v)) ok(r);
      else rejected(r);
    });

    it.each(ALL.filter(supported))(`v$id: ${rule}: join without an authorising user is rejected`, (v) => {
      const room = restrictedRoom(v, rule);
      rejected(room.check(room.member(BOB, "join")), /join_authorised_via_users_server/);
    });

    it.each(ALL.filter(supported))(`v$id: ${rule}: invited or joined users need no authorising user`, (v) => {
      const room = restrictedRoom(v, rule).setMember(BOB, "invite");
      ok(room.check(room.member(BOB, "join")));
    });

    it.each(ALL.filter(supported))(`v$id: ${rule}: the authorising user must be joined`, (v) => {
      const room = restrictedRoom(v, rule).setMember(MOD, "leave");
      rejected(room.check(viaMod(room)), /not joined/);
    });

    it.each(ALL.filter(supported))(`v$id: ${rule}: the authorising user must be able to invite`, (v) => {
      const room = restrictedRoom(v, rule, { invite: 75 });
      rejected(room.check(viaMod(room)), /cannot invite/);
    });

    it.each(ALL.filter(supported))(`v$id: ${rule}: the authorising server must have signed`, (v) => {
      const room = restrictedRoom(v, rule);
      rejected(room.check(viaMod(room, ["b.example"])), /signed by a\.example/);
    });

    it.each(ALL.filter(supported))(`v$id: ${rule}: a verifyServerSignature hook is consulted`, (v) => {
      const room = restrictedRoom(v, rule);
      const hook = (_e: Pdu, server: string): boolean => server !== "a.example";
      rejected(room.check(viaMod(room), { ...OPTS, verifyServerSignature: hook }), /invalid signature/);
    });

    it.each(ALL.filter(supported))(`v$id: ${rule}: banned users cannot join even when authorised`, (v) => {
      const room = restrictedRoom(v, rule).setMember(BOB, "ban");
      rejected(room.check(viaMod(room)), /banned/);
    });
  }

  it.each(range(1, 7))("v$id: join_authorised_via_users_server means nothing before v8", (v) => {
    const room = standardRoom(v, "public");
    ok(room.check({ ...room.member(BOB, "join", BOB, { join_authorised_via_users_server: "@x:nowhere.example" }) }));
  });

  it.each(range(8, 12))("v$id: join_authorised_via_users_server needs a signature on any membership", (v) => {
    const room = standardRoom(v, "public").setMember(BOB, "join");
    rejected(room.check(room.member(BOB, "leave", BOB, { join_authorised_via_users_server: "@x:nowhere.example" })));
  });
});

describe("invites", () => {
  it.each(ALL)("v$id: a joined member with the invite level can invite", (v) => {
    const room = standardRoom(v);
    ok(room.check(room.member(BOB, "invite", MOD)));
  });

  it.each(ALL)("v$id: the invite level is enforced", (v) => {
    const room = standardRoom(v, "invite", { invite: 60 });
    rejected(room.check(room.member(BOB, "invite", MOD)), /invite level/);
    ok(room.check(room.member(BOB, "invite", ALICE)));
  });

  it.each(ALL)("v$id: the inviter must be joined", (v) => {
    const room = standardRoom(v).setMember(CAROL, "invite");
    rejected(room.check(room.member(BOB, "invite", CAROL)), /not joined/);
  });

  it.each(ALL)("v$id: joined or banned users cannot be invited", (v) => {
    const room = standardRoom(v).setMember(BOB, "join").setMember(CAROL, "ban");
    rejected(room.check(room.member(BOB, "invite", MOD)), /already joined/);
    rejected(room.check(room.member(CAROL, "invite", MOD)), /banned/);
  });

  it.each(ALL)("v$id: re-inviting an invited or departed user is fine", (v) => {
    const room = standardRoom(v).setMember(BOB, "invite").setMember(CAROL, "leave");
    ok(room.check(room.member(BOB, "invite", MOD)));
    ok(room.check(room.member(CAROL, "invite", MOD)));
  });
});

describe("leave, kick and ban", () => {
  it.each(ALL)("v$id: leaving from join, or rejecting an invite, is allowed", (v) => {
    const room = standardRoom(v).setMember(BOB, "join").setMember(CAROL, "invite");
    ok(room.check(room.member(BOB, "leave")));
    ok(room.check(room.member(CAROL, "leave")));
  });

  it.each(ALL)("v$id: leaving without a membership, or while banned, is rejected", (v) => {
    const room = standardRoom(v).setMember(CAROL, "ban");
    rejected(room.check(room.member(BOB, "leave")));
    rejected(room.check(room.member(CAROL, "leave")));
  });

  it.each(ALL)("v$id: rescinding a knock is allowed from v7", (v) => {
    const room = standardRoom(v).setMember(BOB, "knock");
    const r = room.check(room.member(BOB, "leave"));
    if (v.knockJoinRule) ok(r);
    else rejected(r);
  });

  it.each(ALL)("v$id: kicks need the kick level and more power than the target", (v) => {
    const room = standardRoom(v).setMember(BOB, "join").setMember(EVE, "join");
    ok(room.check(room.member(BOB, "leave", MOD)));
    rejected(room.check(room.member(BOB, "leave", EVE)), /kick/); // EVE has 0 < kick 50
    rejected(room.check(room.member(ALICE, "leave", MOD))); // ALICE outranks MOD
  });

  it.each(ALL)("v$id: a kick of a user with equal power is rejected", (v) => {
    const room = standardRoom(v, "public", { users: { ...(v.privilegedCreators ? {} : { [ALICE]: 100 }), [MOD]: 50, [BOB]: 50 } })
      .setMember(BOB, "join");
    rejected(room.check(room.member(BOB, "leave", MOD)));
  });

  it.each(ALL)("v$id: the kicker must be joined", (v) => {
    const room = standardRoom(v).setMember(BOB, "join").setMember(MOD, "leave");
    rejected(room.check(room.member(BOB, "leave", MOD)), /not joined/);
  });

  it.each(ALL)("v$id: unbanning needs the ban level as well as the kick level", (v) => {
    const room = standardRoom(v, "public", { kick: 0, ban: 75 }).setMember(BOB, "ban");
    rejected(room.check(room.member(BOB, "leave", MOD)), /ban level/);
    ok(room.check(room.member(BOB, "leave", ALICE)));
  });

  it.each(ALL)("v$id: bans need the ban level and more power than the target", (v) => {
    const room = standardRoom(v).setMember(BOB, "join").setMember(EVE, "join");
    ok(room.check(room.member(BOB, "ban", MOD)));
    ok(room.check(room.member(CAROL, "ban", MOD))); // not in the room
    rejected(room.check(room.member(BOB, "ban", EVE)));
    rejected(room.check(room.member(ALICE, "ban", MOD)));
  });

  it.each(ALL)("v$id: the banner must be joined", (v) => {
    const room = standardRoom(v).setMember(MOD, "invite");
    rejected(room.check(room.member(BOB, "ban", MOD)), /not joined/);
  });

  it.each(range(1, 11))("v$id: a 100 user cannot ban the 100 creator", (v) => {
    const room = standardRoom(v, "public", { users: { [ALICE]: 100, [MOD]: 100 } });
    rejected(room.check(room.member(ALICE, "ban", MOD)));
  });

  it("v12: the creator outranks everyone, even at power 100+", () => {
    const v = V("12");
    const room = standardRoom(v, "public", { users: { [MOD]: 1_000_000 } });
    ok(room.check(room.member(MOD, "ban", ALICE)));
    rejected(room.check(room.member(ALICE, "ban", MOD)));
    rejected(room.check(room.member(ALICE, "leave", MOD)));
  });

  it("v12: creators cannot kick or ban each other", () => {
    const v = V("12");
    const room = new Room(v, ALICE, { additional_creators: [BOB] });
    room.send({ ...room.member(ALICE, "join"), prev_events: [room.createId], auth_events: [room.createId] });
    room.setJoinRule("public").setMember(BOB, "join");
    rejected(room.check(room.member(BOB, "ban", ALICE)));
    rejected(room.check(room.member(ALICE, "leave", BOB)));
    ok(room.check(room.member(CAROL, "ban", BOB)));
  });
});

describe("knocking", () => {
  it.each(ALL)("v$id: knocking on a knock room (v7+ only)", (v) => {
    const room = standardRoom(v, "knock");
    const r = room.check(room.member(BOB, "knock"));
    if (v.knockJoinRule) ok(r);
    else rejected(r, /unknown membership/);
  });

  it.each(ALL)("v$id: knocking on a knock_restricted room (v10+ only)", (v) => {
    const room = standardRoom(v, "knock_restricted");
    const r = room.check(room.member(BOB, "knock"));
    if (v.knockRestrictedJoinRule) ok(r);
    else rejected(r);
  });

  it.each(range(7, 12))("v$id: knocking needs the knock join rule", (v) => {
    for (const rule of ["public", "invite", "restricted"]) {
      const room = standardRoom(v, rule);
      rejected(room.check(room.member(BOB, "knock")), /knock/);
    }
  });

  it.each(range(7, 12))("v$id: nobody can knock for somebody else", (v) => {
    const room = standardRoom(v, "knock");
    rejected(room.check(room.member(BOB, "knock", MOD)), /behalf/);
  });

  it.each(range(7, 12))("v$id: joined, invited or banned users cannot knock", (v) => {
    for (const m of ["join", "invite", "ban"]) {
      const room = standardRoom(v, "knock").setMember(BOB, m);
      rejected(room.check(room.member(BOB, "knock")));
    }
    const room = standardRoom(v, "knock").setMember(BOB, "leave");
    ok(room.check(room.member(BOB, "knock")));
  });
});

describe("malformed membership events", () => {
  it.each(ALL)("v$id: unknown or missing membership, or no state_key", (v) => {
    const room = standardRoom(v);
    rejected(room.check(room.member(BOB, "dance")), /unknown membership/);
    rejected(room.check({ type: "m.room.member", state_key: BOB, sender: BOB, content: {} }), /membership/);
    rejected(room.check({ type: "m.room.member", sender: BOB, content: { membership: "join" } }), /state_key/);
    rejected(room.check({ type: "m.room.member", state_key: BOB, sender: BOB, content: { membership: null } }));
  });
});

describe("third-party invites", () => {
  const seed = new Uint8Array(32).fill(7);
  const publicKey = ed25519.getPublicKey(seed);
  const b64 = (u: Uint8Array): string => btoa(String.fromCharCode(...u)).replace(/=+$/, "");
  const b64url = (u: Uint8Array): string => b64(u).replace(/\+/g, "-").replace(/\//g, "_");
  const TOKEN = "tok123";

  function signed(mxid = BOB, token = TOKEN, key = seed): JsonObject {
    const body: JsonObject = { mxid, token, sender: MOD };
    const sig = ed25519.sign(canonicalJsonBytes(body), key);
    return { ...body, signatures: { "id.example": { "ed25519:0": b64(sig) } } };
  }

  function roomWithInvite(v: RoomVersion, inviteContent: JsonObject = { public_key: b64(publicKey) }): Room {
    const room = standardRoom(v, "invite");
    room.force({
      type: "m.room.third_party_invite",
      state_key: TOKEN,
      sender: MOD,
      content: { display_name: "b...@example.com", key_validity_url: "https://id.example/isvalid", ...inviteContent },
    });
    return room;
  }
  const tpInvite = (room: Room, s: JsonObject | undefined, sender = MOD, target = BOB): Draft =>
    room.member(target, "invite", sender, { third_party_invite: s === undefined ? { display_name: "x" } : { display_name: "x", signed: s } });

  it.each(ALL)("v$id: a correctly signed third-party invite is allowed", (v) => {
    const room = roomWithInvite(v);
    ok(room.check(tpInvite(room, signed())));
  });

  it.each(ALL)("v$id: keys in public_keys (URL-safe base64) are tried too", (v) => {
    const room = roomWithInvite(v, {
      public_key: b64(ed25519.getPublicKey(new Uint8Array(32).fill(9))),
      public_keys: [{ public_key: "garbage" }, { public_key: b64url(publicKey) }],
    });
    ok(room.check(tpInvite(room, signed())));
  });

  it.each(ALL)("v$id: a bad signature is rejected", (v) => {
    const room = roomWithInvite(v);
    rejected(room.check(tpInvite(room, signed(BOB, TOKEN, new Uint8Array(32).fill(8)))), /signature/);
    const tampered = { ...signed(), token: TOKEN, mxid: BOB, extra: 1 };
    rejected(room.check(tpInvite(room, tampered)), /signature/);
  });

  it.each(ALL)("v$id: the structural checks", (v) => {
    const room = roomWithInvite(v);
    rejected(room.check(tpInvite(room, undefined)), /signed/);
    rejected(room.check(tpInvite(room, { token: TOKEN })), /mxid or token/);
    rejected(room.check(tpInvite(room, signed(CAROL))), /mxid does not match/);
    rejected(room.check(tpInvite(room, signed(BOB, "other-token"))), /no m.room.third_party_invite/);
    rejected(room.check(tpInvite(room, signed(), ALICE)), /did not send/);
  });

  it.each(ALL)("v$id: banned targets cannot be invited by third-party invite", (v) => {
    const room = roomWithInvite(v).setMember(BOB, "ban");
    rejected(room.check(tpInvite(room, signed())), /banned/);
  });

  it.each(ALL)("v$id: sending m.room.third_party_invite needs the invite level", (v) => {
    const room = standardRoom(v, "invite", { invite: 50 }).setMember(EVE, "join");
    const ev = (sender: string): Draft => ({
      type: "m.room.third_party_invite",
      state_key: "t",
      sender,
      content: { public_key: "k", display_name: "x", key_validity_url: "https://x" },
    });
    ok(room.check(ev(MOD)));
    rejected(room.check(ev(EVE)), /invite level/);
    rejected(room.check(ev(CAROL)), /not joined/);
  });

  it("verifySignedWithPublicKey never throws on junk", () => {
    expect(verifySignedWithPublicKey({ signatures: { s: { "ed25519:0": "!!" } } }, "s", "ed25519:0", "??")).toBe(false);
    expect(verifySignedWithPublicKey({}, "s", "ed25519:0", b64(publicKey))).toBe(false);
  });
});

describe("sender membership and power for other events", () => {
  it.each(ALL)("v$id: a non-member cannot send", (v) => {
    const room = standardRoom(v);
    rejected(room.check(room.message(BOB)), /not joined/);
    room.setMember(BOB, "invite");
    rejected(room.check(room.message(BOB)), /not joined/);
    room.setMember(BOB, "join");
    ok(room.check(room.message(BOB)));
  });

  it.each(ALL)("v$id: state events need state_default, messages events_default", (v) => {
    const room = standardRoom(v).setMember(BOB, "join");
    const topic = (sender: string): Draft => ({ type: "m.room.topic", state_key: "", sender, content: { topic: "t" } });
    rejected(room.check(topic(BOB)), /requires power level 50/);
    ok(room.check(topic(MOD)));
    ok(room.check(room.message(BOB)));
  });

  it.each(ALL)("v$id: events overrides and events_default apply", (v) => {
    const room = standardRoom(v, "public", { events: { "m.room.topic": 0, "m.room.message": 10 }, events_default: 20 })
      .setMember(BOB, "join");
    ok(room.check({ type: "m.room.topic", state_key: "", sender: BOB, content: { topic: "t" } }));
    rejected(room.check(room.message(BOB)));
    rejected(room.check({ type: "m.reaction", sender: BOB, content: {} }));
    ok(room.check({ type: "m.reaction", sender: MOD, content: {} }));
  });

  it.each(ALL)("v$id: without power levels the creator has 100 (v12: infinite) and others 0", (v) => {
    const room = new Room(v);
    room.send({ ...room.member(ALICE, "join"), prev_events: [room.createId], auth_events: [room.createId] });
    room.setJoinRule("public").setMember(BOB, "join");
    ok(room.check({ type: "m.room.name", state_key: "", sender: ALICE, content: { name: "n" } }));
    rejected(room.check({ type: "m.room.name", state_key: "", sender: BOB, content: { name: "n" } }));
    ok(room.check(room.message(BOB)));
  });

  it.each(ALL)("v$id: state keys that are user ids are reserved for that user", (v) => {
    const room = standardRoom(v);
    rejected(room.check({ type: "org.example.x", state_key: BOB, sender: ALICE, content: {} }), /state_key/);
    ok(room.check({ type: "org.example.x", state_key: ALICE, sender: ALICE, content: {} }));
    ok(room.check({ type: "org.example.x", state_key: "nope@", sender: ALICE, content: {} }));
  });
});

describe("m.room.aliases", () => {
  const aliases = (sender: string, key?: string): Draft => ({
    type: "m.room.aliases",
    ...(key === undefined ? {} : { state_key: key }),
    sender,
    content: { aliases: ["#a:b.example"] },
  });

  it.each(range(1, 5))("v$id: special case — any server may set its own domain's aliases", (v) => {
    const room = standardRoom(v);
    ok(room.check(aliases(BOB, "b.example"))); // BOB is not even in the room
    rejected(room.check(aliases(BOB, "a.example")), /domain/);
    rejected(room.check(aliases(BOB)), /state_key/);
  });

  it.each(range(6, 12))("v$id: ordinary state event rules apply", (v) => {
    const room = standardRoom(v);
    rejected(room.check(aliases(BOB, "b.example")), /not joined/);
    room.setMember(BOB, "join");
    rejected(room.check(aliases(BOB, "b.example")), /power/);
    ok(room.check(aliases(MOD, "b.example")));
  });
});

describe("m.room.redaction", () => {
  const redaction = (v: RoomVersion, sender: string, redacts: string): Draft =>
    v.redaction === "v11"
      ? { type: "m.room.redaction", sender, content: { redacts } }
      : { type: "m.room.redaction", sender, content: {}, redacts };

  it.each(range(1, 2))("v$id: below the redact level only same-domain event ids may be redacted", (v) => {
    const room = standardRoom(v).setMember(BOB, "join");
    ok(room.check(redaction(v, BOB, "$x:b.example")));
    rejected(room.check(redaction(v, BOB, "$x:a.example")), /redact/);
    ok(room.check(redaction(v, MOD, "$x:a.example")));
  });

  it.each(range(3, 12))("v$id: redactions are not checked against the redact level", (v) => {
    const room = standardRoom(v).setMember(BOB, "join");
    ok(room.check(redaction(v, BOB, "$anything")));
  });

  it.each(ALL)("v$id: but events[m.room.redaction] still applies", (v) => {
    const room = standardRoom(v, "public", { events: { "m.room.redaction": 50 } }).setMember(BOB, "join");
    rejected(room.check(redaction(v, BOB, "$x:b.example")), /requires power/);
  });
});

describe("m.room.power_levels", () => {
  const pl = (sender: string, content: JsonObject): Draft => ({ type: "m.room.power_levels", state_key: "", sender, content });
  const base = (v: RoomVersion): JsonObject => (v.privilegedCreators ? { [MOD]: 50 } : { [ALICE]: 100, [MOD]: 50 });

  it.each(ALL)("v$id: the first power levels event is allowed whatever its values", (v) => {
    const room = new Room(v);
    room.send({ ...room.member(ALICE, "join"), prev_events: [room.createId], auth_events: [room.createId] });
    ok(room.check(pl(ALICE, { users: { ...base(v), [BOB]: 9000 }, ban: 9000 })));
  });

  it.each(ALL)("v$id: users cannot raise anyone above their own level", (v) => {
    const room = standardRoom(v).setMember(BOB, "join");
    rejected(room.check(pl(MOD, { users: { ...base(v), [MOD]: 51 } })), /above your own/);
    rejected(room.check(pl(MOD, { users: { ...base(v), [BOB]: 51 } })), /above your own/);
    ok(room.check(pl(MOD, { users: { ...base(v), [BOB]: 50 } })));
  });

  it.each(ALL)("v$id: users cannot change others at or above their level, but may demote themselves", (v) => {
    const room = standardRoom(v, "public", { users: { ...base(v), [BOB]: 50 } });
    rejected(room.check(pl(MOD, { users: { ...base(v), [BOB]: 10 } })), /at least your level/);
    rejected(room.check(pl(MOD, { users: { ...base(v) } })), /at least your level/); // removing BOB
    ok(room.check(pl(MOD, { users: { ...base(v), [BOB]: 50, [MOD]: 10 } })));
  });

  it.each(ALL)("v$id: top-level levels: old and new values must not exceed the sender's", (v) => {
    const room = standardRoom(v, "public", { ban: 75, kick: 50 });
    rejected(room.check(pl(MOD, { users: base(v), ban: 40, kick: 50 })), /ban from a level above/);
    rejected(room.check(pl(MOD, { users: base(v), ban: 75, kick: 60 })), /kick above/);
    ok(room.check(pl(MOD, { users: base(v), ban: 75, kick: 40 })));
    // removing a key counts as a change (ban falls back to its default of 50, but the old value 75 is too high)
    rejected(room.check(pl(MOD, { users: base(v), kick: 50 })), /ban/);
  });

  it.each(ALL)("v$id: events entries", (v) => {
    const room = standardRoom(v, "public", { events: { "m.room.name": 60, "m.room.topic": 10 } });
    const users = base(v);
    rejected(room.check(pl(MOD, { users, events: { "m.room.name": 0, "m.room.topic": 10 } })), /m.room.name/);
    rejected(room.check(pl(MOD, { users, events: { "m.room.topic": 10 } })), /m.room.name/); // removal
    rejected(room.check(pl(MOD, { users, events: { "m.room.name": 60, "m.room.topic": 55 } })), /m.room.topic/);
    ok(room.check(pl(MOD, { users, events: { "m.room.name": 60, "m.room.topic": 50, "x.y": 5 } })));
  });

  it.each(ALL)("v$id: notifications are only protected from v6", (v) => {
    const room = standardRoom(v, "public", { notifications: { room: 80 } });
    const r = room.check(pl(MOD, { users: base(v), notifications: { room: 10 } }));
    if (v.limitNotificationsPowerLevels) rejected(r, /notifications/);
    else ok(r);
    const r2 = standardRoom(v).check(pl(MOD, { users: base(v), notifications: { room: 90 } }));
    if (v.limitNotificationsPowerLevels) rejected(r2, /notifications/);
    else ok(r2);
  });

  it.each(ALL)("v$id: string power levels are accepted before v10 and rejected from v10", (v) => {
    const room = standardRoom(v);
    const cases: JsonObject[] = [
      { users: { ...base(v), [BOB]: "10" } },
      { users: base(v), ban: "50" },
      { users: base(v), events: { "m.room.name": " +040 " } },
      { users: base(v), notifications: { room: "50" } },
    ];
    for (const content of cases) {
      const r = room.check(pl(ALICE, content));
      if (v.enforceIntPowerLevels) rejected(r, /power level|integer/);
      else ok(r);
    }
  });

  it.each(ALL)("v$id: string values compare numerically before v10", (v) => {
    if (v.enforceIntPowerLevels) return;
    const room = standardRoom(v, "public", { ban: "75" });
    rejected(room.check(pl(MOD, { users: base(v), ban: "074" })), /ban/);
    ok(room.check(pl(MOD, { users: base(v), ban: "075" }))); // unchanged value
  });

  it.each(ALL)("v$id: malformed values are rejected in every version", (v) => {
    const room = standardRoom(v);
    for (const content of [
      { users: { ...base(v), [BOB]: "ten" } },
      { users: { ...base(v), "not-a-user": 10 } },
      { users: { ...base(v), [BOB]: true } },
      { users: [] },
      { users: base(v), kick: null },
      { users: base(v), events: { "m.room.name": "5.5" } },
      { users: base(v), events: 5 },
    ] as JsonObject[]) {
      rejected(room.check(pl(ALICE, content)));
    }
  });

  it.each(ALL)("v$id: floats are truncated in v1–v5 and rejected from v6", (v) => {
    const room = standardRoom(v);
    const r = room.check(pl(ALICE, { users: { ...base(v), [BOB]: 50.57 } }));
    if (v.strictCanonicalJson) rejected(r);
    else ok(r);
  });

  it("v5: a float level is truncated when compared", () => {
    const v = V("5");
    const room = standardRoom(v, "public", { users: { [ALICE]: 100, [MOD]: 50.9 } });
    rejected(room.check(pl(MOD, { users: { [ALICE]: 100, [MOD]: 50.9 }, kick: 50.99 + 0.02 })));
    ok(room.check(pl(MOD, { users: { [ALICE]: 100, [MOD]: 50.9 }, kick: 50.5 })));
  });

  it.each(range(10, 12))("v$id: notifications and events must be objects of integers", (v) => {
    const room = standardRoom(v);
    rejected(room.check(pl(ALICE, { users: base(v), notifications: { room: "x" } })));
    rejected(room.check(pl(ALICE, { users: base(v), notifications: 1 })));
    rejected(room.check(pl(ALICE, { users: base(v), events: { a: 1.5 } })));
  });

  it("v12: creators cannot appear in users", () => {
    const v = V("12");
    const room = new Room(v, ALICE, { additional_creators: [BOB] });
    room.send({ ...room.member(ALICE, "join"), prev_events: [room.createId], auth_events: [room.createId] });
    rejected(room.check(pl(ALICE, { users: { [ALICE]: 100 } })), /creator/);
    rejected(room.check(pl(ALICE, { users: { [BOB]: 100 } })), /creator/);
    ok(room.check(pl(ALICE, { users: { [CAROL]: 100 } })));
  });

  it("v11: the creator may (and usually does) appear in users", () => {
    const v = V("11");
    const room = new Room(v, ALICE, { additional_creators: [BOB] });
    room.send({ ...room.member(ALICE, "join"), prev_events: [room.createId], auth_events: [room.createId] });
    ok(room.check(pl(ALICE, { users: { [ALICE]: 100, [BOB]: 100 } })));
  });

  it("v12: a creator can change anything, however high", () => {
    const v = V("12");
    const room = standardRoom(v, "public", { users: { [MOD]: 1_000_000 }, ban: 1_000_000, events: { x: 1_000_000 } });
    ok(room.check(pl(ALICE, { users: { [MOD]: 0, [BOB]: 2 ** 52 }, ban: 2 ** 52, events: {} })));
    rejected(room.check(pl(MOD, { users: { [MOD]: 1_000_000, [BOB]: 1_000_001 } })));
  });

  it("v12: an additional creator has infinite power too", () => {
    const v = V("12");
    const room = new Room(v, ALICE, { additional_creators: [BOB] });
    room.send({ ...room.member(ALICE, "join"), prev_events: [room.createId], auth_events: [room.createId] });
    room.send({ type: "m.room.power_levels", state_key: "", sender: ALICE, content: { users: { [MOD]: 100 }, state_default: 100 } });
    room.setMember(BOB, "join").setMember(MOD, "join");
    ok(room.check(pl(BOB, { users: { [MOD]: 0 }, state_default: 5000 })));
    ok(room.check({ type: "m.room.name", state_key: "", sender: BOB, content: { name: "n" } }));
  });
});

describe("authTypesForEvent", () => {
  const keys = (pairs: Array<[string, string]>): string[] => pairs.map(([t, k]) => `${t}|${k}`).sort();

  it.each(ALL)("v$id: a message needs the create (not in v12), power levels and sender membership", (v) => {
    const room = standardRoom(v);
    const expected = ["m.room.power_levels|", `m.room.member|${BOB}`];
    if (!v.createEventNotInAuthEvents) expected.push("m.room.create|");
    expect(keys(authTypesForEvent(v, room.pdu(room.message(BOB))))).toEqual(expected.sort());
  });

  it.each(ALL)("v$id: the create event needs nothing", (v) => {
    expect(authTypesForEvent(v, new Room(v).create)).toEqual([]);
  });

  it.each(ALL)("v$id: member events", (v) => {
    const room = standardRoom(v);
    const create = v.createEventNotInAuthEvents ? [] : ["m.room.create|"];
    expect(keys(authTypesForEvent(v, room.pdu(room.member(BOB, "invite", MOD))))).toEqual(
      [...create, "m.room.power_levels|", `m.room.member|${MOD}`, `m.room.member|${BOB}`, "m.room.join_rules|"].sort(),
    );
    expect(keys(authTypesForEvent(v, room.pdu(room.member(BOB, "leave"))))).toEqual(
      [...create, "m.room.power_levels|", `m.room.member|${BOB}`].sort(),
    );
    expect(keys(authTypesForEvent(v, room.pdu(room.member(BOB, "knock"))))).toContain("m.room.join_rules|");
    const tp = room.member(BOB, "invite", MOD, { third_party_invite: { signed: { token: "tok", mxid: BOB } } });
    expect(keys(authTypesForEvent(v, room.pdu(tp)))).toContain("m.room.third_party_invite|tok");
  });

  it.each(ALL)("v$id: restricted joins add the authorising user's membership from v8", (v) => {
    const room = standardRoom(v);
    const ev = room.pdu(room.member(BOB, "join", BOB, { join_authorised_via_users_server: MOD }));
    expect(keys(authTypesForEvent(v, ev)).includes(`m.room.member|${MOD}`)).toBe(v.restrictedJoinRule);
  });
});

describe("checkAuthEventsMatch (rule 2 / v12 rule 3)", () => {
  function setup(v: RoomVersion): { room: Room; pl: Pdu; join: Pdu; jr: Pdu } {
    const room = standardRoom(v).setMember(BOB, "join");
    const get = (t: string, k: string): Pdu => room.state.get(stateKey(t, k)) as Pdu;
    return { room, pl: get("m.room.power_levels", ""), join: get("m.room.member", BOB), jr: get("m.room.join_rules", "") };
  }

  it.each(ALL)("v$id: the expected auth events pass", (v) => {
    const { room, pl, join } = setup(v);
    const evs = v.createEventNotInAuthEvents ? [pl, join] : [room.create, pl, join];
    ok(checkAuthEventsMatch(v, room.pdu(room.message(BOB)), evs));
  });

  it.each(ALL)("v$id: duplicates, unexpected entries, rejected entries and other rooms fail", (v) => {
    const { room, pl, join, jr } = setup(v);
    const base = v.createEventNotInAuthEvents ? [pl, join] : [room.create, pl, join];
    const msg = room.pdu(room.message(BOB));
    rejected(checkAuthEventsMatch(v, msg, [...base, { ...pl }]), /duplicate/);
    rejected(checkAuthEventsMatch(v, msg, [...base, jr]), /unexpected/);
    rejected(checkAuthEventsMatch(v, msg, base, (p) => p === pl), /rejected/);
    rejected(checkAuthEventsMatch(v, msg, [...base.filter((e) => e !== pl), { ...pl, room_id: "!x:y.example" }]), /another room/);
  });

  it.each(range(1, 11))("v$id: the create event must be listed", (v) => {
    const { room, pl, join } = setup(v);
    rejected(checkAuthEventsMatch(v, room.pdu(room.message(BOB)), [pl, join]), /m.room.create/);
  });

  it("v12: the create event must not be listed", () => {
    const v = V("12");
    const { room, pl, join } = setup(v);
    rejected(checkAuthEventsMatch(v, room.pdu(room.message(BOB)), [room.create, pl, join]), /unexpected/);
  });

  it.each(ALL)("v$id: the create event itself has no auth events", (v) => {
    const room = new Room(v);
    ok(checkAuthEventsMatch(v, room.create, []));
    rejected(checkAuthEventsMatch(v, room.create, [room.create]));
  });

  it("authStateFromEvents adds the (v12) create event", () => {
    const v = V("12");
    const { room, pl, join } = setup(v);
    const state = authStateFromEvents([pl, join], room.create);
    expect(state.get(stateKey("m.room.create", ""))).toBe(room.create);
    ok(checkEventAuth(v, room.pdu(room.message(BOB)), state, OPTS));
  });
});

describe("checkEventAuthById", () => {
  it("looks the version up and rejects unknown versions", () => {
    const room = standardRoom(V("10"));
    ok(checkEventAuthById("10", room.pdu(room.message(ALICE)), room.state, OPTS));
    rejected(checkEventAuthById("13", room.pdu(room.message(ALICE)), room.state), /unknown room version/);
  });

  it("the room-version table covers versions 1–12", () => {
    expect(versions(["1", "12"]).map((v) => v.id)).toEqual(["1", "12"]);
  });
});
