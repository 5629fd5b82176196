import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { EventReportBody, RoomOrUserReportBody } from "../../src/content-reports.js";
import type { MatrixError } from "../../src/errors.js";
import { validateBody } from "../../workers/middleware/body.js";

/** The errcode the body middleware answers for `body`, or undefined when it passes. */
const code = (schema: z.ZodType, body: Record<string, unknown>) => {
  try {
    validateBody(schema, body);
    return undefined;
  } catch (e) {
    return (e as MatrixError).errcode;
  }
};

describe("report bodies", () => {
  it("event reports: optional reason and score in -100..0; other keys kept", () => {
    expect(EventReportBody.parse({})).toEqual({});
    expect(EventReportBody.parse({ reason: "spam", score: -100 })).toEqual({ reason: "spam", score: -100 });
    expect(EventReportBody.parse({ score: 0, extra: true })).toEqual({ score: 0, extra: true });
    expect(code(EventReportBody, { score: 1 })).toBe("M_INVALID_PARAM");
    expect(code(EventReportBody, { score: -101 })).toBe("M_INVALID_PARAM");
    expect(code(EventReportBody, { score: -1.5 })).toBe("M_BAD_JSON");
    expect(code(EventReportBody, { score: "-1" })).toBe("M_BAD_JSON");
    expect(code(EventReportBody, { reason: 5 })).toBe("M_BAD_JSON");
    expect(code(EventReportBody, { reason: "x".repeat(1001) })).toBe("M_BAD_JSON");
  });
  it("room and user reports need a reason, which may be blank", () => {
    expect(RoomOrUserReportBody.parse({ reason: "" })).toEqual({ reason: "" });
    // Absent: M_MISSING_PARAM (spec "Standard error response"; Synapse's pydantic bodies say the same).
    expect(code(RoomOrUserReportBody, {})).toBe("M_MISSING_PARAM");
    expect(code(RoomOrUserReportBody, { reason: null })).toBe("M_BAD_JSON");
  });
});
