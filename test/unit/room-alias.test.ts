import { describe, expect, it } from "vitest";
import { MatrixError } from "../../src/errors.js";
import { checkNewLocalAlias, newCanonicalAliases, parseAliasParam, withoutAlias } from "../../src/room-alias.js";

function errcode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof MatrixError) return e.errcode;
    throw e;
  }
  return undefined;
}

describe("checkNewLocalAlias", () => {
  it("accepts a local alias", () => {
    expect(checkNewLocalAlias("#room:example.org", "example.org")).toEqual({ localpart: "room" });
    expect(checkNewLocalAlias("#a.b_c-d:localhost:8008", "localhost:8008")).toEqual({ localpart: "a.b_c-d" });
  });
  it("refuses other servers, bad grammar, whitespace and long aliases with M_INVALID_PARAM", () => {
    expect(errcode(() => checkNewLocalAlias("#room:other.org", "example.org"))).toBe("M_INVALID_PARAM");
    expect(errcode(() => checkNewLocalAlias("room:example.org", "example.org"))).toBe("M_INVALID_PARAM");
    expect(errcode(() => checkNewLocalAlias("#room", "example.org"))).toBe("M_INVALID_PARAM");
    expect(errcode(() => checkNewLocalAlias("#ro om:example.org", "example.org"))).toBe("M_INVALID_PARAM");
    expect(errcode(() => checkNewLocalAlias("#:example.org", "example.org"))).toBe("M_INVALID_PARAM");
    expect(errcode(() => checkNewLocalAlias(`#${"a".repeat(250)}:example.org`, "example.org"))).toBe("M_INVALID_PARAM");
  });
  it("parseAliasParam takes any server's alias", () => {
    expect(parseAliasParam("#x:other.org")).toEqual({ localpart: "x", domain: "other.org" });
    expect(errcode(() => parseAliasParam("!x:other.org"))).toBe("M_INVALID_PARAM");
  });
});

describe("newCanonicalAliases", () => {
  it("returns a changed alias and new alt_aliases only", () => {
    expect(newCanonicalAliases({ alias: "#a:s" }, undefined)).toEqual(["#a:s"]);
    expect(newCanonicalAliases({ alias: "#a:s" }, { alias: "#a:s" })).toEqual([]);
    expect(newCanonicalAliases({ alias: "#a:s", alt_aliases: ["#b:s", "#c:s"] }, { alias: "#a:s", alt_aliases: ["#b:s"] })).toEqual(["#c:s"]);
    expect(newCanonicalAliases({ alt_aliases: ["#b:s", "#b:s"] }, { alt_aliases: "junk" })).toEqual(["#b:s"]);
    expect(newCanonicalAliases({}, { alias: "#a:s" })).toEqual([]);
    expect(newCanonicalAliases({ alias: null }, undefined)).toEqual([]);
  });
  it("refuses malformed aliases and alt_aliases with M_INVALID_PARAM", () => {
    expect(errcode(() => newCanonicalAliases({ alias: "nope" }, undefined))).toBe("M_INVALID_PARAM");
    expect(errcode(() => newCanonicalAliases({ alias: 3 }, undefined))).toBe("M_INVALID_PARAM");
    expect(errcode(() => newCanonicalAliases({ alt_aliases: "#a:s" }, undefined))).toBe("M_INVALID_PARAM");
    expect(errcode(() => newCanonicalAliases({ alt_aliases: ["#a:s", "b"] }, undefined))).toBe("M_INVALID_PARAM");
  });
});

describe("withoutAlias", () => {
  it("removes the alias from alias and alt_aliases", () => {
    expect(withoutAlias({ alias: "#a:s", alt_aliases: ["#a:s", "#b:s"] }, "#a:s")).toEqual({ alt_aliases: ["#b:s"] });
    expect(withoutAlias({ alias: "#b:s", alt_aliases: ["#a:s"] }, "#a:s")).toEqual({ alias: "#b:s" });
    expect(withoutAlias({ alias: "#b:s" }, "#a:s")).toBeUndefined();
  });
});
