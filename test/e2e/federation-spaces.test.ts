/**
 * Two instances of this server on loopback (set up as test/e2e/federation-rooms.test.ts
 * does: plain HTTP between them through FEDERATION_PLAINTEXT, server names
 * `127.0.0.1:<port>`, no DNS) for the federation read APIs a client reaches through
 * its own server: timestamp_to_event (MSC3030) for history this server lacks, and
 * the space hierarchy for spaces and rooms on the other server. The federation
 * endpoints are also called directly with requests signed as the other server.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Direction } from "matrix-js-sdk";
import type { JsonObject } from "../../src/json.js";
import { formatSigningKey, signingKeyFromSeed, type SigningKey } from "../../src/signing.js";
import { signRequest } from "../../src/x-matrix.js";
import { fetchJson, registerClient, startClientAndWait, startServer, stopAllClients, uniqueName, waitFor, type TestServer } from "./harness.js";
import { freePort } from "./server.mjs";

let a: TestServer;
let b: TestServer;
/** A port nothing listens on: a server name that cannot be reached. */
let deadName: string;
/** Known keys, so the test can speak for either server over federation. */
const KEY_A = signingKeyFromSeed(new Uint8Array(32).fill(31), "a1");
const KEY_B = signingKeyFromSeed(new Uint8Array(32).fill(32), "b1");

beforeAll(async () => {
  const [portA, portB, portDead] = [await freePort(), await freePort(), await freePort()];
  const nameA = `127.0.0.1:${portA}`;
  const nameB = `127.0.0.1:${portB}`;
  deadName = `127.0.0.1:${portDead}`;
  const vars = {
    FEDERATION_ALLOW: "127.0.0.1",
    FEDERATION_PLAINTEXT: `${nameA},${nameB},${deadName}`,
    FEDERATION_DOH_URL: "",
    FEDERATION_TIMEOUT_MS: "10000",
    FEDERATION_RETRY_BASE_MS: "500",
  };
  [a, b] = await Promise.all([
    startServer({ port: portA, serverName: nameA, vars: { ...vars, SIGNING_KEY: formatSigningKey(KEY_A) } }),
    startServer({ port: portB, serverName: nameB, vars: { ...vars, SIGNING_KEY: formatSigningKey(KEY_B) } }),
  ]);
}, 60_000);

afterAll(async () => {
  stopAllClients();
  await Promise.all([a?.stop(), b?.stop()]);
});

/** A federation request to `to`, signed as `from` with `key` (X-Matrix). */
async function fed(to: TestServer, from: TestServer, key: SigningKey, method: string, path: string, body?: JsonObject): Promise<{ status: number; json: JsonObject }> {
  const authorization = signRequest({ method, uri: path, origin: from.serverName, destination: to.serverName, content: body }, key.keyId, key.seed);
  const res = await fetch(`${to.baseUrl}${path}`, {
    method,
    headers: { authorization, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, json: (await res.json()) as JsonObject };
}

const enc = encodeURIComponent;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("timestamp_to_event across servers", () => {
  it("a user whose server joined late finds the other server's earlier messages", async () => {
    const alice = await startClientAndWait(await registerClient(a.baseUrl, uniqueName("alice"), "pw"));
    const bob = await startClientAndWait(await registerClient(b.baseUrl, uniqueName("bob"), "pw"));
    const { room_id: roomId } = await alice.createRoom({ preset: "public_chat" as never, name: "History" });
    const sent: Array<{ id: string; ts: number }> = [];
    for (const body of ["one", "two", "three"]) {
      await sleep(25);
      const { event_id } = await alice.sendTextMessage(roomId, body);
      const ev = (await alice.fetchRoomEvent(roomId, event_id)) as { origin_server_ts: number };
      sent.push({ id: event_id, ts: ev.origin_server_ts });
    }
    await sleep(25);
    await bob.joinRoom(roomId, { viaServers: [a.serverName] });
    await waitFor(() => alice.getRoom(roomId)?.getMember(bob.getUserId()!)?.membership === "join", { what: "alice sees bob join" });
    const [one, two, three] = sent as [{ id: string; ts: number }, { id: string; ts: number }, { id: string; ts: number }];

    // B never received these messages: its own answer would be its join (forwards) or the room's state (backwards).
    const here = await fetchJson(b.baseUrl, `/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(two.id)}`, { token: bob.getAccessToken()! });
    expect(here.status).toBe(404);
    expect(await bob.timestampToEvent(roomId, two.ts, Direction.Forward)).toEqual({ event_id: two.id, origin_server_ts: two.ts });
    expect(await bob.timestampToEvent(roomId, two.ts, Direction.Backward)).toEqual({ event_id: two.id, origin_server_ts: two.ts });
    expect(await bob.timestampToEvent(roomId, one.ts + 1, Direction.Forward)).toEqual({ event_id: two.id, origin_server_ts: two.ts });
    expect(await bob.timestampToEvent(roomId, three.ts - 1, Direction.Backward)).toEqual({ event_id: two.id, origin_server_ts: two.ts });
    // After the join B's own history is whole: its answer stands, nobody is asked.
    await sleep(25);
    const { event_id: later } = await bob.sendTextMessage(roomId, "after the join");
    const laterTs = ((await bob.fetchRoomEvent(roomId, later)) as { origin_server_ts: number }).origin_server_ts;
    expect(await bob.timestampToEvent(roomId, laterTs, Direction.Backward)).toEqual({ event_id: later, origin_server_ts: laterTs });
    // The event found on A was fetched and checked: asking again gives the same answer.
    expect((await bob.timestampToEvent(roomId, two.ts, Direction.Forward)).event_id).toBe(two.id);
  });

  it("the other server refusing leaves the local answer, never a 5xx", async () => {
    const alice = await startClientAndWait(await registerClient(a.baseUrl, uniqueName("alice"), "pw"));
    const bob = await startClientAndWait(await registerClient(b.baseUrl, uniqueName("bob"), "pw"));
    const { room_id: roomId } = await alice.createRoom({ preset: "public_chat" as never });
    await bob.joinRoom(roomId, { viaServers: [a.serverName] });
    await waitFor(() => alice.getRoom(roomId)?.getMember(bob.getUserId()!)?.membership === "join", { what: "alice sees bob join" });
    // A's ACL now refuses B (ACLs ignore ports: both servers are 127.0.0.1): A answers 403, and B's user still gets B's own answer.
    await alice.sendStateEvent(roomId, "m.room.server_acl" as never, { allow: ["*"], deny: ["127.0.0.1"], allow_ip_literals: true } as never, "");
    const refused = await fed(a, b, KEY_B, "GET", `/_matrix/federation/v1/timestamp_to_event/${enc(roomId)}?ts=0&dir=f`);
    expect(refused.status).toBe(403);
    expect(refused.json.errcode).toBe("M_FORBIDDEN");
    const r = await fetchJson(b.baseUrl, `/_matrix/client/v1/rooms/${enc(roomId)}/timestamp_to_event?ts=0&dir=f`, { token: bob.getAccessToken()! });
    expect(r.status).toBe(200);
    expect((r.body as { event_id: string }).event_id).toMatch(/^\$/);
  });

  it("the federation endpoint: members' servers only, history visibility for servers, the spec's errors", async () => {
    const alice = await startClientAndWait(await registerClient(a.baseUrl, uniqueName("alice"), "pw"));
    const bob = await startClientAndWait(await registerClient(b.baseUrl, uniqueName("bob"), "pw"));
    const { room_id: roomId } = await alice.createRoom({
      preset: "public_chat" as never,
      initial_state: [{ type: "m.room.history_visibility", state_key: "", content: { history_visibility: "joined" } }],
    });
    const tte = (query: string, room = roomId) => fed(a, b, KEY_B, "GET", `/_matrix/federation/v1/timestamp_to_event/${enc(room)}?${query}`);
    // B has nobody in the room yet.
    const outsider = await tte("ts=0&dir=f");
    expect([outsider.status, outsider.json.errcode]).toEqual([403, "M_FORBIDDEN"]);

    const { event_id: beforeBob } = await alice.sendTextMessage(roomId, "before bob");
    await sleep(25);
    const start = Date.now();
    await sleep(25);
    await bob.joinRoom(roomId, { viaServers: [a.serverName] });
    await waitFor(() => alice.getRoom(roomId)?.getMember(bob.getUserId()!)?.membership === "join", { what: "alice sees bob join" });
    const joinId = alice.getRoom(roomId)!.currentState.getStateEvents("m.room.member", bob.getUserId()!)!.getId();

    // Under "joined", what happened before B's first user joined is not B's to see: passed over, so the join is the next answer
    // and backwards only the room's first events qualify (before the history visibility was set, the default "shared" holds).
    const forwards = await tte(`ts=${start}&dir=f`);
    expect(forwards.status).toBe(200);
    expect(forwards.json.event_id).toBe(joinId);
    const backwards = await tte(`ts=${start}&dir=b`);
    expect(backwards.status).toBe(200);
    expect(backwards.json.event_id).not.toBe(beforeBob);
    const found = (await alice.fetchRoomEvent(roomId, backwards.json.event_id as string)) as { type: string };
    expect(["m.room.create", "m.room.member", "m.room.power_levels", "m.room.join_rules"]).toContain(found.type);
    const none = await tte(`ts=${Date.now() + 3_600_000}&dir=f`);
    expect([none.status, none.json.errcode]).toEqual([404, "M_NOT_FOUND"]);

    for (const query of ["ts=abc&dir=f", "ts=5&dir=x", "ts=-1&dir=b"]) {
      const bad = await tte(query);
      expect([query, bad.status, bad.json.errcode]).toEqual([query, 400, "M_INVALID_PARAM"]);
    }
    const unknown = await tte("ts=0&dir=f", `!${uniqueName("nope")}:${a.serverName}`);
    expect([unknown.status, unknown.json.errcode]).toEqual([404, "M_NOT_FOUND"]);
    // Unsigned requests are refused before anything else.
    const unsigned = await fetchJson(a.baseUrl, `/_matrix/federation/v1/timestamp_to_event/${enc(roomId)}?ts=0&dir=f`);
    expect(unsigned.status).toBe(401);
  });
});
