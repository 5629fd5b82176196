/**
 * Two instances of this server sharing rooms over federation on loopback
 * (plain HTTP between them, allowed only because both are named in
 * FEDERATION_PLAINTEXT; server names are `127.0.0.1:<port>`, so discovery needs
 * no DNS), driven by matrix-js-sdk on each side: invite across servers, join,
 * messages both ways, joins by alias, kicks and bans, leaving and rejoining, and
 * rejecting an invite to a room the invitee's server is not in.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventIdFor } from "../../src/event-id.js";
import { signEvent } from "../../src/hashes.js";
import type { JsonObject } from "../../src/json.js";
import { formatSigningKey, signingKeyFromSeed, type SigningKey } from "../../src/signing.js";
import { clientFor, register, registerClient, startClientAndWait, startServer, stopAllClients, uniqueName, waitFor, type TestServer } from "./harness.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./server.mjs";
import { bodies, fed, membership, signedAs } from "./federation-helpers.js";
import { FakeHomeserver } from "./fake-homeserver.js";

let a: TestServer;
let b: TestServer;
/** A third server, started by the outage test (its name must be in A's plain-HTTP list from the start). */
let portC: number;
/** Fake remote servers (test/e2e/fake-homeserver.ts) for the gap and key tests. */
let portF: number;
let portG: number;
const sharedVars = { FEDERATION_ALLOW: "127.0.0.1", FEDERATION_DOH_URL: "", FEDERATION_TIMEOUT_MS: "10000", FEDERATION_RETRY_BASE_MS: "500" };
/** Known keys, so the test can speak for server A over federation (and forge what A would never send). */
const KEY_A = signingKeyFromSeed(new Uint8Array(32).fill(21), "a1");
const KEY_B = signingKeyFromSeed(new Uint8Array(32).fill(22), "b1");
const OTHER_KEY = signingKeyFromSeed(new Uint8Array(32).fill(23), "a1");

beforeAll(async () => {
  const [portA, portB] = [await freePort(), await freePort()];
  portC = await freePort();
  [portF, portG] = [await freePort(), await freePort()];
  const nameA = `127.0.0.1:${portA}`;
  const nameB = `127.0.0.1:${portB}`;
  const nameC = `127.0.0.1:${portC}`;
  const vars = {
    ...sharedVars,
    FEDERATION_PLAINTEXT: `${nameA},${nameB},${nameC},127.0.0.1:${portF},127.0.0.1:${portG}`,
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

/** An event of `template`'s shape, hashed and signed as server A (room version 12: ids are reference hashes). */
function signedAsA(template: JsonObject, key: SigningKey = KEY_A): { eventId: string; pdu: JsonObject } {
  return signedAs(a.serverName, template, key);
}


let txnCounter = 0;
const sendTxn = (pdus: JsonObject[]) => fed(b, a, KEY_A, "PUT", `/_matrix/federation/v1/send/t${Date.now()}-${txnCounter++}`, { origin: a.serverName, origin_server_ts: Date.now(), pdus, edus: [] });

describe("rooms shared by two servers", () => {
  it("invite across servers, join, messages both ways, leave", async () => {
    const alice = await startClientAndWait(await registerClient(a.baseUrl, uniqueName("alice"), "pw"));
    const bob = await startClientAndWait(await registerClient(b.baseUrl, uniqueName("bob"), "pw"));
    // Version 10, the shipped default (the suite's servers default to 12).
    const { room_id: roomId } = await alice.createRoom({ name: "Across", preset: "private_chat" as never, room_version: "10" });
    await alice.invite(roomId, bob.getUserId()!);
    await waitFor(() => bob.getRoom(roomId)?.getMyMembership() === "invite", { what: "bob sees the invite on his server" });
    expect(bob.getRoom(roomId)?.name).toBe("Across");

    await bob.joinRoom(roomId);
    await waitFor(() => membership(alice, roomId, bob.getUserId()!) === "join", { what: "alice sees bob join" });
    expect(bob.getRoom(roomId)?.name).toBe("Across");

    await alice.sendTextMessage(roomId, "hello from A");
    await waitFor(() => bodies(bob, roomId).includes("hello from A"), { what: "bob receives alice's message" });
    await bob.sendTextMessage(roomId, "hello from B");
    await waitFor(() => bodies(alice, roomId).includes("hello from B"), { what: "alice receives bob's message" });
    // Both sides hold the same history, in the same order.
    await alice.sendTextMessage(roomId, "one more");
    await waitFor(() => bodies(bob, roomId).includes("one more"));
    expect(bodies(bob, roomId)).toEqual(["hello from A", "hello from B", "one more"]);

    await bob.leave(roomId);
    await waitFor(() => membership(alice, roomId, bob.getUserId()!) === "leave", { what: "alice sees bob leave" });
    // Rejoining needs an invite again (private room): alice invites, bob joins again.
    await alice.invite(roomId, bob.getUserId()!);
    await waitFor(() => bob.getRoom(roomId)?.getMyMembership() === "invite", { what: "bob is invited again" });
    await bob.joinRoom(roomId);
    await waitFor(() => membership(alice, roomId, bob.getUserId()!) === "join", { what: "alice sees bob back" });
    await bob.sendTextMessage(roomId, "back again");
    await waitFor(() => bodies(alice, roomId).includes("back again"));

    // Profiles of the other server's users come from it (/query/profile); an unknown one is 404.
    await bob.setDisplayName("Bob of B");
    expect(await alice.getProfileInfo(bob.getUserId()!)).toMatchObject({ displayname: "Bob of B" });
    expect(await alice.getProfileInfo(bob.getUserId()!, "displayname")).toEqual({ displayname: "Bob of B" });
    await expect(alice.getProfileInfo(`@nobody-${Date.now()}:${b.serverName}`)).rejects.toMatchObject({ errcode: "M_NOT_FOUND", httpStatus: 404 });
  });

  it("joins a public room by an alias of the other server, then is kicked and banned", async () => {
    const alice = await startClientAndWait(await registerClient(a.baseUrl, uniqueName("alice"), "pw"));
    const carol = await startClientAndWait(await registerClient(b.baseUrl, uniqueName("carol"), "pw"));
    const local = uniqueName("pub");
    const { room_id: roomId } = await alice.createRoom({ preset: "public_chat" as never, room_alias_name: local, visibility: "public" as never, name: "Listed" });
    // The other server's public directory, through carol's server (GET and POST with a filter).
    const listed = await carol.publicRooms({ server: a.serverName, limit: 50 });
    expect(listed.chunk.map((r) => r.room_id)).toContain(roomId);
    const filtered = await carol.publicRooms({ server: a.serverName, filter: { generic_search_term: "Listed" } });
    expect(filtered.chunk.map((r) => r.room_id)).toContain(roomId);
    // The alias resolves through carol's server (/query/directory); an unknown one is 404.
    expect(await carol.getRoomIdForAlias(`#${local}:${a.serverName}`)).toMatchObject({ room_id: roomId, servers: [a.serverName] });
    await expect(carol.getRoomIdForAlias(`#nope-${Date.now()}:${a.serverName}`)).rejects.toMatchObject({ errcode: "M_NOT_FOUND", httpStatus: 404 });
    await carol.joinRoom(`#${local}:${a.serverName}`);
    await waitFor(() => membership(alice, roomId, carol.getUserId()!) === "join", { what: "alice sees carol join by alias" });
    await carol.sendTextMessage(roomId, "carol here");
    await waitFor(() => bodies(alice, roomId).includes("carol here"));

    await alice.kick(roomId, carol.getUserId()!, "bye");
    await waitFor(() => carol.getRoom(roomId)?.getMyMembership() === "leave", { what: "carol learns she was kicked" });
    await carol.joinRoom(roomId, { viaServers: [a.serverName] });
    await waitFor(() => membership(alice, roomId, carol.getUserId()!) === "join", { what: "carol rejoins the public room" });
    await alice.ban(roomId, carol.getUserId()!, "gone");
    await waitFor(() => carol.getRoom(roomId)?.getMyMembership() === "ban", { what: "carol learns she was banned" });
    await expect(carol.joinRoom(roomId, { viaServers: [a.serverName] })).rejects.toMatchObject({ errcode: "M_FORBIDDEN" });
  });

  it("an invite to a room the invitee's server is not in can be rejected", async () => {
    const alice = await startClientAndWait(await registerClient(a.baseUrl, uniqueName("alice"), "pw"));
    const dave = await startClientAndWait(await registerClient(b.baseUrl, uniqueName("dave"), "pw"));
    // Invited in createRoom itself: the invite goes to dave's server once the room exists.
    const { room_id: roomId } = await alice.createRoom({ preset: "private_chat" as never, invite: [dave.getUserId()!] });
    await waitFor(() => dave.getRoom(roomId)?.getMyMembership() === "invite");
    await dave.leave(roomId);
    await waitFor(() => membership(alice, roomId, dave.getUserId()!) === "leave", { what: "alice sees the invite rejected" });
    await waitFor(() => dave.getRoom(roomId)?.getMyMembership() === "leave", { what: "dave's client sees it gone" });
  });

  it("knocks on a room of the other server, is let in; joins a restricted room through a space it is in", async () => {
    const alice = await startClientAndWait(await registerClient(a.baseUrl, uniqueName("alice"), "pw"));
    const erin = await startClientAndWait(await registerClient(b.baseUrl, uniqueName("erin"), "pw"));
    const { room_id: knockRoom } = await alice.createRoom({ preset: "private_chat" as never, initial_state: [{ type: "m.room.join_rules", state_key: "", content: { join_rule: "knock" } }] });
    await erin.knockRoom(knockRoom, { viaServers: [a.serverName], reason: "let me in" } as never);
    await waitFor(() => membership(alice, knockRoom, erin.getUserId()!) === "knock", { what: "alice sees the knock" });
    await waitFor(() => erin.getRoom(knockRoom)?.getMyMembership() === "knock", { what: "erin's client shows the knock" });
    await alice.invite(knockRoom, erin.getUserId()!);
    await waitFor(() => erin.getRoom(knockRoom)?.getMyMembership() === "invite", { what: "erin is invited after knocking" });
    await erin.joinRoom(knockRoom);
    await waitFor(() => membership(alice, knockRoom, erin.getUserId()!) === "join", { what: "erin is in" });

    // Restricted join (MSC3083): members of the space may join; alice's server authorises and signs the join.
    const { room_id: space } = await alice.createRoom({ preset: "public_chat" as never, creation_content: { type: "m.space" } });
    await erin.joinRoom(space, { viaServers: [a.serverName] });
    await waitFor(() => membership(alice, space, erin.getUserId()!) === "join", { what: "erin is in the space" });
    const { room_id: restricted } = await alice.createRoom({
      preset: "private_chat" as never,
      initial_state: [{ type: "m.room.join_rules", state_key: "", content: { join_rule: "restricted", allow: [{ type: "m.room_membership", room_id: space }] } }],
    });
    const frank = await startClientAndWait(await registerClient(b.baseUrl, uniqueName("frank"), "pw"));
    await expect(frank.joinRoom(restricted, { viaServers: [a.serverName] })).rejects.toMatchObject({ errcode: "M_FORBIDDEN" });
    await erin.joinRoom(restricted, { viaServers: [a.serverName] });
    await waitFor(() => membership(alice, restricted, erin.getUserId()!) === "join", { what: "erin joined the restricted room" });
    const join = alice.getRoom(restricted)!.currentState.getStateEvents("m.room.member", erin.getUserId()!)!;
    expect(join.getContent().join_authorised_via_users_server).toBe(alice.getUserId());
  });

  it("catches up after the other server was down: what was sent meanwhile arrives, in order", async () => {
    const port = portC;
    const name = `127.0.0.1:${port}`;
    const persistDir = mkdtempSync(join(tmpdir(), "edge-matrix-fed-down-"));
    const vars = { ...sharedVars, FEDERATION_PLAINTEXT: `${a.serverName},${name}`, SIGNING_KEY: formatSigningKey(signingKeyFromSeed(new Uint8Array(32).fill(24), "c1")) };
    let c = await startServer({ port, serverName: name, persistDir, keepState: true, vars });
    try {
      const alice = await startClientAndWait(await registerClient(a.baseUrl, uniqueName("alice"), "pw"));
      const creds = await register(c.baseUrl, uniqueName("gus"), "pw");
      let gus = await startClientAndWait(clientFor(c.baseUrl, creds));
      const { room_id: roomId } = await alice.createRoom({ preset: "public_chat" as never });
      await gus.joinRoom(roomId, { viaServers: [a.serverName] });
      await waitFor(() => membership(alice, roomId, gus.getUserId()!) === "join");
      gus.stopClient();
      await c.stop();
      for (const body of ["while down 1", "while down 2", "while down 3"]) await alice.sendTextMessage(roomId, body);
      c = await startServer({ port, serverName: name, persistDir, keepState: true, vars });
      gus = await startClientAndWait(clientFor(c.baseUrl, creds));
      await waitFor(() => bodies(gus, roomId).includes("while down 3"), { timeoutMs: 30_000, what: "the queued events arrive after the outage" });
      expect(bodies(gus, roomId).filter((x) => x.startsWith("while down"))).toEqual(["while down 1", "while down 2", "while down 3"]);
      await gus.sendTextMessage(roomId, "back up");
      await waitFor(() => bodies(alice, roomId).includes("back up"), { timeoutMs: 30_000 });
    } finally {
      await c.stop();
      rmSync(persistDir, { recursive: true, force: true });
    }
  });

  it("a queue over its cap drops the oldest events; the rooms that lost their newest get a catch-up when the server is back", async () => {
    const [portD, portE] = [await freePort(), await freePort()];
    const [nameD, nameE] = [`127.0.0.1:${portD}`, `127.0.0.1:${portE}`];
    const persistDir = mkdtempSync(join(tmpdir(), "edge-matrix-fed-catchup-"));
    const vars = { ...sharedVars, FEDERATION_PLAINTEXT: `${nameD},${nameE}` };
    const d = await startServer({ port: portD, serverName: nameD, vars: { ...vars, FEDERATION_QUEUE_MAX_PDUS: "5" } });
    let e = await startServer({ port: portE, serverName: nameE, persistDir, keepState: true, vars });
    try {
      const dave = await startClientAndWait(await registerClient(d.baseUrl, uniqueName("dave"), "pw"));
      const creds = await register(e.baseUrl, uniqueName("erin"), "pw");
      let erin = await startClientAndWait(clientFor(e.baseUrl, creds));
      const { room_id: x } = await dave.createRoom({ preset: "public_chat" as never });
      const { room_id: y } = await dave.createRoom({ preset: "public_chat" as never });
      for (const r of [x, y]) {
        await erin.joinRoom(r, { viaServers: [nameD] });
        await waitFor(() => membership(dave, r, erin.getUserId()!) === "join");
      }
      erin.stopClient();
      await e.stop();
      // 3 in X, then 10 in Y: the cap of 5 keeps the first one (in flight) and Y's newest.
      for (let i = 1; i <= 3; i++) await dave.sendTextMessage(x, `x${i}`);
      for (let i = 1; i <= 10; i++) await dave.sendTextMessage(y, `y${i}`);
      e = await startServer({ port: portE, serverName: nameE, persistDir, keepState: true, vars });
      erin = await startClientAndWait(clientFor(e.baseUrl, creds));
      await waitFor(() => bodies(erin, y).includes("y10"), { timeoutMs: 30_000, what: "Y's newest events arrive" });
      // X's newest was dropped: only the catch-up brings it (and /get_missing_events what lies behind it).
      await waitFor(() => bodies(erin, x).includes("x3"), { timeoutMs: 30_000, what: "X's newest arrives by the catch-up" });
    } finally {
      await Promise.all([d.stop(), e.stop()]);
      rmSync(persistDir, { recursive: true, force: true });
    }
  }, 120_000);

  it("both servers change the power levels at once: the fork is resolved to the same state on both", async () => {
    const alice = await startClientAndWait(await registerClient(a.baseUrl, uniqueName("alice"), "pw"));
    const bob = await startClientAndWait(await registerClient(b.baseUrl, uniqueName("bob"), "pw"));
    const { room_id: roomId } = await alice.createRoom({ preset: "public_chat" as never });
    await bob.joinRoom(roomId, { viaServers: [a.serverName] });
    await waitFor(() => membership(alice, roomId, bob.getUserId()!) === "join");
    const pl = (await alice.getStateEvent(roomId, "m.room.power_levels", "")) as JsonObject & { users: Record<string, number> };
    await alice.sendStateEvent(roomId, "m.room.power_levels" as never, { ...pl, users: { ...pl.users, [bob.getUserId()!]: 100 } } as never, "");
    await waitFor(async () => ((await bob.getStateEvent(roomId, "m.room.power_levels", "")) as { users: Record<string, number> }).users[bob.getUserId()!] === 100, {
      what: "bob's server has bob at 100",
    });
    let forked = false;
    for (let attempt = 0; attempt < 5 && !forked; attempt++) {
      const base = (await alice.getStateEvent(roomId, "m.room.power_levels", "")) as JsonObject;
      // Sent at the same moment on both servers: each builds on its own latest event.
      const [ea, eb] = await Promise.all([
        alice.sendStateEvent(roomId, "m.room.power_levels" as never, { ...base, state_default: 60 + attempt } as never, ""),
        bob.sendStateEvent(roomId, "m.room.power_levels" as never, { ...base, events_default: 10 + attempt } as never, ""),
      ]);
      // Both servers end on the same power levels (the spec's resolution, computed independently).
      const settled = async () => {
        const [sa, sb] = await Promise.all([alice.getStateEvent(roomId, "m.room.power_levels", ""), bob.getStateEvent(roomId, "m.room.power_levels", "")]);
        return JSON.stringify(sa) === JSON.stringify(sb) ? sa : undefined;
      };
      await alice.sendTextMessage(roomId, `after fork ${attempt}`);
      await waitFor(() => bodies(bob, roomId).includes(`after fork ${attempt}`), { what: "the next message reaches bob" });
      const agreed = await waitFor(settled, { what: "both servers agree on the power levels" });
      expect([60 + attempt, base.state_default]).toContain((agreed as JsonObject).state_default);
      // Was it a fork? Neither event built on the other.
      const evA = await fed(b, a, KEY_A, "GET", `/_matrix/federation/v1/event/${encodeURIComponent(ea.event_id)}`);
      const evB = await fed(b, a, KEY_A, "GET", `/_matrix/federation/v1/event/${encodeURIComponent(eb.event_id)}`);
      const prevs = (r: { json: JsonObject }) => ((r.json.pdus as JsonObject[])[0]!.prev_events as string[]) ?? [];
      forked = !prevs(evA).includes(eb.event_id) && !prevs(evB).includes(ea.event_id);
    }
    expect(forked).toBe(true);
  });

  it("hostile PDUs: forged signatures, wrong hashes, events that fail auth and events of another server are refused, never a 5xx, never state", async () => {
    const bob = await startClientAndWait(await registerClient(b.baseUrl, uniqueName("bob"), "pw"));
    const { room_id: roomId } = await bob.createRoom({ preset: "public_chat" as never });
    const mallory = `@${uniqueName("mallory")}:${a.serverName}`;
    const made = await fed(b, a, KEY_A, "GET", `/_matrix/federation/v1/make_join/${encodeURIComponent(roomId)}/${encodeURIComponent(mallory)}?ver=12`);
    expect(made.status).toBe(200);
    const template = made.json.event as JsonObject;

    // A message from someone not in the room fails auth: rejected, and the others in the transaction still count.
    const { state_key: _sk, ...messageTemplate } = template;
    const message = signedAsA({ ...messageTemplate, type: "m.room.message", content: { msgtype: "m.text", body: "not a member" } });
    // Signed with a key that is not A's.
    const forged = signedAsA({ ...template, content: { membership: "join", displayname: "forged" } }, OTHER_KEY);
    // Claiming to be from a third server: its signature can never be checked, so it is dropped.
    const elsewhere = signedAsA({ ...template, sender: "@eve:elsewhere.example", state_key: "@eve:elsewhere.example" });
    const r1 = await sendTxn([message.pdu, forged.pdu, elsewhere.pdu]);
    expect(r1.status).toBe(200);
    const results = r1.json.pdus as Record<string, JsonObject>;
    // From a server with nobody in the room: refused unprocessed, with an error.
    expect(results[message.eventId]?.error).toMatch(/not in this room/);
    expect(results[forged.eventId]?.error).toMatch(/signature/);
    expect(results[elsewhere.eventId]?.error).toMatch(/signature/);

    // A join whose content was changed after signing: the hash no longer matches, so it is kept redacted.
    const join = signedAsA({ ...template, content: { membership: "join", displayname: "Mallory" } });
    (join.pdu.content as JsonObject).displayname = "Tampered";
    const sj = await fed(b, a, KEY_A, "PUT", `/_matrix/federation/v2/send_join/${encodeURIComponent(roomId)}/${encodeURIComponent(join.eventId)}`, join.pdu);
    expect(sj.status).toBe(200);
    const member = (await bob.getStateEvent(roomId, "m.room.member", mallory)) as JsonObject;
    expect(member).toEqual({ membership: "join" });

    // Now a member: a good message is accepted, the one signed by another key still is not.
    const plId = ((await bob.roomState(roomId)) as unknown as JsonObject[]).find((e) => e.type === "m.room.power_levels")!.event_id as string;
    const good = signedAsA({
      ...messageTemplate,
      type: "m.room.message",
      prev_events: [join.eventId],
      depth: (template.depth as number) + 1,
      auth_events: [plId, join.eventId],
      content: { msgtype: "m.text", body: "hello from mallory" },
    });
    const r2 = await sendTxn([good.pdu]);
    expect((r2.json.pdus as Record<string, JsonObject>)[good.eventId]).toEqual({});
    await waitFor(() => bodies(bob, roomId).includes("hello from mallory"), { what: "the good message reaches bob" });
    expect(bodies(bob, roomId)).not.toContain("not a member");
    // A member's event that fails auth (power levels it may not send) is processed and rejected:
    // no error in the answer (as Synapse), and no state change.
    const grab = signedAsA({ ...messageTemplate, type: "m.room.power_levels", state_key: "", prev_events: [good.eventId], depth: (template.depth as number) + 2, auth_events: [plId, join.eventId], content: { users: { [mallory]: 100 } } });
    expect(((await sendTxn([grab.pdu])).json.pdus as Record<string, JsonObject>)[grab.eventId]).toEqual({});
    expect(((await bob.getStateEvent(roomId, "m.room.power_levels", "")) as { users: Record<string, number> }).users[mallory]).toBeUndefined();

    // Malformed transactions are refused whole with the spec's errors.
    const tooMany = await sendTxn(Array.from({ length: 51 }, () => good.pdu));
    expect(tooMany.status).toBe(400);
    expect(tooMany.json.errcode).toBe("M_BAD_JSON");
    const notArrays = await fed(b, a, KEY_A, "PUT", `/_matrix/federation/v1/send/bad-${Date.now()}`, { origin: a.serverName, pdus: "x" } as JsonObject);
    expect(notArrays.status).toBe(400);
    // The same txnId again gets the first answer (applied once).
    const txn = `again-${Date.now()}`;
    const first = await fed(b, a, KEY_A, "PUT", `/_matrix/federation/v1/send/${txn}`, { origin: a.serverName, origin_server_ts: Date.now(), pdus: [message.pdu] });
    const second = await fed(b, a, KEY_A, "PUT", `/_matrix/federation/v1/send/${txn}`, { origin: a.serverName, origin_server_ts: Date.now(), pdus: [] });
    expect(second.json).toEqual(first.json);
    // A server the room's ACL denies: its requests are refused and its events dropped (ACLs ignore ports: both servers are 127.0.0.1).
    await bob.sendStateEvent(roomId, "m.room.server_acl" as never, { allow: ["*"], deny: ["127.0.0.1"], allow_ip_literals: true } as never, "");
    const denied = await fed(b, a, KEY_A, "GET", `/_matrix/federation/v1/make_join/${encodeURIComponent(roomId)}/${encodeURIComponent(`@x:${a.serverName}`)}?ver=12`);
    expect(denied.status).toBe(403);
    expect(denied.json.errcode).toBe("M_FORBIDDEN");
    const later = signedAsA({ ...messageTemplate, type: "m.room.message", prev_events: [good.eventId], depth: (template.depth as number) + 2, auth_events: [plId, join.eventId], content: { msgtype: "m.text", body: "after the ACL" } });
    const r3 = await sendTxn([later.pdu]);
    expect((r3.json.pdus as Record<string, JsonObject>)[later.eventId]?.error).toMatch(/banned/);
    // Reads are for servers in the room: a room A is not in answers 403.
    const { room_id: privateRoom } = await bob.createRoom({ preset: "private_chat" as never });
    const state = await fed(b, a, KEY_A, "GET", `/_matrix/federation/v1/state_ids/${encodeURIComponent(privateRoom)}?event_id=${encodeURIComponent(roomId)}`);
    expect(state.status).toBe(403);
  });

  it("a gap of 10,000 events: a few /get_missing_events, then the state before the event from its origin, where forged state is rejected; a key endpoint redirecting forever is a 401", async () => {
    const key = signingKeyFromSeed(new Uint8Array(32).fill(24), "f1");
    const f = await new FakeHomeserver(portF, key).start();
    const g = await new FakeHomeserver(portG, signingKeyFromSeed(new Uint8Array(32).fill(25), "g1"), "redirect-loop").start();
    try {
      const bob = await startClientAndWait(await registerClient(b.baseUrl, uniqueName("bob"), "pw"));
      const { room_id: roomId } = await bob.createRoom({ preset: "public_chat" as never });
      const mal = `@mal:${f.name}`;
      const made = await fed(b, { serverName: f.name }, key, "GET", `/_matrix/federation/v1/make_join/${encodeURIComponent(roomId)}/${encodeURIComponent(mal)}?ver=12`);
      expect(made.status).toBe(200);
      const template = made.json.event as JsonObject;
      const join = signedAs(f.name, { ...template, content: { membership: "join" } }, key);
      const sj = await fed(b, { serverName: f.name }, key, "PUT", `/_matrix/federation/v2/send_join/${encodeURIComponent(roomId)}/${encodeURIComponent(join.eventId)}`, join.pdu);
      expect(sj.status).toBe(200);
      const state = sj.json.state as JsonObject[];
      const pl = state.find((e) => e.type === "m.room.power_levels")!;
      const plId = eventIdFor(pl, "12");

      // 10,000 messages the room never saw, then one past them.
      const { state_key: _sk, ...msg } = template;
      let depth = (template.depth as number) + 1;
      const chain: Array<{ eventId: string; pdu: JsonObject }> = [];
      let prev = join.eventId;
      for (let i = 0; i < 10_000; i++) {
        const e = signedAs(f.name, { ...msg, type: "m.room.message", prev_events: [prev], depth: depth++, auth_events: [plId, join.eventId], content: { msgtype: "m.text", body: `lost ${i}` } }, key);
        chain.push(e);
        prev = e.eventId;
      }
      const tip = signedAs(f.name, { ...msg, type: "m.room.message", prev_events: [prev], depth: depth++, auth_events: [plId, join.eventId], content: { msgtype: "m.text", body: "past the gap" } }, key);
      const index = new Map(chain.map((e, i) => [e.eventId, i]));
      index.set(tip.eventId, chain.length);
      // A power level event mal may not send, claimed as the state before the tip.
      const forgedPl = signedAs(
        f.name,
        { ...msg, type: "m.room.power_levels", state_key: "", prev_events: [join.eventId], depth: (template.depth as number) + 1, auth_events: [plId, join.eventId], content: { ...(pl.content as JsonObject), users: { [mal]: 100 } } },
        key,
      );
      f.handlers.push(({ method, path, body }) => {
        if (method !== "POST" || !path.startsWith("/_matrix/federation/v1/get_missing_events/")) return undefined;
        const latest = index.get(((body?.latest_events as string[]) ?? [])[0] ?? "") ?? 0;
        const limit = Math.min(Number(body?.limit ?? 10), 100);
        return { status: 200, json: { events: chain.slice(Math.max(0, latest - limit), latest).reverse().map((e) => e.pdu) } };
      });
      // The state before any of the messages is the state after mal's join (forged here), by id and whole.
      const claimed = [...state.filter((e) => e !== pl), forgedPl.pdu, join.pdu];
      const chainOfJoin = sj.json.auth_chain as JsonObject[];
      f.handlers.push(({ path, query }) => {
        if (!index.has(query.get("event_id") ?? "")) return undefined;
        if (path.startsWith("/_matrix/federation/v1/state_ids/")) {
          return { status: 200, json: { pdu_ids: claimed.map((e) => eventIdFor(e, "12")), auth_chain_ids: chainOfJoin.map((e) => eventIdFor(e, "12")) } as JsonObject };
        }
        if (path.startsWith("/_matrix/federation/v1/state/")) return { status: 200, json: { pdus: claimed, auth_chain: chainOfJoin } as JsonObject };
        return undefined;
      });
      f.handlers.push(({ path }) => {
        const found = [...claimed, ...chainOfJoin].find((e) => path === `/_matrix/federation/v1/event/${encodeURIComponent(eventIdFor(e, "12"))}`);
        return found ? { status: 200, json: { origin: f.name, origin_server_ts: Date.now(), pdus: [found] } } : undefined;
      });

      // Signing blocked the event loop for seconds: let idle keep-alive sockets the server closed meanwhile go first.
      await new Promise((r) => setTimeout(r, 100));
      const res = await fed(b, { serverName: f.name }, key, "PUT", `/_matrix/federation/v1/send/gap-${Date.now()}`, { origin: f.name, origin_server_ts: Date.now(), pdus: [tip.pdu] });
      expect(res.status).toBe(200);
      expect((res.json.pdus as Record<string, JsonObject>)[tip.eventId]).toEqual({});
      expect(f.count("/_matrix/federation/v1/get_missing_events/")).toBeLessThanOrEqual(3);
      // The state before it by id (/state_ids), and the one event of it B lacked (the forged power levels) by /event.
      expect(f.count("/_matrix/federation/v1/state_ids/")).toBe(1);
      expect(f.count("/_matrix/federation/v1/event/")).toBe(1);
      await waitFor(() => bodies(bob, roomId).includes("past the gap"), { what: "the event past the gap reaches bob" });
      // What /get_missing_events brought (the newest few of the 10,000) links up to the tip; nothing older came.
      const lost = bodies(bob, roomId).filter((t) => t.startsWith("lost "));
      expect(lost.length).toBeLessThanOrEqual(20);
      expect(lost.at(-1)).toBe("lost 9999");
      // The forged power levels never became state.
      const levels = (await bob.getStateEvent(roomId, "m.room.power_levels", "")) as JsonObject;
      expect((levels.users as JsonObject)[mal]).toBeUndefined();
      await bob.sendTextMessage(roomId, "still fine");
      await waitFor(() => bodies(bob, roomId).includes("still fine"), { what: "the room works after the gap" });

      // An invite from a server that then refuses to help reject it (no make_leave here): rejected locally all the same.
      const dave = await startClientAndWait(await registerClient(b.baseUrl, uniqueName("dave"), "pw"));
      const elsewhere = `!elsewhere${Date.now()}:${f.name}`;
      const invite = signedAs(
        f.name,
        { type: "m.room.member", state_key: dave.getUserId()!, sender: mal, room_id: elsewhere, content: { membership: "invite" }, prev_events: [], auth_events: [], depth: 3, origin: f.name },
        key,
      );
      const v10 = signEvent({ ...invite.pdu, origin_server_ts: Date.now() }, "10", f.name, key.keyId, key.seed) as unknown as JsonObject;
      const v10Id = eventIdFor(v10, "10");
      const invited = await fed(b, { serverName: f.name }, key, "PUT", `/_matrix/federation/v2/invite/${encodeURIComponent(elsewhere)}/${encodeURIComponent(v10Id)}`, {
        event: v10,
        room_version: "10",
        invite_room_state: [{ type: "m.room.name", state_key: "", sender: mal, content: { name: "Elsewhere" } }],
      });
      expect(invited.status).toBe(200);
      await waitFor(() => dave.getRoom(elsewhere)?.getMyMembership() === "invite", { what: "dave sees the invite" });
      await dave.leave(elsewhere);
      await waitFor(() => dave.getRoom(elsewhere)?.getMyMembership() === "leave", { what: "the invite is gone for dave" });

      // A server whose key endpoint redirects to itself: its requests cannot be verified.
      const loop = await fed(b, { serverName: g.name }, g.key, "GET", `/_matrix/federation/v1/query/profile?user_id=${encodeURIComponent(bob.getUserId()!)}`);
      expect(loop.status).toBe(401);
      expect(loop.json.errcode).toBe("M_UNAUTHORIZED");
      expect(g.count("/_matrix/key/v2/server")).toBeLessThanOrEqual(3);
    } finally {
      await Promise.all([f.stop(), g.stop()]);
    }
  }, 120_000);
});
