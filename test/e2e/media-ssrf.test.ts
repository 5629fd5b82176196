/**
 * SSRF harness for preview_url against the real server in workerd (wrangler's
 * unstable_startWorker, see server.mjs), with real HTTP servers on loopback:
 *
 * - a "target" on 127.0.0.1 that stands for the inside (it must never be asked),
 *   also listening on 127.0.0.4, which IS allow-listed (the positive control:
 *   proves a request to the target would be seen);
 * - a "public" site on 127.0.0.2 (allow-listed, as if it were on the Internet)
 *   whose pages link and redirect to the target in many spellings;
 * - a DNS-over-HTTPS fake on 127.0.0.3 (URL_PREVIEW_DOH_URL) that maps names.
 *
 * Every server binds loopback only; the Worker is given no other DNS, so nothing
 * here can reach past 127.0.0.0/8.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startServer, type TestServer } from "./server.mjs";

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function listen(host: string, handler: Handler, port = 0): Promise<Server> {
  const srv = createServer(handler);
  await new Promise<void>((resolve, reject) => {
    srv.once("error", reject);
    srv.listen(port, host, () => resolve());
  });
  return srv;
}
const portOf = (s: Server) => (s.address() as AddressInfo).port;
const close = (s: Server) => new Promise<void>((r) => s.close(() => r()));

const targetHits: string[] = [];
const publicHits: string[] = [];
const dnsQuestions: string[] = [];
let target: Server;
let targetAllowed: Server;
let site: Server;
let doh: Server;
let hs: TestServer;
let token: string;
let T: number; // target port

const PNG_1X1 = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==", "base64");

beforeAll(async () => {
  const targetHandler: Handler = (req, res) => {
    targetHits.push(`${req.socket.localAddress} ${req.url}`);
    res.writeHead(200, { "content-type": "text/html" }).end("<title>inside</title>");
  };
  target = await listen("127.0.0.1", targetHandler);
  T = portOf(target);
  targetAllowed = await listen("127.0.0.4", targetHandler);
  const TA = portOf(targetAllowed);

  site = await listen("127.0.0.2", (req, res) => {
    publicHits.push(req.url ?? "");
    const redirect = (to: string) => res.writeHead(302, { location: to }).end();
    switch (req.url) {
      case "/page":
        res.writeHead(200, { "content-type": "text/html" }).end(`<html><head><meta property="og:title" content="Public page"><meta property="og:image" content="http://127.0.0.1:${T}/img.png"></head></html>`);
        return;
      case "/page-allowed-image":
        res.writeHead(200, { "content-type": "text/html" }).end(`<meta property="og:title" content="With image"><meta property="og:image" content="http://127.0.0.2:${portOf(site)}/img.png">`);
        return;
      case "/img.png":
        res.writeHead(200, { "content-type": "image/png" }).end(PNG_1X1);
        return;
      case "/to-target":
        return redirect(`http://127.0.0.1:${T}/secret`);
      case "/to-target-decimal":
        return redirect(`http://2130706433:${T}/secret`);
      case "/to-target-hex":
        return redirect(`http://0x7f.1:${T}/secret`);
      case "/to-target-name":
        return redirect(`http://inside.test:${T}/secret`);
      case "/to-target-mapped":
        return redirect(`http://[::ffff:127.0.0.1]:${T}/secret`);
      case "/to-target-chain":
        return redirect(`/to-target`);
      case "/to-allowed":
        return redirect(`http://127.0.0.4:${TA}/allowed`);
      default:
        res.writeHead(404).end();
    }
  });

  doh = await listen("127.0.0.3", (req, res) => {
    const u = new URL(req.url ?? "/", "http://doh");
    const name = u.searchParams.get("name") ?? "";
    const type = u.searchParams.get("type");
    dnsQuestions.push(`${name} ${type}`);
    const zone: Record<string, string> = { "inside.test": "127.0.0.1", "meta.test": "169.254.169.254" };
    const ip = type === "A" ? zone[name] : undefined;
    res.writeHead(200, { "content-type": "application/dns-json" }).end(JSON.stringify({ Status: ip ? 0 : 3, Answer: ip ? [{ name, type: 1, TTL: 1, data: ip }] : [] }));
  });

  hs = await startServer({
    vars: {
      URL_PREVIEW_ALLOW: "127.0.0.2, 127.0.0.4",
      URL_PREVIEW_DOH_URL: `http://127.0.0.3:${portOf(doh)}/dns-query`,
      URL_PREVIEW_TIMEOUT_MS: "5000",
    },
  });
  token = await registerToken(hs.baseUrl);
}, 60_000);

afterAll(async () => {
  await hs?.stop();
  await Promise.all([target, targetAllowed, site, doh].filter(Boolean).map(close));
});

beforeEach(() => {
  targetHits.length = 0;
  publicHits.length = 0;
  dnsQuestions.length = 0;
});

/** Registers through the real UIA dummy flow and returns the access token. */
async function registerToken(baseUrl: string): Promise<string> {
  const body = { username: `ssrf${Date.now().toString(36)}`, password: "correct horse battery staple" };
  const first = await fetch(`${baseUrl}/_matrix/client/v3/register`, { method: "POST", body: JSON.stringify(body) });
  const { session } = (await first.json()) as { session: string };
  const done = await fetch(`${baseUrl}/_matrix/client/v3/register`, { method: "POST", body: JSON.stringify({ ...body, auth: { type: "m.login.dummy", session } }) });
  const json = (await done.json()) as { access_token: string };
  return json.access_token;
}

async function preview(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${hs.baseUrl}/_matrix/client/v1/media/preview_url?url=${encodeURIComponent(url)}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe("preview_url never reaches the inside", () => {
  it("positive control: an allow-listed address is fetched and seen by the target", async () => {
    const r = await preview(`http://127.0.0.4:${portOf(targetAllowed)}/direct`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ "og:title": "inside" });
    expect(targetHits).toEqual(["127.0.0.4 /direct"]);
    const via = await preview(`http://127.0.0.2:${portOf(site)}/to-allowed`);
    expect(via.status).toBe(200);
    expect(targetHits).toEqual(["127.0.0.4 /direct", "127.0.0.4 /allowed"]);
  });

  it("previews the allow-listed public site, with its own image but not an inside one", async () => {
    const r = await preview(`http://127.0.0.2:${portOf(site)}/page`);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ "og:title": "Public page" });
    const withImage = await preview(`http://127.0.0.2:${portOf(site)}/page-allowed-image`);
    expect(withImage.body).toMatchObject({ "og:title": "With image", "og:image:type": "image/png", "matrix:image:size": PNG_1X1.length });
    expect(String(withImage.body["og:image"])).toMatch(/^mxc:\/\//);
    expect(targetHits).toEqual([]);
  });

  it("refuses the target by address in every spelling", async () => {
    for (const host of ["127.0.0.1", "2130706433", "0x7f.1", "0x7f000001", "0177.0.0.1", "127.1", "127.0.1", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "localhost", "[::1]", "0.0.0.0"]) {
      const r = await preview(`http://${host}:${T}/secret`);
      expect(r.status, host).toBe(403);
      expect(r.body.errcode).toBe("M_FORBIDDEN");
    }
    expect(targetHits).toEqual([]);
  });

  it("refuses names that resolve inside, and names that do not resolve", async () => {
    for (const url of [`http://inside.test:${T}/`, "http://meta.test/latest/meta-data/", `http://nowhere.test:${T}/`]) {
      const r = await preview(url);
      expect(r.status, url).toBe(403);
    }
    expect(dnsQuestions).toEqual(expect.arrayContaining(["inside.test A", "meta.test A", "nowhere.test A"]));
    expect(targetHits).toEqual([]);
  });

  it("re-checks every redirect from the public site", async () => {
    for (const path of ["/to-target", "/to-target-decimal", "/to-target-hex", "/to-target-name", "/to-target-mapped", "/to-target-chain"]) {
      const r = await preview(`http://127.0.0.2:${portOf(site)}${path}`);
      expect(r.status, path).toBe(403);
    }
    expect(publicHits).toEqual(expect.arrayContaining(["/to-target", "/to-target-decimal", "/to-target-name", "/to-target-chain"]));
    expect(targetHits).toEqual([]);
  });
});
