import { describe, expect, it } from "vitest";
import { parseEventReport, parseRoomOrUserReport } from "../../src/content-reports.js";
import { MatrixError } from "../../src/errors.js";

const code = (fn: () => unknown) => {
  try {
    fn();
    return undefined;
  } catch (e) {
    return (e as MatrixError).errcode;
  }
};

describe("report bodies", () => {
  it("event reports: optional reason and score in -100..0", () => {
    expect(parseEventReport({})).toEqual({});
    expect(parseEventReport({ reason: "spam", score: -100 })).toEqual({ reason: "spam", score: -100 });
    expect(parseEventReport({ score: 0 })).toEqual({ score: 0 });
    expect(code(() => parseEventReport({ score: 1 }))).toBe("M_INVALID_PARAM");
    expect(code(() => parseEventReport({ score: -101 }))).toBe("M_INVALID_PARAM");
    expect(code(() => parseEventReport({ score: -1.5 }))).toBe("M_BAD_JSON");
    expect(code(() => parseEventReport({ score: "-1" }))).toBe("M_BAD_JSON");
    expect(code(() => parseEventReport({ reason: 5 }))).toBe("M_BAD_JSON");
    expect(code(() => parseEventReport({ reason: "x".repeat(1001) }))).toBe("M_BAD_JSON");
  });
  it("room and user reports need a reason, which may be blank", () => {
    expect(parseRoomOrUserReport({ reason: "" })).toEqual({ reason: "" });
    expect(code(() => parseRoomOrUserReport({}))).toBe("M_BAD_JSON");
  });
});
