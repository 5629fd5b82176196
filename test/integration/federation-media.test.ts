/**
 * Federation media endpoints (server-server-api "Content Repository") behind
 * X-Matrix request authentication. Requests are signed with this server's own
 * key (origin = our server name), so every signature check runs for real
 * without another server; fetching other servers' keys is covered end to end
 * in test/e2e/federation-keys.test.ts.
 */
import { PhotonImage } from "@cf-wasm/photon";
import { env as workerEnv } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { quarantineMedia } from "../../r2/media-store.js";
import { decodeBase64 } from "../../src/base64.js";
import { signRequest } from "../../src/x-matrix.js";
import type { Env } from "../../services/env.js";
import { boundaryOf, parseMultipart } from "../fixtures/multipart.js";
import { call, callJson, registerUser, type TestUser } from "./helpers.js";

const env = workerEnv as unknown as Env;
const SERVER = "localhost:8008";
let user: TestUser;
let key: { keyId: string; seed: Uint8Array };
let pngId: string;
let png: Uint8Array;
let textId: string;

async function upload(body: Uint8Array, contentType: string, filename?: string): Promise<string> {
  const q = filename ? `?filename=${encodeURIComponent(filename)}` : "";
  const r = await callJson<{ content_uri: string }>(`/_matrix/media/v3/upload${q}`, { method: "POST", token: user.accessToken, body, headers: { "Content-Type": contentType } });
  expect(r.status).toBe(200);
  return r.body.content_uri.split("/").pop()!;
}

interface SignOpts {
  origin?: string;
  destination?: string | null;
  keyId?: string;
  signedUri?: string;
  method?: string;
}

/** GET `uri` signed as `origin` (default: this server, with its real key). */
function fedGet(uri: string, o: SignOpts = {}): Promise<Response> {
  const origin = o.origin ?? SERVER;
  let header = signRequest(
    { method: o.method ?? "GET", uri: o.signedUri ?? uri, origin, destination: o.destination ?? SERVER },
    o.keyId ?? key.keyId,
    key.seed,
  );
  if (o.destination === null) header = header.replace(/destination="[^"]*",/, "");
  return call(uri, { headers: { Authorization: header } });
}

async function parts(res: Response) {
  expect(res.status).toBe(200);
  return parseMultipart(new Uint8Array(await res.arrayBuffer()), boundaryOf(res.headers.get("content-type")));
}

beforeAll(async () => {
  user = await registerUser();
  // The signing key is made on first use; publishing it is one.
  expect((await call("/_matrix/key/v2/server")).status).toBe(200);
  const row = await env.DB.prepare("SELECT key_id, seed FROM server_signing_keys WHERE expired_ts IS NULL").first<{ key_id: string; seed: string }>();
  key = { keyId: row!.key_id, seed: decodeBase64(row!.seed) };
  const rgba = Uint8Array.from({ length: 200 * 100 * 4 }, (_, i) => (i % 4 === 3 ? 255 : (i * 7) & 255));
  const img = new PhotonImage(rgba, 200, 100);
  png = img.get_bytes();
  img.free();
  pngId = await upload(png, "image/png", "grad.png");
  textId = await upload(new TextEncoder().encode("hello federation"), "text/plain", "note.txt");
}, 60_000);

describe("GET /_matrix/federation/v1/media/download/{mediaId}", () => {
  it("answers multipart/mixed: an empty JSON object, then the bytes with their type and disposition", async () => {
    const res = await fedGet(`/_matrix/federation/v1/media/download/${pngId}`);
    const [meta, media] = await parts(res);
    expect(meta!.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(new TextDecoder().decode(meta!.body))).toEqual({});
    expect(media!.headers["content-type"]).toBe("image/png");
    expect(media!.headers["content-disposition"]).toBe("inline; filename=grad.png");
    expect(media!.body).toEqual(png);
  });

  it("serves media uploaded after the legacy freeze (federation is not the unauthenticated API) and ignores Range", async () => {
    const header = signRequest({ method: "GET", uri: `/_matrix/federation/v1/media/download/${textId}`, origin: SERVER, destination: SERVER }, key.keyId, key.seed);
    const res = await call(`/_matrix/federation/v1/media/download/${textId}`, { headers: { Authorization: header, Range: "bytes=0-1" } });
    const [, media] = await parts(res);
    expect(new TextDecoder().decode(media!.body)).toBe("hello federation");
    expect(media!.headers["content-disposition"]).toBe("inline; filename=note.txt");
    // The legacy endpoint has it frozen (MEDIA_FREEZE_TS = 0).
    expect((await callJson(`/_matrix/media/v3/download/${SERVER}/${textId}`)).status).toBe(404);
  });

  it("accepts a request without the destination parameter (senders older than v1.3)", async () => {
    const res = await fedGet(`/_matrix/federation/v1/media/download/${textId}`, { destination: null });
    expect(res.status).toBe(200);
    await res.body?.cancel();
  });

  it("M_NOT_FOUND for unknown, malformed and quarantined ids; 504 M_NOT_YET_UPLOADED for a pending one", async () => {
    for (const id of ["nosuchmedia", "bad%20id"]) {
      const r = await fedGet(`/_matrix/federation/v1/media/download/${id}`);
      expect(r.status).toBe(404);
      expect(await r.json()).toMatchObject({ errcode: "M_NOT_FOUND" });
    }
    const quarantined = await upload(new Uint8Array([1, 2, 3]), "application/octet-stream");
    await quarantineMedia(env.DB, quarantined, "@admin:localhost:8008");
    const q = await fedGet(`/_matrix/federation/v1/media/download/${quarantined}`);
    expect(q.status).toBe(404);
    expect(await q.json()).toMatchObject({ errcode: "M_NOT_FOUND" });
    const created = await callJson<{ content_uri: string }>("/_matrix/media/v1/create", { method: "POST", token: user.accessToken, json: {} });
    const pending = created.body.content_uri.split("/").pop();
    const p = await fedGet(`/_matrix/federation/v1/media/download/${pending}?timeout_ms=0`);
    expect(p.status).toBe(504);
    expect(await p.json()).toMatchObject({ errcode: "M_NOT_YET_UPLOADED" });
  });
});

describe("GET /_matrix/federation/v1/media/thumbnail/{mediaId}", () => {
  it("answers multipart/mixed with a thumbnail of the requested size", async () => {
    const [meta, thumb] = await parts(await fedGet(`/_matrix/federation/v1/media/thumbnail/${pngId}?width=32&height=32&method=crop`));
    expect(JSON.parse(new TextDecoder().decode(meta!.body))).toEqual({});
    expect(thumb!.headers["content-type"]).toMatch(/^image\/(png|jpeg)$/);
    const img = PhotonImage.new_from_byteslice(thumb!.body);
    expect([img.get_width(), img.get_height()]).toEqual([32, 32]);
    img.free();
  });

  it("gives the same thumbnail as the client endpoint for the same query", async () => {
    const q = "width=96&height=96&method=scale";
    const [, thumb] = await parts(await fedGet(`/_matrix/federation/v1/media/thumbnail/${pngId}?${q}`));
    const client = await call(`/_matrix/client/v1/media/thumbnail/${SERVER}/${pngId}?${q}`, { token: user.accessToken });
    expect(client.status).toBe(200);
    expect(thumb!.headers["content-type"]).toBe(client.headers.get("content-type"));
    expect(thumb!.body).toEqual(new Uint8Array(await client.arrayBuffer()));
  });

  it("refuses bad parameters with the spec's errors", async () => {
    const missing = await fedGet(`/_matrix/federation/v1/media/thumbnail/${pngId}?height=32`);
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ errcode: "M_MISSING_PARAM" });
    const method = await fedGet(`/_matrix/federation/v1/media/thumbnail/${pngId}?width=32&height=32&method=stretch`);
    expect(method.status).toBe(400);
    expect(await method.json()).toMatchObject({ errcode: "M_INVALID_PARAM" });
  });
});

describe("X-Matrix request authentication", () => {
  const path = () => `/_matrix/federation/v1/media/download/${textId}`;
  const expectUnauthorized = async (res: Response, message?: RegExp) => {
    expect(res.status).toBe(401);
    const body = (await res.json()) as { errcode: string; error: string };
    expect(body.errcode).toBe("M_UNAUTHORIZED");
    if (message) expect(body.error).toMatch(message);
  };

  it("refuses requests without X-Matrix credentials, or with an access token instead", async () => {
    await expectUnauthorized(await call(path()), /Missing/);
    await expectUnauthorized(await call(path(), { token: user.accessToken }), /Malformed/);
    await expectUnauthorized(await call(path(), { headers: { Authorization: "X-Matrix origin=x" } }), /Malformed/);
  });

  it("refuses a signature over another request: other path, query, method or destination", async () => {
    await expectUnauthorized(await fedGet(path(), { signedUri: `/_matrix/federation/v1/media/download/${pngId}` }), /does not verify/);
    await expectUnauthorized(await fedGet(`${path()}?timeout_ms=5`, { signedUri: `${path()}?timeout_ms=6` }));
    await expectUnauthorized(await fedGet(path(), { method: "POST" }));
    const header = signRequest({ method: "GET", uri: path(), origin: SERVER, destination: "other.example" }, key.keyId, key.seed);
    await expectUnauthorized(await call(path(), { headers: { Authorization: header } }), /addressed to other.example/);
  });

  it("refuses a forged or mangled signature", async () => {
    const good = signRequest({ method: "GET", uri: path(), origin: SERVER, destination: SERVER }, key.keyId, key.seed);
    const sig = /sig="([^"]+)"/.exec(good)![1]!;
    const flipped = (sig[0] === "A" ? "B" : "A") + sig.slice(1);
    await expectUnauthorized(await call(path(), { headers: { Authorization: good.replace(sig, flipped) } }));
    await expectUnauthorized(await call(path(), { headers: { Authorization: good.replace(sig, "not base64!") } }), /Malformed|does not verify/);
  });

  it("refuses keys the origin does not have, invalid origins and origins whose keys cannot be fetched", async () => {
    await expectUnauthorized(await fedGet(path(), { keyId: "ed25519:nope" }), /ed25519:nope/);
    // An origin that is no server name is a malformed header: 400 M_UNAUTHORIZED, as Synapse (Sytest's "Non-numeric ports").
    const bad = await fedGet(path(), { origin: "bad origin!" });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ errcode: "M_UNAUTHORIZED", error: expect.stringMatching(/not a valid server name/) });
    const nonNumericPort = await fedGet(path(), { origin: "localhost:http" });
    expect(nonNumericPort.status).toBe(400);
    // No DNS in tests (FEDERATION_DOH_URL empty): the name cannot be resolved, so its keys cannot be fetched.
    await expectUnauthorized(await fedGet(path(), { origin: "unreachable.example" }), /unreachable\.example/);
    // Loopback is refused as a federation target unless allow-listed.
    await expectUnauthorized(await fedGet(path(), { origin: "127.0.0.1:8448" }), /loopback|not public|127\.0\.0\.1/);
  });

  it("accepts one valid credential among several Authorization headers from the same origin", async () => {
    const good = signRequest({ method: "GET", uri: path(), origin: SERVER, destination: SERVER }, key.keyId, key.seed);
    const bad = good.replace(/sig="[^"]+"/, 'sig="AAAA"');
    const headers = new Headers();
    headers.append("Authorization", bad);
    headers.append("Authorization", good);
    const res = await call(path(), { headers });
    expect(res.status).toBe(200);
    await res.body?.cancel();
    const mixed = new Headers();
    mixed.append("Authorization", good);
    mixed.append("Authorization", good.replace(`origin="${SERVER}"`, 'origin="other.example"'));
    await expectUnauthorized(await call(path(), { headers: mixed }), /different origins/);
  });
});
