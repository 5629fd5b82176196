import { describe, expect, it } from "vitest";
import { MatrixError } from "../../src/errors.js";
import { closerThan, inDirection, noEventError, parseRemoteAnswer, parseTimestampQuery } from "../../src/timestamp-to-event.js";

const errcode = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e instanceof MatrixError ? [e.status, e.errcode] : e;
  }
  return "no error";
};

describe("parseTimestampQuery", () => {
  it("takes a millisecond timestamp and f or b", () => {
    expect(parseTimestampQuery({ ts: "1432684800000", dir: "f" })).toEqual({ ts: 1432684800000, dir: "f" });
    expect(parseTimestampQuery({ ts: "0", dir: "b" })).toEqual({ ts: 0, dir: "b" });
  });

  it("missing parameters are M_MISSING_PARAM, malformed ones M_INVALID_PARAM", () => {
    expect(errcode(() => parseTimestampQuery({ ts: "5" }))).toEqual([400, "M_MISSING_PARAM"]);
    expect(errcode(() => parseTimestampQuery({ dir: "f" }))).toEqual([400, "M_MISSING_PARAM"]);
    for (const [ts, dir] of [["5", "x"], ["5", "F"], ["abc", "f"], ["-1", "b"], ["1.5", "f"], ["", "f"], ["99999999999999999", "f"]]) {
      expect(errcode(() => parseTimestampQuery({ ts, dir })), `${ts} ${dir}`).toEqual([400, "M_INVALID_PARAM"]);
    }
  });

  it("the 404 names the timestamp and direction", () => {
    const e = noEventError({ ts: 7, dir: "b" });
    expect([e.status, e.errcode, e.message]).toEqual([404, "M_NOT_FOUND", "Unable to find event from 7 in direction b"]);
  });
});

describe("another server's answer", () => {
  it("needs an event id and an integer timestamp", () => {
    expect(parseRemoteAnswer({ event_id: "$abc", origin_server_ts: 5 })).toEqual({ eventId: "$abc", originServerTs: 5 });
    for (const bad of [{}, { event_id: "abc", origin_server_ts: 5 }, { event_id: "$abc" }, { event_id: "$abc", origin_server_ts: 1.5 }, { event_id: 3, origin_server_ts: 5 }, null, []]) {
      expect(parseRemoteAnswer(bad), JSON.stringify(bad)).toBeUndefined();
    }
  });

  it("must lie in the direction asked", () => {
    expect(inDirection({ ts: 10, dir: "f" }, 10)).toBe(true);
    expect(inDirection({ ts: 10, dir: "f" }, 9)).toBe(false);
    expect(inDirection({ ts: 10, dir: "b" }, 10)).toBe(true);
    expect(inDirection({ ts: 10, dir: "b" }, 11)).toBe(false);
  });

  it("counts only when strictly closer than the local answer (any beats none)", () => {
    const q = { ts: 100, dir: "f" as const };
    expect(closerThan(q, 150, undefined)).toBe(true);
    expect(closerThan(q, 120, { eventId: "$l", originServerTs: 150 })).toBe(true);
    expect(closerThan(q, 150, { eventId: "$l", originServerTs: 150 })).toBe(false);
    expect(closerThan(q, 160, { eventId: "$l", originServerTs: 150 })).toBe(false);
  });
});
