import { describe, expect, it } from "vitest";
import {
  orderSrv,
  parseSrvData,
  parseWellKnownServer,
  resolveServerName,
  wellKnownCacheMs,
  type DiscoveryLookups,
  type SrvTarget,
} from "../../src/server-discovery.js";
import { DnsLookupFailed, DohResolver } from "../../services/net/resolver.js";

/** Fake lookups that record what was asked, so each step's lookups are checked too. */
function lookups(wellKnown: Record<string, string>, srv: Record<string, SrvTarget[]>) {
  const asked: string[] = [];
  const l: DiscoveryLookups = {
    wellKnown: async (h) => {
      asked.push(`wk:${h}`);
      return wellKnown[h] ?? null;
    },
    srv: async (n) => {
      asked.push(`srv:${n}`);
      return srv[n] ?? [];
    },
  };
  return { l, asked };
}

describe("resolveServerName (server-server-api Resolving server names)", () => {
  it("step 1: IP literals are used as they are, port 8448 by default, no lookups", async () => {
    const { l, asked } = lookups({}, {});
    expect(await resolveServerName("1.2.3.4", l)).toEqual({ host: "1.2.3.4", port: 8448, hostHeader: "1.2.3.4", via: "literal" });
    expect(await resolveServerName("[2001:db8::1]:8000", l)).toEqual({
      host: "[2001:db8::1]",
      port: 8000,
      hostHeader: "[2001:db8::1]:8000",
      via: "literal",
    });
    expect(asked).toEqual([]);
  });

  it("step 2: a host name with a port is used directly, no .well-known", async () => {
    const { l, asked } = lookups({ "example.org": "elsewhere.example:443" }, {});
    expect(await resolveServerName("example.org:8009", l)).toEqual({
      host: "example.org",
      port: 8009,
      hostHeader: "example.org:8009",
      via: "explicit-port",
    });
    expect(asked).toEqual([]);
  });

  it("step 3.1/3.2: .well-known delegation to an IP literal or a name with a port", async () => {
    const a = lookups({ "example.org": "matrix.example.org:443" }, {});
    expect(await resolveServerName("example.org", a.l)).toEqual({
      host: "matrix.example.org",
      port: 443,
      hostHeader: "matrix.example.org:443",
      via: "well-known",
    });
    expect(a.asked).toEqual(["wk:example.org"]);
    const b = lookups({ "example.org": "10.0.0.5" }, {});
    expect(await resolveServerName("example.org", b.l)).toMatchObject({ host: "10.0.0.5", port: 8448, hostHeader: "10.0.0.5" });
  });

  it("step 3.3/3.4/3.5: a delegated name without port tries _matrix-fed, then _matrix, then 8448; Host is the delegated name", async () => {
    const fed = lookups({ "example.org": "m.example.net" }, { "_matrix-fed._tcp.m.example.net": [{ target: "srv.example.net.", port: 8443 }] });
    expect(await resolveServerName("example.org", fed.l)).toEqual({ host: "srv.example.net", port: 8443, hostHeader: "m.example.net", via: "srv" });
    expect(fed.asked).toEqual(["wk:example.org", "srv:_matrix-fed._tcp.m.example.net"]);
    const legacy = lookups({ "example.org": "m.example.net" }, { "_matrix._tcp.m.example.net": [{ target: "old.example.net", port: 9000 }] });
    expect(await resolveServerName("example.org", legacy.l)).toMatchObject({ host: "old.example.net", port: 9000 });
    expect(legacy.asked).toEqual(["wk:example.org", "srv:_matrix-fed._tcp.m.example.net", "srv:_matrix._tcp.m.example.net"]);
    const none = lookups({ "example.org": "m.example.net" }, {});
    expect(await resolveServerName("example.org", none.l)).toEqual({ host: "m.example.net", port: 8448, hostHeader: "m.example.net", via: "well-known" });
  });

  it("steps 4–6: without .well-known, SRV for the server name itself, then the name on 8448", async () => {
    const fed = lookups({}, { "_matrix-fed._tcp.example.org": [{ target: "fed.example.org", port: 443 }] });
    expect(await resolveServerName("example.org", fed.l)).toEqual({ host: "fed.example.org", port: 443, hostHeader: "example.org", via: "srv" });
    const plain = lookups({}, {});
    expect(await resolveServerName("example.org", plain.l)).toEqual({ host: "example.org", port: 8448, hostHeader: "example.org", via: "default-port" });
    expect(plain.asked).toEqual(["wk:example.org", "srv:_matrix-fed._tcp.example.org", "srv:_matrix._tcp.example.org"]);
  });

  it("an SRV answer of '.' means no service: the deprecated record is not consulted", async () => {
    const { l, asked } = lookups({}, { "_matrix-fed._tcp.example.org": [{ target: ".", port: 0 }], "_matrix._tcp.example.org": [{ target: "x.example", port: 1 }] });
    expect(await resolveServerName("example.org", l)).toMatchObject({ host: "example.org", port: 8448 });
    expect(asked).not.toContain("srv:_matrix._tcp.example.org");
  });

  it("refuses what is not a server name", async () => {
    const { l } = lookups({}, {});
    for (const bad of ["", "exa mple.org", "example.org:99999", "1.2.3.256", "[::1", "a/b"]) expect(await resolveServerName(bad, l)).toBeNull();
  });
});

describe(".well-known/matrix/server bodies and caching", () => {
  it("accepts a valid m.server only", () => {
    expect(parseWellKnownServer({ "m.server": "matrix.example.org:443" })).toBe("matrix.example.org:443");
    for (const bad of [null, [], "x", {}, { "m.server": 1 }, { "m.server": "bad host:1" }, { "m.server": "h:port" }]) {
      expect(parseWellKnownServer(bad)).toBeNull();
    }
  });

  it("honours max-age within 48 h, defaults to 24 h, errors 1 h, no-store not at all", () => {
    const H = 3_600_000;
    expect(wellKnownCacheMs(null, true)).toBe(24 * H);
    expect(wellKnownCacheMs("public, max-age=600", true)).toBe(600_000);
    expect(wellKnownCacheMs("max-age=9999999", true)).toBe(48 * H);
    expect(wellKnownCacheMs("no-store", true)).toBe(0);
    expect(wellKnownCacheMs("max-age=600", false)).toBe(H);
  });
});

describe("SRV answers from DNS-over-HTTPS", () => {
  it("parses data fields and orders by priority then weight", () => {
    const parsed = ["10 5 8448 b.example.", "5 0 443 a.example.", "10 50 8449 c.example.", "garbage", "1 2 70000 x."].map(parseSrvData);
    expect(parsed[3]).toBeNull();
    expect(parsed[4]).toBeNull();
    expect(orderSrv(parsed.filter((p) => p !== null))).toEqual([
      { target: "a.example.", port: 443 },
      { target: "c.example.", port: 8449 },
      { target: "b.example.", port: 8448 },
    ]);
  });
});

describe("DohResolver.srv", () => {
  const answer = (body: object, status = 200) => async () => new Response(JSON.stringify(body), { status });
  it("orders answers, returns [] for NXDOMAIN, and throws on a failed lookup (so no fallback gets cached for a day)", async () => {
    const ok = new DohResolver("https://doh.test/dns-query", answer({ Status: 0, Answer: [{ type: 33, data: "10 0 8448 b.example." }, { type: 33, data: "5 0 443 a.example." }] }));
    expect(await ok.srv("_matrix-fed._tcp.example.org")).toEqual([
      { target: "a.example.", port: 443 },
      { target: "b.example.", port: 8448 },
    ]);
    expect(await new DohResolver("https://doh.test/dns-query", answer({ Status: 3 })).srv("x")).toEqual([]);
    await expect(new DohResolver("https://doh.test/dns-query", answer({ Status: 2 })).srv("x")).rejects.toBeInstanceOf(DnsLookupFailed);
    await expect(new DohResolver("https://doh.test/dns-query", answer({}, 503)).srv("x")).rejects.toBeInstanceOf(DnsLookupFailed);
    const down = new DohResolver("https://doh.test/dns-query", async () => {
      throw new TypeError("network down");
    });
    await expect(down.srv("x")).rejects.toBeInstanceOf(DnsLookupFailed);
    expect(await new DohResolver("", answer({ Status: 0 })).srv("x")).toEqual([]);
  });
});
