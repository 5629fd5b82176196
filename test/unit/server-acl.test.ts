import { describe, expect, it } from "vitest";
import { parseServerAcl, serverAllowed } from "../../src/server-acl.js";

const acl = (content: unknown) => parseServerAcl(content);

describe("parseServerAcl", () => {
  it("reads the spec's example", () => {
    expect(acl({ allow_ip_literals: false, allow: ["*"], deny: ["*.evil.com", "evil.com"] })).toEqual({
      allowIpLiterals: false,
      allow: ["*"],
      deny: ["*.evil.com", "evil.com"],
    });
  });

  it("defaults: allow_ip_literals true, allow and deny empty", () => {
    expect(acl({})).toEqual({ allowIpLiterals: true, allow: [], deny: [] });
  });

  it("ignores what is malformed, as Synapse does", () => {
    expect(acl({ allow_ip_literals: "false", allow: "*", deny: { a: 1 } })).toEqual({ allowIpLiterals: true, allow: [], deny: [] });
    expect(acl({ allow_ip_literals: 0, allow: ["*", 1, null, ["x"], "ok.org"], deny: [true, "bad.org", {}] })).toEqual({
      allowIpLiterals: true,
      allow: ["*", "ok.org"],
      deny: ["bad.org"],
    });
    for (const content of [null, undefined, "x", 3, ["*"]]) expect(acl(content)).toEqual({ allowIpLiterals: true, allow: [], deny: [] });
  });
});

describe("serverAllowed", () => {
  it("no ACL event: every server", () => {
    expect(serverAllowed(null, "evil.com")).toBe(true);
    expect(serverAllowed(undefined, "1.2.3.4")).toBe(true);
  });

  it("the spec's example: deny is checked before allow", () => {
    const a = acl({ allow_ip_literals: false, allow: ["*"], deny: ["*.evil.com", "evil.com"] });
    expect(serverAllowed(a, "evil.com")).toBe(false);
    expect(serverAllowed(a, "sub.evil.com")).toBe(false);
    expect(serverAllowed(a, "a.b.evil.com")).toBe(false);
    expect(serverAllowed(a, "notevil.com")).toBe(true);
    expect(serverAllowed(a, "evil.com.au")).toBe(true);
    expect(serverAllowed(a, "matrix.org")).toBe(true);
  });

  it("the port is not considered (schema: evil.com, evil.com:8448 and evil.com:1234 all match)", () => {
    const a = acl({ allow: ["*"], deny: ["evil.com"] });
    for (const name of ["evil.com", "evil.com:8448", "evil.com:1234"]) expect(serverAllowed(a, name)).toBe(false);
    expect(serverAllowed(a, "good.com:8448")).toBe(true);
    // A pattern naming a port never matches: ports are not supported.
    const withPort = acl({ allow: ["good.com:8448"] });
    expect(serverAllowed(withPort, "good.com:8448")).toBe(false);
    expect(serverAllowed(acl({ allow: ["good.com"] }), "good.com:8448")).toBe(true);
  });

  it("case-insensitive, as the schema says of both lists", () => {
    const a = acl({ allow: ["*"], deny: ["Evil.COM"] });
    expect(serverAllowed(a, "evil.com")).toBe(false);
    expect(serverAllowed(a, "EVIL.COM")).toBe(false);
    expect(serverAllowed(acl({ allow: ["GOOD*.com"] }), "good.Example.COM")).toBe(true);
  });

  it("globs match the whole name (Synapse's wildcard cases)", () => {
    const a = acl({ allow: ["good*.com"] });
    expect(serverAllowed(a, "good.com")).toBe(true);
    expect(serverAllowed(a, "GOOD.COM")).toBe(true);
    expect(serverAllowed(a, "good.aa.com")).toBe(true);
    expect(serverAllowed(a, "ishgood.com")).toBe(false);
    expect(serverAllowed(a, "good.com.evil")).toBe(false);
    const q = acl({ allow: ["s?.example.org"] });
    expect(serverAllowed(q, "s1.example.org")).toBe(true);
    expect(serverAllowed(q, "s.example.org")).toBe(false);
    expect(serverAllowed(q, "s12.example.org")).toBe(false);
  });

  it("an empty or missing allow list lets nobody in, the room's own server included", () => {
    expect(serverAllowed(acl({ allow: [] }), "matrix.org")).toBe(false);
    expect(serverAllowed(acl({ deny: ["evil.com"] }), "matrix.org")).toBe(false);
    // A redacted ACL event keeps no content: still an ACL, still nobody.
    expect(serverAllowed(acl({}), "matrix.org")).toBe(false);
  });

  it("`*` alone allows every name, IP literals too unless refused", () => {
    const a = acl({ allow: ["*"] });
    for (const name of ["matrix.org", "localhost:8008", "1.2.3.4", "[::1]:8448"]) expect(serverAllowed(a, name)).toBe(true);
  });

  it("allow_ip_literals false refuses IPv4 and bracketed IPv6 literals, with or without a port", () => {
    const a = acl({ allow_ip_literals: false, allow: ["*"] });
    for (const name of ["1.2.3.4", "1.2.3.4:8448", "[1:2::]", "[::1]:8448", "[2001:db8::1]", "[::ffff:1.2.3.4]:443"]) {
      expect(serverAllowed(a, name), name).toBe(false);
    }
    // Look-alikes that are DNS names stay allowed.
    expect(serverAllowed(a, "1a.2.3.4")).toBe(true);
    expect(serverAllowed(a, "1.2.3.4.example.org")).toBe(true);
  });

  it("allow_ip_literals true (the default) leaves IP literals to the lists; IPv6 hosts keep their brackets", () => {
    const a = acl({ allow: ["*"], deny: ["[::1]", "10.0.0.*"] });
    expect(serverAllowed(a, "[::1]:8448")).toBe(false);
    expect(serverAllowed(a, "[::1]")).toBe(false);
    expect(serverAllowed(a, "[::2]:8448")).toBe(true);
    expect(serverAllowed(a, "10.0.0.7:8448")).toBe(false);
    expect(serverAllowed(a, "10.0.1.7")).toBe(true);
    expect(serverAllowed(acl({ allow: ["1.2.3.4"] }), "1.2.3.4:8448")).toBe(true);
  });

  it("a string that is not a server name is refused when the room has an ACL", () => {
    const a = acl({ allow: ["*"] });
    for (const name of ["", "evil.com:", "evil.com:port", "[::1", "bad_name.org", "1.2.3.256"]) expect(serverAllowed(a, name), name).toBe(false);
    expect(serverAllowed(null, "")).toBe(true);
  });
});
