import { describe, expect, it } from "vitest";
import { MAX_TAG_BYTES, TagBody, checkAccountDataType, checkClientWritable, checkTagName, tagsOf } from "../../src/account-data.js";
import { MatrixError } from "../../src/errors.js";

function error(fn: () => unknown): { errcode: string; status: number } | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof MatrixError) return { errcode: e.errcode, status: e.status };
    throw e;
  }
  return undefined;
}

describe("account data rules", () => {
  it("refuses server-managed types with 405 M_BAD_JSON", () => {
    expect(error(() => checkClientWritable("m.fully_read"))).toEqual({ errcode: "M_BAD_JSON", status: 405 });
    expect(error(() => checkClientWritable("m.push_rules"))).toEqual({ errcode: "M_BAD_JSON", status: 405 });
    expect(error(() => checkClientWritable("m.direct"))).toBeUndefined();
    expect(error(() => checkClientWritable("m.tag"))).toBeUndefined();
  });

  it("bounds type names", () => {
    expect(error(() => checkAccountDataType("org.example"))).toBeUndefined();
    expect(error(() => checkAccountDataType(""))?.errcode).toBe("M_INVALID_PARAM");
    expect(error(() => checkAccountDataType("é".repeat(128)))?.errcode).toBe("M_INVALID_PARAM");
  });
});

describe("tags", () => {
  it("limits tag names to 255 bytes", () => {
    expect(error(() => checkTagName("u.".padEnd(MAX_TAG_BYTES, "x")))).toBeUndefined();
    expect(error(() => checkTagName("u.".padEnd(MAX_TAG_BYTES + 1, "x")))?.errcode).toBe("M_INVALID_PARAM");
    expect(error(() => checkTagName(""))?.errcode).toBe("M_INVALID_PARAM");
  });

  it("validates order as a number in [0, 1] and keeps other keys", () => {
    expect(TagBody.safeParse({ order: 0 }).success).toBe(true);
    expect(TagBody.safeParse({ order: 1 }).success).toBe(true);
    expect(TagBody.safeParse({}).success).toBe(true);
    expect(TagBody.safeParse({ order: 1.5 }).success).toBe(false);
    expect(TagBody.safeParse({ order: "0.5" }).success).toBe(false);
    expect(TagBody.parse({ order: 0.5, "org.example": true })).toEqual({ order: 0.5, "org.example": true });
  });

  it("reads tags out of m.tag content, tolerating junk", () => {
    expect(tagsOf({ tags: { "m.favourite": { order: 0.1 } } })).toEqual({ "m.favourite": { order: 0.1 } });
    expect(tagsOf(null)).toEqual({});
    expect(tagsOf({ tags: [1] })).toEqual({});
    expect(tagsOf({ tags: "x" })).toEqual({});
  });
});
