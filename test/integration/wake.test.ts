// Long-poll wake-ups (services/wake.ts, durable-objects/wake/wake.ts): a wait held
// by the Worker on a WebSocket to its user's Wake shard, woken by notifyUsers.
import { env as poolEnv } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import type { Env } from "../../services/env.js";
import { readStreamPos } from "../../services/stream.js";
import { ensureMigrated } from "../../workers/d1-migrate.js";
import { Topic, isWaiting, notifyUsers, waitForChange, wakeShard, wakeShards } from "../../services/wake.js";

const env = poolEnv as unknown as Env;
let n = 0;
const user = () => `@wake${++n}-${Date.now().toString(36)}:localhost`;

describe("long-poll wake-ups", () => {
  // The shards read the stream position when they start (a request through the Worker migrates D1 first).
  beforeAll(() => ensureMigrated(env.DB));

  it("a write concerning many users costs one call per shard, never more than the configured count", async () => {
    const users = Array.from({ length: 300 }, user);
    for (const count of [wakeShards(env), 4, 16]) {
      const shards = new Set(users.map((u) => wakeShard(u, count)));
      expect(shards.size).toBeLessThanOrEqual(count);
      expect(shards.size).toBeGreaterThan(count / 2); // spread, not piled on one shard
      expect(wakeShard(users[0]!, count)).toBe(wakeShard(users[0]!, count));
      const called: string[] = [];
      const counting = { ...env, WAKE_SHARDS: String(count), WAKE: { getByName: (name: string) => (called.push(name), env.WAKE.getByName(name)) } } as unknown as Env;
      await notifyUsers(counting, users, 5, Topic.ROOMS);
      expect(called.sort()).toEqual([...shards].sort());
    }
  });

  it("the shard count comes from WAKE_SHARDS, and a value out of range falls back to the default", () => {
    expect(wakeShards({})).toBe(1);
    expect(wakeShards({ WAKE_SHARDS: "4" })).toBe(4);
    expect(wakeShards({ WAKE_SHARDS: "64" })).toBe(64);
    for (const bad of ["0", "-2", "1.5", "abc", "100000"]) expect(wakeShards({ WAKE_SHARDS: bad })).toBe(1);
  });

  it("wakes a waiting sync with the position written; a position it has read already does not", async () => {
    const u = user();
    const waiting = waitForChange(env, u, 100, 60_000);
    // Its socket is open on the shard: a waiting client (presence keeps it online).
    await expect.poll(() => isWaiting(env, u)).toBe(true);
    await notifyUsers(env, [u], 100, Topic.ROOMS); // not past what it read
    await notifyUsers(env, [user()], 500, Topic.ROOMS); // someone else
    await notifyUsers(env, [u], 101, Topic.ROOMS);
    expect(await waiting).toBe(101);
    await expect.poll(() => isWaiting(env, u)).toBe(false);
  });

  it("a write that lands between the sync's read and its wait still wakes it at once", async () => {
    const u = user();
    await notifyUsers(env, [u], 42, Topic.ROOMS);
    // Read up to 41 before the write: the wait ends at once (a 60 s wait would outlast this test).
    expect(await waitForChange(env, u, 41, 60_000)).toBe(42);
    // Read up to 42: nothing newer, so the wait runs to its timeout.
    expect(await waitForChange(env, u, 42, 200)).toBe(42);
    expect(await waitForChange(env, u, 42, 0)).toBe(42);
  });

  it("a wait wakes only for the topics it names, also for a write that landed before its socket", async () => {
    const u = user();
    const encryption = waitForChange(env, u, 10, 60_000, Topic.TO_DEVICE | Topic.DEVICE_LISTS);
    const roomList = waitForChange(env, u, 10, 60_000, Topic.ROOMS);
    await expect.poll(() => isWaiting(env, u)).toBe(true);
    await notifyUsers(env, [u], 11, Topic.ROOMS); // a message: the room list wakes, the encryption wait sleeps on
    expect(await roomList).toBe(11);
    let encryptionDone = false;
    void encryption.then(() => (encryptionDone = true));
    await new Promise((r) => setTimeout(r, 200));
    expect(encryptionDone).toBe(false);
    await notifyUsers(env, [u], 12, Topic.DEVICE_LISTS | Topic.ROOMS); // a join: both kinds of wait
    expect(await encryption).toBe(12);
    // Opened after the writes: each topic's own latest position decides.
    await notifyUsers(env, [u], 13, Topic.ROOMS);
    expect(await waitForChange(env, u, 12, 60_000, Topic.TO_DEVICE | Topic.DEVICE_LISTS | Topic.ROOMS)).toBe(13);
    expect(await waitForChange(env, u, 12, 200, Topic.TO_DEVICE)).toBe(12);
    expect(await waitForChange(env, u, 11, 60_000, Topic.DEVICE_LISTS)).toBe(12);
  });

  it("a shard that started after a position wakes a wait from before it at once (it may have missed notifies)", async () => {
    const u = user();
    await env.DB.prepare("UPDATE stream_counter SET pos = pos + 1000 WHERE id = 1").run();
    const pos = await readStreamPos(env.DB);
    // A shard no wait has used yet starts now, after that position was written.
    const fresh = env.WAKE.getByName(`wake-fresh-${Date.now()}`);
    const res = await fresh.fetch(`https://wake/wait?${new URLSearchParams({ user: u, since: String(pos - 1), topics: String(Topic.ROOMS) })}`, { headers: { Upgrade: "websocket" } });
    const ws = res.webSocket!;
    ws.accept();
    const woke = await new Promise<string>((resolve) => ws.addEventListener("message", (m) => resolve(String(m.data))));
    expect(Number(woke)).toBe(pos);
    ws.close(1000, "done");
    // A wait from the position it started at sleeps until a notify.
    expect(await waitForChange({ ...env, WAKE_SHARDS: "1" } as Env, u, pos, 200)).toBe(pos);
  });

  it("every waiter of a user wakes (a device's /sync and its sliding-sync connections)", async () => {
    const u = user();
    const waits = [waitForChange(env, u, 7, 60_000), waitForChange(env, u, 7, 60_000), waitForChange(env, u, 9, 60_000)];
    // Sockets opened before the notify are woken by it, any opened after by the position it left.
    await expect.poll(() => isWaiting(env, u)).toBe(true);
    await notifyUsers(env, [u], 10, Topic.ROOMS);
    expect(await Promise.all(waits)).toEqual([10, 10, 10]);
  });

  it("the shard refuses anything but a websocket upgrade with a user and a position", async () => {
    const stub = env.WAKE.getByName(wakeShard("@x:localhost", wakeShards(env)));
    expect((await stub.fetch("https://wake/wait?user=@x:localhost&since=1")).status).toBe(400);
    expect((await stub.fetch("https://wake/wait?since=1", { headers: { Upgrade: "websocket" } })).status).toBe(400);
    expect((await stub.fetch("https://wake/wait?user=@x:localhost&since=abc", { headers: { Upgrade: "websocket" } })).status).toBe(400);
  });
});
