/**
 * Element X's sliding-sync requests, literally (CLIENTS.md §2.2, from
 * matrix-rust-sdk's room list service, encryption sync service and notification
 * client), and every response checked against the response shape ruma
 * deserializes (CLIENTS.md §2.1) without leniency: matrix-rust-sdk is built
 * without ruma's lax sync v5 deserialization, so one wrongly typed known field
 * fails the whole response. Unknown keys are allowed (ruma ignores them).
 */
import { runInDurableObject } from "cloudflare:test";
import { env as poolEnv } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import type { Env } from "../../services/env.js";
import { Topic, wakeShard, wakeShards } from "../../services/wake.js";
import { callJson, registerUser, type TestUser } from "./helpers.js";
import { createRoom, enc, invite, membership, setState, text, v3 } from "./room-reads-helpers.js";
import { DEFAULT_REQUIRED_STATE } from "./sliding-sync-helpers.js";

const PATH = "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync";

// --- The response shape (ruma sync_events::v5::Response) -------------------

const UInt = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const UserId = z.string().regex(/^@[^:]+:.+$/);
const RoomId = z.string().regex(/^![^:]+(:.+)?$/);
const Mxc = z.string().regex(/^mxc:\/\/[^/]+\/[^/]+$/);
const Content = z.record(z.string(), z.unknown());

/** A sync-format room event (no room_id needed). */
const SyncEvent = z.object({
  event_id: z.string().startsWith("$"),
  type: z.string(),
  sender: UserId,
  origin_server_ts: UInt,
  content: Content,
  state_key: z.string().optional(),
  unsigned: z.record(z.string(), z.unknown()).optional(),
});
const SyncStateEvent = SyncEvent.extend({ state_key: z.string() });
const StrippedStateEvent = z.object({ type: z.string(), state_key: z.string(), sender: UserId, content: Content });

const Hero = z.object({ user_id: UserId, displayname: z.string().optional(), avatar_url: Mxc.optional() });

const Room = z.object({
  name: z.string().optional(),
  avatar: Mxc.nullable().optional(),
  initial: z.boolean().optional(),
  is_dm: z.boolean().optional(),
  invite_state: z.array(StrippedStateEvent).optional(),
  notification_count: UInt.optional(),
  highlight_count: UInt.optional(),
  timeline: z.array(SyncEvent).optional(),
  required_state: z.array(SyncStateEvent).optional(),
  prev_batch: z.string().optional(),
  limited: z.boolean().optional(),
  joined_count: UInt.optional(),
  invited_count: UInt.optional(),
  num_live: UInt.optional(),
  bump_stamp: UInt.optional(),
  heroes: z.array(Hero).optional(),
});

const Extensions = z.object({
  to_device: z.object({ next_batch: z.string(), events: z.array(z.object({ type: z.string(), sender: UserId, content: Content })).optional() }).optional(),
  e2ee: z
    .object({
      device_lists: z.object({ changed: z.array(UserId).optional(), left: z.array(UserId).optional() }).optional(),
      device_one_time_keys_count: z.record(z.string(), UInt).optional(),
      device_unused_fallback_key_types: z.array(z.string()).optional(),
    })
    .optional(),
  account_data: z
    .object({
      global: z.array(z.object({ type: z.string(), content: Content })).optional(),
      rooms: z.record(RoomId, z.array(z.object({ type: z.string(), content: Content }))).optional(),
    })
    .optional(),
  receipts: z
    .object({
      rooms: z
        .record(
          RoomId,
          z.object({
            type: z.literal("m.receipt"),
            content: z.record(z.string().startsWith("$"), z.record(z.string(), z.record(UserId, z.object({ ts: UInt.optional(), thread_id: z.string().optional() })))),
          }),
        )
        .optional(),
    })
    .optional(),
  typing: z
    .object({ rooms: z.record(RoomId, z.object({ type: z.literal("m.typing"), content: z.object({ user_ids: z.array(UserId) }) })).optional() })
    .optional(),
});

const SsResponse = z.object({
  pos: z.string(),
  txn_id: z.string().optional(),
  lists: z.record(z.string(), z.object({ count: UInt })).optional(),
  rooms: z.record(RoomId, Room).optional(),
  extensions: Extensions.optional(),
});
type SsResponse = z.output<typeof SsResponse>;

/** One request; the response must be a 200 that ruma would deserialize. */
async function sync(u: TestUser, body: unknown, q: Record<string, string> = {}): Promise<SsResponse> {
  const r = await callJson(`${PATH}?${new URLSearchParams(q)}`, { method: "POST", token: u.accessToken, json: body });
  if (r.status !== 200) throw new Error(`sliding sync ${r.status} ${JSON.stringify(r.body)}`);
  const parsed = SsResponse.safeParse(r.body);
  if (!parsed.success) throw new Error(`response does not deserialize: ${z.prettifyError(parsed.error)}\n${JSON.stringify(r.body).slice(0, 2000)}`);
  return parsed.data;
}

// --- Element X's requests ---------------------------------------------------


/** The `room-list` connection: list `all_rooms`, Selective [[0,19]] then Growing, and its extensions. */
function roomList(ranges: number[][], subscriptions: Record<string, unknown> = {}) {
  return {
    conn_id: "room-list",
    txn_id: crypto.randomUUID(),
    lists: { all_rooms: { ranges, timeline_limit: 1, required_state: DEFAULT_REQUIRED_STATE, filters: {} } },
    ...(Object.keys(subscriptions).length ? { room_subscriptions: subscriptions } : {}),
    extensions: { account_data: { enabled: true }, receipts: { enabled: true, rooms: ["*"] }, typing: { enabled: true } },
  };
}

/** Opening a room: DEFAULT_REQUIRED_STATE plus pinned events, 20 events. */
const openRoom = (roomId: string) => ({
  [roomId]: { required_state: [...DEFAULT_REQUIRED_STATE, ["m.room.pinned_events", ""]], timeline_limit: 20 },
});

/** The `encryption` connection: to-device and e2ee only. */
const encryption = (since?: string) => ({
  conn_id: "encryption",
  extensions: { to_device: { enabled: true, ...(since ? { since } : {}) }, e2ee: { enabled: true } },
});

/** notification_client.rs: invites list and the pushed rooms. */
const NOTIFICATION_REQUIRED_STATE: Array<[string, string]> = [
  ["m.room.encryption", ""],
  ["m.room.member", "$LAZY"],
  ["m.room.member", "$ME"],
  ["m.room.canonical_alias", ""],
  ["m.room.name", ""],
  ["m.room.power_levels", ""],
  ["org.matrix.msc3401.call.member", "*"],
];
const notifications = (pushedRooms: string[]) => ({
  conn_id: "notifications",
  lists: {
    invites: { ranges: [[0, 16]], timeline_limit: 8, required_state: NOTIFICATION_REQUIRED_STATE, filters: { is_invite: true, not_room_types: ["m.space"] } },
  },
  room_subscriptions: Object.fromEntries(pushedRooms.map((r) => [r, { required_state: NOTIFICATION_REQUIRED_STATE, timeline_limit: 16 }])),
  extensions: { account_data: { enabled: true } },
});

const stateKeys = (room: z.output<typeof Room>) => (room.required_state ?? []).map((e) => `${e.type}|${e.state_key}`);

describe("Element X's sliding sync requests", () => {
  it("the response schema rejects what ruma rejects (so the checks below can fail)", () => {
    const room = { "!r:hs": {} };
    const bad: unknown[] = [
      {},
      { pos: 1 },
      { pos: "p", lists: { all_rooms: {} } },
      { pos: "p", lists: { all_rooms: { count: 1.5 } } },
      { pos: "p", rooms: { "!r:hs": { name: 7 } } },
      { pos: "p", rooms: { "!r:hs": { avatar: "https://example.org/a.png" } } },
      { pos: "p", rooms: { "!r:hs": { heroes: [{ displayname: "x" }] } } },
      { pos: "p", rooms: { "!r:hs": { bump_stamp: -1 } } },
      { pos: "p", rooms: { "!r:hs": { limited: null } } },
      { pos: "p", rooms: { "!r:hs": { timeline: [{ type: "m.room.message", content: {} }] } } },
      { pos: "p", rooms: { "!r:hs": { required_state: [{ type: "m.room.name", event_id: "$e", sender: "@a:hs", origin_server_ts: 1, content: {} }] } } },
      { pos: "p", extensions: { to_device: { events: [] } } },
      { pos: "p", extensions: { e2ee: { device_one_time_keys_count: { signed_curve25519: "5" } } } },
    ];
    for (const b of bad) expect(SsResponse.safeParse(b).success, JSON.stringify(b)).toBe(false);
    // Unknown keys are ignored, as ruma does; avatar null means removed.
    expect(SsResponse.safeParse({ pos: "p", rooms: { "!r:hs": { avatar: null, unstable_expanded_timeline: true } }, unknown: 1 }).success).toBe(true);
    expect(SsResponse.safeParse({ pos: "p", rooms: room }).success).toBe(true);
  });

  it("room-list: [[0,19]] then growing to [[0,99]]; counts, windows and every response deserializes", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const rooms: string[] = [];
    for (let i = 0; i < 21; i++) rooms.push(await createRoom(alice, { name: `Room ${i}` }));
    // One invite among them, and a room without a name (heroes), with an avatar.
    const invited = await createRoom(bob, { name: "Invite" });
    await invite(bob, invited, alice);
    const dm = await createRoom(bob, { preset: "trusted_private_chat", invite: [alice.userId] });
    await membership(alice, dm, "join");
    await setState(bob, dm, "m.room.avatar", "", { url: "mxc://example.org/avatar" });
    await text(bob, dm, "hi alice");

    const first = await sync(alice, roomList([[0, 19]]), { timeout: "0" });
    expect(first.lists!.all_rooms!.count).toBe(23);
    expect(Object.keys(first.rooms!)).toHaveLength(20);
    // The DM has the latest message: first in the window, with heroes and the avatar.
    const d = first.rooms![dm]!;
    expect(d.initial).toBe(true);
    expect(d.name).toBeUndefined();
    expect(d.heroes!.map((h) => h.user_id)).toEqual([bob.userId]);
    expect(d.avatar).toBe("mxc://example.org/avatar");
    expect(d.timeline!.map((e) => e.content.body)).toEqual(["hi alice"]);
    expect(stateKeys(d)).toEqual(expect.arrayContaining(["m.room.create|", "m.room.power_levels|", "m.room.join_rules|", "m.room.history_visibility|", `m.room.member|${alice.userId}`, `m.room.member|${bob.userId}`]));
    // The invite: stripped state with the inviter's member event, no timeline.
    const inv = first.rooms![invited]!;
    expect(inv.invite_state!.find((e) => e.state_key === alice.userId)).toMatchObject({ sender: bob.userId, content: { membership: "invite" } });
    expect(inv.timeline).toBeUndefined();
    expect(first.extensions!.account_data!.global!.some((e) => e.type === "m.push_rules")).toBe(true);

    // Growing: the rest of the rooms, and only those (the first 20 are unchanged).
    const grown = await sync(alice, roomList([[0, 99]]), { pos: first.pos, timeout: "0" });
    expect(grown.lists!.all_rooms!.count).toBe(23);
    const all = new Set([...Object.keys(first.rooms!), ...Object.keys(grown.rooms!)]);
    expect(all).toEqual(new Set([...rooms, invited, dm]));
    expect(Object.keys(grown.rooms!)).toHaveLength(3);
    for (const r of Object.values(grown.rooms!)) expect(r.initial).toBe(true);

    // Fully loaded: the long-poll returns with an empty delta at timeout=0.
    const idle = await sync(alice, roomList([[0, 22]]), { pos: grown.pos, timeout: "0" });
    expect(idle.rooms ?? {}).toEqual({});
    expect(idle.lists!.all_rooms!.count).toBe(23);
  });

  it("opening a room: the same pos resent with a room subscription returns at once, with 20 events and the newly asked state", async () => {
    const alice = await registerUser();
    const roomId = await createRoom(alice, { name: "Pinned" });
    const sent: string[] = [];
    for (let i = 0; i < 4; i++) sent.push(await text(alice, roomId, `m${i}`));
    // Pinned long before the latest 20 events: only required_state can bring it.
    await setState(alice, roomId, "m.room.pinned_events", "", { pinned: [sent[3]] });
    for (let i = 4; i < 27; i++) sent.push(await text(alice, roomId, `m${i}`));

    const first = await sync(alice, roomList([[0, 19]]), { timeout: "0" });
    const listed = first.rooms![roomId]!;
    expect(listed.timeline!.map((e) => e.event_id)).toEqual([sent[26]]);
    // Not asked for by the list.
    expect(stateKeys(listed)).not.toContain("m.room.pinned_events|");

    // Element X parks a long-poll, cancels it to subscribe, and resends the same pos.
    const opened = await sync(alice, roomList([[0, 19]], openRoom(roomId)), { pos: first.pos, timeout: "30000" });
    const room = opened.rooms![roomId]!;
    expect(room.timeline!.map((e) => e.event_id)).toEqual(sent.slice(-20));
    expect(room.limited).toBe(true);
    expect(typeof room.prev_batch).toBe("string");
    // MSC4186 "Changes to required_state": state matching the new config but not the old is sent.
    const pinned = room.required_state!.find((e) => e.type === "m.room.pinned_events")!;
    expect(pinned.content).toEqual({ pinned: [sent[3]] });
    // Nothing live: these events predate the connection's last response.
    expect(room.num_live).toBe(0);

    // A message while the room is open: one event, live.
    const live = await text(alice, roomId, "live");
    const next = await sync(alice, roomList([[0, 19]], openRoom(roomId)), { pos: opened.pos, timeout: "0" });
    expect(next.rooms![roomId]!.timeline!.map((e) => e.event_id)).toEqual([live]);
    expect(next.rooms![roomId]!.num_live).toBe(1);
    expect(next.rooms![roomId]!.initial).toBeUndefined();

    // The user's own private read receipt: unread badges are computed from it client-side (CLIENTS.md §2.3).
    await callJson(v3(roomId, `receipt/m.read.private/${enc(live)}`), { method: "POST", token: alice.accessToken, json: {} });
    const read = await sync(alice, roomList([[0, 19]], openRoom(roomId)), { pos: next.pos, timeout: "30000" });
    expect(read.extensions!.receipts!.rooms![roomId]!.content[live]!["m.read.private"]![alice.userId]!.ts).toEqual(expect.any(Number));
  });

  it("encryption: to_device and e2ee only, the to-device since kept across connections", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice, { preset: "private_chat", invite: [bob.userId] });
    const first = await sync(alice, encryption());
    expect(first.lists ?? {}).toEqual({});
    expect(first.rooms ?? {}).toEqual({});
    expect(first.extensions!.e2ee!.device_one_time_keys_count).toEqual({ signed_curve25519: 0 });
    expect(first.extensions!.e2ee!.device_unused_fallback_key_types).toEqual([]);
    const since = first.extensions!.to_device!.next_batch;

    await callJson(`/_matrix/client/v3/sendToDevice/m.room_key_request/${crypto.randomUUID()}`, {
      method: "PUT",
      token: bob.accessToken,
      json: { messages: { [alice.userId]: { [alice.deviceId]: { action: "request_cancellation", request_id: "r1", requesting_device_id: bob.deviceId } } } },
    });
    await membership(bob, roomId, "join");
    const got = await sync(alice, encryption(since), { pos: first.pos, timeout: "30000" });
    expect(got.extensions!.to_device!.events!.map((e) => [e.type, e.sender])).toEqual([["m.room_key_request", bob.userId]]);
    // Bob now shares a room with alice: a device-list change.
    expect(got.extensions!.e2ee!.device_lists!.changed).toContain(bob.userId);

    // The app restarts: a new connection (no pos) with the stored since gets the message again (not acked)...
    const restarted = await sync(alice, encryption(since));
    expect(restarted.extensions!.to_device!.events!.length).toBe(1);
    // ...and its next_batch acknowledges it.
    const acked = await sync(alice, encryption(restarted.extensions!.to_device!.next_batch), { pos: restarted.pos, timeout: "0" });
    expect(acked.extensions!.to_device!.events ?? []).toEqual([]);
  });

  it("notifications: the invites list with is_invite and timeline_limit 8, and the pushed room's event", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const invitedTo = await createRoom(bob, { name: "Come in" });
    await invite(bob, invitedTo, alice);
    const joined = await createRoom(bob, { name: "Chat", invite: [alice.userId] });
    await membership(alice, joined, "join");
    const pushed = await text(bob, joined, "@alice ping");
    // A space invite is not listed (not_room_types m.space).
    const space = await createRoom(bob, { creation_content: { type: "m.space" } });
    await invite(bob, space, alice);

    const r = await sync(alice, notifications([joined]), { timeout: "1000" });
    expect(r.lists!.invites!.count).toBe(1);
    expect(Object.keys(r.rooms!).sort()).toEqual([invitedTo, joined].sort());
    expect(r.rooms![invitedTo]!.invite_state!.some((e) => e.type === "m.room.member" && e.state_key === alice.userId && e.sender === bob.userId)).toBe(true);
    expect(r.rooms![joined]!.timeline!.some((e) => e.event_id === pushed)).toBe(true);
    expect(stateKeys(r.rooms![joined]!)).toEqual(expect.arrayContaining([`m.room.member|${bob.userId}`, "m.room.power_levels|", "m.room.name|"]));
    expect(r.extensions!.account_data!.global!.some((e) => e.type === "m.push_rules")).toBe(true);
  });

  it("room-list and encryption connections of one device run side by side", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice, { name: "Both", invite: [bob.userId] });
    const list = await sync(alice, roomList([[0, 19]]), { timeout: "0" });
    const enc1 = await sync(alice, encryption());
    await membership(bob, roomId, "join");
    await callJson(v3(roomId, `typing/${enc(bob.userId)}`), { method: "PUT", token: bob.accessToken, json: { typing: true, timeout: 30000 } });
    const [l2, e2] = await Promise.all([
      sync(alice, roomList([[0, 19]]), { pos: list.pos, timeout: "30000" }),
      sync(alice, encryption(enc1.extensions!.to_device!.next_batch), { pos: enc1.pos, timeout: "30000" }),
    ]);
    expect(l2.rooms![roomId]!.required_state!.some((e) => e.state_key === bob.userId)).toBe(true);
    expect(l2.extensions!.typing!.rooms![roomId]!.content.user_ids).toEqual([bob.userId]);
    expect(e2.extensions!.e2ee!.device_lists!.changed).toContain(bob.userId);
    // Each connection's pos is its own.
    const cross = await callJson<{ errcode: string }>(`${PATH}?pos=${enc(e2.pos)}&timeout=0`, { method: "POST", token: alice.accessToken, json: roomList([[0, 19]]) });
    expect([cross.status, cross.body.errcode]).toEqual([400, "M_UNKNOWN_POS"]);
  });

  it("a parked encryption connection sleeps through room messages and wakes for a to-device message", async () => {
    const env = poolEnv as unknown as Env;
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice, { name: "chat", invite: [bob.userId] });
    await membership(bob, roomId, "join");
    const enc1 = await sync(alice, encryption());
    let done = false;
    const parked = sync(alice, encryption(enc1.extensions!.to_device!.next_batch), { pos: enc1.pos, timeout: "60000" }).finally(() => (done = true));
    // It waits on its shard for to-device messages and device-list changes only (services/wake.ts Topic).
    const shard = env.WAKE.getByName(wakeShard(alice.userId, wakeShards(env)));
    const waits = () => runInDurableObject(shard, (_o, state) => state.getWebSockets(alice.userId).map((ws) => (ws.deserializeAttachment() as { topics: number }).topics));
    await expect.poll(waits, { timeout: 20_000 }).toEqual([Topic.TO_DEVICE | Topic.DEVICE_LISTS]);
    await text(bob, roomId, "not for the encryption connection");
    await new Promise((r) => setTimeout(r, 300));
    expect(done).toBe(false);
    const sent = await callJson(`/_matrix/client/v3/sendToDevice/m.test/${Date.now()}`, {
      method: "PUT",
      token: bob.accessToken,
      json: { messages: { [alice.userId]: { [alice.deviceId]: { hello: "alice" } } } },
    });
    expect(sent.status).toBe(200);
    const woke = await parked;
    expect(woke.extensions!.to_device!.events!.map((e) => [e.sender, e.type, e.content])).toEqual([[bob.userId, "m.test", { hello: "alice" }]]);
  });
});
