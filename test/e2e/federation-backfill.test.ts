/**
 * History from other servers in /messages (server-server-api "Backfilling and
 * retrieving missing events"): two instances of this server on loopback (as in
 * federation-rooms.test.ts), plus a fake third server the test speaks for. A user
 * of B joins a room of A with history; paginating back from the join fetches that
 * history from A with /backfill, checks it and stores it below everything B had.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventIdFor } from "../../src/event-id.js";
import type { JsonObject } from "../../src/json.js";
import { formatSigningKey, signJson, signingKeyFromSeed, type SigningKey } from "../../src/signing.js";
import { type Credentials, fetchJson, register, registerClient, startClientAndWait, startServer, stopAllClients, uniqueName, waitFor, type TestServer } from "./harness.js";
import { fed, signedAs } from "./federation-helpers.js";
import { freePort } from "./server.mjs";

const KEY_A = signingKeyFromSeed(new Uint8Array(32).fill(31), "a1");
const KEY_B = signingKeyFromSeed(new Uint8Array(32).fill(32), "b1");
const KEY_H = signingKeyFromSeed(new Uint8Array(32).fill(33), "h1");
const WRONG_KEY = signingKeyFromSeed(new Uint8Array(32).fill(34), "a1");

/**
 * A hostile homeserver: serves its key, takes transactions, and answers /backfill
 * with whatever the test put in `backfillAnswer`; every other read is 404.
 */
class FakeServer {
  backfillAnswer: JsonObject[] = [];
  readonly requests: string[] = [];
  private server!: Server;
  name = "";

  async start(port: number): Promise<this> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(port, "127.0.0.1", resolve));
    this.name = `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    req.resume();
    req.on("end", () => {
      const path = req.url ?? "";
      this.requests.push(`${req.method} ${path.split("?")[0]}`);
      const json = (status: number, body: unknown) => void res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
      if (path === "/_matrix/key/v2/server") {
        const body = { server_name: this.name, valid_until_ts: Date.now() + 3_600_000, verify_keys: { [KEY_H.keyId]: { key: KEY_H.publicKeyBase64 } }, old_verify_keys: {} };
        return json(200, signJson(body, this.name, KEY_H.keyId, KEY_H.seed));
      }
      if (req.method === "PUT" && path.startsWith("/_matrix/federation/v1/send/")) return json(200, { pdus: {} });
      if (path.startsWith("/_matrix/federation/v1/backfill/")) return json(200, { origin: this.name, origin_server_ts: Date.now(), pdus: this.backfillAnswer });
      json(404, { errcode: "M_NOT_FOUND", error: "not here" });
    });
  }
}

let a: TestServer;
let b: TestServer;
let h: FakeServer;
let portB: number;
let persistB: string;
let varsB: Record<string, string>;

beforeAll(async () => {
  const [portA, portH] = [await freePort(), await freePort()];
  portB = await freePort();
  const [nameA, nameB, nameH] = [portA, portB, portH].map((p) => `127.0.0.1:${p}`);
  const vars = { FEDERATION_ALLOW: "127.0.0.1", FEDERATION_DOH_URL: "", FEDERATION_TIMEOUT_MS: "10000", FEDERATION_RETRY_BASE_MS: "500", FEDERATION_PLAINTEXT: `${nameA},${nameB},${nameH}` };
  persistB = mkdtempSync(join(tmpdir(), "edge-matrix-backfill-"));
  varsB = { ...vars, SIGNING_KEY: formatSigningKey(KEY_B) };
  h = await new FakeServer().start(portH);
  [a, b] = await Promise.all([
    startServer({ port: portA, serverName: nameA, vars: { ...vars, SIGNING_KEY: formatSigningKey(KEY_A) } }),
    startServer({ port: portB, serverName: nameB, persistDir: persistB, keepState: true, vars: varsB }),
  ]);
}, 60_000);

afterAll(async () => {
  stopAllClients();
  await Promise.all([a?.stop(), b?.stop(), h?.close()]);
  rmSync(persistB, { recursive: true, force: true });
});

interface ClientEv {
  event_id: string;
  type: string;
  sender: string;
  state_key?: string;
  content: JsonObject;
}
interface MessagesPage {
  chunk: ClientEv[];
  end?: string;
}

/** Pages /messages backwards from `from` until the server says there is no more; every status seen, and the events oldest first. */
async function paginateBack(server: TestServer, token: string, roomId: string, from: string, limit: number): Promise<{ events: ClientEv[]; statuses: number[]; pages: number }> {
  const events: ClientEv[] = [];
  const statuses: number[] = [];
  let cursor: string | undefined = from;
  let pages = 0;
  while (cursor !== undefined && pages < 40) {
    const res: { status: number; body: MessagesPage } = await fetchJson<MessagesPage>(server.baseUrl, `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=${limit}&from=${encodeURIComponent(cursor)}`, { token });
    statuses.push(res.status);
    pages++;
    if (res.status !== 200) break;
    events.push(...res.body.chunk);
    cursor = res.body.end;
  }
  return { events: events.reverse(), statuses, pages };
}

const bodiesOf = (events: ClientEv[]) => events.filter((e) => e.type === "m.room.message").map((e) => e.content.body as string | undefined);

/** The sync token and the timeline's prev_batch of a room, from a raw /sync. */
async function syncPoint(server: TestServer, token: string, roomId: string, since?: string): Promise<{ nextBatch: string; prevBatch?: string; timeline: ClientEv[] }> {
  const res = await fetchJson<{ next_batch: string; rooms?: { join?: Record<string, { timeline: { events: ClientEv[]; prev_batch?: string } }> } }>(
    server.baseUrl,
    `/_matrix/client/v3/sync?timeout=0${since ? `&since=${encodeURIComponent(since)}` : ""}`,
    { token },
  );
  expect(res.status).toBe(200);
  const room = res.body.rooms?.join?.[roomId];
  return { nextBatch: res.body.next_batch, prevBatch: room?.timeline.prev_batch, timeline: room?.timeline.events ?? [] };
}

/** Joins as soon as the invite from the other server has arrived. */
async function joinWhenInvited(server: TestServer, token: string, roomId: string): Promise<void> {
  await waitFor(async () => (await fetchJson(server.baseUrl, `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, { token, json: {} })).status === 200, { what: "the invitee can join" });
}

/** A federation request to `to`, signed as the server named `fromName`. */
const fedAs = (to: TestServer, fromName: string, key: SigningKey, method: string, path: string, body?: JsonObject) => fed(to, { serverName: fromName }, key, method, path, body);
const signedBy = (server: string, key: SigningKey, template: JsonObject) => signedAs(server, template, key);

let sharedRoom = "";
let bobCreds: Credentials;

describe("backfill in /messages", () => {
  it("a user joining a room with shared history pages back through all of it, in order, with its state", async () => {
    const alice = await registerClient(a.baseUrl, uniqueName("alice"), "pw");
    bobCreds = await register(b.baseUrl, uniqueName("bob"), "pw");
    const { room_id: roomId } = await alice.createRoom({ preset: "private_chat" as never, name: "History" });
    sharedRoom = roomId;
    for (let i = 1; i <= 30; i++) {
      await alice.sendTextMessage(roomId, `m${i}`);
      if (i === 10) await alice.setRoomTopic(roomId, "first topic");
      if (i === 20) await alice.setRoomTopic(roomId, "second topic");
    }
    await alice.invite(roomId, bobCreds.userId);
    await joinWhenInvited(b, bobCreds.accessToken, roomId);

    const start = await syncPoint(b, bobCreds.accessToken, roomId);
    expect(start.prevBatch).toBeDefined();
    // Only what the join brought is here: no message before the join yet.
    expect(bodiesOf(start.timeline)).toEqual([]);

    // Pages of 10: several backfills, the later ones needing the state before their oldest event from A.
    const { events: paged, statuses } = await paginateBack(b, bobCreds.accessToken, roomId, start.prevBatch!, 10);
    const events = [...paged, ...start.timeline];
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(bodiesOf(events)).toEqual(Array.from({ length: 30 }, (_, i) => `m${i + 1}`));
    expect(events.some((e) => e.type === "m.room.create")).toBe(true);
    // The first topic is history: in the timeline, between m10 and m11.
    const firstTopic = events.find((e) => e.type === "m.room.topic" && e.content.topic === "first topic")!;
    expect(firstTopic).toBeDefined();
    const order = events.map((e) => (e.type === "m.room.message" ? (e.content.body as string) : e.event_id));
    expect(order.indexOf(firstTopic.event_id)).toBe(order.indexOf("m10") + 1);
    // Each event only once.
    expect(new Set(events.map((e) => e.event_id)).size).toBe(events.length);

    // The state of a backfilled event is its own; the room's current state has not moved.
    const byBody = (body: string) => events.find((e) => e.content.body === body)!;
    const ctx = async (body: string) =>
      (await fetchJson<{ state: ClientEv[] }>(b.baseUrl, `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/context/${encodeURIComponent(byBody(body).event_id)}?limit=0`, { token: bobCreds.accessToken })).body.state;
    const topicIn = (state: ClientEv[]) => state.find((e) => e.type === "m.room.topic")?.content.topic;
    expect(topicIn(await ctx("m5"))).toBeUndefined();
    expect(topicIn(await ctx("m15"))).toBe("first topic");
    expect(topicIn(await ctx("m25"))).toBe("second topic");
    const current = await fetchJson<JsonObject>(b.baseUrl, `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.topic`, { token: bobCreds.accessToken });
    expect(current.body.topic).toBe("second topic");
    const bobMember = await fetchJson<JsonObject>(b.baseUrl, `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.member/${encodeURIComponent(bobCreds.userId)}`, { token: bobCreds.accessToken });
    expect(bobMember.body.membership).toBe("join");

    // Nothing of it is new to /sync.
    const after = await syncPoint(b, bobCreds.accessToken, roomId, start.nextBatch);
    expect(after.timeline).toEqual([]);

    // The room goes on: messages both ways still flow after the backfill.
    await alice.sendTextMessage(roomId, "after the backfill");
    const live = await waitFor(async () => {
      const s = await syncPoint(b, bobCreds.accessToken, roomId, start.nextBatch);
      return bodiesOf(s.timeline).includes("after the backfill") ? s : undefined;
    }, { what: "a new message reaches B" });
    expect(bodiesOf(live.timeline)).toEqual(["after the backfill"]);

    // A real client scrolling back from its own sync sees the same history (now from B's storage).
    const bob = await startClientAndWait(await registerClient(b.baseUrl, uniqueName("bobby"), "pw"));
    await alice.invite(roomId, bob.getUserId()!);
    await waitFor(() => bob.getRoom(roomId)?.getMyMembership() === "invite", { what: "bobby is invited" });
    await bob.joinRoom(roomId);
    await waitFor(() => bob.getRoom(roomId)?.getMyMembership() === "join");
    const room = bob.getRoom(roomId)!;
    for (let i = 0; i < 20 && room.oldState.paginationToken !== null; i++) await bob.scrollback(room, 30);
    const seen = room.getLiveTimeline().getEvents().filter((e) => e.getType() === "m.room.message").map((e) => e.getContent().body as string);
    expect(seen.slice(0, 31)).toEqual([...Array.from({ length: 30 }, (_, i) => `m${i + 1}`), "after the backfill"]);
    expect(room.currentState.getStateEvents("m.room.topic", "")?.getContent().topic).toBe("second topic");
    bob.stopClient();
  }, 120_000);

  it("history_visibility joined: the joining user gets nothing from before the join", async () => {
    const alice = await registerClient(a.baseUrl, uniqueName("alice"), "pw");
    const carol = await register(b.baseUrl, uniqueName("carol"), "pw");
    const { room_id: roomId } = await alice.createRoom({
      preset: "private_chat" as never,
      initial_state: [{ type: "m.room.history_visibility", state_key: "", content: { history_visibility: "joined" } }],
    });
    for (let i = 1; i <= 5; i++) await alice.sendTextMessage(roomId, `secret ${i}`);
    await alice.invite(roomId, carol.userId);
    await joinWhenInvited(b, carol.accessToken, roomId);
    await alice.sendTextMessage(roomId, "after carol joined");
    const start = await waitFor(async () => {
      const s = await syncPoint(b, carol.accessToken, roomId);
      return bodiesOf(s.timeline).includes("after carol joined") ? s : undefined;
    });
    const { events, statuses } = await paginateBack(b, carol.accessToken, roomId, start.nextBatch, 10);
    expect(statuses.every((s) => s === 200)).toBe(true);
    // The history was fetched (redacted: A lets B's server see no more) and stays hidden.
    expect(events.filter((e) => e.state_key === undefined).map((e) => e.content.body)).toEqual(["after carol joined"]);
  }, 60_000);

  it("a server answering /backfill with forged and unauthorised events: those are dropped, the rest is stored, never a 5xx", async () => {
    const alice = await registerClient(a.baseUrl, uniqueName("alice"), "pw");
    const dave = await register(b.baseUrl, uniqueName("dave"), "pw");
    const { room_id: roomId } = await alice.createRoom({ preset: "public_chat" as never });
    const sent: string[] = [];
    for (let i = 1; i <= 5; i++) sent.push((await alice.sendTextMessage(roomId, `h${i}`)).event_id);

    // The fake server's user joins through A (A fetches its key from it), so B will count it as in the room.
    const mallory = `@${uniqueName("mallory")}:${h.name}`;
    const made = await fedAs(a, h.name, KEY_H, "GET", `/_matrix/federation/v1/make_join/${encodeURIComponent(roomId)}/${encodeURIComponent(mallory)}?ver=12`);
    expect(made.status).toBe(200);
    const join = signedBy(h.name, KEY_H, { ...(made.json.event as JsonObject), content: { membership: "join" } });
    const sj = await fedAs(a, h.name, KEY_H, "PUT", `/_matrix/federation/v2/send_join/${encodeURIComponent(roomId)}/${encodeURIComponent(join.eventId)}`, join.pdu);
    expect(sj.status).toBe(200);
    // The genuine history, as A serves it to the fake server.
    const genuine = await fedAs(a, h.name, KEY_H, "GET", `/_matrix/federation/v1/backfill/${encodeURIComponent(roomId)}?v=${encodeURIComponent(join.eventId)}&limit=100`);
    expect(genuine.status).toBe(200);
    const pdus = genuine.json.pdus as JsonObject[];
    const idOf = (p: JsonObject) => eventIdFor(p as never, "12");
    const byId = new Map(pdus.map((p) => [idOf(p), p]));
    expect(sent.every((id) => byId.has(id))).toBe(true);

    const joined = await fetchJson(b.baseUrl, `/_matrix/client/v3/join/${encodeURIComponent(roomId)}?server_name=${encodeURIComponent(a.serverName)}`, { token: dave.accessToken, json: {} });
    expect(joined.status).toBe(200);
    const start = await syncPoint(b, dave.accessToken, roomId);

    // h3 with its body changed after signing (the hash no longer matches: kept redacted);
    // h2 first with a signature by a key that is not A's (same event id: dropped, the genuine copy stays);
    // a message "from alice" signed with the wrong key, an unauthorised one of mallory's from before she
    // joined, and an event of another room: none of them history of what was asked for.
    const h3 = structuredClone(byId.get(sent[2]!)!);
    (h3.content as JsonObject).body = "h3 forged";
    const h2 = byId.get(sent[1]!)!;
    const badSig = signedBy(a.serverName, WRONG_KEY, h2);
    expect(badSig.eventId).toBe(sent[1]);
    const forged = signedBy(a.serverName, WRONG_KEY, { ...h2, content: { msgtype: "m.text", body: "forged by h" } });
    const unauthorised = signedBy(h.name, KEY_H, {
      ...h2,
      sender: mallory,
      content: { msgtype: "m.text", body: "mallory before joining" },
      prev_events: [sent[0]!],
    });
    const otherRoom = { ...structuredClone(h2), room_id: "!elsewhere:example.org" };
    h.backfillAnswer = pdus.map((p) => (idOf(p) === sent[2] ? h3 : p)).flatMap((p) => (idOf(p) === sent[1] ? [badSig.pdu, p] : [p]));
    h.backfillAnswer.push(forged.pdu, unauthorised.pdu, otherRoom);

    // A goes away: B asks it first (it has been in the room longest), then the fake server.
    await a.stop();
    const { events, statuses } = await paginateBack(b, dave.accessToken, roomId, start.prevBatch!, 20);
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(h.requests.some((r) => r.startsWith("GET /_matrix/federation/v1/backfill/"))).toBe(true);
    const messages = events.filter((e) => e.type === "m.room.message");
    expect(messages.map((e) => e.content.body)).toEqual(["h1", "h2", undefined, "h4", "h5"]);
    expect(messages[2]!.event_id).toBe(sent[2]);
    for (const bad of [forged.eventId, unauthorised.eventId]) {
      const res = await fetchJson(b.baseUrl, `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/event/${encodeURIComponent(bad)}`, { token: dave.accessToken });
      expect(res.status).toBe(404);
    }
  }, 90_000);

  it("after a restart, B pages through the same history from its own storage (A is gone)", async () => {
    await b.stop();
    b = await startServer({ port: portB, serverName: `127.0.0.1:${portB}`, persistDir: persistB, keepState: true, vars: varsB });
    const start = await syncPoint(b, bobCreds.accessToken, sharedRoom);
    const { events, statuses } = await paginateBack(b, bobCreds.accessToken, sharedRoom, start.nextBatch, 25);
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(bodiesOf(events)).toEqual([...Array.from({ length: 30 }, (_, i) => `m${i + 1}`), "after the backfill"]);
  }, 60_000);
});
