/**
 * Two instances of this server on loopback (set up as test/e2e/federation-rooms.test.ts
 * does: plain HTTP between them through FEDERATION_PLAINTEXT, server names
 * `127.0.0.1:<port>`, no DNS) for the federation read APIs a client reaches through
 * its own server: timestamp_to_event (MSC3030) for history this server lacks, and
 * the space hierarchy for spaces and rooms on the other server. The federation
 * endpoints are also called directly with requests signed as the other server.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Direction, type MatrixClient } from "matrix-js-sdk";
import type { JsonObject } from "../../src/json.js";
import { formatSigningKey, signingKeyFromSeed } from "../../src/signing.js";
import { fetchJson, registerClient, startClientAndWait, startServer, stopAllClients, uniqueName, waitFor, type TestServer } from "./harness.js";
import { fed } from "./federation-helpers.js";
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

  it("another server's answer naming an event the user may not see here is not given", async () => {
    const alice = await startClientAndWait(await registerClient(a.baseUrl, uniqueName("alice"), "pw"));
    const bob = await startClientAndWait(await registerClient(b.baseUrl, uniqueName("bob"), "pw"));
    const erin = await startClientAndWait(await registerClient(b.baseUrl, uniqueName("erin"), "pw"));
    const { room_id: roomId } = await alice.createRoom({
      preset: "public_chat" as never,
      initial_state: [{ type: "m.room.history_visibility", state_key: "", content: { history_visibility: "joined" } }],
    });
    await bob.joinRoom(roomId, { viaServers: [a.serverName] });
    await sleep(25);
    const { event_id: secret } = await alice.sendTextMessage(roomId, "for those present");
    const secretTs = ((await alice.fetchRoomEvent(roomId, secret)) as { origin_server_ts: number }).origin_server_ts;
    await waitFor(async () => (await fetchJson(b.baseUrl, `/_matrix/client/v3/rooms/${enc(roomId)}/event/${enc(secret)}`, { token: bob.getAccessToken()! })).status === 200, {
      what: "the message reaches B",
    });
    await sleep(25);
    await erin.joinRoom(roomId);
    // Bob saw it; erin joined after it under "joined": A names it (B's server saw it), but B knows she may not see it,
    // so she gets what she may see here: one of the room's first events, from before its history visibility was set.
    expect((await bob.timestampToEvent(roomId, secretTs, Direction.Backward)).event_id).toBe(secret);
    const r = await fetchJson<{ event_id: string; origin_server_ts: number }>(
      b.baseUrl,
      `/_matrix/client/v1/rooms/${enc(roomId)}/timestamp_to_event?ts=${secretTs}&dir=b`,
      { token: erin.getAccessToken()! },
    );
    expect(r.status).toBe(200);
    expect(r.body.event_id).not.toBe(secret);
    expect(r.body.origin_server_ts).toBeLessThan(secretTs);
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

/** A space (public unless told otherwise) created by `client`. */
async function createSpace(client: MatrixClient, name: string, preset = "public_chat"): Promise<string> {
  const { room_id } = await client.createRoom({ preset: preset as never, name, creation_content: { type: "m.space" } });
  return room_id;
}

/** Adds `child` to `space` with `via` (and any other content). */
async function addChild(client: MatrixClient, space: string, child: string, via: string[], extra: JsonObject = {}): Promise<void> {
  await client.sendStateEvent(space, "m.space.child" as never, { via, ...extra } as never, child);
}

/** A v12-shaped room id no server knows. */
const unknownRoomId = (seed: string) => `!${seed.replace(/[^A-Za-z0-9]/g, "").padEnd(43, "x").slice(0, 43)}`;

describe("space hierarchy across servers", () => {
  it("a user of B who is not in A's space walks it: its rooms on A and on B, a sub-space on A and its children", async () => {
    const alice = await startClientAndWait(await registerClient(a.baseUrl, uniqueName("alice"), "pw"));
    const bob = await startClientAndWait(await registerClient(b.baseUrl, uniqueName("bob"), "pw"));
    const carol = await startClientAndWait(await registerClient(b.baseUrl, uniqueName("carol"), "pw"));
    const space = await createSpace(alice, "Space on A");
    const { room_id: onA } = await alice.createRoom({ preset: "public_chat" as never, name: "Room on A" });
    const { room_id: onB } = await bob.createRoom({ preset: "public_chat" as never, name: "Room on B" });
    const sub = await createSpace(alice, "Sub-space on A");
    const { room_id: deep } = await alice.createRoom({ preset: "public_chat" as never, name: "Deep on A" });
    const { room_id: secret } = await alice.createRoom({ preset: "private_chat" as never, name: "Secret on A" });
    await addChild(alice, space, onA, [a.serverName], { order: "a" });
    await addChild(alice, space, onB, [b.serverName], { order: "b", suggested: true });
    await addChild(alice, space, sub, [a.serverName], { order: "c" });
    await addChild(alice, space, secret, [a.serverName], { order: "d" });
    await addChild(alice, sub, deep, [a.serverName]);

    // Carol is invited, not joined: her server learns where the space lives, and is in none of A's rooms.
    await alice.invite(space, carol.getUserId()!);
    await waitFor(() => carol.getRoom(space)?.getMyMembership() === "invite", { what: "carol sees the invite" });
    const walk = await carol.getRoomHierarchy(space);
    expect(walk.rooms.map((r) => r.room_id)).toEqual([space, onA, onB, sub, deep]);
    const [root, roomA, roomB, subSpace] = walk.rooms;
    expect(root).toMatchObject({ name: "Space on A", room_type: "m.space", join_rule: "public", num_joined_members: 1 });
    expect(root!.children_state.map((e) => e.state_key)).toEqual([onA, onB, sub, secret]);
    expect(root!.children_state[0]).toMatchObject({ type: "m.space.child", sender: alice.getUserId(), content: { via: [a.serverName], order: "a" } });
    expect(roomA).toMatchObject({ name: "Room on A", children_state: [] });
    expect(roomB).toMatchObject({ name: "Room on B", num_joined_members: 1, children_state: [] });
    expect(subSpace!.children_state.map((e) => e.state_key)).toEqual([deep]);
    expect(walk.next_batch).toBeUndefined();
    // The same walk, a page at a time and only the suggested children.
    const first = await carol.getRoomHierarchy(space, 2);
    expect(first.rooms.map((r) => r.room_id)).toEqual([space, onA]);
    const second = await carol.getRoomHierarchy(space, 2, undefined, false, first.next_batch);
    expect(second.rooms.map((r) => r.room_id)).toEqual([onB, sub]);
    expect((await carol.getRoomHierarchy(space, undefined, undefined, true)).rooms.map((r) => r.room_id)).toEqual([space, onB]);
    expect((await carol.getRoomHierarchy(space, undefined, 0)).rooms.map((r) => r.room_id)).toEqual([space]);

    // A user of B with no invite names the space's server with `via`.
    const dave = await registerClient(b.baseUrl, uniqueName("dave"), "pw");
    const path = `/_matrix/client/v1/rooms/${enc(space)}/hierarchy`;
    const unnamed = await fetchJson(b.baseUrl, path, { token: dave.getAccessToken()! });
    expect([unnamed.status, (unnamed.body as { errcode?: string }).errcode]).toEqual([403, "M_FORBIDDEN"]);
    const named = await fetchJson<{ rooms: Array<{ room_id: string }> }>(b.baseUrl, `${path}?via=${enc(a.serverName)}`, { token: dave.getAccessToken()! });
    expect(named.status).toBe(200);
    expect(named.body.rooms.map((r) => r.room_id)).toEqual([space, onA, onB, sub, deep]);
  });

  it("rooms whose servers are unreachable or refuse are left out; the walk still answers 200", async () => {
    const alice = await startClientAndWait(await registerClient(a.baseUrl, uniqueName("alice"), "pw"));
    const bob = await startClientAndWait(await registerClient(b.baseUrl, uniqueName("bob"), "pw"));
    const space = await createSpace(bob, "Space on B");
    const { room_id: local } = await bob.createRoom({ preset: "public_chat" as never, name: "Local" });
    const { room_id: onA } = await alice.createRoom({ preset: "public_chat" as never, name: "Public on A" });
    const { room_id: fallback } = await alice.createRoom({ preset: "public_chat" as never, name: "Second via" });
    const { room_id: refused } = await alice.createRoom({ preset: "private_chat" as never, name: "Private on A" });
    const gone = unknownRoomId(uniqueName("gone"));
    await addChild(bob, space, local, [b.serverName], { order: "a" });
    await addChild(bob, space, gone, [deadName], { order: "b" });
    await addChild(bob, space, refused, [a.serverName], { order: "c" });
    await addChild(bob, space, onA, [a.serverName], { order: "d" });
    // The first server of the via cannot be reached; the next one answers.
    await addChild(bob, space, fallback, [deadName, a.serverName], { order: "e" });
    const unknownOnA = unknownRoomId(uniqueName("unknown"));
    await addChild(bob, space, unknownOnA, [a.serverName], { order: "f" });

    const res = await fetchJson<{ rooms: Array<{ room_id: string; name?: string }> }>(b.baseUrl, `/_matrix/client/v1/rooms/${enc(space)}/hierarchy`, { token: bob.getAccessToken()! });
    expect(res.status).toBe(200);
    expect(res.body.rooms.map((r) => r.room_id)).toEqual([space, local, onA, fallback]);
    expect(res.body.rooms.map((r) => r.name)).toEqual(["Space on B", "Local", "Public on A", "Second via"]);
  });

  it("the federation endpoint: the space and the children the requesting server may see, ACLs, the spec's errors", async () => {
    const alice = await startClientAndWait(await registerClient(a.baseUrl, uniqueName("alice"), "pw"));
    const bob = await startClientAndWait(await registerClient(b.baseUrl, uniqueName("bob"), "pw"));
    const space = await createSpace(alice, "Listed");
    const { room_id: open } = await alice.createRoom({ preset: "public_chat" as never, name: "Open" });
    const { room_id: closed } = await alice.createRoom({ preset: "private_chat" as never, name: "Closed" });
    const { room_id: members } = await alice.createRoom({
      preset: "private_chat" as never,
      name: "Members of the space",
      initial_state: [{ type: "m.room.join_rules", state_key: "", content: { join_rule: "restricted", allow: [{ type: "m.room_membership", room_id: space }] } }],
    });
    const { room_id: onB } = await bob.createRoom({ preset: "public_chat" as never });
    await addChild(alice, space, open, [a.serverName], { order: "a", suggested: true });
    await addChild(alice, space, closed, [a.serverName], { order: "b" });
    await addChild(alice, space, members, [a.serverName], { order: "c" });
    await addChild(alice, space, onB, [b.serverName], { order: "d" });
    const hierarchy = (room: string, query = "") => fed(a, b, KEY_B, "GET", `/_matrix/federation/v1/hierarchy/${enc(room)}${query}`);

    const r = await hierarchy(space);
    expect(r.status).toBe(200);
    const room = r.json.room as JsonObject & { children_state: JsonObject[] };
    expect(room).toMatchObject({ room_id: space, name: "Listed", room_type: "m.space", join_rule: "public", world_readable: false, guest_can_join: false, num_joined_members: 1 });
    expect(room.children_state.map((e) => e.state_key)).toEqual([open, closed, members, onB]);
    expect(room.children_state[0]).toEqual({ type: "m.space.child", state_key: open, sender: alice.getUserId(), content: { via: [a.serverName], order: "a", suggested: true }, origin_server_ts: expect.any(Number) });
    // A is not in the room on B: it cannot describe it, so it is in neither list.
    expect((r.json.children as JsonObject[]).map((c) => c.room_id)).toEqual([open]);
    expect(r.json.children).toEqual([expect.objectContaining({ room_id: open, name: "Open", join_rule: "public" })]);
    expect(r.json.inaccessible_children).toEqual([closed, members]);

    const suggested = await hierarchy(space, "?suggested_only=true");
    expect((suggested.json.room as { children_state: JsonObject[] }).children_state.map((e) => e.state_key)).toEqual([open]);
    expect(suggested.json.inaccessible_children).toEqual([]);

    // Once one of B's users is in the space, B may join the restricted room: it is described, with the rooms that allow it.
    await bob.joinRoom(space, { viaServers: [a.serverName] });
    await waitFor(() => alice.getRoom(space)?.getMember(bob.getUserId()!)?.membership === "join", { what: "bob is in the space" });
    const after = await hierarchy(space);
    expect((after.json.children as JsonObject[]).map((c) => c.room_id)).toEqual([open, members]);
    expect((after.json.children as JsonObject[])[1]).toMatchObject({ join_rule: "restricted", allowed_room_ids: [space] });
    expect(after.json.inaccessible_children).toEqual([closed]);

    // A space B may neither peek nor join is unknown to B (404, as the spec says), as is a room A never heard of.
    const hidden = await createSpace(alice, "Hidden", "private_chat");
    for (const id of [hidden, unknownRoomId(uniqueName("none"))]) {
      const res = await hierarchy(id);
      expect([res.status, res.json.errcode]).toEqual([404, "M_NOT_FOUND"]);
    }
    const badFlag = await hierarchy(space, "?suggested_only=maybe");
    expect([badFlag.status, badFlag.json.errcode]).toEqual([400, "M_INVALID_PARAM"]);
    const badId = await hierarchy("not-a-room");
    expect([badId.status, badId.json.errcode]).toEqual([400, "M_INVALID_PARAM"]);
    const unsigned = await fetchJson(a.baseUrl, `/_matrix/federation/v1/hierarchy/${enc(space)}`);
    expect(unsigned.status).toBe(401);
    // A server the space's ACL denies is refused outright (ACLs ignore ports: both servers are 127.0.0.1).
    await alice.sendStateEvent(space, "m.room.server_acl" as never, { allow: ["*"], deny: ["127.0.0.1"], allow_ip_literals: true } as never, "");
    const denied = await hierarchy(space);
    expect([denied.status, denied.json.errcode]).toEqual([403, "M_FORBIDDEN"]);
  });
});
