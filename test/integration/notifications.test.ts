import { beforeAll, describe, expect, it } from "vitest";
import { callJson, registerUser, type TestUser } from "./helpers.js";
import { type Json, createRoom, enc, join, ok, receipt, sendEvent, sendText, setState, sync } from "./push-helpers.js";

const THREADED = JSON.stringify({ room: { timeline: { unread_thread_notifications: true } } });

let alice: TestUser;
let bob: TestUser;
let carol: TestUser;

beforeAll(async () => {
  [alice, bob, carol] = await Promise.all([registerUser(), registerUser(), registerUser()]);
  await ok(`/_matrix/client/v3/profile/${enc(bob.userId)}/displayname`, bob, { method: "PUT", json: { displayname: "Bobby Tables" } });
}, 60_000);

/** A public room of alice (PL 100) with bob and carol joined: three members, so not one-to-one. */
async function groupRoom(): Promise<string> {
  const roomId = await createRoom(alice, { preset: "public_chat" });
  await join(bob, roomId);
  await join(carol, roomId);
  return roomId;
}

const counts = (s: Json, roomId: string) => s.rooms.join[roomId]?.unread_notifications;

describe("unread_notifications in /sync", () => {
  it("counts messages for the other members, in the same sync as the event, never for the sender", async () => {
    const roomId = await groupRoom();
    const b0 = await sync(bob);
    expect(counts(b0, roomId)).toEqual({ notification_count: 0, highlight_count: 0 });
    const a0 = await sync(alice);
    const e1 = await sendText(alice, roomId, "hello");
    const b1 = await sync(bob, { since: b0.next_batch });
    expect(b1.rooms.join[roomId].timeline.events.map((e: Json) => e.event_id)).toEqual([e1]);
    expect(counts(b1, roomId)).toEqual({ notification_count: 1, highlight_count: 0 });
    await sendText(carol, roomId, "hi all");
    const b2 = await sync(bob, { since: b1.next_batch });
    expect(counts(b2, roomId)).toEqual({ notification_count: 2, highlight_count: 0 });
    // Alice sent one and got one from carol.
    expect(counts(await sync(alice, { since: a0.next_batch }), roomId)).toEqual({ notification_count: 1, highlight_count: 0 });
    // An initial sync reports the same.
    expect(counts(await sync(bob), roomId)).toEqual({ notification_count: 2, highlight_count: 0 });
  });

  it("highlights intentional mentions, room mentions by the powerful, and the legacy display-name rule", async () => {
    const roomId = await groupRoom();
    const s = await sync(bob);
    await sendText(alice, roomId, "ping", { "m.mentions": { user_ids: [bob.userId] } });
    await sendText(carol, roomId, "everyone!", { "m.mentions": { room: true } }); // carol has PL 0: not a highlight
    await sendText(alice, roomId, "everyone!", { "m.mentions": { room: true } }); // alice has PL 100
    await sendText(carol, roomId, "hey Bobby Tables, look"); // no m.mentions: legacy display name rule
    await sendText(carol, roomId, "Bobby Tables again", { "m.mentions": {} }); // m.mentions present: legacy rules off
    const after = await sync(bob, { since: s.next_batch });
    expect(counts(after, roomId)).toEqual({ notification_count: 5, highlight_count: 3 });
  });

  it("follows the user's push rules: muted rooms, notices, edits, reactions", async () => {
    const roomId = await groupRoom();
    const s = await sync(bob);
    const root = await sendText(alice, roomId, "first");
    await sendText(alice, roomId, "bot", { msgtype: "m.notice" });
    await sendEvent(alice, roomId, "m.room.message", { msgtype: "m.text", body: "* first!", "m.new_content": { msgtype: "m.text", body: "first!" }, "m.relates_to": { rel_type: "m.replace", event_id: root } });
    await sendEvent(alice, roomId, "m.reaction", { "m.relates_to": { rel_type: "m.annotation", event_id: root, key: "👍" } });
    await setState(alice, roomId, "m.room.name", { name: "renamed" });
    const s1 = await sync(bob, { since: s.next_batch });
    expect(counts(s1, roomId)).toEqual({ notification_count: 1, highlight_count: 0 });
    // Mute the room.
    await callJson(`/_matrix/client/v3/pushrules/global/room/${enc(roomId)}`, { method: "PUT", token: bob.accessToken, json: { actions: [] } });
    await sendText(alice, roomId, "muted");
    const s2 = await sync(bob, { since: s1.next_batch });
    expect(counts(s2, roomId)).toEqual({ notification_count: 1, highlight_count: 0 });
    // Override rules (mentions) come before room rules: a mention still gets through.
    await sendText(alice, roomId, "muted, but", { "m.mentions": { user_ids: [bob.userId] } });
    const s2b = await sync(bob, { since: s2.next_batch });
    expect(counts(s2b, roomId)).toEqual({ notification_count: 2, highlight_count: 1 });
    await receipt(bob, roomId, (s2b.rooms.join[roomId].timeline.events as Json[]).at(-1)!.event_id);
    // A keyword rule makes an otherwise silent notice highlight.
    await callJson(`/_matrix/client/v3/pushrules/global/room/${enc(roomId)}`, { method: "DELETE", token: bob.accessToken });
    await callJson("/_matrix/client/v3/pushrules/global/override/deploys", {
      method: "PUT",
      token: bob.accessToken,
      json: { conditions: [{ kind: "event_match", key: "content.body", pattern: "deploy*" }], actions: ["notify", { set_tweak: "highlight" }] },
    });
    await sendText(alice, roomId, "deploying now", { msgtype: "m.notice" });
    expect(counts(await sync(bob, { since: s2b.next_batch }), roomId)).toEqual({ notification_count: 1, highlight_count: 1 });
  });

  it("one-to-one rooms and invites notify", async () => {
    const dm = await createRoom(alice, { preset: "trusted_private_chat", invite: [bob.userId], is_direct: true });
    const n = await ok(`/_matrix/client/v3/notifications`, bob);
    const inv = n.notifications.find((x: Json) => x.room_id === dm);
    expect(inv.event.type).toBe("m.room.member");
    expect(inv.actions).toContainEqual({ set_tweak: "sound", value: "default" });
    await join(bob, dm);
    const s = await sync(bob);
    await sendText(alice, dm, "psst");
    expect(counts(await sync(bob, { since: s.next_batch }), dm)).toEqual({ notification_count: 1, highlight_count: 0 });
  });

  it("resets on a read receipt (m.read or m.read.private, whichever is later) and on the user's own message", async () => {
    const roomId = await groupRoom();
    const s = await sync(bob);
    const e1 = await sendText(alice, roomId, "one");
    const e2 = await sendText(alice, roomId, "two", { "m.mentions": { user_ids: [bob.userId] } });
    const e3 = await sendText(alice, roomId, "three");
    const s1 = await sync(bob, { since: s.next_batch });
    expect(counts(s1, roomId)).toEqual({ notification_count: 3, highlight_count: 1 });
    await receipt(bob, roomId, e1, "m.read");
    const s2 = await sync(bob, { since: s1.next_batch });
    expect(counts(s2, roomId)).toEqual({ notification_count: 2, highlight_count: 1 });
    await receipt(bob, roomId, e2, "m.read.private");
    const s3 = await sync(bob, { since: s2.next_batch });
    expect(counts(s3, roomId)).toEqual({ notification_count: 1, highlight_count: 0 });
    // An m.read behind the private receipt changes nothing.
    await receipt(bob, roomId, e1, "m.read");
    expect(counts(await sync(bob), roomId)).toEqual({ notification_count: 1, highlight_count: 0 });
    await receipt(bob, roomId, e3, "m.read");
    const s4 = await sync(bob, { since: s3.next_batch });
    expect(counts(s4, roomId)).toEqual({ notification_count: 0, highlight_count: 0 });
    // Sending a message reads what came before it.
    await sendText(alice, roomId, "four");
    await sendText(alice, roomId, "five");
    const s5 = await sync(bob, { since: s4.next_batch });
    expect(counts(s5, roomId)).toEqual({ notification_count: 2, highlight_count: 0 });
    await sendText(bob, roomId, "I'm here");
    const s6 = await sync(bob, { since: s5.next_batch });
    expect(counts(s6, roomId)).toEqual({ notification_count: 0, highlight_count: 0 });
  });

  it("counts per thread with unread_thread_notifications (MSC3773), cleared by threaded receipts", async () => {
    const roomId = await groupRoom();
    const s = await sync(bob, { filter: THREADED });
    const root = await sendText(alice, roomId, "thread root");
    const rel = { rel_type: "m.thread", event_id: root, is_falling_back: true, "m.in_reply_to": { event_id: root } };
    const t1 = await sendText(alice, roomId, "in thread", { "m.relates_to": rel });
    await sendText(carol, roomId, "in thread, mentioning", { "m.relates_to": rel, "m.mentions": { user_ids: [bob.userId] } });
    // A reaction to a thread message belongs to the thread (3 hops), but does not notify; an edit of one neither.
    await sendEvent(carol, roomId, "m.reaction", { "m.relates_to": { rel_type: "m.annotation", event_id: t1, key: "x" } });
    const main2 = await sendText(carol, roomId, "main again");
    const s1 = await sync(bob, { since: s.next_batch, filter: THREADED });
    const room = s1.rooms.join[roomId];
    expect(room.unread_notifications).toEqual({ notification_count: 2, highlight_count: 0 });
    expect(room.unread_thread_notifications).toEqual({ [root]: { notification_count: 2, highlight_count: 1 } });
    // Without the filter flag: one count over everything.
    expect(counts(await sync(bob), roomId)).toEqual({ notification_count: 4, highlight_count: 1 });
    // A threaded receipt in the thread clears the thread only.
    await receipt(bob, roomId, t1, "m.read", { thread_id: root });
    const s2 = await sync(bob, { since: s1.next_batch, filter: THREADED });
    expect(s2.rooms.join[roomId].unread_thread_notifications).toEqual({ [root]: { notification_count: 1, highlight_count: 1 } });
    expect(s2.rooms.join[roomId].unread_notifications).toEqual({ notification_count: 2, highlight_count: 0 });
    // A threaded receipt on the main timeline clears main up to it.
    await receipt(bob, roomId, root, "m.read", { thread_id: "main" });
    const s3 = await sync(bob, { since: s2.next_batch, filter: THREADED });
    expect(s3.rooms.join[roomId].unread_notifications).toEqual({ notification_count: 1, highlight_count: 0 });
    expect(s3.rooms.join[roomId].unread_thread_notifications).toEqual({ [root]: { notification_count: 1, highlight_count: 1 } });
    // An unthreaded receipt on the latest event clears everything before it, threads included.
    await receipt(bob, roomId, main2, "m.read");
    const s4 = await sync(bob, { since: s3.next_batch, filter: THREADED });
    expect(s4.rooms.join[roomId].unread_notifications).toEqual({ notification_count: 0, highlight_count: 0 });
    expect(s4.rooms.join[roomId].unread_thread_notifications).toEqual({});
    // The unstable filter name works too.
    const unstable = await sync(bob, { filter: JSON.stringify({ room: { timeline: { "org.matrix.msc3773.unread_thread_notifications": true } } }) });
    expect(unstable.rooms.join[roomId].unread_thread_notifications).toEqual({});
  });

  it("every joined room in the response carries counts, also rooms there only for ephemeral news", async () => {
    const roomId = await groupRoom();
    const other = await groupRoom();
    const s = await sync(bob, { filter: THREADED });
    await sendText(alice, roomId, "unread");
    const s1 = await sync(bob, { since: s.next_batch, filter: THREADED });
    expect(Object.keys(s1.rooms.join)).toEqual([roomId]); // counts are not computed for rooms not in the response
    // Carol's receipt brings the room into bob's sync with no new events: counts still come along.
    await receipt(carol, roomId, (s1.rooms.join[roomId].timeline.events as Json[]).at(-1)!.event_id);
    const s2 = await sync(bob, { since: s1.next_batch, filter: THREADED });
    expect(s2.rooms.join[roomId].timeline.events).toEqual([]);
    expect(s2.rooms.join[roomId].unread_notifications).toEqual({ notification_count: 1, highlight_count: 0 });
    expect(s2.rooms.join[roomId].unread_thread_notifications).toEqual({});
    expect(s2.rooms.join[other]).toBeUndefined();
  });

  it("keeps counts right for a large backlog (cached counts) as messages and receipts move on", async () => {
    const roomId = await groupRoom();
    let s = await sync(bob);
    const ids: string[] = [];
    for (let i = 0; i < 60; i++) ids.push(await sendText(alice, roomId, `m${i}`, i % 10 === 0 ? { "m.mentions": { user_ids: [bob.userId] } } : {}));
    s = await sync(bob, { since: s.next_batch });
    expect(counts(s, roomId)).toEqual({ notification_count: 60, highlight_count: 6 });
    ids.push(await sendText(alice, roomId, "m60"));
    s = await sync(bob, { since: s.next_batch });
    expect(counts(s, roomId)).toEqual({ notification_count: 61, highlight_count: 6 });
    await receipt(bob, roomId, ids[14]!); // m0..m14 read: 46 left, highlights m20..m50 = 4
    s = await sync(bob, { since: s.next_batch });
    expect(counts(s, roomId)).toEqual({ notification_count: 46, highlight_count: 4 });
    ids.push(await sendText(alice, roomId, "m61"));
    s = await sync(bob, { since: s.next_batch });
    expect(counts(s, roomId)).toEqual({ notification_count: 47, highlight_count: 4 });
    expect(counts(await sync(bob), roomId)).toEqual({ notification_count: 47, highlight_count: 4 });
    await receipt(bob, roomId, ids.at(-1)!);
    s = await sync(bob, { since: s.next_batch });
    expect(counts(s, roomId)).toEqual({ notification_count: 0, highlight_count: 0 });
  });
});

describe("GET /notifications", () => {
  it("lists notified events newest first with actions, read flags, room ids and pagination", async () => {
    const u = await registerUser();
    const roomId = await createRoom(alice, { preset: "public_chat" });
    await join(u, roomId);
    await join(carol, roomId);
    const e1 = await sendText(alice, roomId, "n1");
    const e2 = await sendText(alice, roomId, "n2", { "m.mentions": { user_ids: [u.userId] } });
    const e3 = await sendText(alice, roomId, "n3");
    await sendText(alice, roomId, "quiet", { msgtype: "m.notice" });
    await receipt(u, roomId, e1);
    const all = await ok(`/_matrix/client/v3/notifications`, u);
    expect(all.notifications.map((n: Json) => n.event.event_id)).toEqual([e3, e2, e1]);
    expect(all.next_token).toBeUndefined();
    const n2 = all.notifications[1];
    expect(n2.room_id).toBe(roomId);
    expect(n2.event.room_id).toBeUndefined();
    expect(n2.event.content.body).toBe("n2");
    expect(n2.actions).toEqual(["notify", { set_tweak: "sound", value: "default" }, { set_tweak: "highlight" }]);
    expect(typeof n2.ts).toBe("number");
    expect(all.notifications.map((n: Json) => n.read)).toEqual([false, false, true]);
    const page1 = await ok(`/_matrix/client/v3/notifications?limit=2`, u);
    expect(page1.notifications.map((n: Json) => n.event.event_id)).toEqual([e3, e2]);
    expect(page1.next_token).toBeTruthy();
    const page2 = await ok(`/_matrix/client/v3/notifications?limit=2&from=${page1.next_token}`, u);
    expect(page2.notifications.map((n: Json) => n.event.event_id)).toEqual([e1]);
    expect(page2.next_token).toBeUndefined();
    const hl = await ok(`/_matrix/client/v3/notifications?only=highlight`, u);
    expect(hl.notifications.map((n: Json) => n.event.event_id)).toEqual([e2]);
    expect((await ok(`/_matrix/client/v3/notifications?limit=0`, u)).notifications).toEqual([]);
  });

  it("refuses bad parameters and missing tokens", async () => {
    for (const qs of ["limit=-1", "limit=abc", "from=xyz", "only=everything"]) {
      const r = await callJson<Json>(`/_matrix/client/v3/notifications?${qs}`, { token: alice.accessToken });
      expect([qs, r.status, r.body.errcode]).toEqual([qs, 400, "M_INVALID_PARAM"]);
    }
    const r = await callJson<Json>(`/_matrix/client/v3/notifications`);
    expect(r.status).toBe(401);
  });
});
