import { describe, expect, it } from "vitest";
import { decodeBase64 } from "../../src/base64.js";
import { roomIdFromCreateEvent } from "../../src/event-id.js";
import { MAX_PDU_BYTES, pduSchemaFor, validateEventFormat } from "../../src/event-format.js";
import { signEvent } from "../../src/hashes.js";
import { getRoomVersion } from "../../src/room-versions.js";

const SEED = decodeBase64("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1");
const H = "RrGxF28UrHLmoASHndYb9Jb_1SFww2ptmtur9INS438"; // a v4-format hash
const H3 = "RrGxF28UrHLmoASHndYb9Jb/1SFww2ptmtur9INS438"; // same in the v3 alphabet

function v4Event(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    room_id: "!room:example.org",
    sender: "@alice:example.org",
    type: "m.room.message",
    content: { body: "hello" },
    origin_server_ts: 1700000000000,
    depth: 10,
    prev_events: [`$${H}`],
    auth_events: [`$${H}`],
    hashes: { sha256: "abc" },
    signatures: { "example.org": { "ed25519:1": "sig" } },
    ...extra,
  };
}

function v1Event(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ...v4Event(),
    event_id: "$abc:example.org",
    prev_events: [["$p:example.org", { sha256: "x" }]],
    auth_events: [["$a:example.org", { sha256: "y" }]],
    ...extra,
  };
}

function expectError(r: ReturnType<typeof validateEventFormat>, pattern: RegExp, errcode = "M_BAD_JSON") {
  expect(r.ok).toBe(false);
  if (!r.ok) {
    expect(r.error.message).toMatch(pattern);
    expect(r.error.errcode).toBe(errcode);
  }
}

describe("valid events", () => {
  it("accepts well-formed events for every version, returning the same object", () => {
    for (const v of ["4", "5", "6", "7", "8", "9", "10", "11", "12"]) {
      const ev = v === "12" ? v4Event({ room_id: `!${H}` }) : v4Event();
      const r = validateEventFormat(ev, v);
      expect(r, v).toEqual({ ok: true, pdu: ev });
      if (r.ok) expect(r.pdu).toBe(ev);
    }
    expect(validateEventFormat(v4Event({ prev_events: [`$${H3}`], auth_events: [] }), "3").ok).toBe(true);
    expect(validateEventFormat(v1Event(), "1").ok).toBe(true);
    expect(validateEventFormat(v1Event(), "2").ok).toBe(true);
  });

  it("accepts the appendix's signed minimal event in a v1 room (once given an event_id)", () => {
    const signed = signEvent(
      v1Event({ content: {}, type: "X", unsigned: { age_ts: 1 }, origin: "example.org", extra_key: [1, 2] }),
      "1",
      "example.org",
      "ed25519:1",
      SEED,
    );
    expect(validateEventFormat(signed, "1").ok).toBe(true);
  });

  it("allows unknown extra keys and state events", () => {
    expect(validateEventFormat(v4Event({ foo: { bar: 1 }, state_key: "", type: "m.room.topic" }), "10").ok).toBe(true);
  });

  it("accepts a v12 create event without room_id", () => {
    const create = signEvent(
      {
        type: "m.room.create",
        state_key: "",
        sender: "@alice:example.org",
        content: { room_version: "12" },
        origin_server_ts: 1,
        depth: 1,
        prev_events: [],
        auth_events: [],
        hashes: { sha256: "" },
        signatures: {},
      },
      "12",
      "example.org",
      "ed25519:1",
      SEED,
    );
    expect(validateEventFormat(create, "12").ok).toBe(true);
    const member = v4Event({ room_id: roomIdFromCreateEvent(create), type: "m.room.member", state_key: "@alice:example.org" });
    expect(validateEventFormat(member, "12").ok).toBe(true);
  });
});

describe("size limits", () => {
  it("rejects events over 65536 bytes of canonical JSON", () => {
    const base = v4Event({ content: { body: "" } });
    const overhead = new TextEncoder().encode(JSON.stringify(base)).length;
    const exact = v4Event({ content: { body: "a".repeat(MAX_PDU_BYTES - overhead) } });
    expect(validateEventFormat(exact, "10").ok).toBe(true);
    const over = v4Event({ content: { body: "a".repeat(MAX_PDU_BYTES - overhead + 1) } });
    expectError(validateEventFormat(over, "10"), /65536/, "M_TOO_LARGE");
  });

  it("counts UTF-8 bytes, not characters", () => {
    const overhead = new TextEncoder().encode(JSON.stringify(v4Event({ content: { body: "" } }))).length;
    const n = Math.floor((MAX_PDU_BYTES - overhead) / 3) + 1; // 3 bytes each
    expectError(validateEventFormat(v4Event({ content: { body: "€".repeat(n) } }), "10"), /65536/, "M_TOO_LARGE");
    expect(validateEventFormat(v4Event({ content: { body: "€".repeat(n - 1) } }), "10").ok).toBe(true);
  });

  it("includes signatures and unsigned in the size", () => {
    const overhead = new TextEncoder().encode(JSON.stringify(v4Event({ unsigned: { pad: "" } }))).length;
    expectError(validateEventFormat(v4Event({ unsigned: { pad: "x".repeat(MAX_PDU_BYTES - overhead + 1) } }), "10"), /65536/, "M_TOO_LARGE");
  });

  it("limits type, state_key, sender, room_id and event ids to 255 bytes", () => {
    expectError(validateEventFormat(v4Event({ type: "t".repeat(256) }), "10"), /type/, "M_TOO_LARGE");
    expect(validateEventFormat(v4Event({ type: "t".repeat(255) }), "10").ok).toBe(true);
    expectError(validateEventFormat(v4Event({ state_key: "é".repeat(128) }), "10"), /state_key/, "M_TOO_LARGE");
    expect(validateEventFormat(v4Event({ state_key: "é".repeat(127) }), "10").ok).toBe(true);
    expectError(validateEventFormat(v4Event({ sender: `@${"a".repeat(243)}:example.org` }), "10"), /sender/);
    expect(validateEventFormat(v4Event({ sender: `@${"a".repeat(242)}:example.org` }), "10").ok).toBe(true);
    expectError(validateEventFormat(v4Event({ room_id: `!${"a".repeat(243)}:example.org` }), "10"), /room_id/);
    expectError(validateEventFormat(v1Event({ event_id: `$${"a".repeat(243)}:example.org` }), "1"), /event_id/);
  });

  it("limits prev_events to 20 and auth_events to 10", () => {
    expect(validateEventFormat(v4Event({ prev_events: Array(20).fill(`$${H}`) }), "10").ok).toBe(true);
    expectError(validateEventFormat(v4Event({ prev_events: Array(21).fill(`$${H}`) }), "10"), /prev_events/);
    expectError(validateEventFormat(v4Event({ auth_events: Array(11).fill(`$${H}`) }), "10"), /auth_events/);
  });

  it("history (/backfill) is not held to those limits, everything else still is", () => {
    const many = v4Event({ prev_events: Array(30).fill(`$${H}`), auth_events: Array(15).fill(`$${H}`) });
    expect(validateEventFormat(many, "10", { history: true }).ok).toBe(true);
    expect(validateEventFormat(many, "10").ok).toBe(false);
    expect(validateEventFormat(v1Event({ prev_events: Array(30).fill(["$p:example.org", { sha256: "x" }]) }), "1", { history: true }).ok).toBe(true);
    expectError(validateEventFormat(v4Event({ prev_events: Array(30).fill("not an id") }), "10", { history: true }), /prev_events/);
  });
});

describe("canonical JSON strictness", () => {
  it("rejects floats anywhere from v6", () => {
    for (const v of ["6", "9", "11"]) {
      expectError(validateEventFormat(v4Event({ content: { n: 1.5 } }), v), /float.*content\/n/);
      expectError(validateEventFormat(v4Event({ unsigned: { n: 0.1 } }), v), /float/);
    }
  });
  it("rejects integers outside ±(2^53-1) from v6", () => {
    expectError(validateEventFormat(v4Event({ content: { n: 2 ** 53 } }), "6"), /outside/);
    expectError(validateEventFormat(v4Event({ depth: 2 ** 53 }), "6"), /outside/);
    expect(validateEventFormat(v4Event({ content: { n: 2 ** 53 - 1 } }), "6").ok).toBe(true);
  });
  it("tolerates floats and big integers in v1–v5", () => {
    expect(validateEventFormat(v4Event({ content: { n: 1.5, m: 2 ** 60 } }), "5").ok).toBe(true);
    expect(validateEventFormat(v1Event({ content: { n: 1.5 } }), "1").ok).toBe(true);
    expect(validateEventFormat(v4Event({ depth: 2 ** 60 }), "4").ok).toBe(true);
  });
  it("rejects strings with lone surrogates in every version", () => {
    expectError(validateEventFormat(v4Event({ content: { body: "\ud800" } }), "4"), /surrogate/);
  });
});

describe("field types and required fields", () => {
  it("requires the base fields", () => {
    for (const k of ["sender", "type", "content", "origin_server_ts", "depth", "hashes", "signatures", "prev_events", "auth_events", "room_id"]) {
      const ev = v4Event();
      delete ev[k];
      expectError(validateEventFormat(ev, "10"), new RegExp(k));
    }
  });

  it("checks field types", () => {
    expectError(validateEventFormat(v4Event({ content: [] }), "10"), /content/);
    expectError(validateEventFormat(v4Event({ content: null }), "10"), /content/);
    expectError(validateEventFormat(v4Event({ depth: "1" }), "10"), /depth/);
    expectError(validateEventFormat(v4Event({ depth: -1 }), "10"), /depth/);
    expectError(validateEventFormat(v4Event({ depth: 1.5 }), "5"), /depth/);
    expectError(validateEventFormat(v4Event({ origin_server_ts: "now" }), "10"), /origin_server_ts/);
    expectError(validateEventFormat(v4Event({ state_key: 5 }), "10"), /state_key/);
    expectError(validateEventFormat(v4Event({ hashes: {} }), "10"), /hashes/);
    expectError(validateEventFormat(v4Event({ hashes: { sha256: 1 } }), "10"), /hashes/);
    expectError(validateEventFormat(v4Event({ signatures: { "example.org": { "ed25519:1": 5 } } }), "10"), /signatures/);
    expectError(validateEventFormat(v4Event({ unsigned: "x" }), "10"), /unsigned/);
    expectError(validateEventFormat(v4Event({ redacts: 5 }), "10"), /redacts/);
  });

  it("rejects non-objects and unknown room versions", () => {
    expectError(validateEventFormat([], "10"), /object/);
    expectError(validateEventFormat("x", "10"), /object/);
    expectError(validateEventFormat(null, "10"), /object/);
    expectError(validateEventFormat(v4Event(), "99"), /room version/);
  });

  it("checks sender and room_id grammar", () => {
    expectError(validateEventFormat(v4Event({ sender: "alice" }), "10"), /sender/);
    expectError(validateEventFormat(v4Event({ sender: "@alice:bad host" }), "10"), /sender/);
    // Historical localparts must still be accepted over federation.
    expect(validateEventFormat(v4Event({ sender: "@Alice Smith!:example.org" }), "10").ok).toBe(true);
    expectError(validateEventFormat(v4Event({ room_id: "#alias:example.org" }), "10"), /room_id/);
    expectError(validateEventFormat(v4Event({ room_id: `!${H}` }), "11"), /room_id/);
  });
});

describe("event id and reference formats", () => {
  it("v1/v2 require event_id and [id, {sha256}] pairs", () => {
    const { event_id: _e, ...noId } = v1Event();
    expectError(validateEventFormat(noId, "1"), /event_id/);
    expectError(validateEventFormat(v1Event({ event_id: "$nodomain" }), "1"), /event_id/);
    expectError(validateEventFormat(v1Event({ prev_events: ["$p:example.org"] }), "1"), /prev_events/);
    expectError(validateEventFormat(v1Event({ prev_events: [["$p:example.org"]] }), "2"), /prev_events/);
    expectError(validateEventFormat(v1Event({ auth_events: [["$p:example.org", {}]] }), "1"), /auth_events/);
    expectError(validateEventFormat(v1Event({ auth_events: [["$p:example.org", { sha256: "x" }, 3]] }), "1"), /auth_events/);
  });

  it("v3+ forbid event_id and take plain ids", () => {
    expectError(validateEventFormat(v4Event({ event_id: `$${H}` }), "4"), /event_id/);
    expectError(validateEventFormat(v4Event({ prev_events: [[`$${H}`, { sha256: "x" }]] }), "4"), /prev_events/);
  });

  it("v3 ids use the standard alphabet and v4+ the URL-safe one", () => {
    expectError(validateEventFormat(v4Event({ prev_events: [`$${H}`] }), "3"), /prev_events/);
    expectError(validateEventFormat(v4Event({ prev_events: [`$${H3}`] }), "4"), /prev_events/);
    expectError(validateEventFormat(v4Event({ auth_events: ["$abc:example.org"] }), "10"), /auth_events/);
    expectError(validateEventFormat(v4Event({ auth_events: [`$${H}x`] }), "10"), /auth_events/);
  });

  it("v12: create events must not have room_id; others need the hash form", () => {
    const create = v4Event({ type: "m.room.create", state_key: "", room_id: `!${H}`, prev_events: [], auth_events: [] });
    expectError(validateEventFormat(create, "12"), /room_id/);
    const { room_id: _r, ...noRoom } = v4Event();
    expectError(validateEventFormat(noRoom, "12"), /room_id.*required/);
    expectError(validateEventFormat(v4Event(), "12"), /room_id/);
    // Before v12 a create event needs its room_id like everything else.
    expectError(validateEventFormat({ ...noRoom, type: "m.room.create" }, "11"), /room_id/);
  });
});

describe("schemas", () => {
  it("are cached per room version", () => {
    const rv = getRoomVersion("10")!;
    expect(pduSchemaFor(rv)).toBe(pduSchemaFor(rv));
  });
});
