import { beforeAll, describe, expect, it } from "vitest";
import { callJson, registerUser, type TestUser } from "./helpers.js";
import { type Json, createRoom, enc, invite, join, leave, ok, sendEvent, sendText, setState } from "./push-helpers.js";

const SEARCH = "/_matrix/client/v3/search";

let alice: TestUser;
let bob: TestUser;
let eve: TestUser;
beforeAll(async () => {
  [alice, bob, eve] = await Promise.all([registerUser(), registerUser(), registerUser()]);
  await ok(`/_matrix/client/v3/profile/${enc(alice.userId)}/displayname`, alice, { method: "PUT", json: { displayname: "Alice A" } });
}, 60_000);

async function search(u: TestUser, criteria: Json, nextBatch?: string) {
  const r = await callJson<Json>(`${SEARCH}${nextBatch ? `?next_batch=${enc(nextBatch)}` : ""}`, { method: "POST", token: u.accessToken, json: { search_categories: { room_events: criteria } } });
  if (r.status !== 200) throw new Error(`search ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.search_categories.room_events as Json;
}
const ids = (r: Json) => (r.results as Json[]).map((x) => x.result.event_id);

describe("POST /search", () => {
  it("finds message bodies in the user's rooms, ranked by relevance, with highlights and a count", async () => {
    const roomId = await createRoom(alice, { name: "Kitchen" });
    const weak = await sendText(alice, roomId, "the zorblax was mentioned once in a long sentence about many other things entirely");
    const strong = await sendText(alice, roomId, "zorblax zorblax zorblax");
    await sendText(alice, roomId, "nothing to see");
    const r = await search(alice, { search_term: "zorblax" });
    expect(ids(r)).toEqual([strong, weak]);
    expect(r.count).toBe(2);
    expect(r.highlights).toContain("zorblax");
    expect(r.results[0].rank).toBeGreaterThan(r.results[1].rank);
    const ev = r.results[0].result;
    expect(ev).toMatchObject({ type: "m.room.message", room_id: roomId, sender: alice.userId, content: { body: "zorblax zorblax zorblax" } });
    expect(r.next_batch).toBeUndefined();
    // Prefixes and stems match; highlights name the words found.
    const pre = await search(alice, { search_term: "zorbl" });
    expect(ids(pre).sort()).toEqual([strong, weak].sort());
    expect(pre.highlights).toEqual(expect.arrayContaining(["zorbl", "zorblax"]));
    // Other users see nothing of a room they are not in.
    expect(ids(await search(eve, { search_term: "zorblax" }))).toEqual([]);
  });

  it("orders by recent and paginates with next_batch, in both orders", async () => {
    const roomId = await createRoom(alice);
    const sent: string[] = [];
    for (let i = 0; i < 7; i++) sent.push(await sendText(alice, roomId, `quokka number ${i}${" quokka".repeat(i % 3)}`));
    const page1 = await search(alice, { search_term: "quokka", order_by: "recent", filter: { limit: 3 } });
    expect(ids(page1)).toEqual([sent[6], sent[5], sent[4]]);
    expect(page1.next_batch).toBeTruthy();
    const page2 = await search(alice, { search_term: "quokka", order_by: "recent", filter: { limit: 3 } }, page1.next_batch);
    expect(ids(page2)).toEqual([sent[3], sent[2], sent[1]]);
    const page3 = await search(alice, { search_term: "quokka", order_by: "recent", filter: { limit: 3 } }, page2.next_batch);
    expect(ids(page3)).toEqual([sent[0]]);
    expect(page3.next_batch).toBeUndefined();
    // Rank order pages too, without repeats.
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const p = await search(alice, { search_term: "quokka", filter: { limit: 2 } }, token);
      seen.push(...ids(p));
      token = p.next_batch;
    } while (token);
    expect(seen.sort()).toEqual([...sent].sort());
    // A token of one order is refused for the other.
    const bad = await callJson<Json>(`${SEARCH}?next_batch=${enc(page1.next_batch)}`, { method: "POST", token: alice.accessToken, json: { search_categories: { room_events: { search_term: "quokka", order_by: "rank" } } } });
    expect([bad.status, bad.body.errcode]).toEqual([400, "M_INVALID_PARAM"]);
  });

  it("searches room names and topics by key, and filters rooms, senders and types", async () => {
    const r1 = await createRoom(alice, { name: "Wombat lounge", topic: "all about the wombat", preset: "public_chat" });
    const r2 = await createRoom(alice, { preset: "public_chat" });
    await join(bob, r2);
    const byAlice = await sendText(alice, r2, "wombat facts");
    const byBob = await sendText(bob, r2, "wombat fiction");
    await setState(alice, r2, "m.room.topic", { topic: "plain", "m.topic": { "m.text": [{ mimetype: "text/html", body: "<i>htmlwombat</i>" }, { body: "textual wombat" }] } });
    const names = await search(alice, { search_term: "wombat", keys: ["content.name"] });
    expect((names.results as Json[]).map((x) => [x.result.type, x.result.room_id])).toEqual([["m.room.name", r1]]);
    const topics = await search(alice, { search_term: "wombat", keys: ["content.topic"], order_by: "recent" });
    expect((topics.results as Json[]).map((x) => [x.result.type, x.result.room_id])).toEqual([
      ["m.room.topic", r2],
      ["m.room.topic", r1],
    ]);
    expect(ids(await search(alice, { search_term: "htmlwombat" }))).toEqual([]);
    const bodies = await search(alice, { search_term: "wombat", keys: ["content.body"], order_by: "recent" });
    expect(ids(bodies)).toEqual([byBob, byAlice]);
    expect(ids(await search(alice, { search_term: "wombat", keys: ["content.body"], filter: { senders: [bob.userId] } }))).toEqual([byBob]);
    expect(ids(await search(alice, { search_term: "wombat", keys: ["content.body"], filter: { not_senders: [bob.userId] } }))).toEqual([byAlice]);
    expect((await search(alice, { search_term: "wombat", filter: { rooms: [r1] } })).results.every((x: Json) => x.result.room_id === r1)).toBe(true);
    expect((await search(alice, { search_term: "wombat", filter: { not_rooms: [r2] } })).results.every((x: Json) => x.result.room_id === r1)).toBe(true);
    expect((await search(alice, { search_term: "wombat", filter: { types: ["m.room.name"] } })).results.map((x: Json) => x.result.type)).toEqual(["m.room.name"]);
    expect(ids(await search(alice, { search_term: "wombat", keys: [] }))).toEqual([]);
  });

  it("gives event context, profiles and tokens, groups by room and sender, and the rooms' state", async () => {
    const roomId = await createRoom(alice, { preset: "public_chat" });
    await join(bob, roomId);
    const before = [await sendText(alice, roomId, "b1"), await sendText(bob, roomId, "b2")];
    const hit = await sendText(bob, roomId, "the capybara arrives");
    const after = [await sendText(alice, roomId, "a1"), await sendText(alice, roomId, "a2"), await sendText(alice, roomId, "a3")];
    const r = await search(bob, {
      search_term: "capybara",
      event_context: { before_limit: 2, after_limit: 2, include_profile: true },
      groupings: { group_by: [{ key: "room_id" }, { key: "sender" }] },
      include_state: true,
    });
    expect(ids(r)).toEqual([hit]);
    const ctx = r.results[0].context;
    expect(ctx.events_before.map((e: Json) => e.event_id)).toEqual([before[1], before[0]]);
    expect(ctx.events_after.map((e: Json) => e.event_id)).toEqual([after[0], after[1]]);
    expect(ctx.start).toMatch(/^s\d+$/);
    expect(ctx.end).toMatch(/^s\d+$/);
    expect(ctx.profile_info[alice.userId]).toEqual({ displayname: "Alice A" });
    expect(Object.keys(ctx.profile_info).sort()).toEqual([alice.userId, bob.userId].sort());
    expect(r.groups.room_id[roomId]).toEqual({ results: [hit], order: 1 });
    expect(r.groups.sender[bob.userId]).toEqual({ results: [hit], order: 1 });
    expect(r.state[roomId].some((e: Json) => e.type === "m.room.create")).toBe(true);
    // The default context is 5 either side, without profiles.
    const d = await search(bob, { search_term: "capybara", event_context: {} });
    expect(d.results[0].context.events_after).toHaveLength(3);
    expect(d.results[0].context.profile_info).toBeUndefined();
  });

  it("group next_batch tokens continue within the group (recent order)", async () => {
    const r1 = await createRoom(alice);
    const r2 = await createRoom(alice);
    const inR1: string[] = [];
    for (let i = 0; i < 3; i++) {
      inR1.push(await sendText(alice, r1, `narwhal ${i}`));
      await sendText(alice, r2, `narwhal elsewhere ${i}`);
    }
    const first = await search(alice, { search_term: "narwhal", order_by: "recent", filter: { limit: 2 }, groupings: { group_by: [{ key: "room_id" }] } });
    expect(Object.keys(first.groups.room_id).sort()).toEqual([r1, r2].sort());
    expect(first.groups.room_id[r2].next_batch).toBeTruthy();
    const more = await search(alice, { search_term: "narwhal", order_by: "recent", filter: { limit: 10 }, groupings: { group_by: [{ key: "room_id" }] } }, first.groups.room_id[r1].next_batch);
    expect(ids(more)).toEqual([inR1[1], inR1[0]]);
    expect(Object.keys(more.groups.room_id)).toEqual([r1]);
    expect(more.next_batch).toBeUndefined();
  });

  it("respects history visibility and membership: left rooms up to the leave, joined-only history", async () => {
    const shared = await createRoom(alice, { preset: "public_chat" });
    const early = await sendText(alice, shared, "platypus before bob");
    await join(bob, shared);
    const during = await sendText(alice, shared, "platypus with bob");
    await leave(bob, shared);
    await sendText(alice, shared, "platypus after bob");
    expect(ids(await search(bob, { search_term: "platypus", order_by: "recent" }))).toEqual([during, early]);
    const joinedOnly = await createRoom(alice, { preset: "public_chat" });
    await setState(alice, joinedOnly, "m.room.history_visibility", { history_visibility: "joined" });
    await sendText(alice, joinedOnly, "echidna hidden");
    await join(eve, joinedOnly);
    const seen = await sendText(alice, joinedOnly, "echidna shown");
    expect(ids(await search(eve, { search_term: "echidna" }))).toEqual([seen]);
    // A forgotten room is not searched.
    await leave(eve, joinedOnly);
    await ok(`/_matrix/client/v3/rooms/${enc(joinedOnly)}/forget`, eve, { method: "POST", json: {} });
    expect(ids(await search(eve, { search_term: "echidna" }))).toEqual([]);
    // Invited but never joined: nothing.
    const inv = await createRoom(alice);
    await sendText(alice, inv, "echidna private");
    await invite(alice, inv, eve.userId);
    expect(ids(await search(eve, { search_term: "echidna" }))).toEqual([]);
  });

  it("leaves out redacted events and end-to-end encrypted rooms", async () => {
    const roomId = await createRoom(alice);
    const gone = await sendText(alice, roomId, "axolotl secret");
    const kept = await sendText(alice, roomId, "axolotl public");
    await ok(`/_matrix/client/v3/rooms/${enc(roomId)}/redact/${enc(gone)}/${crypto.randomUUID()}`, alice, { method: "PUT", json: {} });
    expect(ids(await search(alice, { search_term: "axolotl" }))).toEqual([kept]);
    const e2e = await createRoom(alice, { initial_state: [{ type: "m.room.encryption", state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } }] });
    await sendEvent(alice, e2e, "m.room.message", { msgtype: "m.text", body: "axolotl before nothing" });
    expect(ids(await search(alice, { search_term: "axolotl" }))).toEqual([kept]);
  });

  it("answers empty searches and refuses bad requests", async () => {
    const empty = await search(alice, { search_term: "   " });
    expect(empty).toEqual({ count: 0, highlights: [], results: [] });
    const grouped = await search(alice, { search_term: "", groupings: { group_by: [{ key: "sender" }] } });
    expect(grouped.groups).toEqual({ sender: {} });
    const cases: Array<[unknown, string]> = [
      // Keys search.yaml requires (search_categories, search_term): M_MISSING_PARAM ("Standard error response").
      [{}, "M_MISSING_PARAM"],
      [{ search_categories: {} }, "M_BAD_JSON"],
      [{ search_categories: { room_events: {} } }, "M_MISSING_PARAM"],
      [{ search_categories: { room_events: { search_term: "x", order_by: "random" } } }, "M_BAD_JSON"],
      [{ search_categories: { room_events: { search_term: "x", keys: ["content.url"] } } }, "M_BAD_JSON"],
      [{ search_categories: { room_events: { search_term: "x", groupings: { group_by: [{ key: "type" }] } } } }, "M_BAD_JSON"],
      [{ search_categories: { room_events: { search_term: "x", event_context: { before_limit: -1 } } } }, "M_BAD_JSON"],
    ];
    for (const [body, errcode] of cases) {
      const r = await callJson<Json>(SEARCH, { method: "POST", token: alice.accessToken, json: body });
      expect([JSON.stringify(body), r.status, r.body.errcode]).toEqual([JSON.stringify(body), 400, errcode]);
    }
    const tok = await callJson<Json>(`${SEARCH}?next_batch=garbage!`, { method: "POST", token: alice.accessToken, json: { search_categories: { room_events: { search_term: "x" } } } });
    expect([tok.status, tok.body.errcode]).toEqual([400, "M_INVALID_PARAM"]);
    expect((await callJson(SEARCH, { method: "POST", json: {} })).status).toBe(401);
  });
});
