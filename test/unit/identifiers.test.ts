import { describe, expect, it } from "vitest";
import {
  eventIdDomain,
  isCompliantUserId,
  isContactableServerName,
  isValidEd25519KeyId,
  isValidEventId,
  isValidIPv6,
  isValidKeyId,
  isValidNamespacedIdentifier,
  isValidOpaqueIdentifier,
  isValidRoomAlias,
  isValidRoomId,
  isValidServerName,
  isValidUserId,
  isValidUserLocalpart,
  parseKeyId,
  parseRoomAlias,
  parseRoomId,
  parseServerName,
  parseUserId,
  userIdDomain,
  utf8Length,
} from "../../src/identifiers.js";

describe("server names", () => {
  it("accepts the appendix's examples", () => {
    expect(parseServerName("matrix.org")).toEqual({ host: "matrix.org", kind: "dns" });
    expect(parseServerName("matrix.org:8888")).toEqual({ host: "matrix.org", kind: "dns", port: 8888 });
    expect(parseServerName("1.2.3.4")).toEqual({ host: "1.2.3.4", kind: "ipv4" });
    expect(parseServerName("1.2.3.4:1234")).toEqual({ host: "1.2.3.4", kind: "ipv4", port: 1234 });
    expect(parseServerName("[1234:5678::abcd]")).toEqual({ host: "[1234:5678::abcd]", kind: "ipv6" });
    expect(parseServerName("[1234:5678::abcd]:5678")).toEqual({ host: "[1234:5678::abcd]", kind: "ipv6", port: 5678 });
  });

  it("accepts other grammatical names", () => {
    for (const s of ["localhost", "a", "LOCALHOST", "x-y.example", "example.org:1", "example.org:65535", "[::1]", "[::]", "[::ffff:1.2.3.4]:8448", "255.255.255.255", "1.2.3", "1.2.3.4.5"]) {
      expect(isValidServerName(s), s).toBe(true);
    }
    expect(isValidServerName("a".repeat(255))).toBe(true);
  });

  it("rejects ungrammatical names", () => {
    for (const s of [
      "",
      "exa mple.org",
      "example.org:",
      "example.org:123456",
      "example.org:-1",
      "example.org:80:80",
      "example_org",
      "ex@mple.org",
      "exämple.org",
      "1.2.3.256",
      "1.2.3.0004",
      "[1234:5678::abcd",
      "[1234:5678::abcd]x",
      "[not:an:ip]",
      "[1:2:3:4:5:6:7:8:9]",
      "[1::2::3]",
      "[12345::]",
      "1234:5678::abcd",
      "a".repeat(256),
    ]) {
      expect(isValidServerName(s), s).toBe(false);
    }
  });

  it("validates IPv6 per RFC 3513 §2.2", () => {
    for (const s of ["1:2:3:4:5:6:7:8", "::", "::1", "1::", "fe80::1:2", "1:2:3:4:5:6:1.2.3.4", "::1.2.3.4", "ABCD:ef01::"]) {
      expect(isValidIPv6(s), s).toBe(true);
    }
    for (const s of ["1:2:3:4:5:6:7", "1:2:3:4:5:6:7:8:9", ":1:2:3:4:5:6:7", "1:2:3:4:5:6:7:", "1::2:3:4:5:6:7:8", "1.2.3.4", "::1.2.3.4:1", "::1.2.3.256", "g::", ":", "1:::2"]) {
      expect(isValidIPv6(s), s).toBe(false);
    }
  });

  it("contactable names: the grammar plus the appendix's host name labels and a TCP port", () => {
    for (const s of ["matrix.org", "matrix.org:8888", "1.2.3.4:1234", "[1234:5678::abcd]:5678", "localhost", "x-y.example", "a1.b2", "example.org:1", "example.org:65535", "a".repeat(63) + ".org"]) {
      expect(isContactableServerName(s), s).toBe(true);
    }
    // Grammatical (1*255dns-char, 1*5DIGIT), yet no server can have these names.
    for (const s of ["a..b", ".", "example.org.", ".example.org", "-", "-a.org", "a-.org", "a".repeat(64) + ".org", "example.org:0", "example.org:65536", "example.org:99999"]) {
      expect(isValidServerName(s), s).toBe(true);
      expect(isContactableServerName(s), s).toBe(false);
    }
    for (const s of ["", "exa mple.org", "example_org", "[::1", "1.2.3.256"]) expect(isContactableServerName(s), s).toBe(false);
  });
});

describe("user ids", () => {
  it("parses localpart and domain, splitting at the first colon", () => {
    expect(parseUserId("@alice:example.org")).toEqual({ localpart: "alice", domain: "example.org" });
    expect(parseUserId("@alice:example.org:8448")).toEqual({ localpart: "alice", domain: "example.org:8448" });
    expect(parseUserId("@alice:[::1]:8448")).toEqual({ localpart: "alice", domain: "[::1]:8448" });
    expect(userIdDomain("@bob:matrix.org")).toBe("matrix.org");
    expect(userIdDomain("bob")).toBeNull();
  });

  it("accepts the historical grammar (what federation must accept)", () => {
    for (const id of ["@Alice:example.org", "@a b!:example.org", "@:example.org", "@\u0001ctl:example.org", "@日本:example.org", "@😀:example.org"]) {
      expect(isValidUserId(id), id).toBe(true);
      expect(isCompliantUserId(id), id).toBe(false);
    }
  });

  it("accepts the v1.8 grammar for compliant ids", () => {
    for (const id of ["@alice:example.org", "@a.b_c=d-e/f+g:example.org", "@123:example.org"]) {
      expect(isCompliantUserId(id), id).toBe(true);
    }
    expect(isValidUserLocalpart("alice")).toBe(true);
    expect(isValidUserLocalpart("Alice")).toBe(false);
    expect(isValidUserLocalpart("")).toBe(false);
    expect(isValidUserLocalpart("a*b")).toBe(false);
  });

  it("rejects wrong sigils, missing or bad domains, NUL and lone surrogates", () => {
    for (const id of ["alice:example.org", "#alice:example.org", "@alice", "@alice:", "@alice:bad domain", "@a\u0000b:example.org", "@a\ud800:example.org"]) {
      expect(isValidUserId(id), JSON.stringify(id)).toBe(false);
    }
  });

  it("limits user ids to 255 bytes, counted in UTF-8", () => {
    const domain = ":example.org"; // 12 bytes
    expect(isValidUserId("@" + "a".repeat(242) + domain)).toBe(true); // 255
    expect(isValidUserId("@" + "a".repeat(243) + domain)).toBe(false); // 256
    expect(isValidUserId("@" + "é".repeat(121) + domain)).toBe(true); // 1 + 242 + 12 = 255
    expect(isValidUserId("@" + "é".repeat(122) + domain)).toBe(false);
  });
});

describe("room ids", () => {
  const HASH = "Nhcu5BS-UMnFX7hBVfVSoXiD7OgH6iRT-xyIuqDnpYQ"; // pdu_v12 example

  it("parses both forms", () => {
    expect(parseRoomId("!abc:example.org")).toEqual({ kind: "domain", localpart: "abc", domain: "example.org" });
    expect(parseRoomId(`!${HASH}`)).toEqual({ kind: "hash", hash: HASH });
    expect(parseRoomId("$abc:example.org")).toBeNull();
    expect(parseRoomId("!abc")).toBeNull();
  });

  it("checks the form against the room version", () => {
    expect(isValidRoomId("!abc:example.org")).toBe(true);
    expect(isValidRoomId(`!${HASH}`)).toBe(true);
    expect(isValidRoomId("!abc:example.org", "11")).toBe(true);
    expect(isValidRoomId("!abc:example.org", "12")).toBe(false);
    expect(isValidRoomId(`!${HASH}`, "12")).toBe(true);
    expect(isValidRoomId(`!${HASH}`, "1")).toBe(false);
    expect(isValidRoomId("!abc:example.org", "nope")).toBe(false);
  });

  it("rejects malformed hash ids and oversize ids", () => {
    expect(isValidRoomId(`!${HASH}`.slice(0, -1), "12")).toBe(false);
    expect(isValidRoomId(`!${HASH.replace("-", "+")}`, "12")).toBe(false);
    expect(isValidRoomId(`!${"a".repeat(243)}:example.org`)).toBe(false);
    expect(isValidRoomId(`!${"a".repeat(242)}:example.org`)).toBe(true);
    expect(isValidRoomId("!:example.org")).toBe(true); // the grammar does not forbid an empty opaque part
  });
});

describe("room aliases", () => {
  it("accepts any non-surrogate localpart except ':' and NUL", () => {
    expect(parseRoomAlias("#Room Name!:example.org")).toEqual({ localpart: "Room Name!", domain: "example.org" });
    expect(isValidRoomAlias("#日本:example.org:8448")).toBe(true);
    expect(isValidRoomAlias("#a\u0000:example.org")).toBe(false);
    expect(isValidRoomAlias("!a:example.org")).toBe(false);
    expect(isValidRoomAlias("#a")).toBe(false);
    expect(isValidRoomAlias("#" + "a".repeat(243) + ":example.org")).toBe(false);
  });
});

describe("event ids", () => {
  it("accepts the spec's examples in their formats", () => {
    expect(isValidEventId("$a4ecee13e2accdadf56c1025:example.com", "v1")).toBe(true);
    expect(isValidEventId("$CD66HAED5npg6074c6pDtLKalHjVfYb2q4Q3LZgrW6o", "v3")).toBe(true);
    expect(isValidEventId("$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg", "v4")).toBe(true);
    expect(eventIdDomain("$a4ecee13e2accdadf56c1025:example.com")).toBe("example.com");
  });

  it("keeps the formats apart", () => {
    expect(isValidEventId("$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg", "v3")).toBe(false);
    expect(isValidEventId("$RrGxF28UrHLmoASHndYb9Jb/1SFww2ptmtur9INS438", "v4")).toBe(false);
    expect(isValidEventId("$a4ecee13e2accdadf56c1025:example.com", "v4")).toBe(false);
    expect(isValidEventId("$CD66HAED5npg6074c6pDtLKalHjVfYb2q4Q3LZgrW6o", "v1")).toBe(false);
    expect(isValidEventId("$CD66HAED5npg6074c6pDtLKalHjVfYb2q4Q3LZgrW6", "v3")).toBe(false);
  });

  it("applies the generic rules without a format", () => {
    expect(isValidEventId("$x")).toBe(true);
    expect(isValidEventId("$")).toBe(false);
    expect(isValidEventId("x")).toBe(false);
    expect(isValidEventId("$a\u0000")).toBe(false);
    expect(isValidEventId("$" + "a".repeat(254))).toBe(true);
    expect(isValidEventId("$" + "a".repeat(255))).toBe(false);
  });
});

describe("key ids", () => {
  it("parses algorithm:version with the [a-zA-Z0-9_] version grammar", () => {
    expect(parseKeyId("ed25519:abc123")).toEqual({ algorithm: "ed25519", version: "abc123" });
    expect(parseKeyId("ed25519:a_Obwu")).toEqual({ algorithm: "ed25519", version: "a_Obwu" });
    expect(isValidEd25519KeyId("ed25519:0ldK3y")).toBe(true);
    expect(isValidKeyId("curve25519:x")).toBe(true);
    expect(isValidEd25519KeyId("curve25519:x")).toBe(false);
    for (const bad of ["ed25519", "ed25519:", ":abc", "ed25519:a-b", "ed25519:a:b", "ed25519:a b", "ED25519:a"]) {
      expect(isValidKeyId(bad), bad).toBe(false);
    }
  });
});

describe("other grammars", () => {
  it("common namespaced identifiers", () => {
    expect(isValidNamespacedIdentifier("m.room.message")).toBe(true);
    expect(isValidNamespacedIdentifier("com.example-x_y.z9")).toBe(true);
    expect(isValidNamespacedIdentifier("9m")).toBe(false);
    expect(isValidNamespacedIdentifier("M.room")).toBe(false);
    expect(isValidNamespacedIdentifier("")).toBe(false);
    expect(isValidNamespacedIdentifier("a".repeat(255))).toBe(true);
    expect(isValidNamespacedIdentifier("a".repeat(256))).toBe(false);
  });
  it("opaque identifiers", () => {
    expect(isValidOpaqueIdentifier("AbC-._~9")).toBe(true);
    expect(isValidOpaqueIdentifier("")).toBe(false);
    expect(isValidOpaqueIdentifier("a/b")).toBe(false);
    expect(isValidOpaqueIdentifier("x".repeat(256))).toBe(false);
  });
  it("utf8Length", () => {
    expect(utf8Length("abc")).toBe(3);
    expect(utf8Length("é€😀")).toBe(2 + 3 + 4);
  });
});
