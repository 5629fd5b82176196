import { describe, expect, it } from "vitest";
import { decodeBase64 } from "../../src/base64.js";
import {
  createEventIdFromRoomId,
  eventIdFor,
  EventIdError,
  generateLegacyEventId,
  generateLegacyRoomId,
  randomAlphanumeric,
  roomIdFromCreateEvent,
  roomIdFromCreateEventId,
} from "../../src/event-id.js";
import { checkContentHash, computeReferenceHash, signEvent } from "../../src/hashes.js";
import { isValidEventId, isValidRoomId } from "../../src/identifiers.js";

// A real create event (room v5, signed by Synapse on jki.re), with the ids other
// implementations compute for it under the v3 and v4 formats. Interop data from
// gomatrixserverlib's eventversion_test.go.
const JKI_CREATE = JSON.parse(
  `{"auth_events": [], "prev_events": [], "type": "m.room.create", "room_id": "!uXDCzlYgCTHtiWCkEx:jki.re", "sender": "@erikj:jki.re", "content": {"room_version": "5", "predecessor": {"room_id": "!gdRMqOrTFdOCYHNwOo:half-shot.uk", "event_id": "$LP7ROBc4b+cMc1UE9haIz8q5AK2AIW4eJ90FfKLvyZI"}, "creator": "@erikj:jki.re"}, "depth": 1, "prev_state": [], "state_key": "", "origin": "jki.re", "origin_server_ts": 1560284621137, "hashes": {"sha256": "IX6zuNiJpJPNf70BLleL3HSCpjKeq9Uhu7uUpyDjBmc"}, "signatures": {"jki.re": {"ed25519:auto": "O4IyFfF2PPtGp5uaDm8t57dZbdh8vc8Q64LgCwvzYRVItAMI0uisfiAFaxkVT7MRpzh6N2QNN5NMRXZKmgPYDA"}}, "unsigned": {"age": 1321650}}`,
) as Record<string, unknown>;

const V1_EVENT = JSON.parse(
  `{"auth_events":[["$oXL79cT7fFxR7dPH:localhost",{"sha256":"abjkiDSg1RkuZrbj2jZoGMlQaaj1Ue3Jhi7I7NlKfXY"}],["$IVUsaSkm1LBAZYYh:localhost",{"sha256":"X7RUj46hM/8sUHNBIFkStbOauPvbDzjSdH4NibYWnko"}],["$VS2QT0EeArZYi8wf:localhost",{"sha256":"k9eM6utkCH8vhLW9/oRsH74jOBS/6RVK42iGDFbylno"}]],"content":{"name":"test3"},"depth":7,"event_id":"$yvN1b43rlmcOs5fY:localhost","hashes":{"sha256":"Oh1mwI1jEqZ3tgJ+V1Dmu5nOEGpCE4RFUqyJv2gQXKs"},"origin":"localhost","origin_server_ts":1510854416361,"prev_events":[["$FqI6TVvWpcbcnJ97:localhost",{"sha256":"upCsBqUhNUgT2/+zkzg8TbqdQpWWKQnZpGJc6KcbUC4"}]],"prev_state":[],"room_id":"!19Mp0U9hjajeIiw1:localhost","sender":"@test:localhost","signatures":{"localhost":{"ed25519:u9kP":"5IzSuRXkxvbTp0vZhhXYZeOe+619iG3AybJXr7zfNn/4vHz4TH7qSJVQXSaHHvcTcDodAKHnTG1WDulgO5okAQ"}},"state_key":"","type":"m.room.name"}`,
) as Record<string, unknown>;

const SEED = decodeBase64("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1");

describe("event ids of real events", () => {
  it("v1/v2: the event's own event_id", () => {
    expect(eventIdFor(V1_EVENT, "1")).toBe("$yvN1b43rlmcOs5fY:localhost");
    expect(eventIdFor(V1_EVENT, "2")).toBe("$yvN1b43rlmcOs5fY:localhost");
    expect(checkContentHash(V1_EVENT, "1")).toBe(true);
  });

  it("v3: standard base64 of the reference hash", () => {
    expect(eventIdFor(JKI_CREATE, "3")).toBe("$RrGxF28UrHLmoASHndYb9Jb/1SFww2ptmtur9INS438");
    expect(checkContentHash(JKI_CREATE, "5")).toBe(true);
  });

  it("v4+: URL-safe base64 of the same hash", () => {
    for (const v of ["4", "5", "6", "7", "8", "9", "10"]) {
      expect(eventIdFor(JKI_CREATE, v)).toBe("$RrGxF28UrHLmoASHndYb9Jb_1SFww2ptmtur9INS438");
    }
  });

  it("v11 redaction keeps the whole create content but drops origin/prev_state, so the id changes", () => {
    const id11 = eventIdFor(JKI_CREATE, "11");
    expect(isValidEventId(id11, "v4")).toBe(true);
    expect(id11).not.toBe("$RrGxF28UrHLmoASHndYb9Jb_1SFww2ptmtur9INS438");
  });
});

describe("v3 and v4 ids differ only in alphabet", () => {
  it("for many events", () => {
    let sawSpecial = 0;
    for (let depth = 1; depth < 60; depth++) {
      const ev = signEvent({ ...JKI_CREATE, type: "m.room.message", depth, content: { body: String(depth) } }, "4", "jki.re", "ed25519:1", SEED);
      const v3 = eventIdFor(ev, "3");
      const v4 = eventIdFor(ev, "4");
      expect(v3).toMatch(/^\$[A-Za-z0-9+/]{43}$/);
      expect(v4).toMatch(/^\$[A-Za-z0-9_-]{43}$/);
      expect(v4).toBe(v3.replaceAll("+", "-").replaceAll("/", "_"));
      if (v3 !== v4) sawSpecial++;
    }
    expect(sawSpecial).toBeGreaterThan(0);
  });
});

describe("eventIdFor errors", () => {
  it("requires a valid event_id in v1/v2 rooms", () => {
    const { event_id: _e, ...noId } = V1_EVENT;
    expect(() => eventIdFor(noId, "1")).toThrow(EventIdError);
    expect(() => eventIdFor({ ...V1_EVENT, event_id: 5 }, "1")).toThrow(EventIdError);
    expect(() => eventIdFor({ ...V1_EVENT, event_id: "nodollar:x" }, "1")).toThrow(EventIdError);
  });
  it("rejects unknown room versions", () => {
    expect(() => eventIdFor(JKI_CREATE, "99")).toThrow(EventIdError);
  });
});

describe("v12 room ids (MSC4291)", () => {
  const create = signEvent(
    {
      type: "m.room.create",
      state_key: "",
      sender: "@alice:example.org",
      content: { room_version: "12", additional_creators: ["@bob:example.org"] },
      origin_server_ts: 1700000000000,
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

  it("is the create event's v4 event id with `!` instead of `$`", () => {
    const roomId = roomIdFromCreateEvent(create);
    const eventId = eventIdFor(create, "12");
    expect(roomId).toBe("!" + eventId.slice(1));
    expect(isValidRoomId(roomId, "12")).toBe(true);
    expect(isValidRoomId(roomId, "11")).toBe(false);
    expect(createEventIdFromRoomId(roomId)).toBe(eventId);
    expect(roomIdFromCreateEventId(eventId)).toBe(roomId);
  });

  it("covers the whole create content (v11+ redaction keeps it)", () => {
    const other = { ...create, content: { ...create.content, extra: true } };
    expect(roomIdFromCreateEvent(other)).not.toBe(roomIdFromCreateEvent(create));
  });

  it("does not depend on signatures or unsigned", () => {
    expect(roomIdFromCreateEvent({ ...create, signatures: {}, unsigned: { age: 1 } })).toBe(roomIdFromCreateEvent(create));
  });

  it("is the URL-safe encoding of the reference hash", () => {
    const hash = computeReferenceHash(create, "12");
    expect(roomIdFromCreateEvent(create)).toBe("!" + Buffer.from(hash).toString("base64url"));
  });

  it("refuses non-create events and versions without hashed room ids", () => {
    expect(() => roomIdFromCreateEvent({ ...create, type: "m.room.member" })).toThrow(EventIdError);
    expect(() => roomIdFromCreateEvent(create, "11")).toThrow(EventIdError);
    expect(() => createEventIdFromRoomId("$x")).toThrow(EventIdError);
    expect(() => roomIdFromCreateEventId("!x")).toThrow(EventIdError);
  });
});

describe("legacy id generation", () => {
  it("makes `$<18 alnum>:server` event ids and `!<18 alnum>:server` room ids", () => {
    const e = generateLegacyEventId("example.org");
    expect(e).toMatch(/^\$[A-Za-z0-9]{18}:example\.org$/);
    expect(isValidEventId(e, "v1")).toBe(true);
    const r = generateLegacyRoomId("example.org:8448");
    expect(r).toMatch(/^![A-Za-z0-9]{18}:example\.org:8448$/);
    expect(isValidRoomId(r, "11")).toBe(true);
    expect(generateLegacyEventId("example.org")).not.toBe(e);
  });
  it("uses the injected random source deterministically and without bias", () => {
    expect(randomAlphanumeric(5, (b) => b.fill(0))).toBe("AAAAA");
    expect(randomAlphanumeric(3, (b) => b.fill(61))).toBe("999");
    // 248..255 are rejected; the generator must draw again.
    let call = 0;
    const s = randomAlphanumeric(2, (b) => {
      b.fill(call++ === 0 ? 255 : 1);
    });
    expect(s).toBe("BB");
  });
  it("rejects invalid server names", () => {
    expect(() => generateLegacyEventId("bad name")).toThrow(EventIdError);
    expect(() => generateLegacyRoomId("")).toThrow(EventIdError);
  });
});
