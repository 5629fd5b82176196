import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { waitForChange } from "../../services/wake.js";
import { e2eeSync, e2eeSyncExtension } from "../../workers/e2ee/sync-extension.js";
import type { SyncContext } from "../../workers/sync/context.js";
import { put, streamPos, uploadDevice } from "./e2ee-helpers.js";
import { callJson, login, registerUser, type TestUser } from "./helpers.js";

let txn = 0;
const send = (from: TestUser, type: string, messages: unknown, txnId = `t${txn++}`) =>
  put(`/sendToDevice/${encodeURIComponent(type)}/${encodeURIComponent(txnId)}`, from.accessToken, { messages });

async function secondDevice(user: TestUser): Promise<TestUser> {
  const r = await login(user.userId, user.password);
  return { ...user, accessToken: r.body.access_token, deviceId: r.body.device_id };
}

const pending = async (u: TestUser) =>
  (await env.DB.prepare("SELECT COUNT(*) AS n FROM to_device_messages WHERE user_id = ? AND device_id = ?").bind(u.userId, u.deviceId).first<{ n: number }>())!
    .n;

describe("PUT /sendToDevice", () => {
  it("delivers to one device, in order, through the sync extension, and deletes on acknowledgement", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const start = await streamPos();
    for (let i = 0; i < 3; i++) {
      const r = await send(alice, "m.test", { [bob.userId]: { [bob.deviceId]: { n: i } } });
      expect(r.status).toBe(200);
      expect(r.body).toEqual({});
    }
    const p1 = await streamPos();
    expect(p1).toBe(start + 3);
    const first = await e2eeSync(env, bob.userId, bob.deviceId, null, p1);
    expect(first.to_device.events).toEqual([0, 1, 2].map((n) => ({ sender: alice.userId, type: "m.test", content: { n } })));
    // Not acknowledged yet: a retried sync from the old token gets them again, plus newer ones.
    await send(alice, "m.test", { [bob.userId]: { [bob.deviceId]: { n: 3 } } });
    const p2 = await streamPos();
    const retry = await e2eeSync(env, bob.userId, bob.deviceId, start, p2, { ack: true });
    expect(retry.to_device.events.map((e) => e.content.n)).toEqual([0, 1, 2, 3]);
    // Syncing with since = p1 acknowledges the first response: those three go, the fourth stays.
    expect((await e2eeSync(env, bob.userId, bob.deviceId, p1, p2, { ack: true })).to_device.events.map((e) => e.content.n)).toEqual([3]);
    expect((await e2eeSync(env, bob.userId, bob.deviceId, p2, await streamPos(), { ack: true })).to_device.events).toEqual([]);
    expect(await pending(bob)).toBe(0);
  });

  it("does not show messages past the sync's upper position", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const p0 = await streamPos();
    await send(alice, "m.test", { [bob.userId]: { [bob.deviceId]: { late: true } } });
    expect((await e2eeSync(env, bob.userId, bob.deviceId, null, p0)).to_device.events).toEqual([]);
  });

  it("caps a response at the limit and never deletes what it did not deliver", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    for (let i = 0; i < 5; i++) await send(alice, "m.test", { [bob.userId]: { [bob.deviceId]: { n: i } } });
    const p = await streamPos();
    const first = await e2eeSync(env, bob.userId, bob.deviceId, null, p, { toDeviceLimit: 2 });
    expect(first.to_device.events.map((e) => e.content.n)).toEqual([0, 1]);
    const second = await e2eeSync(env, bob.userId, bob.deviceId, p, p, { toDeviceLimit: 2, ack: true });
    expect(second.to_device.events.map((e) => e.content.n)).toEqual([2, 3]);
    expect((await e2eeSync(env, bob.userId, bob.deviceId, p, p, { ack: true })).to_device.events.map((e) => e.content.n)).toEqual([4]);
  });

  it("'*' reaches every device of the user; unknown devices get nothing", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const bob2 = await secondDevice(bob);
    await send(alice, "m.room_key_request", { [bob.userId]: { "*": { action: "request" } } });
    await send(alice, "m.test", { [bob.userId]: { NOSUCHDEVICE: { x: 1 } }, "@ghost:localhost:8008": { ABC: { x: 1 } } });
    const p = await streamPos();
    for (const dev of [bob, bob2]) {
      expect((await e2eeSync(env, dev.userId, dev.deviceId, null, p)).to_device.events).toEqual([
        { sender: alice.userId, type: "m.room_key_request", content: { action: "request" } },
      ]);
    }
  });

  it("a retried transaction id sends nothing twice; ids are per sending device", async () => {
    const alice = await registerUser();
    const alice2 = await secondDevice(alice);
    const bob = await registerUser();
    const msg = { [bob.userId]: { [bob.deviceId]: { hello: 1 } } };
    expect((await send(alice, "m.test", msg, "same")).status).toBe(200);
    expect((await send(alice, "m.test", msg, "same")).status).toBe(200);
    // Concurrent retries too.
    await Promise.all([send(alice, "m.test", msg, "race"), send(alice, "m.test", msg, "race"), send(alice, "m.test", msg, "race")]);
    expect((await send(alice2, "m.test", msg, "same")).status).toBe(200);
    const events = (await e2eeSync(env, bob.userId, bob.deviceId, null, await streamPos())).to_device.events;
    expect(events).toHaveLength(3);
  });

  it("wakes the recipient's long-poll", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const since = await streamPos();
    const waiting = waitForChange(env, bob.userId, since, 10_000);
    await send(alice, "m.test", { [bob.userId]: { [bob.deviceId]: {} } });
    expect(await waiting).toBeGreaterThan(since);
  });

  it("accepts and drops messages for other servers; refuses malformed and oversized messages", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const before = await streamPos();
    expect((await send(alice, "m.test", { "@x:remote.example": { DEV: { a: 1 } } })).status).toBe(200);
    const rows = await env.DB.prepare("SELECT COUNT(*) AS n FROM to_device_messages WHERE stream_pos > ?").bind(before).first<{ n: number }>();
    expect(rows!.n).toBe(0);
    const big = { blob: "x".repeat(70_000) };
    const tooBig = await send(alice, "m.test", { [bob.userId]: { [bob.deviceId]: big } });
    expect(tooBig.status).toBe(413);
    expect(tooBig.body.errcode).toBe("M_TOO_LARGE");
    for (const messages of [undefined, [], { [bob.userId]: [] }, { [bob.userId]: { D: "text" } }, { "not-a-user": { D: {} } }, { [bob.userId]: { D: { f: 1.5 } } }]) {
      const r = await send(alice, "m.test", messages);
      expect(r.status, JSON.stringify(messages)).toBe(400);
    }
    expect((await callJson(`/_matrix/client/v3/sendToDevice/m.test/x`, { method: "PUT", json: { messages: {} } })).status).toBe(401);
    expect(await pending(bob)).toBe(0);
  });

  it("deleting a device drops its inbox", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const bob2 = await secondDevice(bob);
    await uploadDevice(bob2, { otks: ["K1"] });
    await send(alice, "m.test", { [bob.userId]: { "*": { x: 1 } } });
    expect(await pending(bob2)).toBe(1);
    expect((await callJson("/_matrix/client/v3/logout", { method: "POST", token: bob2.accessToken, json: {} })).status).toBe(200);
    expect(await pending(bob2)).toBe(0);
    expect(await pending(bob)).toBe(1);
  });

  it("the /sync extension acknowledges the previous response and reports news", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const ctx = (since: number | null, upTo: number): SyncContext => ({
      env,
      userId: bob.userId,
      deviceId: bob.deviceId,
      since,
      upTo,
      filter: {},
      fullState: false,
      joinedRooms: [],
    });
    const p0 = await streamPos();
    const quiet = await e2eeSyncExtension(ctx(p0, p0));
    expect(quiet.hasNews).toBe(false);
    expect(quiet.top).toEqual({
      to_device: { events: [] },
      device_lists: { changed: [], left: [] },
      device_one_time_keys_count: { signed_curve25519: 0 },
      device_unused_fallback_key_types: [],
    });
    await send(alice, "m.test", { [bob.userId]: { [bob.deviceId]: { n: 1 } } });
    const p1 = await streamPos();
    const first = await e2eeSyncExtension(ctx(p0, p1));
    expect(first.hasNews).toBe(true);
    expect((first.top!.to_device as { events: unknown[] }).events).toHaveLength(1);
    // The next sync (since = p1) acknowledges and gets nothing new.
    const second = await e2eeSyncExtension(ctx(p1, p1));
    expect(second.hasNews).toBe(false);
    expect(await pending(bob)).toBe(0);
    // Bob's own new device keys are a device-list change for his other syncs.
    await uploadDevice(bob);
    const third = await e2eeSyncExtension(ctx(p1, await streamPos()));
    expect(third.hasNews).toBe(true);
    expect(third.top!.device_lists).toEqual({ changed: [bob.userId], left: [] });
  });
});
