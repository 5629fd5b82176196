/**
 * Push gateway delivery against the real server (workerd via wrangler) and a fake
 * push gateway: a Node HTTP server on 127.0.0.1 that records every
 * /_matrix/push/v1/notify request. Nothing leaves loopback.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type Credentials, fetchJson, register, uniqueName, useServer, waitFor } from "./harness.js";

const hs = useServer();

interface Notify {
  path: string;
  body: any;
}
const seen: Notify[] = [];
/** Requests the fake gateway answered with an error status (from failFirst). */
const failed: Notify[] = [];
/** Pushkeys the fake gateway rejects; status codes to answer with, in turn, before 200. */
const rejectKeys = new Set<string>();
let failFirst: number[] = [];
let gateway: Server;
let url: string;

beforeAll(async () => {
  gateway = createServer((req, res) => {
    let data = "";
    req.on("data", (c) => (data += c));
    req.on("end", () => {
      const status = failFirst.shift();
      const body = JSON.parse(data);
      if (status) {
        failed.push({ path: req.url ?? "", body });
        res.writeHead(status).end();
        return;
      }
      seen.push({ path: req.url ?? "", body });
      const keys = (body.notification?.devices ?? []).map((d: any) => d.pushkey).filter((k: string) => rejectKeys.has(k));
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ rejected: keys }));
    });
  });
  await new Promise<void>((r) => gateway.listen(0, "127.0.0.1", () => r()));
  url = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}/_matrix/push/v1/notify`;
});
afterAll(() => new Promise<void>((r) => gateway.close(() => r())));
beforeEach(() => {
  seen.length = 0;
  failed.length = 0;
  rejectKeys.clear();
  failFirst = [];
});

async function api<T = any>(creds: Credentials, path: string, method = "GET", json?: unknown): Promise<T> {
  const r = await fetchJson<T>(hs.baseUrl, `/_matrix/client/v3${path}`, { method, token: creds.accessToken, ...(json !== undefined ? { json } : {}) });
  if (r.status !== 200) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

async function setup(format?: string) {
  const alice = await register(hs.baseUrl, uniqueName("alice"), "correct horse battery staple");
  const bob = await register(hs.baseUrl, uniqueName("bob"), "correct horse battery staple");
  await api(alice, `/profile/${encodeURIComponent(alice.userId)}/displayname`, "PUT", { displayname: "Alice" });
  const { room_id } = await api(alice, "/createRoom", "POST", { preset: "public_chat", name: "Launch pad" });
  await api(bob, `/join/${encodeURIComponent(room_id)}`, "POST", {});
  // A third member: not a one-to-one room, so plain messages notify without a sound.
  const carol = await register(hs.baseUrl, uniqueName("carol"), "correct horse battery staple");
  await api(carol, `/join/${encodeURIComponent(room_id)}`, "POST", {});
  const pushkey = `key-${uniqueName()}`;
  await api(bob, "/pushers/set", "POST", {
    kind: "http",
    app_id: "org.example.app",
    pushkey,
    app_display_name: "Example",
    device_display_name: "Phone",
    lang: "en",
    data: { url, ...(format ? { format } : {}), "org.example.extra": "x" },
  });
  return { alice, bob, roomId: room_id as string, pushkey };
}

const send = (u: Credentials, roomId: string, content: unknown) => api(u, `/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${uniqueName("t")}`, "PUT", content);

describe("push gateway delivery", () => {
  it("POSTs a notification with event fields, counts, device data and tweaks", async () => {
    const { alice, bob, roomId, pushkey } = await setup();
    const { event_id } = await send(alice, roomId, { msgtype: "m.text", body: "liftoff", "m.mentions": { user_ids: [bob.userId] } });
    const n = await waitFor(() => seen.find((s) => s.body.notification.event_id === event_id), { what: "the push" });
    expect(n.path).toBe("/_matrix/push/v1/notify");
    expect(n.body.notification).toEqual({
      event_id,
      room_id: roomId,
      type: "m.room.message",
      sender: alice.userId,
      sender_display_name: "Alice",
      room_name: "Launch pad",
      content: { msgtype: "m.text", body: "liftoff", "m.mentions": { user_ids: [bob.userId] } },
      counts: { unread: 1 },
      prio: "high",
      devices: [{ app_id: "org.example.app", pushkey, pushkey_ts: expect.any(Number), data: { "org.example.extra": "x" }, tweaks: { sound: "default", highlight: true } }],
    });
    // Nothing for the sender, nothing for events that do not notify.
    await send(alice, roomId, { msgtype: "m.notice", body: "quiet" });
    await send(bob, roomId, { msgtype: "m.text", body: "bob's own" });
    const marker = (await send(alice, roomId, { msgtype: "m.text", body: "plain" })).event_id;
    const plain = await waitFor(() => seen.find((s) => s.body.notification.event_id === marker), { what: "the second push" });
    expect(plain.body.notification.prio).toBe("low");
    expect(plain.body.notification.devices[0].tweaks).toEqual({});
    expect(seen).toHaveLength(2);
  });

  it("sends only ids and counts for format event_id_only", async () => {
    const { alice, roomId } = await setup("event_id_only");
    const { event_id } = await send(alice, roomId, { msgtype: "m.text", body: "secret" });
    const n = await waitFor(() => seen.find((s) => s.body.notification.event_id === event_id), { what: "the push" });
    expect(Object.keys(n.body.notification).sort()).toEqual(["counts", "devices", "event_id", "prio", "room_id"]);
    expect(n.body.notification.devices[0].data).toEqual({ format: "event_id_only", "org.example.extra": "x" });
  });

  it("retries a failing gateway, and removes pushers whose pushkey is rejected", async () => {
    const { alice, bob, roomId, pushkey } = await setup();
    failFirst = [503];
    const { event_id } = await send(alice, roomId, { msgtype: "m.text", body: "again" });
    await waitFor(() => seen.find((s) => s.body.notification.event_id === event_id), { what: "the retried push", timeoutMs: 15_000 });
    rejectKeys.add(pushkey);
    const second = (await send(alice, roomId, { msgtype: "m.text", body: "rejected" })).event_id;
    await waitFor(() => seen.find((s) => s.body.notification.event_id === second), { what: "the rejected push" });
    await waitFor(async () => (await api(bob, "/pushers")).pushers.length === 0, { what: "the pusher's removal" });
    const before = seen.length;
    await send(alice, roomId, { msgtype: "m.text", body: "after removal" });
    await new Promise((r) => setTimeout(r, 1000));
    expect(seen.length).toBe(before);
  });

  it("does not retry a request the gateway refused with a 4xx", async () => {
    const { alice, bob, roomId } = await setup();
    failFirst = [400];
    const { event_id } = await send(alice, roomId, { msgtype: "m.text", body: "refused" });
    await waitFor(() => failed.find((s) => s.body.notification.event_id === event_id), { what: "the refused push" });
    // Retries (of 5xx and network errors) come 1 s and then 4 s later; wait past the first.
    await new Promise((r) => setTimeout(r, 2500));
    expect(failed.filter((s) => s.body.notification.event_id === event_id)).toHaveLength(1);
    expect(seen.filter((s) => s.body.notification.event_id === event_id)).toHaveLength(0);
    // A refusal is not a rejected pushkey: the pusher stays.
    expect((await api(bob, "/pushers")).pushers).toHaveLength(1);
  });
});
