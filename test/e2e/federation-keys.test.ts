/**
 * X-Matrix authentication with other servers' keys fetched over real HTTP on
 * loopback, against the real server in workerd:
 *
 * - `hs1`: a second instance of this server, with a known SIGNING_KEY, whose
 *   /_matrix/key/v2/server the server under test must fetch and check;
 * - fake homeservers on 127.0.0.5 whose key answers are good, misnamed,
 *   badly signed or rotating (to see every refusal and the caching);
 * - a fake on 127.0.0.7 that is NOT allow-listed: it must never be asked.
 *
 * Federation normally needs TLS and public addresses; FEDERATION_PLAINTEXT and
 * FEDERATION_ALLOW let the server under test reach these loopback servers, and
 * FEDERATION_DOH_URL is empty, so nothing here leaves 127.0.0.0/8.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { encodeBase64 } from "../../src/base64.js";
import { formatSigningKey, signJson, signingKeyFromSeed, type SigningKey } from "../../src/signing.js";
import { signRequest } from "../../src/x-matrix.js";
import { boundaryOf, parseMultipart } from "../fixtures/multipart.js";
import { freePort, startServer, type TestServer } from "./server.mjs";

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function listen(host: string, handler: Handler): Promise<Server> {
  const srv = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    srv.once("error", reject);
    srv.listen(0, host, () => resolve());
  });
  return srv;
}
const portOf = (s: Server) => (s.address() as AddressInfo).port;
const close = (s: Server) => new Promise<void>((r) => s.close(() => r()));
const key = (fill: number, version: string) => signingKeyFromSeed(new Uint8Array(32).fill(fill), version);

type Mode = "good" | "misnamed" | "badly-signed" | "error" | "huge";

/** A fake homeserver that only publishes keys; `keys` and `mode` can change between tests. */
class FakeRemote {
  hits: string[] = [];
  keys: SigningKey[];
  mode: Mode = "good";
  server!: Server;
  constructor(
    private readonly host: string,
    first: SigningKey,
  ) {
    this.keys = [first];
  }
  get name() {
    return `${this.host}:${portOf(this.server)}`;
  }
  async start() {
    this.server = await listen(this.host, (req, res) => {
      this.hits.push(req.url ?? "");
      if (req.url !== "/_matrix/key/v2/server" || this.mode === "error") return void res.writeHead(500).end("{}");
      if (this.mode === "huge") {
        // 1 MiB, chunked (no Content-Length): the reader must stop at its cap, not buffer it all.
        res.writeHead(200, { "content-type": "application/json" });
        res.write(`{"pad":"`);
        for (let i = 0; i < 64; i++) res.write("x".repeat(16 * 1024));
        return void res.end(`"}`);
      }
      let body: object = {
        server_name: this.mode === "misnamed" ? "someone-else.example" : this.name,
        valid_until_ts: Date.now() + 3_600_000,
        verify_keys: Object.fromEntries(this.keys.map((k) => [k.keyId, { key: k.publicKeyBase64 }])),
        old_verify_keys: {},
      };
      for (const k of this.keys) body = signJson(body, this.name, k.keyId, k.seed);
      if (this.mode === "badly-signed") {
        const sigs = (body as { signatures: Record<string, Record<string, string>> }).signatures[this.name]!;
        for (const id of Object.keys(sigs)) sigs[id] = encodeBase64(new Uint8Array(64).fill(9));
      }
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
    });
    return this;
  }
}

const HS1_KEY = key(11, "hs1");
const REFETCH_MS = 1500;
let hs1: TestServer;
let hs: TestServer;
let hs1Name: string;
let good: FakeRemote;
let misnamed: FakeRemote;
let forged: FakeRemote;
let broken: FakeRemote;
let huge: FakeRemote;
let outside: FakeRemote;
let mediaId: string;

beforeAll(async () => {
  good = await new FakeRemote("127.0.0.5", key(1, "a")).start();
  misnamed = await new FakeRemote("127.0.0.5", key(2, "a")).start();
  misnamed.mode = "misnamed";
  forged = await new FakeRemote("127.0.0.5", key(5, "a")).start();
  forged.mode = "badly-signed";
  broken = await new FakeRemote("127.0.0.5", key(6, "a")).start();
  broken.mode = "error";
  huge = await new FakeRemote("127.0.0.5", key(7, "a")).start();
  huge.mode = "huge";
  outside = await new FakeRemote("127.0.0.7", key(3, "a")).start();

  const port1 = await freePort();
  hs1Name = `127.0.0.1:${port1}`;
  hs1 = await startServer({ port: port1, serverName: hs1Name, vars: { SIGNING_KEY: formatSigningKey(HS1_KEY) } });
  hs = await startServer({
    vars: {
      FEDERATION_ALLOW: "127.0.0.1, 127.0.0.5",
      FEDERATION_PLAINTEXT: [hs1Name, good.name, misnamed.name, forged.name, broken.name, huge.name, outside.name].join(","),
      FEDERATION_TIMEOUT_MS: "5000",
      FEDERATION_KEY_REFETCH_MS: String(REFETCH_MS),
    },
  });
  const reg = await register(hs.baseUrl);
  const up = await fetch(`${hs.baseUrl}/_matrix/media/v3/upload?filename=hello.txt`, {
    method: "POST",
    headers: { authorization: `Bearer ${reg}`, "content-type": "text/plain" },
    body: "hello from the server under test",
  });
  mediaId = ((await up.json()) as { content_uri: string }).content_uri.split("/").pop()!;
}, 120_000);

afterAll(async () => {
  await Promise.all([hs?.stop(), hs1?.stop()]);
  await Promise.all([good, misnamed, forged, broken, huge, outside].filter(Boolean).map((f) => close(f.server)));
});

beforeEach(() => {
  for (const f of [good, misnamed, forged, broken, huge, outside]) f.hits.length = 0;
});

async function register(baseUrl: string): Promise<string> {
  const body = { username: `fed${Date.now().toString(36)}`, password: "correct horse battery staple" };
  const first = await fetch(`${baseUrl}/_matrix/client/v3/register`, { method: "POST", body: JSON.stringify(body) });
  const { session } = (await first.json()) as { session: string };
  const done = await fetch(`${baseUrl}/_matrix/client/v3/register`, { method: "POST", body: JSON.stringify({ ...body, auth: { type: "m.login.dummy", session } }) });
  return ((await done.json()) as { access_token: string }).access_token;
}

/** Downloads our media over federation, signed as `origin` with `k`. */
async function download(origin: string, k: SigningKey): Promise<Response> {
  const uri = `/_matrix/federation/v1/media/download/${mediaId}`;
  const authorization = signRequest({ method: "GET", uri, origin, destination: hs.serverName }, k.keyId, k.seed);
  return fetch(`${hs.baseUrl}${uri}`, { headers: { authorization } });
}

async function expectUnauthorized(res: Response): Promise<string> {
  expect(res.status).toBe(401);
  const body = (await res.json()) as { errcode: string; error: string };
  expect(body.errcode).toBe("M_UNAUTHORIZED");
  return body.error;
}

describe("keys of another instance of this server", () => {
  it("fetches hs1's published keys and accepts a request hs1 signed", async () => {
    const res = await download(hs1Name, HS1_KEY);
    expect(res.status).toBe(200);
    const parts = parseMultipart(new Uint8Array(await res.arrayBuffer()), boundaryOf(res.headers.get("content-type")));
    expect(new TextDecoder().decode(parts[1]!.body)).toBe("hello from the server under test");
  });

  it("refuses a request signed with another key under hs1's key id", async () => {
    await expectUnauthorized(await download(hs1Name, signingKeyFromSeed(new Uint8Array(32).fill(99), "hs1")));
  });

  it("serves hs1's self-signed keys as a notary, countersigned", async () => {
    const res = await fetch(`${hs.baseUrl}/_matrix/key/v2/query/${hs1Name}`);
    expect(res.status).toBe(200);
    const { server_keys } = (await res.json()) as { server_keys: { server_name: string; verify_keys: object; signatures: Record<string, object> }[] };
    expect(server_keys).toHaveLength(1);
    expect(server_keys[0]!.server_name).toBe(hs1Name);
    expect(server_keys[0]!.verify_keys).toEqual({ [HS1_KEY.keyId]: { key: HS1_KEY.publicKeyBase64 } });
    expect(Object.keys(server_keys[0]!.signatures).sort()).toEqual([hs1Name, hs.serverName].sort());
  });
});

describe("keys of fake remote servers", () => {
  it("fetches keys once, then answers from its cache", async () => {
    expect((await download(good.name, good.keys[0]!)).status).toBe(200);
    expect(good.hits).toEqual(["/_matrix/key/v2/server"]);
    for (let i = 0; i < 3; i++) expect((await download(good.name, good.keys[0]!)).status).toBe(200);
    expect(good.hits).toHaveLength(1);
  });

  it("fetches again for a key it has not seen (rotation), but not more than once per FEDERATION_KEY_REFETCH_MS", async () => {
    const next = key(4, "b");
    good.keys = [good.keys[0]!, next];
    // Just fetched: a request naming an unknown key id does not make the server ask again.
    expect(await expectUnauthorized(await download(good.name, next))).toMatch(/fetched less than/);
    expect(good.hits).toEqual([]);
    await new Promise((r) => setTimeout(r, REFETCH_MS + 200));
    expect((await download(good.name, next)).status).toBe(200);
    expect(good.hits).toEqual(["/_matrix/key/v2/server"]);
    // Random key ids right after cannot force more fetches.
    for (let i = 0; i < 3; i++) await expectUnauthorized(await download(good.name, key(20 + i, `r${i}`)));
    expect(good.hits).toHaveLength(1);
  });

  it("refuses an origin whose key answer names another server, and backs off from asking again", async () => {
    expect(await expectUnauthorized(await download(misnamed.name, misnamed.keys[0]!))).toMatch(/someone-else\.example/);
    expect(await expectUnauthorized(await download(misnamed.name, misnamed.keys[0]!))).toMatch(/someone-else\.example/);
    expect(misnamed.hits).toEqual(["/_matrix/key/v2/server"]);
  });

  it("refuses keys whose self-signatures do not verify, and servers that fail to answer", async () => {
    expect(await expectUnauthorized(await download(forged.name, forged.keys[0]!))).toMatch(/not self-signed/);
    expect(forged.hits).toEqual(["/_matrix/key/v2/server"]);
    expect(await expectUnauthorized(await download(broken.name, broken.keys[0]!))).toMatch(/answered 500/);
    expect(broken.hits).toEqual(["/_matrix/key/v2/server"]);
    expect(await expectUnauthorized(await download(huge.name, huge.keys[0]!))).toMatch(/too large/);
  });

  it("never asks a server outside the allow-list (no request reaches it)", async () => {
    expect(await expectUnauthorized(await download(outside.name, outside.keys[0]!))).toMatch(/127\.0\.0\.7/);
    expect(outside.hits).toEqual([]);
  });
});
