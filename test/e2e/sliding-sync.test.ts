/**
 * Simplified sliding sync (MSC4186) driven by matrix-js-sdk's own `SlidingSync`
 * class and `startClient({ slidingSync })` against the real server: the room
 * list and its window, a room subscription, live messages, an invite joined, a
 * room left, typing and receipts through the extensions, and E2EE with Rust
 * crypto where room keys travel over the `to_device` extension and device list
 * changes over `e2ee`.
 *
 * The SDK speaks the js-sdk dialect: no `conn_id`, the lists re-sent whole on
 * every request, a room subscription sent once, and any 400 silently resets the
 * connection — so every test also asserts that no request failed, which would
 * otherwise hide a server error behind a reset.
 */
import { describe, expect, it } from "vitest";
import { ClientEvent, EventType, type MatrixClient, MatrixEvent, Preset, ReceiptType, RoomEvent, SyncState } from "matrix-js-sdk";
import {
  type MSC3575List,
  type MSC3575RoomSubscription,
  type MSC3575SlidingSyncResponse,
  SlidingSync,
  SlidingSyncEvent,
  SlidingSyncState,
} from "matrix-js-sdk/lib/sliding-sync.js";
import { loginClient, registerClient, uniqueName, useServer, waitFor } from "./harness.js";

const hs = useServer();
const PASSWORD = "sliding sync e2e";

/** What one client's sliding sync saw: every response, every failed request. */
interface Session {
  client: MatrixClient;
  ss: SlidingSync;
  responses: MSC3575SlidingSyncResponse[];
  errors: Error[];
}

const LIST_STATE: string[][] = [
  ["m.room.name", ""],
  ["m.room.create", ""],
  ["m.room.encryption", ""],
  ["m.room.member", "$ME"],
  ["m.room.member", "$LAZY"],
];

function list(ranges: number[][], extra: Partial<MSC3575List> = {}): MSC3575List {
  return { ranges, timeline_limit: 1, required_state: LIST_STATE, ...extra };
}

/**
 * Starts `client` on sliding sync with the given lists (long-polling 30 s as
 * Element does, so a missing wake-up makes the waits below time out) and
 * resolves after the first response is processed.
 */
async function startSliding(
  client: MatrixClient,
  lists: Record<string, MSC3575List>,
  sub: MSC3575RoomSubscription = { timeline_limit: 10, required_state: [["*", "*"]] },
): Promise<Session> {
  const ss = new SlidingSync(hs.baseUrl, new Map(Object.entries(lists)), sub, client, 30_000);
  const session: Session = { client, ss, responses: [], errors: [] };
  ss.on(SlidingSyncEvent.Lifecycle, (state, resp, err) => {
    if (state !== SlidingSyncState.RequestFinished) return;
    if (err) session.errors.push(err);
    else if (resp) session.responses.push(resp);
  });
  const ready = new Promise<void>((resolve) => {
    const onSync = (state: SyncState) => {
      if (state === SyncState.Syncing) {
        client.off(ClientEvent.Sync, onSync);
        resolve();
      }
    };
    client.on(ClientEvent.Sync, onSync);
  });
  await client.startClient({ slidingSync: ss });
  await ready;
  return session;
}

/** No request of the session failed (the SDK would have reset and carried on). */
function noErrors(s: Session): void {
  expect(s.errors.map((e) => e.message)).toEqual([]);
}

function bodies(client: MatrixClient, roomId: string): string[] {
  return (client.getRoom(roomId)?.getLiveTimeline().getEvents() ?? [])
    .filter((e) => e.getType() === EventType.RoomMessage)
    .map((e) => e.getContent().body as string);
}

const newClient = (name: string, crypto = false) => registerClient(hs.baseUrl, uniqueName(name), PASSWORD, { crypto });

describe("sliding sync with matrix-js-sdk's SlidingSync", () => {
  it("a room list: the window of the most recent rooms with the true count, then a wider window", async () => {
    const alice = await newClient("alice");
    const rooms: string[] = [];
    for (let i = 0; i < 3; i++) rooms.push((await alice.createRoom({ name: `Room ${i}` })).room_id);
    // Room 0 becomes the most recent.
    await alice.sendTextMessage(rooms[0]!, "latest");

    const s = await startSliding(alice, { all: list([[0, 1]]) });
    expect(s.ss.getListData("all")!.joinedCount).toBe(3);
    // The window [0,1]: rooms 0 and 2 (room 1 is the oldest), with names and membership.
    expect(alice.getRooms().map((r) => r.roomId).sort()).toEqual([rooms[0], rooms[2]].sort());
    const r0 = alice.getRoom(rooms[0]!)!;
    expect(r0.name).toBe("Room 0");
    expect(r0.getMyMembership()).toBe("join");
    expect(bodies(alice, rooms[0]!)).toEqual(["latest"]);
    expect(r0.getBumpStamp()).toBeGreaterThan(alice.getRoom(rooms[2]!)!.getBumpStamp()!);

    s.ss.setListRanges("all", [[0, 9]]);
    const r1 = await waitFor(() => alice.getRoom(rooms[1]!), { what: "room 1 once the window covers it" });
    expect(r1.name).toBe("Room 1");
    expect(s.ss.getListData("all")!.joinedCount).toBe(3);
    noErrors(s);
  });

  it("opening a room by room subscription brings its recent timeline; new messages arrive live", async () => {
    const alice = await newClient("alice");
    const bob = await newClient("bob");
    const { room_id: quiet } = await alice.createRoom({ name: "Quiet", invite: [bob.getUserId()!] });
    await bob.joinRoom(quiet);
    for (let i = 0; i < 5; i++) await bob.sendTextMessage(quiet, `old ${i}`);
    const { room_id: busy } = await alice.createRoom({ name: "Busy" });
    await alice.sendTextMessage(busy, "busy");

    // Only the most recent room is in the window.
    const s = await startSliding(alice, { all: list([[0, 0]]) });
    expect(alice.getRoom(quiet)).toBeNull();
    expect(alice.getRoom(busy)).not.toBeNull();

    s.ss.modifyRoomSubscriptions(new Set([quiet]));
    await waitFor(() => bodies(alice, quiet).length === 5, { what: "the subscribed room's timeline" });
    const room = alice.getRoom(quiet)!;
    expect(bodies(alice, quiet)).toEqual(["old 0", "old 1", "old 2", "old 3", "old 4"]);
    expect(room.name).toBe("Quiet");
    // required_state ["*","*"]: every member is known.
    expect(room.getMember(bob.getUserId()!)?.membership).toBe("join");

    // Bob speaks: the room is now the most recent, in the window, and the message arrives as a live event.
    const live: MatrixEvent[] = [];
    alice.on(RoomEvent.Timeline, (ev, r, toStart, _removed, data) => {
      if (r?.roomId === quiet && !toStart && data.liveEvent) live.push(ev);
    });
    const { event_id } = await bob.sendTextMessage(quiet, "new");
    await waitFor(() => live.some((e) => e.getId() === event_id), { what: "bob's message as a live event" });
    expect(bodies(alice, quiet)).toEqual(["old 0", "old 1", "old 2", "old 3", "old 4", "new"]);
    noErrors(s);
  });

  it("a room outside the window that receives a message moves into it, the message live (num_live)", async () => {
    const alice = await newClient("alice");
    const bob = await newClient("bob");
    const { room_id: older } = await alice.createRoom({ name: "Older", invite: [bob.getUserId()!] });
    await bob.joinRoom(older);
    const { room_id: newer } = await alice.createRoom({ name: "Newer" });
    const s = await startSliding(alice, { all: list([[0, 0]]) });
    expect(alice.getRoom(older)).toBeNull();

    const live: string[] = [];
    alice.on(RoomEvent.Timeline, (ev, r, toStart, _removed, data) => {
      if (r?.roomId === older && !toStart && data.liveEvent) live.push(ev.getId()!);
    });
    // Sent after the connection's last response: live, although the room is new to the connection.
    const { event_id } = await bob.sendTextMessage(older, "ping");
    await waitFor(() => alice.getRoom(older)?.findEventById(event_id), { what: "the room entering the window" });
    expect(live).toEqual([event_id]);
    expect(alice.getRoom(newer)).not.toBeNull();
    noErrors(s);
  });

  it("an invite arrives with the inviter, is joined, and the room then syncs as joined", async () => {
    const alice = await newClient("alice");
    const bob = await newClient("bob");
    const s = await startSliding(alice, { all: list([[0, 9]], { timeline_limit: 5 }) });
    expect(alice.getRooms()).toEqual([]);

    const { room_id: roomId } = await bob.createRoom({ name: "Bob's room" });
    await bob.sendTextMessage(roomId, "before the invite");
    await bob.invite(roomId, alice.getUserId()!);
    const invited = await waitFor(() => (alice.getRoom(roomId)?.getMyMembership() === "invite" ? alice.getRoom(roomId) : null), {
      what: "alice sees the invite",
    });
    expect(invited.name).toBe("Bob's room");
    expect(invited.getMember(alice.getUserId()!)!.events.member!.getSender()).toBe(bob.getUserId());
    expect(bodies(alice, roomId)).toEqual([]);

    await alice.joinRoom(roomId);
    await waitFor(() => alice.getRoom(roomId)?.getMyMembership() === "join", { what: "alice's room shows as joined" });
    // Shared history: the message from before the invite is visible once joined.
    await waitFor(() => bodies(alice, roomId).includes("before the invite"), { what: "the room's timeline after joining" });
    await bob.sendTextMessage(roomId, "welcome");
    await waitFor(() => bodies(alice, roomId).includes("welcome"), { what: "bob's welcome" });
    expect(s.ss.getListData("all")!.joinedCount).toBe(1);
    noErrors(s);
  });

  it("leaving a room shows it as left", async () => {
    const alice = await newClient("alice");
    const bob = await newClient("bob");
    const { room_id: roomId } = await bob.createRoom({ name: "Leave me", preset: Preset.PublicChat });
    await alice.joinRoom(roomId);
    await bob.sendTextMessage(roomId, "hello");
    const { room_id: stay } = await alice.createRoom({ name: "Stay" });
    // Not asking for $ME: the server must send the own leave anyway, or the SDK keeps the room joined.
    const s = await startSliding(alice, { all: list([[0, 9]], { required_state: [["m.room.name", ""]] }) });
    expect(alice.getRoom(roomId)!.getMyMembership()).toBe("join");
    expect(s.ss.getListData("all")!.joinedCount).toBe(2);

    await alice.leave(roomId);
    await waitFor(() => alice.getRoom(roomId)?.getMyMembership() === "leave", { what: "the room shows as left" });
    expect(alice.getRoom(stay)!.getMyMembership()).toBe("join");
    // Kicked is left too: bob kicks alice from a second room.
    const { room_id: kickRoom } = await bob.createRoom({ name: "Kick", preset: Preset.PublicChat });
    await alice.joinRoom(kickRoom);
    await waitFor(() => alice.getRoom(kickRoom)?.getMyMembership() === "join", { what: "alice in the kick room" });
    await bob.kick(kickRoom, alice.getUserId()!, "bye");
    await waitFor(() => alice.getRoom(kickRoom)?.getMyMembership() === "leave", { what: "the kick shows as left" });
    // Rooms left are not counted once the client has been told (the next response shows it).
    const { event_id } = await alice.sendTextMessage(stay, "still here");
    await waitFor(() => s.responses.some((r) => r.rooms[stay]?.timeline?.some((e) => e.event_id === event_id)), { what: "the next response" });
    expect(s.ss.getListData("all")!.joinedCount).toBe(1);
    noErrors(s);
  });

  it("typing and read receipts arrive through the extensions", async () => {
    const alice = await newClient("alice");
    const bob = await newClient("bob");
    const { room_id: roomId } = await alice.createRoom({ name: "Chat", invite: [bob.getUserId()!] });
    await bob.joinRoom(roomId);
    const s = await startSliding(alice, { all: list([[0, 9]]) });
    const room = alice.getRoom(roomId)!;

    await bob.sendTyping(roomId, true, 30_000);
    await waitFor(() => room.getMember(bob.getUserId()!)?.typing === true, { what: "bob typing" });
    await bob.sendTyping(roomId, false, 0);
    await waitFor(() => room.getMember(bob.getUserId()!)?.typing === false, { what: "bob stopped typing" });

    const { event_id } = await alice.sendTextMessage(roomId, "read this");
    await waitFor(() => room.findEventById(event_id), { what: "alice's message in her timeline" });
    const ev = room.findEventById(event_id)!;
    // Bob's client is not syncing: it reads the event from the id alone.
    await bob.sendReceipt(new MatrixEvent({ event_id, room_id: roomId, type: EventType.RoomMessage, sender: alice.getUserId()!, content: {} }), ReceiptType.Read);
    await waitFor(() => room.getEventReadUpTo(bob.getUserId()!) === event_id, { what: "bob's read receipt" });
    expect(room.getReceiptsForEvent(ev).some((r) => r.userId === bob.getUserId() && r.type === "m.read")).toBe(true);
    noErrors(s);
  });

  it("E2EE: room keys over the to_device extension, device lists over e2ee; the receiver decrypts", async () => {
    const [alice, bob] = await Promise.all([newClient("alice", true), newClient("bob", true)]);
    const a = await startSliding(alice, { all: list([[0, 9]], { timeline_limit: 10 }) });
    const b = await startSliding(bob, { all: list([[0, 9]], { timeline_limit: 10 }) });

    const { room_id: roomId } = await alice.createRoom({
      name: "Secret",
      invite: [bob.getUserId()!],
      initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }],
    });
    await waitFor(() => bob.getRoom(roomId)?.getMyMembership() === "invite", { what: "bob's invite" });
    await bob.joinRoom(roomId);
    await waitFor(() => alice.getRoom(roomId)?.getMember(bob.getUserId()!)?.membership === "join", { what: "alice sees bob join" });
    // Bob now shares an encrypted room with alice: his devices are a device-list change for her.
    await waitFor(() => a.responses.some((r) => changedUsers(r).includes(bob.getUserId()!)), { what: "bob in alice's e2ee device_lists.changed" });
    expect(await alice.getCrypto()!.isEncryptionEnabledInRoom(roomId)).toBe(true);

    const { event_id } = await alice.sendTextMessage(roomId, "top secret");
    const got = await decrypted(bob, roomId, event_id);
    expect(got.getContent().body).toBe("top secret");
    expect(got.getWireType()).toBe("m.room.encrypted");
    // The Megolm key came to bob as an Olm-encrypted to-device message in the sliding-sync extension.
    expect(b.responses.some((r) => toDeviceTypes(r).includes("m.room.encrypted"))).toBe(true);

    // A new device of bob's: alice learns of it only through e2ee device_lists (bob is already
    // tracked, so her crypto re-queries his keys only when told he changed), then encrypts to it too.
    const before = a.responses.length;
    const bob2 = await registerClientLogin(bob.getUserId()!);
    const b2 = await startSliding(bob2, { all: list([[0, 9]], { timeline_limit: 10 }) });
    await waitFor(
      async () => (await alice.getCrypto()!.getUserDeviceInfo([bob.getUserId()!])).get(bob.getUserId()!)?.has(bob2.getDeviceId()!),
      { what: "alice's crypto knowing bob's new device" },
    );
    expect(a.responses.slice(before).some((r) => changedUsers(r).includes(bob.getUserId()!))).toBe(true);
    const second = await alice.sendTextMessage(roomId, "for both devices");
    expect((await decrypted(bob2, roomId, second.event_id)).getContent().body).toBe("for both devices");
    expect((await decrypted(bob, roomId, second.event_id)).getContent().body).toBe("for both devices");
    for (const s of [a, b, b2]) noErrors(s);
  });
});

function changedUsers(r: MSC3575SlidingSyncResponse): string[] {
  return ((r.extensions?.e2ee as { device_lists?: { changed?: string[] } } | undefined)?.device_lists?.changed ?? []) as string[];
}

function toDeviceTypes(r: MSC3575SlidingSyncResponse): string[] {
  return ((r.extensions?.to_device as { events?: Array<{ type: string }> } | undefined)?.events ?? []).map((e) => e.type);
}

/** A second device for an existing user: /login with the password, Rust crypto on. */
async function registerClientLogin(userId: string): Promise<MatrixClient> {
  return loginClient(hs.baseUrl, userId.slice(1).split(":")[0]!, PASSWORD, { crypto: true });
}

/** Waits until `eventId` is in the client's room and decrypted. */
async function decrypted(client: MatrixClient, roomId: string, eventId: string): Promise<MatrixEvent> {
  let last: MatrixEvent | null | undefined;
  try {
    return await waitFor(
      () => {
        last = client.getRoom(roomId)?.findEventById(eventId);
        return last && !last.isBeingDecrypted() && !last.isDecryptionFailure() && last.getClearContent() ? last : undefined;
      },
      { timeoutMs: 20_000, what: `${client.getUserId()}/${client.getDeviceId()} decrypting ${eventId}` },
    );
  } catch (e) {
    const state = !last ? "not in the timeline" : `type ${last.getType()}, failure ${last.decryptionFailureReason ?? "none"}`;
    throw new Error(`${(e as Error).message} (${state})`);
  }
}
