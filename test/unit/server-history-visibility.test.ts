import { describe, expect, it } from "vitest";
import type { Pdu } from "../../src/pdu.js";
import { eventVisibleToServer, pduForServer, serverMemberships } from "../../src/server-history-visibility.js";

const visible = (historyVisibility: unknown, memberships: string[], senderErased?: boolean) =>
  eventVisibleToServer({ historyVisibility, memberships, ...(senderErased !== undefined ? { senderErased } : {}) });

describe("eventVisibleToServer", () => {
  it("world_readable and shared: any server, members or not", () => {
    for (const v of ["world_readable", "shared"]) {
      expect(visible(v, [])).toBe(true);
      expect(visible(v, ["leave", "ban"])).toBe(true);
    }
  });

  it("no visibility event, or a value not understood, counts as shared", () => {
    for (const v of [undefined, null, "", "JOINED", "members_only", 3, { x: 1 }]) expect(visible(v, [])).toBe(true);
  });

  it("joined: only if one of the server's users was joined", () => {
    expect(visible("joined", [])).toBe(false);
    expect(visible("joined", ["invite"])).toBe(false);
    expect(visible("joined", ["leave", "knock", "ban"])).toBe(false);
    expect(visible("joined", ["leave", "join"])).toBe(true);
  });

  it("invited: a joined or an invited user is enough", () => {
    expect(visible("invited", ["invite"])).toBe(true);
    expect(visible("invited", ["join"])).toBe(true);
    expect(visible("invited", ["knock", "leave", "ban"])).toBe(false);
    expect(visible("invited", [])).toBe(false);
  });

  it("a sender who asked for erasure: never in full", () => {
    expect(visible("world_readable", [], true)).toBe(false);
    expect(visible("joined", ["join"], true)).toBe(false);
    expect(visible("shared", [], false)).toBe(true);
  });

  it("reads memberships from any iterable, once", () => {
    function* ms() {
      yield "leave";
      yield "join";
    }
    expect(eventVisibleToServer({ historyVisibility: "joined", memberships: ms() })).toBe(true);
  });
});

describe("serverMemberships", () => {
  const members = [
    { userId: "@a:remote.example", membership: "join" },
    { userId: "@b:remote.example", membership: "leave" },
    { userId: "@c:remote.example:8448", membership: "invite" },
    { userId: "@d:other.example", membership: "join" },
    { userId: "@e:sub.remote.example", membership: "join" },
    { userId: "not a user id", membership: "join" },
  ];
  it("takes the users whose server name is exactly the server's, port included", () => {
    expect(serverMemberships(members, "remote.example")).toEqual(["join", "leave"]);
    expect(serverMemberships(members, "remote.example:8448")).toEqual(["invite"]);
    expect(serverMemberships(members, "nobody.example")).toEqual([]);
  });
  it("the state after a remote user's join lets their server see that event under `joined`; after their leave, not", () => {
    const afterJoin = [{ userId: "@a:remote.example", membership: "join" }];
    const afterLeave = [{ userId: "@a:remote.example", membership: "leave" }];
    expect(visible("joined", serverMemberships(afterJoin, "remote.example"))).toBe(true);
    expect(visible("joined", serverMemberships(afterLeave, "remote.example"))).toBe(false);
  });
});

describe("pduForServer", () => {
  const pdu: Pdu = {
    room_id: "!r:here.example",
    sender: "@alice:here.example",
    type: "m.room.message",
    content: { msgtype: "m.text", body: "secret" },
    origin_server_ts: 1,
    depth: 5,
    prev_events: ["$prev"],
    auth_events: ["$create", "$pl", "$member"],
    hashes: { sha256: "aGFzaA" },
    signatures: { "here.example": { "ed25519:a": "c2ln" } },
    unsigned: { age: 3 },
  };

  it("in full when visible (the same object)", () => {
    expect(pduForServer(pdu, "12", { historyVisibility: "shared", memberships: [] })).toBe(pdu);
  });

  it("redacted when not: content gone, the DAG links, hashes and signatures kept", () => {
    const r = pduForServer(pdu, "12", { historyVisibility: "joined", memberships: ["leave"] });
    expect(r).toEqual({
      room_id: "!r:here.example",
      sender: "@alice:here.example",
      type: "m.room.message",
      content: {},
      origin_server_ts: 1,
      depth: 5,
      prev_events: ["$prev"],
      auth_events: ["$create", "$pl", "$member"],
      hashes: { sha256: "aGFzaA" },
      signatures: { "here.example": { "ed25519:a": "c2ln" } },
    });
    expect(pdu.content.body).toBe("secret"); // the original is untouched
  });

  it("a redacted member event keeps its membership (the room version's rules)", () => {
    const member: Pdu = { ...pdu, type: "m.room.member", state_key: "@bob:remote.example", content: { membership: "leave", reason: "bye" } };
    const r = pduForServer(member, "12", { historyVisibility: "joined", memberships: [] });
    expect(r.content).toEqual({ membership: "leave" });
  });

  it("an erased sender's event is redacted even in a world-readable room", () => {
    const r = pduForServer(pdu, "12", { historyVisibility: "world_readable", memberships: [], senderErased: true });
    expect(r.content).toEqual({});
  });
});
