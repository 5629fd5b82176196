import { describe, expect, it } from "vitest";
import type { Pdu } from "../../src/pdu.js";
import { cloneJson, redactEvent, redactionTopLevelKeys } from "../../src/redaction.js";
import { ROOM_VERSIONS } from "../../src/room-versions.js";

const ALL_VERSIONS = [...ROOM_VERSIONS.keys()];
const before = (n: number) => ALL_VERSIONS.filter((v) => Number(v) < n);
const from = (n: number) => ALL_VERSIONS.filter((v) => Number(v) >= n);

function pdu(type: string, content: Record<string, unknown>, extra: Record<string, unknown> = {}): Pdu {
  return {
    room_id: "!r:example.org",
    sender: "@u:example.org",
    type,
    state_key: "",
    content: content as Pdu["content"],
    origin_server_ts: 1,
    depth: 5,
    prev_events: ["$p"],
    auth_events: ["$a"],
    hashes: { sha256: "h" },
    signatures: { "example.org": { "ed25519:1": "s" } },
    unsigned: { age: 1, redacted_because: {} },
    origin: "example.org",
    ...(extra as Partial<Pdu>),
  };
}

describe("top-level keys", () => {
  const ev = pdu("m.room.message", { body: "hi" }, {
    event_id: "$e:example.org",
    prev_state: [],
    membership: "join",
    redacts: "$x",
    age_ts: 5,
    custom: "gone",
  });

  it("v1–v10 keep the v1 list (incl. origin, membership, prev_state) and drop everything else", () => {
    for (const v of before(11)) {
      expect(Object.keys(redactEvent(ev, v)).sort()).toEqual(
        [
          "auth_events",
          "content",
          "depth",
          "event_id",
          "hashes",
          "membership",
          "origin",
          "origin_server_ts",
          "prev_events",
          "prev_state",
          "room_id",
          "sender",
          "signatures",
          "state_key",
          "type",
        ].sort(),
      );
    }
  });

  it("v11+ no longer keep origin, membership, prev_state (MSC2176/MSC3989)", () => {
    for (const v of from(11)) {
      const r = redactEvent(ev, v);
      expect(r).not.toHaveProperty("origin");
      expect(r).not.toHaveProperty("membership");
      expect(r).not.toHaveProperty("prev_state");
      expect(r).toHaveProperty("event_id");
      expect(r).toHaveProperty("hashes");
    }
  });

  it("always drops unsigned, top-level redacts, age_ts and unknown keys", () => {
    for (const v of ALL_VERSIONS) {
      const r = redactEvent(ev, v);
      for (const k of ["unsigned", "redacts", "age_ts", "custom"]) expect(r).not.toHaveProperty(k);
    }
  });

  it("keeps protected keys only when present", () => {
    const r = redactEvent({ type: "m.room.message", content: { body: "x" } }, "11");
    expect(r).toEqual({ type: "m.room.message", content: {} });
  });

  it("exposes the key lists", () => {
    expect(redactionTopLevelKeys("10")).toContain("origin");
    expect(redactionTopLevelKeys("12")).not.toContain("origin");
  });
});

describe("content by event type", () => {
  it("strips all content of other event types", () => {
    for (const v of ALL_VERSIONS) {
      expect(redactEvent(pdu("m.room.message", { body: "hi", msgtype: "m.text" }), v).content).toEqual({});
      expect(redactEvent(pdu("m.room.topic", { topic: "t" }), v).content).toEqual({});
    }
  });

  it("m.room.member: membership; join_authorised_via_users_server from v9", () => {
    const ev = pdu("m.room.member", {
      membership: "join",
      displayname: "Alice",
      join_authorised_via_users_server: "@admin:example.org",
    });
    for (const v of before(9)) expect(redactEvent(ev, v).content).toEqual({ membership: "join" });
    for (const v of from(9)) {
      expect(redactEvent(ev, v).content).toEqual({ membership: "join", join_authorised_via_users_server: "@admin:example.org" });
    }
  });

  it("m.room.member: third_party_invite keeps only `signed`, from v11 (MSC3821)", () => {
    const signed = { mxid: "@u:example.org", token: "abc", signatures: { "id.example": { "ed25519:0": "sig" } } };
    const ev = pdu("m.room.member", {
      membership: "invite",
      third_party_invite: { display_name: "a***@e***", signed },
    });
    for (const v of before(11)) expect(redactEvent(ev, v).content).toEqual({ membership: "invite" });
    for (const v of from(11)) expect(redactEvent(ev, v).content).toEqual({ membership: "invite", third_party_invite: { signed } });
    // An object without `signed` becomes {} (as Synapse does); a non-object is dropped.
    expect(redactEvent(pdu("m.room.member", { membership: "invite", third_party_invite: { display_name: "x" } }), "11").content).toEqual({
      membership: "invite",
      third_party_invite: {},
    });
    expect(redactEvent(pdu("m.room.member", { membership: "invite", third_party_invite: "x" }), "11").content).toEqual({
      membership: "invite",
    });
  });

  it("m.room.create: `creator` before v11, all content from v11 (MSC2176)", () => {
    const ev = pdu("m.room.create", { creator: "@u:example.org", room_version: "5", "m.federate": false, predecessor: { room_id: "!o:x" } });
    for (const v of before(11)) expect(redactEvent(ev, v).content).toEqual({ creator: "@u:example.org" });
    for (const v of from(11)) expect(redactEvent(ev, v).content).toEqual(ev.content);
  });

  it("m.room.join_rules: join_rule; `allow` from v8 (rooms/v8 \"Redactions\", MSC3083)", () => {
    const ev = pdu("m.room.join_rules", { join_rule: "restricted", allow: [{ type: "m.room_membership", room_id: "!s:x" }], other: 1 });
    for (const v of before(8)) expect(redactEvent(ev, v).content).toEqual({ join_rule: "restricted" });
    for (const v of from(8)) expect(redactEvent(ev, v).content).toEqual({ join_rule: "restricted", allow: ev.content.allow });
  });

  it("v8 keeps join_rules.allow but not member join_authorised_via_users_server (that is v9)", () => {
    const member = pdu("m.room.member", { membership: "join", join_authorised_via_users_server: "@a:x" });
    expect(redactEvent(member, "8").content).toEqual({ membership: "join" });
    expect(redactEvent(member, "9").content).toEqual({ membership: "join", join_authorised_via_users_server: "@a:x" });
  });

  it("m.room.power_levels: the listed keys; `invite` from v11", () => {
    const content = {
      ban: 50,
      events: { "m.room.name": 50 },
      events_default: 0,
      kick: 50,
      redact: 50,
      state_default: 50,
      users: { "@u:example.org": 100 },
      users_default: 0,
      invite: 0,
      notifications: { room: 50 },
    };
    const ev = pdu("m.room.power_levels", content);
    const { invite: _i, notifications: _n, ...withoutInvite } = content;
    const { notifications: _n2, ...withInvite } = content;
    for (const v of before(11)) expect(redactEvent(ev, v).content).toEqual(withoutInvite);
    for (const v of from(11)) expect(redactEvent(ev, v).content).toEqual(withInvite);
  });

  it("m.room.aliases: `aliases` kept only before v6", () => {
    const ev = pdu("m.room.aliases", { aliases: ["#a:example.org"] }, { state_key: "example.org" });
    for (const v of before(6)) expect(redactEvent(ev, v).content).toEqual({ aliases: ["#a:example.org"] });
    for (const v of from(6)) expect(redactEvent(ev, v).content).toEqual({});
  });

  it("m.room.history_visibility: history_visibility in every version", () => {
    const ev = pdu("m.room.history_visibility", { history_visibility: "shared", x: 1 });
    for (const v of ALL_VERSIONS) expect(redactEvent(ev, v).content).toEqual({ history_visibility: "shared" });
  });

  it("m.room.redaction: content.redacts kept from v11; top-level redacts never", () => {
    const ev = pdu("m.room.redaction", { redacts: "$target", reason: "spam" }, { redacts: "$target" });
    for (const v of before(11)) {
      const r = redactEvent(ev, v);
      expect(r.content).toEqual({});
      expect(r).not.toHaveProperty("redacts");
    }
    for (const v of from(11)) expect(redactEvent(ev, v).content).toEqual({ redacts: "$target" });
  });

  it("keeps protected values whatever their type", () => {
    expect(redactEvent(pdu("m.room.member", { membership: 5 }), "1").content).toEqual({ membership: 5 });
    expect(redactEvent(pdu("m.room.power_levels", { users: "weird" }), "10").content).toEqual({ users: "weird" });
  });

  it("treats missing or non-object content as empty", () => {
    const { content: _c, ...noContent } = pdu("m.room.member", {});
    expect(redactEvent(noContent, "1").content).toEqual({});
    expect(redactEvent({ ...noContent, content: ["membership"] }, "1").content).toEqual({});
    expect(redactEvent({ content: { membership: "join" } }, "1")).toEqual({ content: {} });
  });
});

describe("redactEvent mechanics", () => {
  it("is idempotent", () => {
    for (const v of ALL_VERSIONS) {
      const ev = pdu("m.room.member", { membership: "join", displayname: "x", third_party_invite: { signed: { a: 1 } } });
      const once = redactEvent(ev, v);
      expect(redactEvent(once, v)).toEqual(once);
    }
  });

  it("deep-copies and never mutates the input", () => {
    const ev = pdu("m.room.create", { creator: "@u:example.org", nested: { a: [1] } });
    const snapshot = structuredClone(ev);
    const r = redactEvent(ev, "11");
    expect(ev).toEqual(snapshot);
    (r.content.nested as { a: number[] }).a.push(2);
    (r.signatures["example.org"] as Record<string, string>)["ed25519:1"] = "changed";
    expect(ev).toEqual(snapshot);
  });

  it("accepts client-format events (event_id, no hashes)", () => {
    const client = {
      event_id: "$abc",
      room_id: "!r:example.org",
      sender: "@u:example.org",
      type: "m.room.message",
      content: { body: "x" },
      origin_server_ts: 5,
      unsigned: { age: 3 },
    };
    expect(redactEvent(client, "10")).toEqual({
      event_id: "$abc",
      room_id: "!r:example.org",
      sender: "@u:example.org",
      type: "m.room.message",
      content: {},
      origin_server_ts: 5,
    });
  });

  it("accepts a RoomVersion object and rejects unknown versions", () => {
    expect(redactEvent(pdu("m.room.create", { a: 1 }), ROOM_VERSIONS.get("11")!).content).toEqual({ a: 1 });
    expect(() => redactEvent(pdu("x", {}), "99")).toThrow();
  });

  it("handles a __proto__ key in create content safely", () => {
    const ev = JSON.parse('{"type":"m.room.create","content":{"__proto__":{"polluted":true}}}') as Record<string, unknown>;
    const r = redactEvent(ev, "11");
    expect(Object.keys(r.content as object)).toEqual(["__proto__"]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(cloneJson(ev)).toEqual(ev);
  });
});
