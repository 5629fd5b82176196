import { createPublicKey, verify } from "node:crypto";
import { describe, expect, it } from "vitest";
import { decodeBase64, encodeBase64 } from "../../src/base64.js";
import { signingKeyFromSeed } from "../../src/signing.js";
import {
  formatXMatrixAuthorization,
  parseXMatrixAuthorization,
  requestSigningJson,
  signRequest,
  verifyRequestSignature,
} from "../../src/x-matrix.js";

// The appendix's test-vector seed (appendices "Cryptographic Test Vectors").
const KEY = signingKeyFromSeed(decodeBase64("YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"), "1");

describe("parseXMatrixAuthorization (server-server-api Request Authentication, RFC 9110 §11.4)", () => {
  it("reads the spec's example", () => {
    expect(
      parseXMatrixAuthorization(
        'X-Matrix origin="origin.hs.example.com",destination="destination.hs.example.com",key="ed25519:key1",sig="ABCDEF..."',
      ),
    ).toEqual([{ origin: "origin.hs.example.com", destination: "destination.hs.example.com", key: "ed25519:key1", sig: "ABCDEF..." }]);
  });

  it("accepts any parameter order, case-insensitive names and scheme, spaces and tabs around commas", () => {
    expect(parseXMatrixAuthorization('x-matrix   SIG="s" ,\tKey="ed25519:a" , Origin="o.example"')).toEqual([
      { origin: "o.example", key: "ed25519:a", sig: "s" },
    ]);
  });

  it("accepts unquoted tokens, and unquoted colons for older servers", () => {
    expect(parseXMatrixAuthorization("X-Matrix origin=o.example:8448,key=ed25519:a,sig=abc+/de")).toEqual([
      { origin: "o.example:8448", key: "ed25519:a", sig: "abc+/de" },
    ]);
  });

  it("unescapes backslash pairs in quoted values", () => {
    expect(parseXMatrixAuthorization('X-Matrix origin="o\\.ex\\"ample",key="ed25519:a",sig="x\\\\y"')).toEqual([
      { origin: 'o.ex"ample', key: "ed25519:a", sig: "x\\y" },
    ]);
  });

  it("ignores unknown parameters and keeps an absent destination absent (pre-v1.3 senders)", () => {
    const [c] = parseXMatrixAuthorization('X-Matrix origin="o",key="ed25519:a",sig="s",future="x"');
    expect(c).toEqual({ origin: "o", key: "ed25519:a", sig: "s" });
    expect(c && "destination" in c).toBe(false);
  });

  it("finds every X-Matrix credential in joined headers and skips other schemes", () => {
    const header = 'Bearer abc123, X-Matrix origin="o",key="ed25519:a",sig="s1", X-Matrix origin="o",key="ed25519:b",sig="s2"';
    expect(parseXMatrixAuthorization(header).map((c) => c.key)).toEqual(["ed25519:a", "ed25519:b"]);
  });

  it.each([
    ["", "empty"],
    ["Bearer abc", "another scheme"],
    ['X-Matrix key="ed25519:a",sig="s"', "no origin"],
    ['X-Matrix origin="o",sig="s"', "no key"],
    ['X-Matrix origin="o",key="ed25519:a"', "no sig"],
    ['X-Matrix origin="o",origin="p",key="ed25519:a",sig="s"', "a repeated parameter"],
    ['X-Matrix origin="o,key="ed25519:a",sig="s', "an unterminated quote"],
    ['X-Matrix origin=o"x",key="ed25519:a",sig="s"', "a quote inside a token"],
    ['X-Matrix origin="",key="ed25519:a",sig="s"', "an empty origin"],
    ['origin="o",key="ed25519:a",sig="s"', "no scheme"],
  ])("%j yields nothing (%s)", (header) => {
    expect(parseXMatrixAuthorization(header)).toEqual([]);
  });

  it("round-trips what formatXMatrixAuthorization writes, in the form older servers read", () => {
    const c = { origin: "[::1]:8448", destination: "d.example", key: "ed25519:k", sig: "a+b/c" };
    const header = formatXMatrixAuthorization(c);
    expect(header).toBe('X-Matrix origin="[::1]:8448",destination="d.example",key="ed25519:k",sig="a+b/c"');
    expect(parseXMatrixAuthorization(header)).toEqual([c]);
  });
});

describe("request signing", () => {
  const request = { method: "GET", uri: "/_matrix/federation/v1/media/download/abc?timeout_ms=5", origin: "origin.example", destination: "dest.example" };

  it("covers method, uri, origin, destination and content only when there is one", () => {
    expect(requestSigningJson(request)).toEqual({ method: "GET", uri: request.uri, origin: "origin.example", destination: "dest.example" });
    expect(requestSigningJson({ ...request, method: "PUT", content: {} })).toHaveProperty("content", {});
  });

  it("signs so that an independent ed25519 implementation verifies the canonical JSON", () => {
    const header = signRequest(request, KEY.keyId, KEY.seed);
    const [cred] = parseXMatrixAuthorization(header);
    expect(cred).toMatchObject({ origin: "origin.example", destination: "dest.example", key: "ed25519:1" });
    const canonical = `{"destination":"dest.example","method":"GET","origin":"origin.example","uri":"${request.uri}"}`;
    const spki = Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), Buffer.from(KEY.publicKey)]);
    const publicKey = createPublicKey({ key: spki, format: "der", type: "spki" });
    expect(verify(null, Buffer.from(canonical), publicKey, Buffer.from(decodeBase64(cred?.sig ?? "")))).toBe(true);
  });

  it("verifies its own signature and refuses any change to what was signed", () => {
    const content = { pdus: [], origin: "origin.example" };
    const header = signRequest({ ...request, method: "PUT", content }, KEY.keyId, KEY.seed);
    const [cred] = parseXMatrixAuthorization(header);
    if (!cred) throw new Error("no credentials");
    const base = { method: "PUT", uri: request.uri, destination: "dest.example", content };
    expect(verifyRequestSignature(base, cred, KEY.publicKeyBase64)).toBe(true);
    expect(verifyRequestSignature({ ...base, method: "POST" }, cred, KEY.publicKeyBase64)).toBe(false);
    expect(verifyRequestSignature({ ...base, uri: `${request.uri}0` }, cred, KEY.publicKeyBase64)).toBe(false);
    expect(verifyRequestSignature({ ...base, destination: "other.example" }, cred, KEY.publicKeyBase64)).toBe(false);
    expect(verifyRequestSignature({ ...base, content: { ...content, pdus: [{}] } }, cred, KEY.publicKeyBase64)).toBe(false);
    expect(verifyRequestSignature({ ...base, content: undefined }, cred, KEY.publicKeyBase64)).toBe(false);
    expect(verifyRequestSignature(base, { ...cred, origin: "evil.example" }, KEY.publicKeyBase64)).toBe(false);
    const other = signingKeyFromSeed(new Uint8Array(32).fill(7), "1");
    expect(verifyRequestSignature(base, cred, other.publicKeyBase64)).toBe(false);
    expect(verifyRequestSignature(base, { ...cred, sig: "not base64!" }, KEY.publicKeyBase64)).toBe(false);
    expect(verifyRequestSignature(base, { ...cred, sig: encodeBase64(new Uint8Array(64)) }, KEY.publicKeyBase64)).toBe(false);
  });
});
