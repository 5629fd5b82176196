/**
 * This server and a real Synapse sharing rooms (`npm run interop:synapse`; not part
 * of `npm test`). Needs the Synapse of ../shared/synapse set up once (setup.sh);
 * the test starts it with --federation when it is not running (and stops it again
 * then). Federation is over TLS both ways, on loopback only:
 * - Synapse is `localhost:18448` with a certificate from a throwaway local CA
 *   ($SYNAPSE_STATE/tls); workerd trusts that CA through NODE_EXTRA_CA_CERTS.
 * - This server is `localhost:<port>`, reached by Synapse through a TLS terminator
 *   started here (same certificate) in front of wrangler's plain HTTP.
 * Both sides are driven by matrix-js-sdk.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import http from "node:http";
import https from "node:https";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventType, type MatrixClient, type MatrixEvent } from "matrix-js-sdk";
import {
  REPO_ROOT,
  clientFor,
  register,
  registerClient,
  startClientAndWait,
  startServer,
  stopAllClients,
  uniqueName,
  waitFor,
  type StartServerOptions,
  type TestServer,
} from "../e2e/harness.js";
import { freePort } from "../e2e/server.mjs";

const STATE = process.env.SYNAPSE_STATE ?? "/tmp/synapse-peer";
const SYNAPSE_DIR = process.env.SYNAPSE_DIR ?? resolve(REPO_ROOT, "../shared/synapse");
const SYNAPSE_CLIENT = process.env.SYNAPSE_CLIENT_URL ?? "http://127.0.0.1:18008";
const SYNAPSE_NAME = process.env.SYNAPSE_SERVER_NAME ?? "localhost:18448";

let ours: TestServer;
let proxy: https.Server;
let startedSynapse = false;
let persistDir: string;
let ourOptions: StartServerOptions;

async function synapseUp(): Promise<boolean> {
  try {
    const res = await fetch(`${SYNAPSE_CLIENT}/_matrix/client/versions`);
    return res.ok;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  if (!(await synapseUp())) {
    execFileSync(join(SYNAPSE_DIR, "start.sh"), ["--federation"], { stdio: "inherit" });
    startedSynapse = true;
  }
  const ca = join(STATE, "tls/ca.crt");
  if (!existsSync(ca)) throw new Error(`no ${ca}: start Synapse with ${SYNAPSE_DIR}/start.sh --federation`);
  process.env.NODE_EXTRA_CA_CERTS = ca;
  const [plain, tls] = [await freePort(), await freePort()];
  const serverName = `localhost:${tls}`;
  persistDir = mkdtempSync(join(tmpdir(), "edge-matrix-interop-"));
  ourOptions = {
    port: plain,
    serverName,
    persistDir,
    keepState: true,
    vars: { FEDERATION_ALLOW: "127.0.0.1, localhost", FEDERATION_DOH_URL: "", FEDERATION_RETRY_BASE_MS: "1000", FEDERATION_RETRY_MAX_MS: "5000" },
  };
  ours = await startServer(ourOptions);
  const agent = new http.Agent({ keepAlive: true });
  proxy = https.createServer({ cert: readFileSync(join(STATE, "tls/localhost.crt")), key: readFileSync(join(STATE, "tls/localhost.key")) }, (req, res) => {
    const up = http.request({ host: "127.0.0.1", port: plain, method: req.method, path: req.url, headers: req.headers, agent }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on("error", () => res.writeHead(502).end());
    req.pipe(up);
  });
  await new Promise<void>((r) => proxy.listen(tls, "127.0.0.1", () => r()));
}, 180_000);

afterAll(async () => {
  stopAllClients();
  await new Promise<void>((r) => (proxy ? proxy.close(() => r()) : r()));
  await ours?.stop();
  if (persistDir) rmSync(persistDir, { recursive: true, force: true });
  if (startedSynapse) execFileSync(join(SYNAPSE_DIR, "stop.sh"), { stdio: "inherit" });
});

const bodies = (client: MatrixClient, roomId: string) =>
  (client.getRoom(roomId)?.getLiveTimeline().getEvents() ?? []).filter((e: MatrixEvent) => e.getType() === EventType.RoomMessage).map((e: MatrixEvent) => e.getContent().body as string);
const membership = (client: MatrixClient, roomId: string, userId: string) => client.getRoom(roomId)?.getMember(userId)?.membership;
const slow = { timeoutMs: 30_000 };

describe("federation with Synapse", () => {
  it("a room made here: Synapse's user is invited, joins, talks, leaves", async () => {
    const alice = await startClientAndWait(await registerClient(ours.baseUrl, uniqueName("alice"), "pw"));
    const bob = await startClientAndWait(await registerClient(SYNAPSE_CLIENT, uniqueName("bob"), "pw-bob-1"));
    const { room_id: roomId } = await alice.createRoom({ name: "Made here", preset: "private_chat" as never });
    await alice.invite(roomId, bob.getUserId()!);
    await waitFor(() => bob.getRoom(roomId)?.getMyMembership() === "invite", { ...slow, what: "Synapse's user sees the invite" });
    await bob.joinRoom(roomId);
    await waitFor(() => membership(alice, roomId, bob.getUserId()!) === "join", { ...slow, what: "our user sees the join" });
    await alice.sendTextMessage(roomId, "hello Synapse");
    await waitFor(() => bodies(bob, roomId).includes("hello Synapse"), { ...slow, what: "Synapse receives" });
    await bob.sendTextMessage(roomId, "hello edge");
    await waitFor(() => bodies(alice, roomId).includes("hello edge"), { ...slow, what: "we receive" });
    await bob.leave(roomId);
    await waitFor(() => membership(alice, roomId, bob.getUserId()!) === "leave", { ...slow, what: "the leave arrives" });
  });

  it("a room made on Synapse: our user is invited, joins, talks, sees power changes, leaves", async () => {
    const alice = await startClientAndWait(await registerClient(ours.baseUrl, uniqueName("alice"), "pw"));
    const bob = await startClientAndWait(await registerClient(SYNAPSE_CLIENT, uniqueName("bob"), "pw-bob-2"));
    const { room_id: roomId } = await bob.createRoom({ name: "Made on Synapse", preset: "private_chat" as never });
    await bob.invite(roomId, alice.getUserId()!);
    await waitFor(() => alice.getRoom(roomId)?.getMyMembership() === "invite", { ...slow, what: "our user sees Synapse's invite" });
    await alice.joinRoom(roomId);
    await waitFor(() => membership(bob, roomId, alice.getUserId()!) === "join", { ...slow, what: "Synapse sees our join" });
    expect(alice.getRoom(roomId)?.name).toBe("Made on Synapse");
    await bob.sendTextMessage(roomId, "from Synapse");
    await waitFor(() => bodies(alice, roomId).includes("from Synapse"), { ...slow, what: "we receive" });
    await alice.sendTextMessage(roomId, "from edge");
    await waitFor(() => bodies(bob, roomId).includes("from edge"), { ...slow, what: "Synapse receives" });
    await bob.setPowerLevel(roomId, alice.getUserId()!, 50);
    await waitFor(() => alice.getRoom(roomId)?.getMember(alice.getUserId()!)?.powerLevel === 50, { ...slow, what: "the power change arrives" });
    await alice.leave(roomId);
    await waitFor(() => membership(bob, roomId, alice.getUserId()!) === "leave", { ...slow, what: "Synapse sees our leave" });
  });

  it("joins a public Synapse room by its alias, and Synapse's users join ours by alias", async () => {
    const alice = await startClientAndWait(await registerClient(ours.baseUrl, uniqueName("alice"), "pw"));
    const bob = await startClientAndWait(await registerClient(SYNAPSE_CLIENT, uniqueName("bob"), "pw-bob-3"));
    const theirs = uniqueName("theirs");
    const { room_id: theirRoom } = await bob.createRoom({ preset: "public_chat" as never, room_alias_name: theirs });
    await alice.joinRoom(`#${theirs}:${SYNAPSE_NAME}`);
    await waitFor(() => membership(bob, theirRoom, alice.getUserId()!) === "join", { ...slow, what: "joined Synapse's room by alias" });
    const mine = uniqueName("mine");
    const { room_id: myRoom } = await alice.createRoom({ preset: "public_chat" as never, room_alias_name: mine });
    await bob.joinRoom(`#${mine}:${ours.serverName}`);
    await waitFor(() => membership(alice, myRoom, bob.getUserId()!) === "join", { ...slow, what: "Synapse joined ours by alias" });
  });

  it("both servers change the power levels at once and agree afterwards", async () => {
    const alice = await startClientAndWait(await registerClient(ours.baseUrl, uniqueName("alice"), "pw"));
    const bob = await startClientAndWait(await registerClient(SYNAPSE_CLIENT, uniqueName("bob"), "pw-bob-4"));
    const { room_id: roomId } = await alice.createRoom({ preset: "public_chat" as never });
    await bob.joinRoom(roomId, { viaServers: [ours.serverName] });
    await waitFor(() => membership(alice, roomId, bob.getUserId()!) === "join", slow);
    await alice.setPowerLevel(roomId, bob.getUserId()!, 100);
    await waitFor(() => bob.getRoom(roomId)?.getMember(bob.getUserId()!)?.powerLevel === 100, slow);
    const base = (await alice.getStateEvent(roomId, "m.room.power_levels", "")) as Record<string, unknown>;
    await Promise.all([
      alice.sendStateEvent(roomId, "m.room.power_levels" as never, { ...base, state_default: 60 } as never, ""),
      bob.sendStateEvent(roomId, "m.room.power_levels" as never, { ...base, events_default: 10 } as never, ""),
    ]);
    await alice.sendTextMessage(roomId, "after");
    await waitFor(() => bodies(bob, roomId).includes("after"), slow);
    await bob.sendTextMessage(roomId, "after too");
    await waitFor(() => bodies(alice, roomId).includes("after too"), slow);
    await waitFor(
      async () => JSON.stringify(await alice.getStateEvent(roomId, "m.room.power_levels", "")) === JSON.stringify(await bob.getStateEvent(roomId, "m.room.power_levels", "")),
      { ...slow, what: "both servers hold the same power levels" },
    );
  });

  it("kicks and bans across servers, both ways", async () => {
    const alice = await startClientAndWait(await registerClient(ours.baseUrl, uniqueName("alice"), "pw"));
    const bob = await startClientAndWait(await registerClient(SYNAPSE_CLIENT, uniqueName("bob"), "pw-bob-5"));
    const { room_id: mine } = await alice.createRoom({ preset: "public_chat" as never });
    await bob.joinRoom(mine, { viaServers: [ours.serverName] });
    await waitFor(() => membership(alice, mine, bob.getUserId()!) === "join", slow);
    await alice.kick(mine, bob.getUserId()!, "out");
    await waitFor(() => bob.getRoom(mine)?.getMyMembership() === "leave", { ...slow, what: "Synapse's user sees the kick" });
    await bob.joinRoom(mine, { viaServers: [ours.serverName] });
    await waitFor(() => membership(alice, mine, bob.getUserId()!) === "join", { ...slow, what: "rejoined after the kick" });
    await alice.ban(mine, bob.getUserId()!, "gone");
    await waitFor(() => bob.getRoom(mine)?.getMyMembership() === "ban", { ...slow, what: "Synapse's user sees the ban" });
    await expect(bob.joinRoom(mine, { viaServers: [ours.serverName] })).rejects.toMatchObject({ errcode: "M_FORBIDDEN" });

    const { room_id: theirs } = await bob.createRoom({ preset: "public_chat" as never });
    await alice.joinRoom(theirs, { viaServers: [SYNAPSE_NAME] });
    await waitFor(() => membership(bob, theirs, alice.getUserId()!) === "join", slow);
    await bob.ban(theirs, alice.getUserId()!, "gone");
    await waitFor(() => membership(alice, theirs, alice.getUserId()!) === "ban", { ...slow, what: "our user sees Synapse's ban" });
    await expect(alice.joinRoom(theirs, { viaServers: [SYNAPSE_NAME] })).rejects.toMatchObject({ errcode: "M_FORBIDDEN" });
  });

  it("knocks, and restricted joins through a space, both ways", async () => {
    const alice = await startClientAndWait(await registerClient(ours.baseUrl, uniqueName("alice"), "pw"));
    const bob = await startClientAndWait(await registerClient(SYNAPSE_CLIENT, uniqueName("bob"), "pw-bob-6"));
    // Our user knocks on Synapse's room and is let in.
    const { room_id: knockRoom } = await bob.createRoom({ preset: "private_chat" as never, room_version: "10", initial_state: [{ type: "m.room.join_rules", state_key: "", content: { join_rule: "knock" } }] } as never);
    await alice.knockRoom(knockRoom, { viaServers: [SYNAPSE_NAME] });
    await waitFor(() => membership(bob, knockRoom, alice.getUserId()!) === "knock", { ...slow, what: "Synapse sees the knock" });
    await bob.invite(knockRoom, alice.getUserId()!);
    await waitFor(() => alice.getRoom(knockRoom)?.getMyMembership() === "invite", { ...slow, what: "the knock is answered with an invite" });
    await alice.joinRoom(knockRoom);
    await waitFor(() => membership(bob, knockRoom, alice.getUserId()!) === "join", slow);
    // Synapse's user knocks on ours.
    const { room_id: ourKnock } = await alice.createRoom({ preset: "private_chat" as never, initial_state: [{ type: "m.room.join_rules", state_key: "", content: { join_rule: "knock" } }] } as never);
    await bob.knockRoom(ourKnock, { viaServers: [ours.serverName] });
    await waitFor(() => membership(alice, ourKnock, bob.getUserId()!) === "knock", { ...slow, what: "we see Synapse's knock" });

    // Restricted rooms: members of a space may join; Synapse's space and room, then ours.
    const restricted = (space: string) => ({
      preset: "private_chat",
      room_version: "10",
      initial_state: [{ type: "m.room.join_rules", state_key: "", content: { join_rule: "restricted", allow: [{ type: "m.room_membership", room_id: space }] } }],
    });
    const { room_id: theirSpace } = await bob.createRoom({ preset: "public_chat", creation_content: { type: "m.space" } } as never);
    const { room_id: theirRestricted } = await bob.createRoom(restricted(theirSpace) as never);
    await expect(alice.joinRoom(theirRestricted, { viaServers: [SYNAPSE_NAME] })).rejects.toMatchObject({ errcode: "M_FORBIDDEN" });
    await alice.joinRoom(theirSpace, { viaServers: [SYNAPSE_NAME] });
    await alice.joinRoom(theirRestricted, { viaServers: [SYNAPSE_NAME] });
    await waitFor(() => membership(bob, theirRestricted, alice.getUserId()!) === "join", { ...slow, what: "joined Synapse's restricted room" });
    const { room_id: ourSpace } = await alice.createRoom({ preset: "public_chat", creation_content: { type: "m.space" } } as never);
    const { room_id: ourRestricted } = await alice.createRoom(restricted(ourSpace) as never);
    await bob.joinRoom(ourSpace, { viaServers: [ours.serverName] });
    await bob.joinRoom(ourRestricted, { viaServers: [ours.serverName] });
    await waitFor(() => membership(alice, ourRestricted, bob.getUserId()!) === "join", { ...slow, what: "Synapse joined our restricted room" });
  });

  it("lists each other's public rooms and profiles", async () => {
    const alice = await startClientAndWait(await registerClient(ours.baseUrl, uniqueName("alice"), "pw"));
    const bob = await startClientAndWait(await registerClient(SYNAPSE_CLIENT, uniqueName("bob"), "pw-bob-7"));
    const theirName = uniqueName("Synapse public");
    const { room_id: theirs } = await bob.createRoom({ preset: "public_chat" as never, visibility: "public" as never, name: theirName });
    const ourName = uniqueName("Edge public");
    const { room_id: mine } = await alice.createRoom({ preset: "public_chat" as never, visibility: "public" as never, name: ourName });
    // Synapse's default room_list_publication_rules let nobody publish (not even its admins:
    // "Not allowed to publish room"), so its directory is empty here; what is checked this way is
    // that Synapse accepts our signed request and answers a directory page.
    const there = await alice.publicRooms({ server: SYNAPSE_NAME, limit: 100, filter: { generic_search_term: theirName } });
    expect(Array.isArray(there.chunk)).toBe(true);
    expect(await bob.getRoomDirectoryVisibility(theirs)).toEqual({ visibility: "private" });
    const here = await bob.publicRooms({ server: ours.serverName, limit: 100, filter: { generic_search_term: ourName } });
    expect(here.chunk.map((r) => r.room_id)).toContain(mine);
    await bob.setDisplayName("Bob on Synapse");
    expect((await alice.getProfileInfo(bob.getUserId()!)).displayname).toBe("Bob on Synapse");
    await alice.setDisplayName("Alice on edge");
    expect((await bob.getProfileInfo(alice.getUserId()!)).displayname).toBe("Alice on edge");
  });

  it("while Synapse is down, what we send waits; it arrives, in order, when Synapse is back", async () => {
    const alice = await startClientAndWait(await registerClient(ours.baseUrl, uniqueName("alice"), "pw"));
    const bob = await startClientAndWait(await registerClient(SYNAPSE_CLIENT, uniqueName("bob"), "pw-bob-8"));
    const { room_id: roomId } = await alice.createRoom({ preset: "public_chat" as never });
    await bob.joinRoom(roomId, { viaServers: [ours.serverName] });
    await waitFor(() => membership(alice, roomId, bob.getUserId()!) === "join", slow);
    bob.stopClient();
    execFileSync(join(SYNAPSE_DIR, "stop.sh"), { stdio: "inherit" });
    try {
      for (const body of ["while Synapse was down 1", "while Synapse was down 2", "while Synapse was down 3"]) await alice.sendTextMessage(roomId, body);
    } finally {
      execFileSync(join(SYNAPSE_DIR, "start.sh"), ["--federation"], { stdio: "inherit" });
    }
    await bob.startClient();
    await waitFor(() => bodies(bob, roomId).includes("while Synapse was down 3"), { timeoutMs: 60_000, what: "the queued events arrive" });
    expect(bodies(bob, roomId).filter((x) => x.startsWith("while Synapse"))).toEqual(["while Synapse was down 1", "while Synapse was down 2", "while Synapse was down 3"]);
  });

  it("while we are down, Synapse's room moves on by 80 messages; when we are back, the next one arrives across the gap", async () => {
    const creds = await register(ours.baseUrl, uniqueName("alice"), "pw");
    let alice = await startClientAndWait(clientFor(ours.baseUrl, creds));
    const bob = await startClientAndWait(await registerClient(SYNAPSE_CLIENT, uniqueName("bob"), "pw-bob-9"));
    const { room_id: roomId } = await bob.createRoom({ preset: "public_chat" as never });
    await alice.joinRoom(roomId, { viaServers: [SYNAPSE_NAME] });
    await waitFor(() => membership(bob, roomId, alice.getUserId()!) === "join", slow);
    alice.stopClient();
    await ours.stop();
    try {
      for (let i = 0; i < 80; i++) await bob.sendTextMessage(roomId, `while we were down ${i}`);
      await bob.setRoomTopic(roomId, "changed while we were down");
    } finally {
      ours = await startServer(ourOptions);
    }
    alice = await startClientAndWait(clientFor(ours.baseUrl, creds));
    await bob.sendTextMessage(roomId, "after the gap");
    await waitFor(() => bodies(alice, roomId).includes("after the gap"), { timeoutMs: 60_000, what: "the event past the gap arrives" });
    // The state that changed meanwhile came with it.
    expect(((await alice.getStateEvent(roomId, "m.room.topic", "")) as { topic: string }).topic).toBe("changed while we were down");
    await alice.sendTextMessage(roomId, "we are back");
    await waitFor(() => bodies(bob, roomId).includes("we are back"), { ...slow, what: "Synapse accepts our next event" });
  });
});
