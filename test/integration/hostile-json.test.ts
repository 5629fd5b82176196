/**
 * Hostile JSON: nesting far beyond anything real (6,000 and 100,000 levels) and
 * numbers a double cannot hold or canonical JSON does not allow. Every endpoint
 * that takes JSON answers 4xx with a Matrix errcode, never 500 (src/json-limits.ts):
 * bodies deeper than 100 levels or holding an infinite number are 400 M_BAD_JSON;
 * event content must also be canonical JSON in v6+ rooms (integers within
 * ±(2^53−1), no floats; rooms/fragments/v6-canonical-json.md), also 400 M_BAD_JSON.
 */
import { env as workerEnv } from "cloudflare:workers";
import { Hono } from "hono";
import { describe, expect, it, vi } from "vitest";
import { decodeBase64 } from "../../src/base64.js";
import { MatrixError } from "../../src/errors.js";
import { MAX_JSON_DEPTH } from "../../src/json-limits.js";
import { signRequest } from "../../src/x-matrix.js";
import type { AppEnv } from "../../workers/app-env.js";
import type { Env } from "../../services/env.js";
import { parseJsonObject } from "../../workers/middleware/body.js";
import { onError } from "../../workers/middleware/errors.js";
import { requireServerAuth } from "../../workers/middleware/federation-auth.js";
import { call, callJson, registerUser, type TestUser } from "./helpers.js";

const env = workerEnv as unknown as Env;
const SERVER = "localhost:8008";

const nestedObjects = (n: number) => '{"a":'.repeat(n) + "1" + "}".repeat(n);
const nestedArrays = (n: number) => "[".repeat(n) + "]".repeat(n);
/** An object whose member `a` nests `n` more levels: n + 1 in all. */
const deepBody = (n: number, arrays = false) => `{"a":${arrays ? nestedArrays(n) : nestedObjects(n)}}`;

const HOSTILE_DEPTHS = [6_000, 100_000];
/** 400 digits: JSON.parse makes it Infinity. */
const HUGE = "9".repeat(400);

const enc = encodeURIComponent;

async function put(path: string, token: string, body: string) {
  return callJson<{ errcode?: string; error?: string; event_id?: string }>(path, { method: "PUT", token, body, headers: { "Content-Type": "application/json" } });
}
async function post(path: string, token: string, body: string) {
  return callJson<{ errcode?: string; error?: string; room_id?: string }>(path, { method: "POST", token, body, headers: { "Content-Type": "application/json" } });
}

async function newRoom(user: TestUser, extra: Record<string, unknown> = {}): Promise<string> {
  const r = await callJson<{ room_id: string }>("/_matrix/client/v3/createRoom", { method: "POST", token: user.accessToken, json: extra });
  if (r.status !== 200) throw new Error(`createRoom ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.room_id;
}

let txn = 0;

/** Client endpoints that take a JSON object body, each with a way to wrap a hostile value into an otherwise valid body. */
function clientEndpoints(user: TestUser, roomId: string): Array<{ name: string; method: "PUT" | "POST"; path: () => string; body: (v: string) => string }> {
  const u = enc(user.userId);
  const r = enc(roomId);
  return [
    { name: "send", method: "PUT", path: () => `/_matrix/client/v3/rooms/${r}/send/m.room.message/h${txn++}`, body: (v) => `{"msgtype":"m.text","body":"x","a":${v}}` },
    { name: "state", method: "PUT", path: () => `/_matrix/client/v3/rooms/${r}/state/m.hostile/k${txn++}`, body: (v) => `{"a":${v}}` },
    { name: "tags", method: "PUT", path: () => `/_matrix/client/v3/user/${u}/rooms/${r}/tags/t${txn++}`, body: (v) => `{"order":0.5,"a":${v}}` },
    { name: "account data", method: "PUT", path: () => `/_matrix/client/v3/user/${u}/account_data/m.hostile${txn++}`, body: (v) => `{"a":${v}}` },
    { name: "room account data", method: "PUT", path: () => `/_matrix/client/v3/user/${u}/rooms/${r}/account_data/m.hostile${txn++}`, body: (v) => `{"a":${v}}` },
    { name: "filter", method: "POST", path: () => `/_matrix/client/v3/user/${u}/filter`, body: (v) => `{"room":{"timeline":{"limit":5}},"a":${v}}` },
    { name: "keys/upload", method: "POST", path: () => "/_matrix/client/v3/keys/upload", body: (v) => `{"one_time_keys":{"signed_curve25519:AAAA${txn++}":{"key":"k","a":${v}}}}` },
    { name: "sendToDevice", method: "PUT", path: () => `/_matrix/client/v3/sendToDevice/m.hostile/h${txn++}`, body: (v) => `{"messages":{"${user.userId}":{"${user.deviceId}":{"a":${v}}}}}` },
    { name: "createRoom", method: "POST", path: () => "/_matrix/client/v3/createRoom", body: (v) => `{"creation_content":{"a":${v}}}` },
    { name: "push rule", method: "PUT", path: () => `/_matrix/client/v3/pushrules/global/override/h${txn++}`, body: (v) => `{"actions":[],"conditions":[{"kind":"event_match","key":"type","pattern":"x","a":${v}}]}` },
    { name: "profile field", method: "PUT", path: () => `/_matrix/client/v3/profile/${u}/displayname`, body: (v) => `{"displayname":"x","a":${v}}` },
  ];
}

describe("hostile nesting", () => {
  it("every JSON endpoint answers 400 M_BAD_JSON to 6,000 and 100,000 levels, objects and arrays", async () => {
    const alice = await registerUser();
    const roomId = await newRoom(alice);
    const results: string[] = [];
    const expected: string[] = [];
    for (const ep of clientEndpoints(alice, roomId)) {
      for (const n of HOSTILE_DEPTHS) {
        for (const arrays of [false, true]) {
          const value = arrays ? nestedArrays(n) : nestedObjects(n);
          const res = await (ep.method === "PUT" ? put : post)(ep.path(), alice.accessToken, ep.body(value));
          results.push(`${ep.name} ${n} ${arrays ? "[]" : "{}"} → ${res.status} ${res.body.errcode}`);
          expected.push(`${ep.name} ${n} ${arrays ? "[]" : "{}"} → 400 M_BAD_JSON`);
        }
      }
    }
    expect(results).toEqual(expected);
    // Nothing was stored on the way: the room still has only its initial events.
    const events = await env.DB.prepare("SELECT COUNT(*) AS n FROM room_events WHERE room_id = ? AND type = 'm.hostile'").bind(roomId).first<{ n: number }>();
    expect(events!.n).toBe(0);
  }, 120_000);

  it("the limit is 100 levels: 100 is accepted, 101 refused, and the error says why", async () => {
    const alice = await registerUser();
    const roomId = await newRoom(alice);
    const path = (k: string) => `/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/${k}`;
    // deepBody(n) is n + 1 levels deep.
    const ok = await put(path("d100"), alice.accessToken, deepBody(MAX_JSON_DEPTH - 1));
    expect(ok.status).toBe(200);
    expect(ok.body.event_id).toMatch(/^\$/);
    const served = await callJson<{ content: unknown }>(`/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(ok.body.event_id!)}`, { token: alice.accessToken });
    expect(served.body.content).toEqual(JSON.parse(deepBody(MAX_JSON_DEPTH - 1)));
    const refused = await put(path("d101"), alice.accessToken, deepBody(MAX_JSON_DEPTH));
    expect(refused.status).toBe(400);
    expect(refused.body).toEqual({ errcode: "M_BAD_JSON", error: "Content: nested deeper than 100 levels" });
    // Account data (not an event) has the same limit.
    const ad = (d: number) => put(`/_matrix/client/v3/user/${enc(alice.userId)}/account_data/m.depth${d}`, alice.accessToken, deepBody(d));
    expect((await ad(MAX_JSON_DEPTH - 1)).status).toBe(200);
    expect((await ad(MAX_JSON_DEPTH)).body.errcode).toBe("M_BAD_JSON");
  });

  it("inline filters in the query string (/sync, /messages) answer 400 M_BAD_JSON", async () => {
    const alice = await registerUser();
    const roomId = await newRoom(alice);
    for (const n of HOSTILE_DEPTHS) {
      const filter = enc(`{"room":${nestedArrays(n)}}`);
      for (const path of [`/_matrix/client/v3/sync?filter=${filter}`, `/_matrix/client/v3/rooms/${enc(roomId)}/messages?dir=b&filter=${filter}`]) {
        const res = await callJson(path, { token: alice.accessToken });
        expect([path.slice(0, 40), n, res.status, res.body.errcode]).toEqual([path.slice(0, 40), n, 400, "M_BAD_JSON"]);
      }
    }
  }, 60_000);
});

describe("the parser itself", () => {
  it("workerd's JSON.parse does not recurse: it parses 1,000,000 levels, so the depth check after it always runs", () => {
    for (const text of [nestedObjects(1_000_000), nestedArrays(1_000_000)]) expect(() => JSON.parse(text)).not.toThrow();
  });

  it("should a parser throw RangeError (stack overflow) instead, the body is 400 M_NOT_JSON", () => {
    const spy = vi.spyOn(JSON, "parse").mockImplementationOnce(() => {
      throw new RangeError("Maximum call stack size exceeded");
    });
    try {
      let err: unknown;
      try {
        parseJsonObject(new TextEncoder().encode(deepBody(6_000)));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(MatrixError);
      expect([(err as MatrixError).errcode, (err as MatrixError).status]).toEqual(["M_NOT_JSON", 400]);
    } finally {
      spy.mockRestore();
    }
  });
});

describe("hostile numbers", () => {
  it("send and state: 400 M_BAD_JSON for a 400-digit integer, 1e400, 2^53 and floats in a v12 room; the edges of ±(2^53−1) pass", async () => {
    const alice = await registerUser();
    const roomId = await newRoom(alice);
    const r = enc(roomId);
    const targets = [() => `/_matrix/client/v3/rooms/${r}/send/m.room.message/n${txn++}`, () => `/_matrix/client/v3/rooms/${r}/state/m.numbers/k${txn++}`];
    for (const target of targets) {
      for (const [text, want] of [
        [HUGE, 400],
        [`-${HUGE}`, 400],
        ["1e400", 400],
        ["-1e400", 400],
        ["9007199254740992", 400], // 2^53
        ["-9007199254740992", 400],
        ["1.5", 400],
        ["[1,{\"b\":0.1}]", 400],
        ["9007199254740991", 200], // 2^53 − 1
        ["-9007199254740991", 200],
        ["1e3", 200], // the integer 1000, however written
      ] as const) {
        const res = await put(target(), alice.accessToken, `{"a":${text}}`);
        expect([target().split("/")[6], text.slice(0, 20), res.status, res.body.errcode]).toEqual([target().split("/")[6], text.slice(0, 20), want, want === 400 ? "M_BAD_JSON" : undefined]);
      }
    }
    const refused = await put(targets[0]!(), alice.accessToken, `{"a":{"b":[0,9007199254740992]}}`);
    expect(refused.body).toEqual({ errcode: "M_BAD_JSON", error: "Event/content/a/b/1: integer 9007199254740992 is outside ±(2^53-1)" });
  });

  it("-0 is the integer 0 (as Synapse reads it): accepted, and served as 0, never -0", async () => {
    const alice = await registerUser();
    const roomId = await newRoom(alice);
    const sent = await put(`/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/negzero`, alice.accessToken, '{"a":-0,"b":[-0]}');
    expect(sent.status).toBe(200);
    const res = await call(`/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(sent.body.event_id!)}`, { token: alice.accessToken });
    const text = await res.text();
    expect(text).not.toContain("-0");
    expect((JSON.parse(text) as { content: unknown }).content).toEqual({ a: 0, b: [0] });
  });

  it("v1–v5 rooms take floats and big integers (lenient canonical JSON) but never infinities", async () => {
    const alice = await registerUser();
    const roomId = await newRoom(alice, { room_version: "5" });
    const send = (body: string) => put(`/_matrix/client/v3/rooms/${enc(roomId)}/send/m.room.message/v5${txn++}`, alice.accessToken, body);
    expect((await send('{"a":1.5}')).status).toBe(200);
    expect((await send('{"a":9007199254740992}')).status).toBe(200);
    const inf = await send(`{"a":${HUGE}}`);
    expect([inf.status, inf.body.errcode]).toEqual([400, "M_BAD_JSON"]);
  });

  it("infinite numbers are 400 M_BAD_JSON on every JSON endpoint; where floats and big integers are fine they stay fine", async () => {
    const alice = await registerUser();
    const roomId = await newRoom(alice);
    const results: string[] = [];
    const expected: string[] = [];
    for (const ep of clientEndpoints(alice, roomId)) {
      for (const text of [HUGE, "1e400", "-1e400"]) {
        const res = await (ep.method === "PUT" ? put : post)(ep.path(), alice.accessToken, ep.body(text));
        results.push(`${ep.name} ${text.slice(0, 8)} → ${res.status} ${res.body.errcode}`);
        expected.push(`${ep.name} ${text.slice(0, 8)} → 400 M_BAD_JSON`);
      }
    }
    expect(results).toEqual(expected);
    // Account data, tags and filters are not canonical JSON: a float tag order and a big integer are kept.
    const u = enc(alice.userId);
    expect((await put(`/_matrix/client/v3/user/${u}/rooms/${enc(roomId)}/tags/big`, alice.accessToken, '{"order":0.25,"n":9007199254740993}')).status).toBe(200);
    expect((await put(`/_matrix/client/v3/user/${u}/account_data/m.big`, alice.accessToken, '{"n":9007199254740993,"f":1.5}')).status).toBe(200);
  });

  it("createRoom: a bad number in creation_content, initial_state or power_level_content_override is 400 M_BAD_JSON and creates nothing", async () => {
    const alice = await registerUser();
    const joined = async () => (await callJson<{ joined_rooms: string[] }>("/_matrix/client/v3/joined_rooms", { token: alice.accessToken })).body.joined_rooms.length;
    const before = await joined();
    const alias = `hostile${Date.now().toString(36)}`;
    for (const body of [
      `{"room_alias_name":"${alias}","creation_content":{"n":1.5}}`,
      `{"room_alias_name":"${alias}","creation_content":{"n":${HUGE}}}`,
      `{"room_alias_name":"${alias}","initial_state":[{"type":"m.x","state_key":"","content":{"n":9007199254740992}}]}`,
      `{"room_alias_name":"${alias}","power_level_content_override":{"users_default":1e400}}`,
      `{"room_alias_name":"${alias}","power_level_content_override":{"events":{"m.x":2.5}}}`,
      `{"room_alias_name":"${alias}","room_version":"10","initial_state":[{"type":"m.x","content":{"n":0.5}}]}`,
      `{"room_alias_name":"${alias}","name":"\\ud800"}`,
    ]) {
      const res = await post("/_matrix/client/v3/createRoom", alice.accessToken, body);
      expect([body.slice(0, 90), res.status, res.body.errcode]).toEqual([body.slice(0, 90), 400, "M_BAD_JSON"]);
    }
    expect(await joined()).toBe(before);
    // The alias was never taken.
    expect((await post("/_matrix/client/v3/createRoom", alice.accessToken, `{"room_alias_name":"${alias}"}`)).status).toBe(200);
  });

  it("a redaction reason or message that UTF-8 cannot carry (a lone surrogate) is 400 M_BAD_JSON", async () => {
    const alice = await registerUser();
    const roomId = await newRoom(alice);
    const r = enc(roomId);
    const sent = await put(`/_matrix/client/v3/rooms/${r}/send/m.room.message/s${txn++}`, alice.accessToken, '{"msgtype":"m.text","body":"\\ud800"}');
    expect(sent.body).toEqual({ errcode: "M_BAD_JSON", error: "Event/content/body: string contains a lone UTF-16 surrogate" });
    const ok = await put(`/_matrix/client/v3/rooms/${r}/send/m.room.message/s${txn++}`, alice.accessToken, '{"msgtype":"m.text","body":"hi"}');
    const redact = await put(`/_matrix/client/v3/rooms/${r}/redact/${enc(ok.body.event_id!)}/r${txn++}`, alice.accessToken, '{"reason":"\\udc00"}');
    expect([redact.status, redact.body.errcode]).toEqual([400, "M_BAD_JSON"]);
  });
});

describe("federation", () => {
  async function ownKey(): Promise<{ keyId: string; seed: Uint8Array }> {
    await call("/_matrix/key/v2/server");
    const row = await env.DB.prepare("SELECT key_id, seed FROM server_signing_keys WHERE expired_ts IS NULL").first<{ key_id: string; seed: string }>();
    return { keyId: row!.key_id, seed: decodeBase64(row!.seed) };
  }

  /** The X-Matrix middleware on a route that takes a body (no such federation route is served yet). */
  function probeApp() {
    const app = new Hono<AppEnv>();
    app.post("/_matrix/federation/v1/probe", requireServerAuth(), (c) => c.json({ origin: c.get("origin"), content: c.get("federationContent") ?? null }));
    app.onError(onError);
    return app;
  }

  it("X-Matrix requests: hostile bodies are 400 M_BAD_JSON before any signature work; a signed body at the limit verifies", async () => {
    const key = await ownKey();
    const app = probeApp();
    const path = "/_matrix/federation/v1/probe";
    const send = (body: string, content?: unknown) =>
      app.request(
        path,
        {
          method: "POST",
          body,
          headers: {
            "Content-Type": "application/json",
            Authorization: signRequest({ method: "POST", uri: path, origin: SERVER, destination: SERVER, ...(content === undefined ? {} : { content: content as never }) }, key.keyId, key.seed),
          },
        },
        env,
      );
    for (const n of HOSTILE_DEPTHS) {
      for (const arrays of [false, true]) {
        const res = await send(deepBody(n, arrays));
        expect([n, arrays, res.status, ((await res.json()) as { errcode: string }).errcode]).toEqual([n, arrays, 400, "M_BAD_JSON"]);
      }
    }
    for (const text of [HUGE, "1e400"]) {
      const res = await send(`{"a":${text}}`);
      expect([res.status, ((await res.json()) as { errcode: string }).errcode]).toEqual([400, "M_BAD_JSON"]);
    }
    // 2^53 parses, but the request signature covers canonical JSON, which cannot hold it.
    const big = await send('{"a":9007199254740992}');
    expect([big.status, ((await big.json()) as { errcode: string }).errcode]).toEqual([401, "M_UNAUTHORIZED"]);
    // At the limit the body is signed and verified as usual.
    const atLimit = JSON.parse(deepBody(MAX_JSON_DEPTH - 1)) as unknown;
    const ok = await send(deepBody(MAX_JSON_DEPTH - 1), atLimit);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ origin: SERVER, content: atLimit });
  });

  it("POST /_matrix/key/v2/query: hostile bodies are 400 M_BAD_JSON", async () => {
    for (const body of [...HOSTILE_DEPTHS.map((n) => `{"server_keys":{"a":${nestedObjects(n)}}}`), `{"server_keys":{"${SERVER}":{"k":{"minimum_valid_until_ts":${HUGE}}}}}`]) {
      const res = await callJson("/_matrix/key/v2/query", { method: "POST", body, headers: { "Content-Type": "application/json" } });
      expect([res.status, res.body.errcode]).toEqual([400, "M_BAD_JSON"]);
    }
  });
});
