import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { callJson, registerUser, type TestUser } from "./helpers.js";
import { createRoom, enc, ephemeralOf, type Json, roomAccountData, send, sharedRoom, syncOf, syncSince, text } from "./ephemeral-helpers.js";

function receipt(u: TestUser, roomId: string, type: string, eventId: string, body: unknown = {}) {
  return callJson(`/_matrix/client/v3/rooms/${enc(roomId)}/receipt/${enc(type)}/${enc(eventId)}`, { method: "POST", token: u.accessToken, json: body });
}

function readMarkers(u: TestUser, roomId: string, body: unknown) {
  return callJson(`/_matrix/client/v3/rooms/${enc(roomId)}/read_markers`, { method: "POST", token: u.accessToken, json: body });
}

/** The m.receipt contents of a room in a sync response (merged). */
function receipts(s: Awaited<ReturnType<typeof syncOf>>, roomId: string): Json {
  const out: Json = {};
  for (const e of ephemeralOf(s, roomId, "m.receipt")) Object.assign(out, e.content);
  return out;
}

const threadOf = (content: Json): string => {
  const user = Object.values(Object.values(Object.values(content)[0] as Json)[0] as Json)[0] as Json;
  return user.thread_id ?? "";
};

const fullyRead = (s: Awaited<ReturnType<typeof syncOf>>, roomId: string) => roomAccountData(s, roomId).filter((e) => e.type === "m.fully_read");

async function threadFixture() {
  const alice = await registerUser();
  const bob = await registerUser();
  const roomId = await sharedRoom(alice, bob);
  const root = await text(alice, roomId, "root");
  const reply = await send(alice, roomId, { msgtype: "m.text", body: "in thread", "m.relates_to": { rel_type: "m.thread", event_id: root } });
  const reaction = await send(bob, roomId, { "m.relates_to": { rel_type: "m.annotation", event_id: reply, key: "👍" } }, "m.reaction");
  const mainMsg = await text(alice, roomId, "main");
  return { alice, bob, roomId, root, reply, reaction, mainMsg };
}

describe("receipts", () => {
  it("delivers m.read to every member, incrementally and on initial sync, and stores the row unread counts read", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await sharedRoom(alice, bob);
    const ev = await text(alice, roomId, "hello");
    const s0 = await syncOf(alice);
    const before = Date.now();
    expect((await receipt(bob, roomId, "m.read", ev)).status).toBe(200);
    const s1 = await syncSince(alice, s0.next_batch);
    const r = receipts(s1, roomId);
    expect(Object.keys(r)).toEqual([ev]);
    expect(r[ev]["m.read"][bob.userId].ts).toBeGreaterThanOrEqual(before);
    expect(r[ev]["m.read"][bob.userId].thread_id).toBeUndefined();
    // Initial sync has it too, for both users.
    expect(receipts(await syncOf(alice), roomId)[ev]["m.read"][bob.userId]).toBeDefined();
    expect(receipts(await syncOf(bob), roomId)[ev]["m.read"][bob.userId]).toBeDefined();

    const row = await env.DB.prepare("SELECT * FROM receipts WHERE room_id = ? AND user_id = ?").bind(roomId, bob.userId).first<Json>();
    const evRow = await env.DB.prepare("SELECT stream_pos FROM room_events WHERE event_id = ?").bind(ev).first<{ stream_pos: number }>();
    expect(row).toMatchObject({ receipt_type: "m.read", thread_id: "", event_id: ev, event_stream_pos: evRow!.stream_pos });
    expect(row!.stream_pos).toBeGreaterThan(evRow!.stream_pos);
  });

  it("never moves a receipt backwards, and a repeat is a no-op", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await sharedRoom(alice, bob);
    const first = await text(alice, roomId, "one");
    const second = await text(alice, roomId, "two");
    await receipt(bob, roomId, "m.read", second);
    const s0 = await syncOf(alice);
    expect((await receipt(bob, roomId, "m.read", first)).status).toBe(200);
    expect((await receipt(bob, roomId, "m.read", second)).status).toBe(200);
    const s1 = await syncSince(alice, s0.next_batch);
    expect(receipts(s1, roomId)).toEqual({});
    expect(Object.keys(receipts(await syncOf(alice), roomId))).toEqual([second]);
  });

  it("keeps m.read.private to its owner", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await sharedRoom(alice, bob);
    const ev = await text(alice, roomId, "secret");
    const a0 = await syncOf(alice);
    const b0 = await syncOf(bob);
    await receipt(bob, roomId, "m.read.private", ev);
    const b1 = await syncSince(bob, b0.next_batch);
    expect(receipts(b1, roomId)[ev]["m.read.private"][bob.userId]).toBeDefined();
    expect(receipts(await syncOf(bob), roomId)[ev]["m.read.private"]).toBeDefined();
    const a1 = await syncSince(alice, a0.next_batch);
    expect(receipts(a1, roomId)).toEqual({});
    expect(receipts(await syncOf(alice), roomId)).toEqual({});
    // The private receipt woke no one else: Alice's stream has nothing for her.
    expect(a1.rooms.join[roomId]).toBeUndefined();
  });

  it("wakes a long-poll within a second", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await sharedRoom(alice, bob);
    const ev = await text(alice, roomId, "hi");
    const s0 = await syncOf(alice);
    const started = Date.now();
    const poll = syncSince(alice, s0.next_batch, "&timeout=20000");
    await new Promise((r) => setTimeout(r, 200));
    await receipt(bob, roomId, "m.read", ev);
    const woke = await poll;
    expect(Date.now() - started).toBeLessThan(1500);
    expect(receipts(woke, roomId)[ev]["m.read"][bob.userId]).toBeDefined();
  });

  it("shows a newly joined member the room's current receipts", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const carol = await registerUser();
    const roomId = await sharedRoom(alice, bob);
    const ev = await text(alice, roomId, "before carol");
    await receipt(bob, roomId, "m.read", ev);
    const c0 = await syncOf(carol);
    await callJson(`/_matrix/client/v3/join/${enc(roomId)}`, { method: "POST", token: carol.accessToken, json: {} });
    const c1 = await syncSince(carol, c0.next_batch);
    expect(receipts(c1, roomId)[ev]["m.read"][bob.userId]).toBeDefined();
  });

  it("keeps threaded receipts apart (MSC3771) and checks the event belongs to the thread", async () => {
    const { alice, bob, roomId, root, reply, reaction, mainMsg } = await threadFixture();
    const s0 = await syncOf(alice);
    expect((await receipt(bob, roomId, "m.read", reply, { thread_id: root })).status).toBe(200);
    expect((await receipt(bob, roomId, "m.read", mainMsg, { thread_id: "main" })).status).toBe(200);
    expect((await receipt(bob, roomId, "m.read", mainMsg)).status).toBe(200);
    const s1 = await syncSince(alice, s0.next_batch);
    // One m.receipt per thread: the unthreaded and the main-timeline receipt on one event both arrive.
    const byThread = ephemeralOf(s1, roomId, "m.receipt").map((e) => e.content);
    expect(byThread).toEqual([
      { [mainMsg]: { "m.read": { [bob.userId]: { ts: expect.any(Number) } } } },
      { [reply]: { "m.read": { [bob.userId]: { ts: expect.any(Number), thread_id: root } } } },
      { [mainMsg]: { "m.read": { [bob.userId]: { ts: expect.any(Number), thread_id: "main" } } } },
    ]);
    expect(byThread.map(threadOf)).toEqual(["", root, "main"]);
    const rows = await env.DB.prepare("SELECT thread_id, event_id FROM receipts WHERE room_id = ? AND user_id = ? ORDER BY thread_id").bind(roomId, bob.userId).all<Json>();
    expect(rows.results).toEqual([
      { thread_id: "", event_id: mainMsg },
      { thread_id: root, event_id: reply },
      { thread_id: "main", event_id: mainMsg },
    ].sort((a, b) => (a.thread_id < b.thread_id ? -1 : 1)));

    // Valid: the root itself, and a reaction to a thread reply (relations are followed up).
    expect((await receipt(bob, roomId, "m.read.private", root, { thread_id: root })).status).toBe(200);
    expect((await receipt(alice, roomId, "m.read", reaction, { thread_id: root })).status).toBe(200);
    expect((await receipt(alice, roomId, "m.read", root, { thread_id: "main" })).status).toBe(200);
    // Invalid: a thread reply on main, a main event on a thread, an event on a thread that is not one.
    for (const [ev, thread] of [
      [reply, "main"],
      [reaction, "main"],
      [mainMsg, root],
      [mainMsg, mainMsg],
      [reply, mainMsg],
    ] as const) {
      const res = await receipt(bob, roomId, "m.read", ev, { thread_id: thread });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe("M_INVALID_PARAM");
    }
  });

  it("rejects malformed thread ids", async () => {
    const alice = await registerUser();
    const roomId = await createRoom(alice);
    const ev = await text(alice, roomId, "x");
    for (const body of [{ thread_id: "" }, { thread_id: 5 }, { thread_id: null }]) {
      const res = await receipt(alice, roomId, "m.read", ev, body);
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe("M_INVALID_PARAM");
    }
    const fr = await receipt(alice, roomId, "m.fully_read", ev, { thread_id: "main" });
    expect(fr.status).toBe(400);
    expect(fr.body.errcode).toBe("M_INVALID_PARAM");
  });

  it("refuses non-members, bad receipt types and ids; ignores unknown events", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice);
    const ev = await text(alice, roomId, "x");
    const outsider = await receipt(bob, roomId, "m.read", ev);
    expect(outsider.status).toBe(403);
    expect(outsider.body.errcode).toBe("M_FORBIDDEN");
    const badType = await receipt(alice, roomId, "m.unread", ev);
    expect(badType.status).toBe(400);
    expect(badType.body.errcode).toBe("M_INVALID_PARAM");
    expect((await receipt(alice, "not-a-room", "m.read", ev)).status).toBe(400);
    expect((await receipt(alice, roomId, "m.read", "no-sigil")).status).toBe(400);
    const notJson = await callJson(`/_matrix/client/v3/rooms/${enc(roomId)}/receipt/m.read/${enc(ev)}`, { method: "POST", token: alice.accessToken, body: "[" });
    expect(notJson.body.errcode).toBe("M_NOT_JSON");
    // An empty body is an unthreaded receipt (older clients send none).
    expect((await callJson(`/_matrix/client/v3/rooms/${enc(roomId)}/receipt/m.read/${enc(ev)}`, { method: "POST", token: alice.accessToken })).status).toBe(200);
    // As Synapse: a receipt for an event the room does not have is accepted and ignored.
    const s0 = await syncOf(alice);
    expect((await receipt(alice, roomId, "m.read", "$unknown:localhost:8008")).status).toBe(200);
    const other = await createRoom(alice);
    const elsewhere = await text(alice, other, "elsewhere");
    expect((await receipt(alice, roomId, "m.read", elsewhere)).status).toBe(200);
    expect(receipts(await syncSince(alice, s0.next_batch), roomId)).toEqual({});
    const noAuth = await callJson(`/_matrix/client/v3/rooms/${enc(roomId)}/receipt/m.read/${enc(ev)}`, { method: "POST", json: {} });
    expect(noAuth.status).toBe(401);
  });
});

describe("fully read markers", () => {
  it("m.fully_read through /receipt sets the room account data, forwards only", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await sharedRoom(alice, bob);
    const first = await text(alice, roomId, "one");
    const second = await text(alice, roomId, "two");
    const b0 = await syncOf(bob);
    const a0 = await syncOf(alice);
    expect((await receipt(bob, roomId, "m.fully_read", second)).status).toBe(200);
    const b1 = await syncSince(bob, b0.next_batch);
    expect(fullyRead(b1, roomId)).toEqual([{ type: "m.fully_read", content: { event_id: second } }]);
    expect(receipts(b1, roomId)).toEqual({});
    // Not a receipt: nobody else sees it.
    expect((await syncSince(alice, a0.next_batch)).rooms.join[roomId]).toBeUndefined();
    // Backwards is ignored; the GET API reads it.
    expect((await receipt(bob, roomId, "m.fully_read", first)).status).toBe(200);
    const got = await callJson(`/_matrix/client/v3/user/${enc(bob.userId)}/rooms/${enc(roomId)}/account_data/m.fully_read`, { token: bob.accessToken });
    expect(got.body).toEqual({ event_id: second });
    expect(fullyRead(await syncOf(bob), roomId)).toEqual([{ type: "m.fully_read", content: { event_id: second } }]);
    // An event not in the room is 404 (Synapse).
    const unknown = await receipt(bob, roomId, "m.fully_read", "$nope:localhost:8008");
    expect(unknown.status).toBe(404);
    expect(unknown.body.errcode).toBe("M_NOT_FOUND");
  });

  it("/read_markers sets the marker and the receipts in one call", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await sharedRoom(alice, bob);
    const first = await text(alice, roomId, "one");
    const second = await text(alice, roomId, "two");
    const a0 = await syncOf(alice);
    const b0 = await syncOf(bob);
    const res = await readMarkers(bob, roomId, { "m.fully_read": first, "m.read": second, "m.read.private": second, "org.example.unknown": "x" });
    expect(res.status).toBe(200);
    const b1 = await syncSince(bob, b0.next_batch);
    expect(fullyRead(b1, roomId)).toEqual([{ type: "m.fully_read", content: { event_id: first } }]);
    expect(Object.keys(receipts(b1, roomId)[second]).sort()).toEqual(["m.read", "m.read.private"]);
    const a1 = await syncSince(alice, a0.next_batch);
    expect(Object.keys(receipts(a1, roomId)[second])).toEqual(["m.read"]);
    expect(fullyRead(a1, roomId)).toEqual([]);
  });

  it("/read_markers: empty body is fine; bad shapes, bad rooms and non-members are not", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice);
    const ev = await text(alice, roomId, "x");
    expect((await readMarkers(alice, roomId, {})).status).toBe(200);
    const bad = await readMarkers(alice, roomId, { "m.read": 5 });
    expect(bad.status).toBe(400);
    expect(bad.body.errcode).toBe("M_BAD_JSON");
    expect((await readMarkers(alice, "nope", { "m.read": ev })).status).toBe(400);
    const outsider = await readMarkers(bob, roomId, { "m.fully_read": ev });
    expect(outsider.status).toBe(403);
    expect(outsider.body.errcode).toBe("M_FORBIDDEN");
    const outsider2 = await readMarkers(bob, roomId, { "m.read": ev });
    expect(outsider2.status).toBe(403);
  });
});
