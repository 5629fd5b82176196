import { describe, expect, it } from "vitest";
import { checkResolved, checkUrl, EMPTY_POLICY, parseHostRules, type PreviewPolicy } from "../../src/url-preview-policy.js";

const policy = (allow = "", deny = ""): PreviewPolicy => ({ allow: parseHostRules(allow), deny: parseHostRules(deny) });

/** The whole decision as the previewer makes it, with a fake DNS. */
function decide(url: string, p: PreviewPolicy = EMPTY_POLICY, dns: Record<string, string[]> = {}): string {
  const v = checkUrl(url, p);
  if (!v.ok) return `refused: ${v.reason}`;
  if (v.address) return "ok";
  const r = checkResolved(v, dns[v.hostname!] ?? [], p);
  return r.ok ? "ok" : `refused: ${r.reason}`;
}

describe("parseHostRules", () => {
  it("reads comma lists and JSON arrays of names, wildcards, addresses and CIDRs", () => {
    const rules = parseHostRules("example.com, *.corp.example ,10.0.0.0/8\n2001:db8::/32 203.0.113.9");
    expect(rules.map((r) => r.kind)).toEqual(["name", "name", "cidr", "cidr", "cidr"]);
    expect(parseHostRules('["Example.COM.", "fd00::/8"]').map((r) => r.text)).toEqual(["Example.COM.", "fd00::/8"]);
    expect(parseHostRules("")).toEqual([]);
    expect(parseHostRules(undefined)).toEqual([]);
  });

  it("throws on malformed entries", () => {
    expect(() => parseHostRules("[1, 2]")).toThrow();
    expect(() => parseHostRules("[oops")).toThrow();
    expect(() => parseHostRules("exa mple.com/x")).toThrow();
    expect(() => parseHostRules("10.0.0.0/40")).toThrow();
  });
});

describe("checkUrl + checkResolved", () => {
  const dns = {
    "public.example": ["93.184.216.34"],
    "dual.example": ["93.184.216.34", "2606:4700::1"],
    "rebind.example": ["93.184.216.34", "127.0.0.1"],
    "internal.example": ["10.1.2.3"],
    "meta.example": ["169.254.169.254"],
    "meta6.example": ["fd00:ec2::254"],
    "mapped.example": ["::ffff:127.0.0.1"],
    "nat64.example": ["64:ff9b::192.168.1.1"],
    "ula.example": ["fd12:3456::1"],
    "ll.example": ["fe80::1"],
    "garbage.example": ["not-an-ip"],
  };

  it.each([
    ["http://public.example/", "ok"],
    ["https://public.example/path?q=1#frag", "ok"],
    ["https://dual.example/", "ok"],
    ["https://PUBLIC.EXAMPLE./", "ok"],
    ["http://93.184.216.34/", "ok"],
    ["http://[2606:4700:4700::1111]/", "ok"],
    ["http://[64:ff9b::8.8.8.8]/", "ok"],
  ])("allows %s", (url, want) => expect(decide(url, EMPTY_POLICY, dns)).toBe(want));

  it.each([
    // literals, in every spelling the URL parser accepts
    "http://127.0.0.1/", "http://2130706433/", "http://0x7f.1/", "http://0177.0.0.1/", "http://127.1/", "http://0x7f000001/",
    "http://017700000001/", "http://127.000.000.001/", "http://0/", "http://0.0.0.0/", "http://10.0.0.1/", "http://172.16.5.4/",
    "http://192.168.1.1/", "http://100.64.0.1/", "http://169.254.169.254/latest/meta-data/", "http://0xa9fea9fe/", "http://169.254.43518/",
    "http://224.0.0.1/", "http://255.255.255.255/", "http://[::1]/", "http://[::]/", "http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/",
    "http://[::127.0.0.1]/", "http://[64:ff9b::10.0.0.1]/", "http://[fd00:ec2::254]/", "http://[fc00::1]/", "http://[fe80::1]/",
    "http://[ff02::1]/", "http://[2002:7f00:1::]/",
    // names that resolve inside
    "http://internal.example/", "http://meta.example/", "http://meta6.example/", "http://mapped.example/", "http://nat64.example/",
    "http://ula.example/", "http://ll.example/", "http://rebind.example/", "http://garbage.example/",
    // names that do not resolve, and loopback names
    "http://unknown.example/", "http://localhost/", "http://foo.localhost/", "http://LOCALHOST./",
    // schemes, ports and credentials
    "ftp://public.example/", "file:///etc/passwd", "javascript:alert(1)", "data:text/html,x", "gopher://public.example/",
    "http://public.example:8080/", "https://public.example:80/", "http://93.184.216.34:22/", "http://user:pw@public.example/",
    "not a url", "/relative/path", "http://[::1%25eth0]/",
  ])("refuses %s", (url) => expect(decide(url, EMPTY_POLICY, dns)).toMatch(/^refused: /));

  it("explicit default ports are the default port", () => {
    expect(decide("http://public.example:80/", EMPTY_POLICY, dns)).toBe("ok");
    expect(decide("https://public.example:443/", EMPTY_POLICY, dns)).toBe("ok");
  });

  it("the allow-list opens private addresses and other ports, by address or by name", () => {
    const p = policy("127.0.0.2, 10.1.0.0/16, intranet.example, *.lab.example");
    expect(decide("http://127.0.0.2:8080/", p)).toBe("ok");
    expect(decide("http://127.0.0.1:8080/", p)).toMatch(/refused/);
    expect(decide("http://127.0.0.1/", p)).toMatch(/refused/);
    expect(decide("http://10.1.2.3/", p)).toBe("ok");
    expect(decide("http://10.2.0.1/", p)).toMatch(/refused/);
    expect(decide("http://intranet.example:3000/", p, { "intranet.example": ["192.168.1.10"] })).toBe("ok");
    expect(decide("http://x.lab.example/", p, { "x.lab.example": ["10.9.9.9"] })).toBe("ok");
    expect(decide("http://lab.example/", p, { "lab.example": ["10.9.9.9"] })).toMatch(/refused/);
    // A name resolving into an allow-listed range is fine; one more answer outside it is not.
    expect(decide("http://svc.example:81/", p, { "svc.example": ["10.1.0.5"] })).toBe("ok");
    expect(decide("http://svc.example/", p, { "svc.example": ["10.1.0.5", "10.3.0.1"] })).toMatch(/refused/);
    expect(decide("http://pub.example:81/", p, { "pub.example": ["93.184.216.34"] })).toMatch(/port/);
    // Allow-listed names still need to resolve.
    expect(decide("http://intranet.example/", p)).toMatch(/does not resolve/);
  });

  it("the deny-list wins over everything, by name, suffix, address or range", () => {
    const p = policy("evil.example, 93.184.216.0/24", "evil.example, *.bad.example, 93.184.216.34, 2606:4700::/32");
    expect(decide("http://evil.example/", p, { "evil.example": ["1.1.1.1"] })).toMatch(/deny-listed/);
    expect(decide("http://www.bad.example/", p, { "www.bad.example": ["1.1.1.1"] })).toMatch(/deny-listed/);
    expect(decide("http://93.184.216.34/", p)).toMatch(/deny-listed/);
    expect(decide("http://[::ffff:93.184.216.34]/", p)).toMatch(/deny-listed/);
    expect(decide("http://public.example/", p, dns)).toMatch(/deny-listed/);
    expect(decide("http://dual.example/", p, dns)).toMatch(/deny-listed/);
    expect(decide("http://[2606:4700::1]/", p)).toMatch(/deny-listed/);
    expect(decide("http://bad.example/", p, { "bad.example": ["1.1.1.1"] })).toBe("ok");
  });
});
