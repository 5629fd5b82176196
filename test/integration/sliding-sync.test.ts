/**
 * Simplified sliding sync (MSC4186) in the unstable shape clients send
 * (CLIENTS.md §2): lists, windows, counts, deltas per connection, room
 * subscriptions, `pos` handling, long-polling, history visibility, invites and
 * leaves, extensions, and bad input.
 */
import { describe, expect, it } from "vitest";
import { callJson, registerUser, type TestUser } from "./helpers.js";
import { createRoom, enc, invite, membership, setState, text, v3, type Ev } from "./room-reads-helpers.js";
import { DEFAULT_REQUIRED_STATE } from "./sliding-sync-helpers.js";

const PATH = "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync";

interface SsRoom {
  name?: string;
  avatar?: string | null;
  initial?: boolean;
  is_dm?: boolean;
  timeline?: Ev[];
  required_state?: Ev[];
  invite_state?: Ev[];
  prev_batch?: string;
  limited?: boolean;
  num_live?: number;
  bump_stamp?: number;
  joined_count?: number;
  invited_count?: number;
  notification_count?: number;
  highlight_count?: number;
  heroes?: Array<{ user_id: string; displayname?: string }>;
  unstable_expanded_timeline?: boolean;
}
interface SsResponse {
  pos: string;
  txn_id?: string;
  lists: Record<string, { count: number }>;
  rooms: Record<string, SsRoom>;
  extensions: Record<string, any>;
}

async function ss(u: TestUser, body: unknown, q: Record<string, string> = {}) {
  return callJson<SsResponse & { errcode?: string }>(`${PATH}?${new URLSearchParams(q)}`, { method: "POST", token: u.accessToken, json: body });
}

async function ok(u: TestUser, body: unknown, q: Record<string, string> = {}): Promise<SsResponse> {
  const r = await ss(u, body, q);
  if (r.status !== 200) throw new Error(`sliding sync ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** Element X's room-list request (CLIENTS.md §2.2), with a window. */
const roomList = (end: number) => ({
  conn_id: "room-list",
  lists: {
    all_rooms: {
      ranges: [[0, end]],
      timeline_limit: 1,
      required_state: DEFAULT_REQUIRED_STATE,
      filters: {},
    },
  },
  extensions: { account_data: { enabled: true }, receipts: { enabled: true, rooms: ["*"] }, typing: { enabled: true } },
});

describe("sliding sync", () => {
  it("is advertised in /versions", async () => {
    const r = await callJson<{ unstable_features: Record<string, boolean> }>("/_matrix/client/versions");
    expect(r.body.unstable_features["org.matrix.simplified_msc3575"]).toBe(true);
  });

  it("lists rooms by recency with true counts, windows, required state and the latest event; then only what changed", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const rooms: string[] = [];
    for (let i = 0; i < 3; i++) rooms.push(await createRoom(alice, { preset: "public_chat", name: `Room ${i}` }));
    await membership(bob, rooms[0]!, "join");
    const last = await text(alice, rooms[0]!, "most recent");

    const first = await ok(alice, roomList(1));
    expect(typeof first.pos).toBe("string");
    expect(first.lists.all_rooms!.count).toBe(3);
    // Window [0,1] of 3: the two most recent rooms, room 0 first (it has the latest message).
    expect(Object.keys(first.rooms).sort()).toEqual([rooms[0], rooms[2]].sort());
    const r0 = first.rooms[rooms[0]!]!;
    expect(r0.initial).toBe(true);
    expect(r0.name).toBe("Room 0");
    expect(r0.timeline!.map((e) => e.event_id)).toEqual([last]);
    expect(r0.timeline![0]!.room_id).toBeUndefined();
    expect(r0.limited).toBe(true);
    expect(r0.joined_count).toBe(2);
    expect(r0.num_live).toBe(0);
    expect(r0.notification_count).toBe(0);
    expect(r0.bump_stamp!).toBeGreaterThan(first.rooms[rooms[2]!]!.bump_stamp!);
    const types = r0.required_state!.map((e) => `${e.type}|${e.state_key}`).sort();
    expect(types).toContain("m.room.create|");
    expect(types).toContain("m.room.name|");
    expect(types).toContain(`m.room.member|${alice.userId}`);
    // $LAZY: the timeline's only sender is alice; bob's member event is not asked for.
    expect(types).not.toContain(`m.room.member|${bob.userId}`);
    // prev_batch continues with /messages.
    const back = await callJson<{ chunk: Ev[] }>(v3(rooms[0]!, `messages?dir=b&limit=1&from=${enc(r0.prev_batch!)}`), { token: alice.accessToken });
    expect(back.body.chunk[0]!.type).toBe("m.room.member");

    // Nothing new: an empty delta at once with timeout=0.
    const idle = await ok(alice, roomList(1), { pos: first.pos, timeout: "0" });
    expect(idle.rooms).toEqual({});
    expect(idle.lists.all_rooms!.count).toBe(3);

    // A message in room 1 moves it into the window: sent in full; room 0 is unchanged: not sent.
    const m1 = await text(bob, rooms[0]!, "from bob");
    const m2 = await text(alice, rooms[1]!, "room one speaks");
    const next = await ok(alice, roomList(1), { pos: idle.pos, timeout: "0" });
    expect(Object.keys(next.rooms).sort()).toEqual([rooms[0], rooms[1]].sort());
    expect(next.rooms[rooms[1]!]!.initial).toBe(true);
    expect(next.rooms[rooms[1]!]!.timeline!.map((e) => e.event_id)).toEqual([m2]);
    const delta = next.rooms[rooms[0]!]!;
    expect(delta.initial).toBeUndefined();
    expect(delta.timeline!.map((e) => e.event_id)).toEqual([m1]);
    expect(delta.num_live).toBe(1);
    // $LAZY in a delta: the new sender's member event.
    expect(delta.required_state!.map((e) => e.state_key)).toContain(bob.userId);
  });

  it("the same pos twice gives the same answer; only the next pos moves state forward; unknown positions are M_UNKNOWN_POS", async () => {
    const alice = await registerUser();
    const roomId = await createRoom(alice, { name: "r" });
    const first = await ok(alice, roomList(9));
    await text(alice, roomId, "hello");
    const a = await ok(alice, roomList(9), { pos: first.pos, timeout: "0" });
    const b = await ok(alice, roomList(9), { pos: first.pos, timeout: "0" });
    expect(a.rooms[roomId]!.timeline!.length).toBe(1);
    expect(b.rooms[roomId]!.timeline!.map((e) => e.event_id)).toEqual(a.rooms[roomId]!.timeline!.map((e) => e.event_id));
    // The client took b: a's position is gone, b's holds.
    expect((await ok(alice, roomList(9), { pos: b.pos, timeout: "0" })).rooms).toEqual({});
    const stale = await ss(alice, roomList(9), { pos: a.pos, timeout: "0" });
    expect([stale.status, stale.body.errcode]).toEqual([400, "M_UNKNOWN_POS"]);
    for (const pos of ["garbage", "x.99", `${first.pos.split(".")[0]}.999`, "1"]) {
      const r = await ss(alice, roomList(9), { pos, timeout: "0" });
      expect([r.status, r.body.errcode], pos).toEqual([400, "M_UNKNOWN_POS"]);
    }
    // A pos belongs to its connection and device.
    expect((await ss(alice, { ...roomList(9), conn_id: "other" }, { pos: b.pos })).body.errcode).toBe("M_UNKNOWN_POS");
    const bob = await registerUser();
    expect((await ss(bob, roomList(9), { pos: b.pos })).body.errcode).toBe("M_UNKNOWN_POS");
  });

  it("long-polls until something for the connection happens; a new connection answers at once", async () => {
    const alice = await registerUser();
    const roomId = await createRoom(alice, { name: "poll" });
    const first = await ok(alice, roomList(9), { timeout: "60000" });
    const waiting = ok(alice, roomList(9), { pos: first.pos, timeout: "60000" });
    await new Promise((r) => setTimeout(r, 300));
    const ev = await text(alice, roomId, "wake up");
    const woke = await waiting;
    expect(woke.rooms[roomId]!.timeline!.map((e) => e.event_id)).toEqual([ev]);
  });

  it("a long-poll that runs out with nothing new answers with the pos it was given, which still resumes", async () => {
    const alice = await registerUser();
    const roomId = await createRoom(alice, { name: "quiet" });
    const first = await ok(alice, roomList(9));
    const started = Date.now();
    const idle = await ok(alice, roomList(9), { pos: first.pos, timeout: "400" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    // Nothing changed, so nothing was recorded (as Synapse): the same position, an empty delta.
    expect(idle.pos).toBe(first.pos);
    expect(idle.rooms).toEqual({});
    expect(idle.lists.all_rooms!.count).toBe(1);
    const ev = await text(alice, roomId, "after the quiet");
    const next = await ok(alice, roomList(9), { pos: idle.pos, timeout: "0" });
    expect(next.pos).not.toBe(first.pos);
    expect(next.rooms[roomId]!.timeline!.map((e) => e.event_id)).toEqual([ev]);
  });

  it("a parked request wakes when only a list's count moves (a room outside the window starts matching its filter)", async () => {
    const alice = await registerUser();
    const later = await createRoom(alice, { name: "plain, older" });
    const shown = await createRoom(alice, {
      name: "encrypted, newer",
      initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }],
    });
    const body = { conn_id: "enc", lists: { enc: { ranges: [[0, 0]], timeline_limit: 1, filters: { is_encrypted: true } } } };
    const first = await ok(alice, body);
    expect(first.lists.enc!.count).toBe(1);
    expect(Object.keys(first.rooms)).toEqual([shown]);
    // Nothing moves into the window and no extension is on: only the count says something happened.
    // Without the wake-up the request would hold its 120 s, past this test's time limit.
    const waiting = ok(alice, body, { pos: first.pos, timeout: "120000" });
    await new Promise((r) => setTimeout(r, 300));
    await setState(alice, later, "m.room.encryption", "", { algorithm: "m.megolm.v1.aes-sha2" });
    const woke = await waiting;
    expect(woke.lists.enc!.count).toBe(2);
    expect(woke.rooms).toEqual({});
    // And then it waits again: the moved count was news once.
    const again = await ok(alice, body, { pos: woke.pos, timeout: "300" });
    expect(again.lists.enc!.count).toBe(2);
  });

  it("room subscriptions outside the window; a larger timeline expands it", async () => {
    const alice = await registerUser();
    const quiet = await createRoom(alice, { name: "quiet" });
    const sent: string[] = [];
    for (let i = 0; i < 5; i++) sent.push(await text(alice, quiet, `q${i}`));
    const busy = await createRoom(alice, { name: "busy" });
    await text(alice, busy, "busy");
    const first = await ok(alice, roomList(0));
    expect(Object.keys(first.rooms)).toEqual([busy]);
    // Subscribe to the quiet room (out of the window) with the list's timeline first.
    const sub1 = await ok(alice, { ...roomList(0), room_subscriptions: { [quiet]: { timeline_limit: 1, required_state: [["m.room.name", ""]] } } }, { pos: first.pos, timeout: "0" });
    expect(sub1.rooms[quiet]!.initial).toBe(true);
    expect(sub1.rooms[quiet]!.timeline!.map((e) => e.event_id)).toEqual([sent[4]]);
    // Opening the room asks for 3: the latest 3, marked expanded.
    const sub3 = await ok(alice, { ...roomList(0), room_subscriptions: { [quiet]: { timeline_limit: 3, required_state: [["m.room.name", ""]] } } }, { pos: sub1.pos, timeout: "0" });
    expect(sub3.rooms[quiet]!.unstable_expanded_timeline).toBe(true);
    expect(sub3.rooms[quiet]!.timeline!.map((e) => e.event_id)).toEqual(sent.slice(2));
    expect(sub3.rooms[quiet]!.limited).toBe(true);
    // Subscriptions to rooms the user is not in are ignored.
    const stranger = await registerUser();
    const other = await createRoom(stranger, { preset: "private_chat" });
    const r = await ok(alice, { room_subscriptions: { [other]: { timeline_limit: 5 } } });
    expect(r.rooms[other]).toBeUndefined();
  });

  it("num_live: a room new to the connection that a new event bumps into the window has that event live", async () => {
    const alice = await registerUser();
    const older = await createRoom(alice, { name: "older" });
    const newer = await createRoom(alice, { name: "newer" });
    const first = await ok(alice, roomList(0));
    expect(Object.keys(first.rooms)).toEqual([newer]);
    // Rooms of a new connection: nothing is live.
    expect(first.rooms[newer]!.num_live).toBe(0);
    const ev = await text(alice, older, "bump");
    const next = await ok(alice, { ...roomList(0), lists: { all_rooms: { ...roomList(0).lists.all_rooms, timeline_limit: 3 } } }, { pos: first.pos, timeout: "0" });
    const room = next.rooms[older]!;
    expect(room.initial).toBe(true);
    // The timeline reaches back before the connection's last response; only the new event is live.
    expect(room.timeline!.length).toBe(3);
    expect(room.timeline!.at(-1)!.event_id).toBe(ev);
    expect(room.num_live).toBe(1);
  });

  it("a changed required_state sends the current state only the new config asks for, however old (MSC4186)", async () => {
    const alice = await registerUser();
    const roomId = await createRoom(alice, { name: "topic room", topic: "old topic" });
    for (let i = 0; i < 3; i++) await text(alice, roomId, `m${i}`);
    const narrow = { lists: { l: { ranges: [[0, 0]], timeline_limit: 1, required_state: [["m.room.name", ""]] } } };
    const wide = { lists: { l: { ranges: [[0, 0]], timeline_limit: 1, required_state: [["m.room.name", ""], ["m.room.topic", ""]] } } };
    const first = await ok(alice, narrow);
    expect(first.rooms[roomId]!.required_state!.map((e) => e.type)).not.toContain("m.room.topic");
    // Nothing happened in the room: the expansion alone sends it, at once, with the topic and without what was already sent.
    const widened = await ok(alice, wide, { pos: first.pos, timeout: "60000" });
    const room = widened.rooms[roomId]!;
    expect(room.initial).toBeUndefined();
    expect(room.timeline).toEqual([]);
    expect(room.required_state!.map((e) => [e.type, e.content.topic])).toEqual([["m.room.topic", "old topic"]]);
    // Same config again: an empty delta; a later topic change comes as a change.
    expect((await ok(alice, wide, { pos: widened.pos, timeout: "0" })).rooms).toEqual({});
    await setState(alice, roomId, "m.room.topic", "", { topic: "new topic" });
    const changed = await ok(alice, wide, { pos: widened.pos, timeout: "0" });
    expect(changed.rooms[roomId]!.required_state!.map((e) => e.content.topic)).toEqual(["new topic"]);
  });

  it("invites carry stripped state with the inviter's event; is_invite filters; leaves carry the user's own leave", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice, { preset: "private_chat", name: "Secret plans" });
    await text(alice, roomId, "before bob");
    const base = await ok(bob, { lists: { invites: { ranges: [[0, 9]], timeline_limit: 8, filters: { is_invite: true } }, all: { ranges: [[0, 9]], timeline_limit: 1, required_state: [["m.room.member", "$ME"]] } } });
    expect(base.lists.invites!.count).toBe(0);
    await invite(alice, roomId, bob);
    const invited = await ok(bob, { lists: { invites: { ranges: [[0, 9]], timeline_limit: 8, filters: { is_invite: true } }, all: { ranges: [[0, 9]], timeline_limit: 1, required_state: [["m.room.member", "$ME"]] } } }, { pos: base.pos, timeout: "0" });
    expect(invited.lists.invites!.count).toBe(1);
    const room = invited.rooms[roomId]!;
    expect(room.timeline).toBeUndefined();
    const own = room.invite_state!.find((e) => e.type === "m.room.member" && e.state_key === bob.userId)!;
    expect([own.content.membership, own.sender]).toEqual(["invite", alice.userId]);
    expect(room.invite_state!.find((e) => e.type === "m.room.name")!.content.name).toBe("Secret plans");
    expect(JSON.stringify(invited)).not.toContain("before bob");
    // Join, then leave: the room comes with his own leave event.
    await membership(bob, roomId, "join");
    const joined = await ok(bob, { lists: { all: { ranges: [[0, 9]], timeline_limit: 5, required_state: [["m.room.member", "$ME"]] } } }, { pos: invited.pos, timeout: "0" });
    expect(joined.rooms[roomId]!.initial).toBe(true);
    // History visibility `shared`: bob sees the earlier message now that he joined.
    expect(joined.rooms[roomId]!.timeline!.some((e) => e.content.body === "before bob")).toBe(true);
    await membership(bob, roomId, "leave");
    const left = await ok(bob, { lists: { all: { ranges: [[0, 9]], timeline_limit: 5, required_state: [] } } }, { pos: joined.pos, timeout: "0" });
    const leave = left.rooms[roomId]!.required_state!.find((e) => e.type === "m.room.member" && e.state_key === bob.userId)!;
    expect(leave.content.membership).toBe("leave");
  });

  it("a declined invite comes as left, with the own leave and none of the room's history", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice, { preset: "private_chat", name: "Declined" });
    await text(alice, roomId, "private history");
    await invite(alice, roomId, bob);
    const body = { lists: { all: { ranges: [[0, 9]], timeline_limit: 10, required_state: [["m.room.name", ""]] } } };
    const invited = await ok(bob, body);
    expect(invited.rooms[roomId]!.invite_state).toBeDefined();
    await membership(bob, roomId, "leave");
    const left = await ok(bob, body, { pos: invited.pos, timeout: "0" });
    const room = left.rooms[roomId]!;
    expect(room.invite_state).toBeUndefined();
    expect(room.initial).toBe(true);
    const own = room.required_state!.find((e) => e.type === "m.room.member" && e.state_key === bob.userId)!;
    expect(own.content.membership).toBe("leave");
    expect(JSON.stringify(left)).not.toContain("private history");
  });

  it("a removed room avatar comes as avatar: null (MSC4186; ruma reads null as removed, absent as unchanged)", async () => {
    const alice = await registerUser();
    const roomId = await createRoom(alice, { name: "pictured" });
    await setState(alice, roomId, "m.room.avatar", "", { url: "mxc://example.org/pic" });
    const body = { lists: { all: { ranges: [[0, 9]], timeline_limit: 1, required_state: [] } } };
    const first = await ok(alice, body);
    expect(first.rooms[roomId]!.avatar).toBe("mxc://example.org/pic");
    await text(alice, roomId, "unrelated");
    const unchanged = await ok(alice, body, { pos: first.pos, timeout: "0" });
    expect(unchanged.rooms[roomId]!).not.toHaveProperty("avatar", null);
    await setState(alice, roomId, "m.room.avatar", "", {});
    const removed = await ok(alice, body, { pos: unchanged.pos, timeout: "0" });
    expect(removed.rooms[roomId]!).toHaveProperty("avatar", null);
  });

  it("history visibility `joined`: nothing before the join, in the timeline or anywhere", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice, {
      preset: "public_chat",
      initial_state: [{ type: "m.room.history_visibility", state_key: "", content: { history_visibility: "joined" } }],
    });
    const secret = await text(alice, roomId, "secret");
    await membership(bob, roomId, "join");
    const r = await ok(bob, { lists: { all: { ranges: [[0, 9]], timeline_limit: 50, required_state: [["*", "*"]] } } });
    expect(JSON.stringify(r)).not.toContain(secret);
    expect(r.rooms[roomId]!.timeline!.at(-1)!.state_key).toBe(bob.userId);
    // Of the latest three events one is hidden: the page is read past it, and $LAZY names the senders of that page.
    await text(alice, roomId, "after");
    const lazy = await ok(bob, { lists: { all: { ranges: [[0, 9]], timeline_limit: 2, required_state: [["m.room.member", "$LAZY"]] } } });
    const room = lazy.rooms[roomId]!;
    expect(room.timeline!.map((e) => e.content?.body ?? e.state_key)).toEqual([bob.userId, "after"]);
    expect(room.limited).toBe(true); // the history_visibility event before the join is visible (it was "shared" until then)
    expect(room.required_state!.map((e) => e.state_key).sort()).toEqual([alice.userId, bob.userId].sort());
    expect(JSON.stringify(lazy)).not.toContain(secret);
  });

  it("rooms without a name carry heroes with profiles; DMs are flagged from m.direct and filtered with is_dm", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    await callJson(`/_matrix/client/v3/profile/${enc(bob.userId)}/displayname`, { method: "PUT", token: bob.accessToken, json: { displayname: "Bob B" } });
    const dm = await createRoom(alice, { preset: "trusted_private_chat", is_direct: true, invite: [bob.userId] });
    await membership(bob, dm, "join");
    await createRoom(alice, { name: "not a dm" });
    await callJson(`/_matrix/client/v3/user/${enc(alice.userId)}/account_data/m.direct`, { method: "PUT", token: alice.accessToken, json: { [bob.userId]: [dm] } });
    const r = await ok(alice, { lists: { dms: { ranges: [[0, 9]], timeline_limit: 0, filters: { is_dm: true } }, rest: { ranges: [[0, 9]], timeline_limit: 0, filters: { is_dm: false } } } });
    expect(r.lists.dms!.count).toBe(1);
    expect(r.lists.rest!.count).toBe(1);
    expect(r.rooms[dm]!.is_dm).toBe(true);
    expect(r.rooms[dm]!.heroes).toEqual([{ user_id: bob.userId, displayname: "Bob B" }]);
    expect(r.rooms[dm]!.name).toBeUndefined();
  });

  it("extensions: to_device with its own since, e2ee counts always, account data, receipts and typing", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice, { preset: "public_chat", name: "ext" });
    await membership(bob, roomId, "join");
    const ev = await text(alice, roomId, "read me");
    await callJson(`/_matrix/client/v3/sendToDevice/m.test/${crypto.randomUUID()}`, {
      method: "PUT",
      token: bob.accessToken,
      json: { messages: { [alice.userId]: { [alice.deviceId]: { n: 1 } } } },
    });
    const enc1 = await ok(alice, { conn_id: "encryption", extensions: { to_device: { enabled: true }, e2ee: { enabled: true } } });
    expect(enc1.extensions.to_device.events).toEqual([{ sender: bob.userId, type: "m.test", content: { n: 1 } }]);
    expect(enc1.extensions.e2ee.device_one_time_keys_count).toEqual({ signed_curve25519: 0 });
    expect(enc1.extensions.e2ee.device_unused_fallback_key_types).toEqual([]);
    // Not acknowledged yet: a fresh connection with the old token gets it again; the next since deletes it.
    const again = await ok(alice, { conn_id: "encryption", extensions: { to_device: { enabled: true } } });
    expect(again.extensions.to_device.events.length).toBe(1);
    const acked = await ok(alice, { conn_id: "encryption", extensions: { to_device: { enabled: true, since: again.extensions.to_device.next_batch } } });
    expect(acked.extensions.to_device.events).toEqual([]);

    await callJson(v3(roomId, `receipt/m.read/${enc(ev)}`), { method: "POST", token: bob.accessToken, json: {} });
    await callJson(v3(roomId, `typing/${enc(bob.userId)}`), { method: "PUT", token: bob.accessToken, json: { typing: true, timeout: 30000 } });
    await callJson(`/_matrix/client/v3/user/${enc(alice.userId)}/account_data/org.example.pref`, { method: "PUT", token: alice.accessToken, json: { on: true } });
    const list = await ok(alice, roomList(9));
    // A new connection gets the push rules, the server defaults while the user changed none.
    const rules = list.extensions.account_data.global.find((e: Ev) => e.type === "m.push_rules");
    expect(rules.content.global.override.map((r: Ev) => r.rule_id)).toContain(".m.rule.master");
    expect(list.extensions.receipts.rooms[roomId].content[ev]["m.read"][bob.userId].ts).toEqual(expect.any(Number));
    expect(list.extensions.typing.rooms[roomId].content.user_ids).toEqual([bob.userId]);
    expect(list.extensions.account_data.global.find((e: Ev) => e.type === "org.example.pref").content).toEqual({ on: true });
    // A typing change wakes a parked connection.
    const waiting = ok(alice, roomList(9), { pos: list.pos, timeout: "60000" });
    await new Promise((r) => setTimeout(r, 300));
    await callJson(v3(roomId, `typing/${enc(bob.userId)}`), { method: "PUT", token: bob.accessToken, json: { typing: false } });
    expect((await waiting).extensions.typing.rooms[roomId].content.user_ids).toEqual([]);
  });

  it("bad input gets 4xx with an errcode, never 5xx", async () => {
    const alice = await registerUser();
    const lists: Record<string, unknown> = {};
    for (let i = 0; i < 1000; i++) lists[`l${i}`] = { ranges: [[0, 1]] };
    const cases: Array<[unknown, Record<string, string>, string]> = [
      [{ lists: { a: { ranges: [[5, 1]] } } }, {}, "M_INVALID_PARAM"],
      [{ lists: { a: { ranges: [[0, 1e12]] } } }, {}, "M_INVALID_PARAM"],
      [{ lists: { a: { ranges: Array.from({ length: 500 }, () => [0, 1]) } } }, {}, "M_INVALID_PARAM"],
      [{ lists: { a: { ranges: "0-9" } } }, {}, "M_BAD_JSON"],
      [{ lists }, {}, "M_INVALID_PARAM"],
      [{ lists: { a: { ranges: [[0, 1]], timeline_limit: 1e9 } } }, {}, "M_INVALID_PARAM"],
      [{ lists: { a: { ranges: [[0, 1]], required_state: [["only-one"]] } } }, {}, "M_BAD_JSON"],
      [{ conn_id: "x".repeat(100) }, {}, "M_INVALID_PARAM"],
      [{}, { timeout: "soon" }, "M_INVALID_PARAM"],
      [{}, { set_presence: "dancing" }, "M_INVALID_PARAM"],
    ];
    for (const [body, q, errcode] of cases) {
      const r = await ss(alice, body, q);
      expect([r.status, r.body.errcode], JSON.stringify(body).slice(0, 80)).toEqual([400, errcode]);
    }
    // Unknown filters and extensions are ignored.
    const fine = await ss(alice, { lists: { a: { ranges: [[0, 1]], filters: { spaces: ["!x:y"], unknown: 1 } } }, extensions: { "org.example.unknown": { enabled: true } }, txn_id: "t1" });
    expect(fine.status).toBe(200);
    expect(fine.body.txn_id).toBe("t1");
    const notJson = await callJson(PATH, { method: "POST", token: alice.accessToken, body: "{" });
    expect([notJson.status, (notJson.body as { errcode: string }).errcode]).toEqual([400, "M_NOT_JSON"]);
    expect((await callJson(PATH, { method: "POST", json: {} })).status).toBe(401);
  });
});

