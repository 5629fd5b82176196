import { env as workerEnv } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../services/env.js";
import { callJson, registerUser } from "./helpers.js";
import { bodies, createRoom, ids, membership, messages, ok, paginateAll, sendEvent, text, v3 } from "./room-reads-helpers.js";

const env = workerEnv as unknown as Env;

async function allRoomEventIds(roomId: string): Promise<string[]> {
  const { results } = await env.DB.prepare("SELECT event_id FROM room_events WHERE room_id = ? ORDER BY stream_pos").bind(roomId).all<{ event_id: string }>();
  return results.map((r) => r.event_id);
}

describe("GET /rooms/{roomId}/messages", () => {
  it("paginates backwards and forwards over the whole room; the two meet with no duplicates and no gaps", async () => {
    const alice = await registerUser();
    const roomId = await createRoom(alice, { preset: "private_chat", name: "Pages" });
    for (let i = 0; i < 23; i++) await text(alice, roomId, `m${i}`);
    const all = await allRoomEventIds(roomId);

    const first = await messages(alice, roomId, { dir: "b" });
    expect(first.status).toBe(200);
    expect(first.body.chunk).toHaveLength(10); // default limit
    expect(bodies(first.body.chunk)).toEqual(Array.from({ length: 10 }, (_, i) => `m${22 - i}`));
    expect(first.body.start).toMatch(/^s\d+$/);
    expect(first.body.end).toMatch(/^s\d+$/);
    expect(first.body.state).toBeUndefined();

    const back = await paginateAll(alice, roomId, "b", { limit: 7 });
    expect(ids(back)).toEqual([...all].reverse());
    const fwd = await paginateAll(alice, roomId, "f", { limit: 6 });
    expect(ids(fwd)).toEqual(all);

    // From the middle: backwards then forwards from the same token partition the room.
    const mid = await messages(alice, roomId, { dir: "b", limit: 9 });
    const token = mid.body.end!;
    const older = await paginateAll(alice, roomId, "b", { from: token, limit: 5 });
    const newer = await paginateAll(alice, roomId, "f", { from: token, limit: 5 });
    expect([...ids(older).reverse(), ...ids(newer)]).toEqual(all);
    expect(ids(newer).slice(-9).reverse()).toEqual(ids(mid.body.chunk));
  });

  it("continues from /sync's prev_batch without overlap and honours `to`", async () => {
    const alice = await registerUser();
    const roomId = await createRoom(alice);
    for (let i = 0; i < 8; i++) await text(alice, roomId, `s${i}`);
    const filter = encodeURIComponent(JSON.stringify({ room: { timeline: { limit: 3 } } }));
    const sync = await ok(alice, `/_matrix/client/v3/sync?filter=${filter}`);
    const tl = sync.rooms.join[roomId].timeline;
    expect(bodies(tl.events)).toEqual(["s5", "s6", "s7"]);
    const page = await messages(alice, roomId, { dir: "b", from: tl.prev_batch, limit: 2 });
    expect(page.body.start).toBe(tl.prev_batch);
    expect(bodies(page.body.chunk)).toEqual(["s4", "s3"]);
    // Forwards from prev_batch: exactly the sync timeline, then nothing more.
    const fwd = await messages(alice, roomId, { dir: "f", from: tl.prev_batch, limit: 10 });
    expect(ids(fwd.body.chunk)).toEqual(ids(tl.events));
    expect(fwd.body.end).toBeUndefined();
    // Forwards from next_batch: nothing yet.
    const none = await messages(alice, roomId, { dir: "f", from: sync.next_batch });
    expect(none.body.chunk).toEqual([]);
    expect(none.body.end).toBeUndefined();
    // `to`: backwards from the head down to (not including) prev_batch is the sync timeline.
    const bounded = await messages(alice, roomId, { dir: "b", to: tl.prev_batch, limit: 50 });
    expect(ids(bounded.body.chunk)).toEqual(ids(tl.events).reverse());
    expect(bounded.body.end).toBeUndefined();
    // Forwards with `to` = next_batch equals the same range.
    const boundedF = await messages(alice, roomId, { dir: "f", from: tl.prev_batch, to: sync.next_batch, limit: 2 });
    expect(bodies(boundedF.body.chunk)).toEqual(["s5", "s6"]);
    expect(boundedF.body.end).toBeDefined();
    // A `to` on the wrong side of `from` gives nothing.
    const empty = await messages(alice, roomId, { dir: "b", from: tl.prev_batch, to: sync.next_batch });
    expect(empty.body.chunk).toEqual([]);
    expect(empty.body.end).toBeUndefined();
    // New events appear forwards from next_batch.
    const later = await text(alice, roomId, "later");
    const after = await messages(alice, roomId, { dir: "f", from: sync.next_batch });
    expect(ids(after.body.chunk)).toEqual([later]);
  });

  it("filters by type, sender and contains_url, and lazy-loads the senders' member events", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const carol = await registerUser();
    const roomId = await createRoom(alice, { preset: "public_chat" });
    await membership(bob, roomId, "join");
    await membership(carol, roomId, "join");
    await text(alice, roomId, "a1");
    await text(bob, roomId, "b1");
    await sendEvent(bob, roomId, { msgtype: "m.image", body: "pic", url: "mxc://localhost:8008/abc" });
    await sendEvent(alice, roomId, { foo: 1 }, "org.example.custom");
    await text(bob, roomId, "b2");

    const onlyMessages = await messages(alice, roomId, { dir: "b", filter: JSON.stringify({ types: ["m.room.message"] }) });
    expect(onlyMessages.body.chunk.map((e) => e.content.body)).toEqual(["b2", "pic", "b1", "a1"]);
    expect(onlyMessages.body.end).toBeUndefined();
    const notBob = await messages(alice, roomId, { dir: "b", filter: JSON.stringify({ types: ["m.room.*", "org.*"], not_senders: [bob.userId] }) });
    expect(notBob.body.chunk.every((e) => e.sender !== bob.userId)).toBe(true);
    expect(notBob.body.chunk[0]!.type).toBe("org.example.custom");
    const urls = await messages(alice, roomId, { dir: "b", filter: JSON.stringify({ contains_url: true }) });
    expect(bodies(urls.body.chunk)).toEqual(["pic"]);
    // A filter that matches one event in a long history still pages to the end.
    const paged = await paginateAll(alice, roomId, "b", { limit: 1, filter: JSON.stringify({ senders: [carol.userId] }) });
    expect(paged.map((e) => e.type)).toEqual(["m.room.member"]);

    const lazy = await messages(alice, roomId, { dir: "b", limit: 2, filter: JSON.stringify({ lazy_load_members: true }) });
    expect(lazy.body.chunk.map((e) => e.sender)).toEqual([bob.userId, alice.userId]);
    const members = lazy.body.state!.map((e) => e.state_key).sort();
    expect(members).toEqual([alice.userId, bob.userId].sort());
    expect(lazy.body.state!.every((e) => e.type === "m.room.member" && e.content.membership === "join")).toBe(true);
  });

  it("rejects bad parameters with the spec's error codes", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice, { preset: "private_chat" });
    const path = (qs: string) => v3(roomId, `messages?${qs}`);
    const cases: Array<[string, number, string]> = [
      ["", 400, "M_MISSING_PARAM"],
      ["dir=x", 400, "M_INVALID_PARAM"],
      ["dir=b&from=garbage", 400, "M_INVALID_PARAM"],
      ["dir=b&from=s12x", 400, "M_INVALID_PARAM"],
      ["dir=b&from=s999999999999", 400, "M_INVALID_PARAM"],
      ["dir=b&to=t5", 400, "M_INVALID_PARAM"],
      ["dir=b&limit=-1", 400, "M_INVALID_PARAM"],
      ["dir=b&limit=ten", 400, "M_INVALID_PARAM"],
      ["dir=b&filter=%7Bnot-json", 400, "M_NOT_JSON"],
      ["dir=b&filter=%7B%22types%22%3A5%7D", 400, "M_BAD_JSON"],
    ];
    for (const [qs, status, errcode] of cases) {
      const r = await callJson(path(qs), { token: alice.accessToken });
      expect([qs, r.status, r.body.errcode]).toEqual([qs, status, errcode]);
    }
    const stranger = await callJson(path("dir=b"), { token: bob.accessToken });
    expect(stranger.status).toBe(403);
    expect(stranger.body.errcode).toBe("M_FORBIDDEN");
    const unknown = await callJson(v3("!unknown:localhost:8008", "messages?dir=b"), { token: alice.accessToken });
    expect(unknown.status).toBe(403);
    expect(unknown.body.errcode).toBe("M_FORBIDDEN");
    const invalid = await callJson(v3("not-a-room", "messages?dir=b"), { token: alice.accessToken });
    expect(invalid.status).toBe(400);
    const noAuth = await callJson(path("dir=b"));
    expect(noAuth.status).toBe(401);
    // limit=0: nothing, but more to come; big limits are capped.
    const zero = await messages(alice, roomId, { dir: "b", limit: 0 });
    expect(zero.body.chunk).toEqual([]);
    expect(zero.body.end).toBe(zero.body.start);
    const huge = await messages(alice, roomId, { dir: "b", limit: 100000 });
    expect(huge.status).toBe(200);
    expect(huge.body.end).toBeUndefined();
  });
});
