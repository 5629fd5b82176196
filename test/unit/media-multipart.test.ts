import { describe, expect, it } from "vitest";
import { federationMultipart, newBoundary } from "../../r2/multipart.js";
import { parseMultipart } from "../fixtures/multipart.js";

describe("federationMultipart", () => {
  it("puts the JSON metadata first and the media second, with its headers", async () => {
    const bytes = Uint8Array.from({ length: 3000 }, (_, i) => i % 256);
    const media = new Response(bytes, { headers: { "Content-Type": "image/png", "Content-Disposition": "inline; filename=cat.png", "Content-Length": "3000", "Cache-Control": "x" } });
    const res = federationMultipart(media, {}, "b0undary");
    expect(res.headers.get("content-type")).toBe("multipart/mixed; boundary=b0undary");
    const body = new Uint8Array(await res.arrayBuffer());
    expect(Number(res.headers.get("content-length"))).toBe(body.byteLength);
    const parts = parseMultipart(body, "b0undary");
    expect(parts).toHaveLength(2);
    expect(parts[0]!.headers).toEqual({ "content-type": "application/json" });
    expect(JSON.parse(new TextDecoder().decode(parts[0]!.body))).toEqual({});
    expect(parts[1]!.headers).toEqual({ "content-type": "image/png", "content-disposition": "inline; filename=cat.png" });
    expect(parts[1]!.body).toEqual(bytes);
  });

  it("streams a body of unknown length", async () => {
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode("hello "));
        c.enqueue(new TextEncoder().encode("world"));
        c.close();
      },
    });
    const res = federationMultipart(new Response(stream, { headers: { "Content-Type": "text/plain" } }), { note: 1 });
    expect(res.headers.get("content-length")).toBeNull();
    const boundary = /boundary=(\w+)/.exec(res.headers.get("content-type")!)![1]!;
    const parts = parseMultipart(new Uint8Array(await res.arrayBuffer()), boundary);
    expect(new TextDecoder().decode(parts[0]!.body)).toBe('{"note":1}');
    expect(new TextDecoder().decode(parts[1]!.body)).toBe("hello world");
  });

  it("makes unguessable boundaries", () => {
    expect(newBoundary()).toMatch(/^[0-9a-f]{32}$/);
    expect(newBoundary()).not.toBe(newBoundary());
  });
});
