import { describe, expect, it } from "vitest";
import type { MatrixError } from "../../src/errors.js";
import { checkGatewayUrl, parsePusherRequest } from "../../src/pusher.js";
import { decodeBatch, encodeBatch, matchExpression, matchedWords, parseSearchTerm } from "../../src/search-query.js";
import { userSearchExpression } from "../../src/user-directory-query.js";

const errcode = (fn: () => unknown) => {
  try {
    fn();
  } catch (e) {
    return (e as MatrixError).errcode;
  }
  return null;
};

describe("search terms", () => {
  it("words match as prefixes, all of them", () => {
    expect(parseSearchTerm("martians and men")).toEqual({ expr: '"martians"* AND "and"* AND "men"*', highlights: ["martians", "and", "men"] });
  });
  it("phrases, or, and exclusions", () => {
    expect(parseSearchTerm('"hello world" -spam').expr).toBe('("hello world") NOT ("spam"*)');
    expect(parseSearchTerm("cats or dogs pets").expr).toBe('("cats"* OR "dogs"*) AND "pets"*');
    expect(parseSearchTerm("or cats or").expr).toBe('"cats"*');
    expect(parseSearchTerm('-"bad phrase" good').expr).toBe('("good"*) NOT ("bad phrase")');
  });
  it("punctuation never reaches FTS5 syntax", () => {
    // An unterminated quote runs to the end as a phrase.
    expect(parseSearchTerm('foo" OR * NEAR(').expr).toBe('"foo"* AND "OR NEAR"');
    expect(parseSearchTerm("@alice:example.org").expr).toBe('"alice example org"');
    expect(parseSearchTerm("Ünïcödé").expr).toBe('"Ünïcödé"*');
  });
  it("nothing searchable gives no expression", () => {
    expect(parseSearchTerm("").expr).toBeNull();
    expect(parseSearchTerm("  !!! ").expr).toBeNull();
    expect(parseSearchTerm("-only -negative").expr).toBeNull();
  });
  it("builds the MATCH over the chosen columns and rooms", () => {
    expect(matchExpression('"x"*', ["content.body", "content.topic"], [3, 7])).toBe('{body topic} : ("x"*) AND room : ("3" OR "7")');
  });
  it("highlights the words a prefix matched", () => {
    expect(matchedWords("The Martians came, martian style", ["mart"])).toEqual(["martians", "martian"]);
  });
});

describe("next_batch tokens", () => {
  it("round-trip", () => {
    for (const b of [{ order: "rank" as const, cursor: 10 }, { order: "recent" as const, cursor: 12345, group: { key: "room_id" as const, value: "!r:x" } }, { order: "recent" as const, cursor: -40 }]) {
      const t = encodeBatch(b);
      expect(t).toMatch(/^[A-Za-z0-9_-]+$/);
      expect(decodeBatch(t)).toEqual(b);
    }
  });
  it("garbage is M_INVALID_PARAM", () => {
    for (const t of ["", "!!!", btoa("[]"), btoa('["rank",-1,null,null]'), btoa('["x",1,null,null]'), btoa('["rank",1,"other","v"]')]) {
      expect(errcode(() => decodeBatch(t))).toBe("M_INVALID_PARAM");
    }
  });
});

describe("user directory terms", () => {
  it("every word as a prefix, lower-cased and quoted", () => {
    expect(userSearchExpression("Ali Smi")).toBe('"ali"* AND "smi"*');
    expect(userSearchExpression("@bob:example.org")).toBe('"bob"* AND "example"* AND "org"*');
    expect(userSearchExpression(' " ')).toBeNull();
  });
});

describe("pusher requests", () => {
  const http = { kind: "http", app_id: "com.example.app", pushkey: "k", app_display_name: "App", device_display_name: "Phone", lang: "en", data: { url: "https://push.example/_matrix/push/v1/notify", format: "event_id_only" } };
  it("accepts the spec example and deletion by null kind", () => {
    expect(parsePusherRequest(http)).toMatchObject({ delete: false, append: false, pusher: { kind: "http", app_id: "com.example.app" } });
    expect(parsePusherRequest({ kind: null, app_id: "a", pushkey: "k" })).toEqual({ delete: true, app_id: "a", pushkey: "k" });
  });
  it("names missing parameters", () => {
    try {
      parsePusherRequest({ kind: "http", app_id: "a", pushkey: "k", app_display_name: "x", device_display_name: "y" });
      expect.unreachable();
    } catch (e) {
      expect((e as MatrixError).errcode).toBe("M_MISSING_PARAM");
      expect((e as MatrixError).message).toBe("Missing parameters: lang, data");
    }
    expect(errcode(() => parsePusherRequest({ app_id: "a" }))).toBe("M_MISSING_PARAM");
  });
  it("checks kinds, lengths, types and the gateway URL", () => {
    expect(errcode(() => parsePusherRequest({ ...http, kind: "sms" }))).toBe("M_INVALID_PARAM");
    expect(errcode(() => parsePusherRequest({ ...http, app_id: "a".repeat(65) }))).toBe("M_INVALID_PARAM");
    expect(errcode(() => parsePusherRequest({ ...http, pushkey: "é".repeat(257) }))).toBe("M_INVALID_PARAM");
    expect(errcode(() => parsePusherRequest({ ...http, lang: 5 }))).toBe("M_BAD_JSON");
    expect(errcode(() => parsePusherRequest({ ...http, append: "yes" }))).toBe("M_BAD_JSON");
    expect(errcode(() => parsePusherRequest({ ...http, data: { format: "event_id_only" } }))).toBe("M_MISSING_PARAM");
    expect(errcode(() => parsePusherRequest({ ...http, kind: "email", app_id: "x" }))).toBe("M_INVALID_PARAM");
    expect(checkGatewayUrl("http://127.0.0.1:5000/_matrix/push/v1/notify")).toBe("http://127.0.0.1:5000/_matrix/push/v1/notify");
    for (const url of ["https://push.example/notify", "ftp://push.example/_matrix/push/v1/notify", "not a url", "https://u:p@push.example/_matrix/push/v1/notify"]) {
      expect(errcode(() => checkGatewayUrl(url))).toBe("M_INVALID_PARAM");
    }
    expect(errcode(() => checkGatewayUrl(7))).toBe("M_BAD_JSON");
  });
});
