import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { callJson, registerUser, type TestUser } from "./helpers.js";
import { createRoom, enc, eventually, join, type Json, sharedRoom, syncOf, syncSince } from "./ephemeral-helpers.js";

const statusPath = (userId: string) => `/_matrix/client/v3/presence/${enc(userId)}/status`;
const setPresence = (u: TestUser, json: unknown, userId = u.userId) => callJson(statusPath(userId), { method: "PUT", token: u.accessToken, json });
const getPresence = (u: TestUser, userId: string) => callJson<Json>(statusPath(userId), { token: u.accessToken });

/** Syncs that leave the user's own presence alone. */
const quiet = "set_presence=offline";

function presenceOf(s: Awaited<ReturnType<typeof syncOf>>, userId: string): Json[] {
  return s.presence.events.filter((e) => e.sender === userId).map((e) => e.content);
}

async function row(userId: string) {
  return env.DB.prepare("SELECT * FROM presence WHERE user_id = ?").bind(userId).first<Json>();
}

describe("presence", () => {
  it("PUT and GET your own presence and status message", async () => {
    const alice = await registerUser();
    expect((await getPresence(alice, alice.userId)).body).toEqual({ presence: "offline" });
    expect((await setPresence(alice, { presence: "online", status_msg: "Busy writing tests" })).status).toBe(200);
    const online = await getPresence(alice, alice.userId);
    expect(online.status).toBe(200);
    expect(online.body).toMatchObject({ presence: "online", status_msg: "Busy writing tests", currently_active: true });
    expect(online.body.last_active_ago).toBeGreaterThanOrEqual(0);
    expect(online.body.last_active_ago).toBeLessThan(5000);
    await setPresence(alice, { presence: "unavailable" });
    const away = (await getPresence(alice, alice.userId)).body;
    // No status_msg given: cleared. currently_active only accompanies online.
    expect(away.presence).toBe("unavailable");
    expect(away.status_msg).toBeUndefined();
    expect(away.currently_active).toBeUndefined();
    expect(away.last_active_ago).toBeGreaterThanOrEqual(0);
  });

  it("shows presence to users who share a room, and to nobody else", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const carol = await registerUser();
    await sharedRoom(alice, bob);
    await setPresence(alice, { presence: "online", status_msg: "hi" });
    const seen = await getPresence(bob, alice.userId);
    expect(seen.status).toBe(200);
    expect(seen.body).toMatchObject({ presence: "online", status_msg: "hi" });
    const hidden = await getPresence(carol, alice.userId);
    expect(hidden.status).toBe(403);
    expect(hidden.body.errcode).toBe("M_FORBIDDEN");
    expect((await getPresence(carol, "@nobody:localhost:8008")).status).toBe(403);
    const bad = await getPresence(carol, "not-a-user");
    expect(bad.status).toBe(400);
    expect(bad.body.errcode).toBe("M_INVALID_PARAM");
  });

  it("refuses setting someone else's presence and bad bodies", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const other = await setPresence(alice, { presence: "online" }, bob.userId);
    expect(other.status).toBe(403);
    expect(other.body.errcode).toBe("M_FORBIDDEN");
    for (const json of [{ presence: "busy" }, { presence: "online", status_msg: 5 }, { presence: ["online"] }]) {
      const res = await setPresence(alice, json);
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe("M_BAD_JSON");
    }
    // presence is required (spec "PUT /presence/{userId}/status").
    expect((await setPresence(alice, {})).body.errcode).toBe("M_MISSING_PARAM");
    expect((await callJson(statusPath(alice.userId), { method: "PUT", json: { presence: "online" } })).status).toBe(401);
    const badParam = await callJson(`/_matrix/client/v3/sync?set_presence=away`, { token: alice.accessToken });
    expect(badParam.status).toBe(400);
    expect(badParam.body.errcode).toBe("M_INVALID_PARAM");
  });

  it("/sync marks the user online by default, unavailable on request, and leaves it alone for offline", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const carol = await registerUser();
    await sharedRoom(alice, bob);
    await syncOf(carol, `?${quiet}`);
    expect(await row(carol.userId)).toBeNull();
    expect((await getPresence(carol, carol.userId)).body).toEqual({ presence: "offline" });

    const b0 = await syncOf(bob, `?${quiet}`);
    // The user's own change is part of the very sync that made it (not news for the next one).
    const a0 = await syncOf(alice);
    expect(presenceOf(a0, alice.userId)).toEqual([{ presence: "online", currently_active: true, last_active_ago: expect.any(Number) }]);
    const a1 = await syncSince(alice, a0.next_batch, "&timeout=300");
    expect(a1.next_batch).toBe(a0.next_batch);
    expect(presenceOf(a1, alice.userId)).toEqual([]);
    // Bob, who shares a room, hears of it.
    const b1 = await syncSince(bob, b0.next_batch, `&${quiet}`);
    expect(presenceOf(b1, alice.userId)).toEqual([expect.objectContaining({ presence: "online", currently_active: true })]);

    await syncOf(alice, `?since=${a1.next_batch}&set_presence=unavailable`);
    const b2 = await syncSince(bob, b1.next_batch, `&${quiet}`);
    expect(presenceOf(b2, alice.userId)).toEqual([expect.objectContaining({ presence: "unavailable" })]);
    expect(presenceOf(b2, alice.userId)[0]!.currently_active).toBeUndefined();
  });

  it("does not write on every sync: only state changes, or timestamps older than a minute", async () => {
    const alice = await registerUser();
    const s0 = await syncOf(alice);
    const first = await row(alice.userId);
    expect(first).toMatchObject({ state: "online" });
    const s1 = await syncSince(alice, s0.next_batch);
    const s2 = await syncSince(alice, s1.next_batch);
    expect(await row(alice.userId)).toEqual(first);
    expect(s2.next_batch).toBe(s0.next_batch);
    // A minute later the timestamps are refreshed, without a stream position: nobody is woken for that.
    await env.DB.prepare("UPDATE presence SET last_seen_ts = last_seen_ts - 61000, last_active_ts = last_active_ts - 61000 WHERE user_id = ?").bind(alice.userId).run();
    const s3 = await syncSince(alice, s2.next_batch);
    const refreshed = await row(alice.userId);
    expect(refreshed!.last_seen_ts).toBeGreaterThan(first!.last_seen_ts);
    expect(refreshed!.stream_pos).toBe(first!.stream_pos);
    expect(s3.next_batch).toBe(s0.next_batch);
  });

  it("wakes the long-polls of users sharing a room within a second", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    await sharedRoom(alice, bob);
    const b0 = await syncOf(bob, `?${quiet}`);
    const started = Date.now();
    const poll = syncSince(bob, b0.next_batch, `&timeout=20000&${quiet}`);
    await new Promise((r) => setTimeout(r, 200));
    await setPresence(alice, { presence: "online", status_msg: "here" });
    const woke = await poll;
    expect(Date.now() - started).toBeLessThan(1500);
    expect(presenceOf(woke, alice.userId)).toEqual([expect.objectContaining({ presence: "online", status_msg: "here" })]);
  });

  it("sends changes only to users who share a room", async () => {
    const alice = await registerUser();
    const carol = await registerUser();
    await createRoom(carol);
    const c0 = await syncOf(carol, `?${quiet}`);
    await setPresence(alice, { presence: "online" });
    const c1 = await syncSince(carol, c0.next_batch, `&${quiet}`);
    expect(presenceOf(c1, alice.userId)).toEqual([]);
    expect(presenceOf(await syncOf(carol, `?${quiet}`), alice.userId)).toEqual([]);
  });

  it("initial sync leaves out offline users; joining introduces the room's members", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const carol = await registerUser();
    const dave = await registerUser();
    const roomId = await sharedRoom(alice, bob, carol);
    await setPresence(alice, { presence: "online" });
    await setPresence(bob, { presence: "offline" });
    const c = await syncOf(carol, `?${quiet}`);
    expect(presenceOf(c, alice.userId)).toHaveLength(1);
    expect(presenceOf(c, bob.userId)).toEqual([]);

    // Dave joins: his next sync carries the members' presence, and the members learn his.
    await setPresence(dave, { presence: "unavailable", status_msg: "new here" });
    const d0 = await syncOf(dave, `?${quiet}`);
    const c0 = await syncOf(carol, `?${quiet}`);
    await join(dave, roomId);
    const d1 = await syncSince(dave, d0.next_batch, `&${quiet}`);
    expect(presenceOf(d1, alice.userId)).toEqual([expect.objectContaining({ presence: "online" })]);
    const c1 = await syncSince(carol, c0.next_batch, `&${quiet}`);
    expect(presenceOf(c1, dave.userId)).toEqual([expect.objectContaining({ presence: "unavailable", status_msg: "new here" })]);
  });

  it("honours the presence filter", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    await sharedRoom(alice, bob);
    await setPresence(alice, { presence: "online" });
    const none = enc(JSON.stringify({ presence: { not_types: ["*"] } }));
    expect((await syncOf(bob, `?${quiet}&filter=${none}`)).presence.events).toEqual([]);
    const notAlice = enc(JSON.stringify({ presence: { not_senders: [alice.userId] } }));
    expect(presenceOf(await syncOf(bob, `?${quiet}&filter=${notAlice}`), alice.userId)).toEqual([]);
  });

  it("times a silent user out to offline from the user's Durable Object, and tells those sharing a room", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    await sharedRoom(alice, bob);
    await setPresence(alice, { presence: "online" });
    const stub = env.USER.getByName(alice.userId);
    const armed = await eventually(async () => (await runInDurableObject(stub, (_o, state) => state.storage.getAlarm())) ?? undefined);
    const seen = (await row(alice.userId))!.last_seen_ts as number;
    expect(armed).toBeGreaterThanOrEqual(seen + 90_000);

    // Not yet due: the alarm only re-arms.
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await row(alice.userId))!.state).toBe("online");

    const b0 = await syncOf(bob, `?${quiet}`);
    await env.DB.prepare("UPDATE presence SET last_seen_ts = last_seen_ts - 100000 WHERE user_id = ?").bind(alice.userId).run();
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await row(alice.userId))!.state).toBe("offline");
    const b1 = await syncSince(bob, b0.next_batch, `&${quiet}`);
    expect(presenceOf(b1, alice.userId)).toEqual([expect.objectContaining({ presence: "offline" })]);
    expect((await getPresence(bob, alice.userId)).body.presence).toBe("offline");
    // Offline: no timer left running.
    expect(await runDurableObjectAlarm(stub)).toBe(false);
    // Coming back (a sync) is a change everyone hears about.
    await syncOf(alice);
    const b2 = await syncSince(bob, b1.next_batch, `&${quiet}`);
    expect(presenceOf(b2, alice.userId)).toEqual([expect.objectContaining({ presence: "online" })]);
  });

  it("a long-poll in flight keeps its user online", async () => {
    const alice = await registerUser();
    const s0 = await syncOf(alice);
    const poll = syncSince(alice, s0.next_batch, "&timeout=3000");
    await new Promise((r) => setTimeout(r, 300));
    await env.DB.prepare("UPDATE presence SET last_seen_ts = last_seen_ts - 100000 WHERE user_id = ?").bind(alice.userId).run();
    const stub = env.USER.getByName(alice.userId);
    await eventually(async () => (await runInDurableObject(stub, (_o, state) => state.storage.getAlarm())) ?? undefined);
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect((await row(alice.userId))!.state).toBe("online");
    await poll;
  });
});
