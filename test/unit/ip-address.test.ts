import { describe, expect, it } from "vitest";
import { cidrContains, embeddedIPv4, formatIpAddress, parseCidr, parseIPv4, parseIPv6, parseIpAddress, refusalReason } from "../../src/ip-address.js";

const v4 = (s: string) => {
  const b = parseIPv4(s);
  return b ? Array.from(b).join(".") : null;
};

describe("parseIPv4 (inet_aton forms)", () => {
  it.each([
    ["127.0.0.1", "127.0.0.1"],
    ["2130706433", "127.0.0.1"],
    ["0x7f000001", "127.0.0.1"],
    ["0x7f.1", "127.0.0.1"],
    ["0177.0.0.1", "127.0.0.1"],
    ["0177.1", "127.0.0.1"],
    ["127.1", "127.0.0.1"],
    ["127.0.1", "127.0.0.1"],
    ["127.000.000.001", "127.0.0.1"],
    ["0x7F.0x0.0x0.0x1", "127.0.0.1"],
    ["017700000001", "127.0.0.1"],
    ["10.0.258", "10.0.1.2"],
    ["169.254.43518", "169.254.169.254"],
    ["0xa9fea9fe", "169.254.169.254"],
    ["0", "0.0.0.0"],
    ["0x", "0.0.0.0"],
    ["1.2.3.4.", "1.2.3.4"],
    ["4294967295", "255.255.255.255"],
  ])("%s is %s", (text, want) => expect(v4(text)).toBe(want));

  it.each(["256.0.0.1", "1.2.3.4.5", "4294967296", "08.0.0.1", "0x1g", "1..2", "", ".", "a.b.c.d", "1.2.3.-4", "1.16777216", "99999999999999999999", " 1.2.3.4x"])(
    "%j is not an IPv4 address",
    (text) => expect(v4(text)).toBeNull(),
  );
});

describe("parseIPv6", () => {
  const hex = (s: string) => {
    const b = parseIPv6(s);
    return b ? formatIpAddress({ version: 6, bytes: b }) : null;
  };
  it.each([
    ["::", "0:0:0:0:0:0:0:0"],
    ["::1", "0:0:0:0:0:0:0:1"],
    ["fe80::1", "fe80:0:0:0:0:0:0:1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8:0:0:1:0:0:1"],
    ["::ffff:127.0.0.1", "0:0:0:0:0:ffff:7f00:1"],
    ["::ffff:7f00:1", "0:0:0:0:0:ffff:7f00:1"],
    ["64:ff9b::10.0.0.1", "64:ff9b:0:0:0:0:a00:1"],
    ["1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"],
    ["::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"],
    ["FD00:EC2::254", "fd00:ec2:0:0:0:0:0:254"],
  ])("%s", (text, want) => expect(hex(text)).toBe(want));

  it.each(["1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", "::ffff:127.1", "::ffff:1.2.3.04", "fe80::1%eth0", ":1", "1:", "g::", "1:2:3:4:5:6:7", "::1.2.3.4:5"])(
    "%j is not an IPv6 address",
    (text) => expect(hex(text)).toBeNull(),
  );
});

describe("parseIpAddress", () => {
  it("takes bracketed IPv6, bare IPv6 and any IPv4 spelling", () => {
    expect(parseIpAddress("[::1]")?.version).toBe(6);
    expect(parseIpAddress("::1")?.version).toBe(6);
    expect(parseIpAddress("0x7f.1")).toEqual({ version: 4, bytes: new Uint8Array([127, 0, 0, 1]) });
    expect(parseIpAddress("example.com")).toBeNull();
    expect(parseIpAddress("[127.0.0.1]")).toBeNull();
  });
});

describe("parseCidr and cidrContains", () => {
  it("parses ranges and single addresses", () => {
    expect(parseCidr("10.0.0.0/8")?.prefix).toBe(8);
    expect(parseCidr("203.0.113.7")?.prefix).toBe(32);
    expect(parseCidr("fc00::/7")?.prefix).toBe(7);
    expect(parseCidr("[2001:db8::1]")?.prefix).toBe(128);
    for (const bad of ["10.0.0.0/33", "::/129", "10.1/8", "10.0.0.0/x", "example.com", "2130706433"]) expect(parseCidr(bad)).toBeNull();
  });

  it("matches by prefix, and IPv4 ranges match the IPv6 forms that carry IPv4", () => {
    const ten = parseCidr("10.0.0.0/8")!;
    expect(cidrContains(ten, parseIpAddress("10.200.1.1")!)).toBe(true);
    expect(cidrContains(ten, parseIpAddress("11.0.0.1")!)).toBe(false);
    expect(cidrContains(ten, parseIpAddress("::ffff:10.0.0.1")!)).toBe(true);
    expect(cidrContains(ten, parseIpAddress("64:ff9b::a00:1")!)).toBe(true);
    expect(cidrContains(ten, parseIpAddress("2002:a00:1::")!)).toBe(true);
    const ula = parseCidr("fc00::/7")!;
    expect(cidrContains(ula, parseIpAddress("fdff::1")!)).toBe(true);
    expect(cidrContains(ula, parseIpAddress("fe00::1")!)).toBe(false);
    expect(cidrContains(ula, parseIpAddress("10.0.0.1")!)).toBe(false);
    expect(cidrContains(parseCidr("172.16.0.0/12")!, parseIpAddress("172.31.255.255")!)).toBe(true);
    expect(cidrContains(parseCidr("172.16.0.0/12")!, parseIpAddress("172.32.0.0")!)).toBe(false);
  });

  it("extracts embedded IPv4 only from translation forms", () => {
    expect(Array.from(embeddedIPv4(parseIPv6("::ffff:1.2.3.4")!)!)).toEqual([1, 2, 3, 4]);
    expect(Array.from(embeddedIPv4(parseIPv6("64:ff9b::1.2.3.4")!)!)).toEqual([1, 2, 3, 4]);
    expect(Array.from(embeddedIPv4(parseIPv6("2002:102:304::1")!)!)).toEqual([1, 2, 3, 4]);
    expect(embeddedIPv4(parseIPv6("2606:4700::1111")!)).toBeNull();
  });
});

describe("refusalReason", () => {
  const reason = (s: string) => {
    const ip = parseIpAddress(s);
    if (!ip) throw new Error(`unparsable ${s}`);
    return refusalReason(ip);
  };

  it.each([
    "0.0.0.0", "0.1.2.3", "10.0.0.1", "10.255.255.255", "100.64.0.1", "100.127.255.255", "100.100.100.200",
    "127.0.0.1", "127.255.255.254", "169.254.0.1", "169.254.169.254", "169.254.170.2", "172.16.0.1", "172.31.255.255",
    "192.0.0.170", "192.0.2.1", "192.88.99.1", "192.168.0.1", "192.168.255.255", "198.18.0.1", "198.19.255.255",
    "198.51.100.1", "203.0.113.1", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255", "168.63.129.16",
    // inet_aton spellings of loopback and metadata
    "2130706433", "0x7f.1", "0177.0.0.1", "127.1", "0xa9fea9fe", "169.254.43518", "0",
  ])("refuses IPv4 %s", (s) => expect(reason(s)).not.toBeNull());

  it.each(["1.1.1.1", "8.8.8.8", "93.184.216.34", "100.63.255.255", "100.128.0.0", "172.15.255.255", "172.32.0.0", "192.169.0.1", "198.20.0.1", "223.255.255.255", "169.253.255.255", "11.0.0.1"])(
    "allows public IPv4 %s",
    (s) => expect(reason(s)).toBeNull(),
  );

  it.each([
    "::", "::1", "::ffff:127.0.0.1", "::ffff:8.8.8.8", "::ffff:0:8.8.8.8", "::127.0.0.1", "::8.8.8.8", "::ffff:a9fe:a9fe",
    "64:ff9b::127.0.0.1", "64:ff9b::10.1.2.3", "64:ff9b::a9fe:a9fe", "64:ff9b:1::8.8.8.8", "2002:7f00:1::", "2002:a00:1::1",
    "fc00::1", "fd00:ec2::254", "fdff:ffff::1", "fe80::1", "febf::1", "fec0::1", "ff02::1", "ff0e::1", "100::1",
    "2001::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001:db8::1", "3fff::1", "4000::1", "e000::1", "1::1",
  ])("refuses IPv6 %s", (s) => expect(reason(s)).not.toBeNull());

  it.each(["2606:4700:4700::1111", "2001:4860:4860::8888", "64:ff9b::8.8.8.8", "2002:808:808::1", "2a00:1450::1"])("allows public IPv6 %s", (s) =>
    expect(reason(s)).toBeNull(),
  );
});
