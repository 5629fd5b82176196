import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { wakeShard, wakeShards } from "../../services/wake.js";
import { eventually } from "./ephemeral-helpers.js";
import { callJson, registerUser, type TestUser } from "./helpers.js";

interface SyncBody {
  next_batch: string;
  rooms: {
    join: Record<string, { timeline: { events: Array<Record<string, any>>; limited: boolean; prev_batch: string }; state?: { events: Array<Record<string, any>> }; state_after?: { events: Array<Record<string, any>> } }>;
    invite: Record<string, { invite_state: { events: Array<Record<string, any>> } }>;
    leave: Record<string, { timeline: { events: Array<Record<string, any>> } }>;
  };
}

async function syncOf(u: TestUser, qs = "") {
  const r = await callJson<SyncBody>(`/_matrix/client/v3/sync${qs}`, { token: u.accessToken });
  if (r.status !== 200) throw new Error(`sync ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

async function createRoom(u: TestUser, body: Record<string, unknown> = {}) {
  return (await callJson<{ room_id: string }>("/_matrix/client/v3/createRoom", { method: "POST", token: u.accessToken, json: body })).body.room_id;
}

async function send(u: TestUser, roomId: string, body: string, txn = crypto.randomUUID()) {
  const r = await callJson<{ event_id: string }>(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${txn}`, {
    method: "PUT",
    token: u.accessToken,
    json: { msgtype: "m.text", body },
  });
  return r.body.event_id;
}

describe("/sync", () => {
  it("initial sync shows joined rooms with timeline and state; incremental shows only new events", async () => {
    const alice = await registerUser();
    const roomId = await createRoom(alice, { name: "Room" });
    const first = await syncOf(alice);
    expect(first.next_batch).toMatch(/^s\d+$/);
    const room = first.rooms.join[roomId]!;
    expect(room.timeline.events.map((e) => e.type)).toContain("m.room.create");
    const eventId = await send(alice, roomId, "hello", "tx-1");
    const next = await syncOf(alice, `?since=${first.next_batch}`);
    const events = next.rooms.join[roomId]!.timeline.events;
    expect(events.map((e) => e.event_id)).toEqual([eventId]);
    expect(events[0]!.content.body).toBe("hello");
    expect(events[0]!.unsigned.transaction_id).toBe("tx-1");
    expect(events[0]!.unsigned.age).toBeGreaterThanOrEqual(0);
    // Nothing new: an empty rooms section.
    const idle = await syncOf(alice, `?since=${next.next_batch}`);
    expect(Object.keys(idle.rooms.join)).toHaveLength(0);
    expect(idle.next_batch).toBe(next.next_batch);
  });

  it("limits the timeline and says so, with a prev_batch", async () => {
    const alice = await registerUser();
    const roomId = await createRoom(alice);
    const s = await syncOf(alice);
    for (let i = 0; i < 5; i++) await send(alice, roomId, `m${i}`);
    const filter = encodeURIComponent(JSON.stringify({ room: { timeline: { limit: 2 } } }));
    const next = await syncOf(alice, `?since=${s.next_batch}&filter=${filter}`);
    const tl = next.rooms.join[roomId]!.timeline;
    expect(tl.events.map((e) => e.content.body)).toEqual(["m3", "m4"]);
    expect(tl.limited).toBe(true);
    expect(tl.prev_batch).toMatch(/^s\d+$/);
  });

  it("a parked long-poll is woken by a new event and returns it, not at its timeout", async () => {
    const alice = await registerUser();
    const roomId = await createRoom(alice);
    const s = await syncOf(alice);
    const TIMEOUT_MS = 60_000;
    const started = Date.now();
    let returned = false;
    const poll = syncOf(alice, `?since=${s.next_batch}&timeout=${TIMEOUT_MS}`).finally(() => {
      returned = true;
    });
    // Send only once the poll waits on its user's Wake shard (services/wake.ts), so the event
    // must reach it by the wake-up and not by the poll's first read of D1.
    const shard = env.WAKE.getByName(wakeShard(alice.userId, wakeShards(env)));
    const parked = () => runInDurableObject(shard, (_o, state) => state.getWebSockets(alice.userId).length);
    await eventually(async () => ((await parked()) > 0 ? true : undefined), 20_000);
    expect(returned).toBe(false);
    const eventId = await send(alice, roomId, "wake up");
    const woke = await poll;
    expect(woke.rooms.join[roomId]!.timeline.events.map((e) => [e.event_id, e.content.body])).toEqual([[eventId, "wake up"]]);
    expect(woke.next_batch).not.toBe(s.next_batch);
    // Woken, not timed out: it returned well before its timeout (a bound on which
    // path ended the poll, not a speed figure), and no longer waits on the shard.
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS / 2);
    expect(await parked()).toBe(0);
  }, 90_000);

  it("a long-poll with nothing new in its rooms still answers at once for what else was written since its token", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    await createRoom(alice); // a room, with nothing new in it
    const s = await syncOf(alice);
    // Written after alice's token, before her poll: a to-device message, and global account data.
    const sent = await callJson(`/_matrix/client/v3/sendToDevice/m.test/${crypto.randomUUID()}`, {
      method: "PUT",
      token: bob.accessToken,
      json: { messages: { [alice.userId]: { [alice.deviceId]: { n: 1 } } } },
    });
    expect(sent.status).toBe(200);
    const started = Date.now();
    const r = await callJson<SyncBody & { to_device: { events: Array<{ sender: string; content: unknown }> } }>(`/_matrix/client/v3/sync?since=${s.next_batch}&timeout=60000`, {
      token: alice.accessToken,
    });
    expect(r.body.to_device.events.map((e) => [e.sender, e.content])).toEqual([[bob.userId, { n: 1 }]]);
    expect(Date.now() - started).toBeLessThan(30_000); // answered, not timed out
    await callJson(`/_matrix/client/v3/user/${encodeURIComponent(alice.userId)}/account_data/m.test.global`, { method: "PUT", token: alice.accessToken, json: { v: 2 } });
    const a = await callJson<{ account_data: { events: Array<{ type: string; content: unknown }> } }>(`/_matrix/client/v3/sync?since=${r.body.next_batch}&timeout=60000`, {
      token: alice.accessToken,
    });
    expect(a.body.account_data.events.filter((e) => e.type === "m.test.global").map((e) => e.content)).toEqual([{ v: 2 }]);
  }, 90_000);

  it("a long-poll with nothing new returns after the timeout", async () => {
    const alice = await registerUser();
    const s = await syncOf(alice);
    const started = Date.now();
    const r = await syncOf(alice, `?since=${s.next_batch}&timeout=300`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(r.next_batch).toBe(s.next_batch);
  });

  it("invites show stripped state; leaving shows the room under leave", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice, { name: "Secret", preset: "private_chat" });
    const s = await syncOf(bob);
    await callJson(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/invite`, { method: "POST", token: alice.accessToken, json: { user_id: bob.userId } });
    const inv = await syncOf(bob, `?since=${s.next_batch}`);
    const stripped = inv.rooms.invite[roomId]!.invite_state.events;
    expect(stripped.find((e) => e.type === "m.room.name")?.content.name).toBe("Secret");
    expect(stripped.find((e) => e.type === "m.room.member" && e.state_key === bob.userId)?.content.membership).toBe("invite");
    await callJson(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/join`, { method: "POST", token: bob.accessToken, json: {} });
    const joined = await syncOf(bob, `?since=${inv.next_batch}`);
    expect(joined.rooms.join[roomId]).toBeDefined();
    await callJson(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/leave`, { method: "POST", token: bob.accessToken, json: {} });
    const left = await syncOf(bob, `?since=${joined.next_batch}`);
    expect(left.rooms.leave[roomId]!.timeline.events.at(-1)!.content.membership).toBe("leave");
    // After leaving, Bob sees nothing more of the room.
    await send(alice, roomId, "after bob left");
    const after = await syncOf(bob, `?since=${left.next_batch}`);
    expect(after.rooms.join[roomId]).toBeUndefined();
    expect(after.rooms.leave[roomId]).toBeUndefined();
  });

  it("lazy-loads members and supports use_state_after", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const carol = await registerUser();
    // Named, so it has no heroes (whose member events lazy loading would add: sync-summary.test.ts).
    const roomId = await createRoom(alice, { preset: "public_chat", name: "Lazy" });
    for (const u of [bob, carol]) await callJson(`/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, { method: "POST", token: u.accessToken, json: {} });
    for (let i = 0; i < 3; i++) await send(bob, roomId, `b${i}`);
    const filter = encodeURIComponent(JSON.stringify({ room: { state: { lazy_load_members: true }, timeline: { limit: 2 } } }));
    const lazy = await syncOf(alice, `?filter=${filter}`);
    const members = lazy.rooms.join[roomId]!.state!.events.filter((e) => e.type === "m.room.member").map((e) => e.state_key).sort();
    expect(members).toEqual([alice.userId, bob.userId].sort());
    const after = await syncOf(alice, `?use_state_after=true`);
    const sa = after.rooms.join[roomId]!.state_after!.events;
    expect(sa.filter((e) => e.type === "m.room.member").length).toBeGreaterThanOrEqual(2);
  });

  it("a remembered token starts the first reads beside its check, and the check still decides", async () => {
    const alice = await registerUser();
    const roomId = await createRoom(alice);
    const first = await syncOf(alice); // this isolate now remembers whose token it is (workers/auth/token-hints.ts)
    const eventId = await send(alice, roomId, "hello");
    const next = await syncOf(alice, `?since=${first.next_batch}`);
    expect(next.rooms.join[roomId]!.timeline.events.map((e) => e.event_id)).toEqual([eventId]);
    // A bad parameter is answered after the token check.
    const bad = await callJson<{ errcode: string }>(`/_matrix/client/v3/sync?since=${next.next_batch}&timeout=-1`, { token: alice.accessToken });
    expect([bad.status, bad.body.errcode]).toEqual([400, "M_INVALID_PARAM"]);
    expect((await callJson<{ errcode: string }>(`/_matrix/client/v3/sync?timeout=-1`, { token: "not-a-token" })).body.errcode).toBe("M_UNKNOWN_TOKEN");
    // Logged out: the remembered token fails its check, and nothing read under the guess is answered.
    expect((await callJson("/_matrix/client/v3/logout", { method: "POST", token: alice.accessToken, json: {} })).status).toBe(200);
    for (const qs of [`?since=${next.next_batch}`, `?since=${next.next_batch}&timeout=-1`, ""]) {
      const gone = await callJson<{ errcode: string }>(`/_matrix/client/v3/sync${qs}`, { token: alice.accessToken });
      expect([gone.status, gone.body.errcode], qs).toEqual([401, "M_UNKNOWN_TOKEN"]);
    }
  });

  it("garbage and future since tokens get Matrix errors, never 500", async () => {
    const alice = await registerUser();
    for (const since of ["garbage", "s-1", "s99999999999", "t1", "s1e5"]) {
      const r = await callJson(`/_matrix/client/v3/sync?since=${since}`, { token: alice.accessToken });
      expect(r.status, since).toBe(400);
      expect(r.body.errcode, since).toBe("M_INVALID_PARAM");
    }
    expect((await callJson("/_matrix/client/v3/sync?timeout=abc", { token: alice.accessToken })).body.errcode).toBe("M_INVALID_PARAM");
    expect((await callJson("/_matrix/client/v3/sync?filter=%7Bbad", { token: alice.accessToken })).status).toBe(400);
    expect((await callJson("/_matrix/client/v3/sync?filter=12345", { token: alice.accessToken })).status).toBe(404);
    expect((await callJson("/_matrix/client/v3/sync")).status).toBe(401);
  });

  it("stores and returns filters", async () => {
    const alice = await registerUser();
    const f = { room: { timeline: { limit: 1 } } };
    const made = await callJson<{ filter_id: string }>(`/_matrix/client/v3/user/${encodeURIComponent(alice.userId)}/filter`, { method: "POST", token: alice.accessToken, json: f });
    expect(made.body.filter_id).toBe("0");
    expect((await callJson(`/_matrix/client/v3/user/${encodeURIComponent(alice.userId)}/filter/0`, { token: alice.accessToken })).body).toEqual(f);
    const roomId = await createRoom(alice);
    const s = await syncOf(alice, "?filter=0");
    expect(s.rooms.join[roomId]!.timeline.events).toHaveLength(1);
    expect((await callJson(`/_matrix/client/v3/user/${encodeURIComponent(alice.userId)}/filter`, { method: "POST", token: alice.accessToken, json: { room: { timeline: { limit: "x" } } } })).body.errcode).toBe("M_BAD_JSON");
  });
});

describe("profile changes", () => {
  it("update the member event in every joined room", async () => {
    const alice = await registerUser();
    const roomId = await createRoom(alice);
    const s = await syncOf(alice);
    await callJson(`/_matrix/client/v3/profile/${encodeURIComponent(alice.userId)}/displayname`, { method: "PUT", token: alice.accessToken, json: { displayname: "Alice Liddell" } });
    const next = await syncOf(alice, `?since=${s.next_batch}`);
    const events = next.rooms.join[roomId]!.timeline.events;
    expect(events).toHaveLength(1);
    const member = events[0];
    expect(member?.content).toMatchObject({ membership: "join", displayname: "Alice Liddell" });
    expect(member?.unsigned.prev_content.displayname).not.toBe("Alice Liddell");
  });
});

describe("ignoring users", () => {
  it("hides their messages and invites but not their state events", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice, { preset: "public_chat", power_level_content_override: { users: { [bob.userId]: 100 } } });
    await callJson(`/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, { method: "POST", token: bob.accessToken, json: {} });
    const put = await callJson(`/_matrix/client/v3/user/${encodeURIComponent(alice.userId)}/account_data/m.ignored_user_list`, {
      method: "PUT",
      token: alice.accessToken,
      json: { ignored_users: { [bob.userId]: {} } },
    });
    expect(put.status).toBe(200);
    const s = await syncOf(alice);
    await send(bob, roomId, "you cannot see me");
    await callJson(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.name`, { method: "PUT", token: bob.accessToken, json: { name: "Bob named it" } });
    await send(alice, roomId, "visible");
    const other = await createRoom(bob, { invite: [alice.userId] });
    const next = await syncOf(alice, `?since=${s.next_batch}`);
    const events = next.rooms.join[roomId]!.timeline.events;
    expect(events.map((e) => e.content.body ?? e.content.name)).toEqual(["Bob named it", "visible"]);
    expect(next.rooms.invite[other]).toBeUndefined();
    const initial = await syncOf(alice);
    expect(initial.rooms.join[roomId]!.timeline.events.some((e) => e.content.body === "you cannot see me")).toBe(false);
  });
});

describe("room initialSync (peeking)", () => {
  it("returns state and latest messages to members and world-readable peekers only", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice, { preset: "public_chat", name: "Peek" });
    for (let i = 0; i < 12; i++) await send(alice, roomId, `p${i}`);
    const mine = await callJson<{ room_id: string; membership: string; messages: { chunk: Array<Record<string, any>>; start: string; end: string }; state: Array<Record<string, any>>; visibility: string }>(
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/initialSync`,
      { token: alice.accessToken },
    );
    expect(mine.status).toBe(200);
    expect(mine.body.membership).toBe("join");
    expect(mine.body.visibility).toBe("public");
    expect(mine.body.messages.chunk.map((e) => e.content.body)).toEqual(Array.from({ length: 10 }, (_, i) => `p${i + 2}`));
    expect(mine.body.messages.start).toMatch(/^s\d+$/);
    expect(mine.body.state.find((e) => e.type === "m.room.name")?.content.name).toBe("Peek");
    // Bob is no member and the room is not world-readable.
    const peek = await callJson(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/initialSync`, { token: bob.accessToken });
    expect(peek.status).toBe(403);
    await callJson(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/m.room.history_visibility`, { method: "PUT", token: alice.accessToken, json: { history_visibility: "world_readable" } });
    const peek2 = await callJson<{ messages: { chunk: unknown[] }; membership?: string }>(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/initialSync`, { token: bob.accessToken });
    expect(peek2.status).toBe(200);
    expect(peek2.body.membership).toBeUndefined();
    expect(peek2.body.messages.chunk.length).toBeGreaterThan(0);
  });
});
