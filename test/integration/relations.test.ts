import { describe, expect, it } from "vitest";
import { registerUser, type TestUser } from "./helpers.js";
import { bodies, createRoom, get, ids, membership, messages, ok, redact, sendEvent, setState, text, v1, v3, type Ev } from "./room-reads-helpers.js";

const thread = (u: TestUser, roomId: string, root: string, body: string) =>
  sendEvent(u, roomId, { msgtype: "m.text", body, "m.relates_to": { rel_type: "m.thread", event_id: root } });
const edit = (u: TestUser, roomId: string, target: string, body: string) =>
  sendEvent(u, roomId, { msgtype: "m.text", body: `* ${body}`, "m.new_content": { msgtype: "m.text", body }, "m.relates_to": { rel_type: "m.replace", event_id: target } });
const reference = (u: TestUser, roomId: string, target: string) =>
  sendEvent(u, roomId, { "m.relates_to": { rel_type: "m.reference", event_id: target } }, "org.example.ref");

const rel = (roomId: string, eventId: string, rest = "", qs = "") => v1(roomId, `relations/${encodeURIComponent(eventId)}${rest}${qs ? `?${qs}` : ""}`);

describe("GET /relations", () => {
  it("lists children newest first, by rel_type and event type, paginating both ways", async () => {
    const alice = await registerUser();
    const roomId = await createRoom(alice, { room_version: "3" }); // event ids with '/' and '+'
    const root = await text(alice, roomId, "root");
    const replies: string[] = [];
    for (let i = 0; i < 5; i++) replies.push(await thread(alice, roomId, root, `r${i}`));
    const ref = await reference(alice, roomId, root);
    await text(alice, roomId, "unrelated");

    // Default limit 5 (as Synapse).
    const dflt = await ok(alice, rel(roomId, root));
    expect(ids(dflt.chunk)).toEqual([ref, ...[...replies].reverse()].slice(0, 5));
    expect(dflt.next_batch).toMatch(/^s\d+$/);
    const all = await ok(alice, rel(roomId, root, "", "limit=10"));
    expect(ids(all.chunk)).toEqual([ref, ...[...replies].reverse()]);
    expect(all.next_batch).toBeUndefined();
    expect(all.prev_batch).toBeUndefined();
    expect(all.recursion_depth).toBeUndefined();
    expect(ids((await ok(alice, rel(roomId, root, "/m.thread"))).chunk)).toEqual([...replies].reverse());
    expect(ids((await ok(alice, rel(roomId, root, "/m.thread/m.room.message"))).chunk)).toEqual([...replies].reverse());
    expect((await ok(alice, rel(roomId, root, "/m.thread/org.example.ref"))).chunk).toEqual([]);
    expect(ids((await ok(alice, rel(roomId, root, "/m.reference"))).chunk)).toEqual([ref]);

    // Pages of 2 backwards, then forwards: the same set, no duplicates.
    const back: string[] = [];
    let from: string | undefined;
    for (let i = 0; i < 10; i++) {
      const page = await ok(alice, rel(roomId, root, "/m.thread", `limit=2${from ? `&from=${from}` : ""}`));
      back.push(...ids(page.chunk));
      if (from) expect(page.prev_batch).toBe(from);
      if (!page.next_batch) break;
      from = page.next_batch;
    }
    expect(back).toEqual([...replies].reverse());
    const fwd = await ok(alice, rel(roomId, root, "/m.thread", "dir=f&limit=3"));
    expect(ids(fwd.chunk)).toEqual(replies.slice(0, 3));
    const fwd2 = await ok(alice, rel(roomId, root, "/m.thread", `dir=f&limit=3&from=${fwd.next_batch}`));
    expect(ids(fwd2.chunk)).toEqual(replies.slice(3));
    expect(fwd2.next_batch).toBeUndefined();
    // `to`: from the newest down to the first page's end.
    const first = await ok(alice, rel(roomId, root, "/m.thread", "limit=2"));
    const bounded = await ok(alice, rel(roomId, root, "/m.thread", `to=${first.next_batch}`));
    expect(ids(bounded.chunk)).toEqual(ids(first.chunk));

    // A redacted child no longer relates.
    await redact(alice, roomId, replies[4]!);
    expect(ids((await ok(alice, rel(roomId, root, "/m.thread"))).chunk)).toEqual(replies.slice(0, 4).reverse());
  });

  it("recurse follows relations of relations, keeping the filters at every level", async () => {
    const alice = await registerUser();
    const roomId = await createRoom(alice);
    const root = await text(alice, roomId, "root");
    const reply = await thread(alice, roomId, root, "reply");
    const replyEdit = await edit(alice, roomId, reply, "reply edited");
    const refOfEdit = await reference(alice, roomId, replyEdit);
    const rootRef = await reference(alice, roomId, root);
    const refOfRef = await reference(alice, roomId, rootRef);
    const deep = await reference(alice, roomId, refOfRef);
    const deeper = await reference(alice, roomId, deep); // level 4: beyond the server's depth

    const direct = await ok(alice, rel(roomId, root, "", "recurse=false"));
    expect(ids(direct.chunk)).toEqual([rootRef, reply]);
    expect(direct.recursion_depth).toBe(1);
    const all = await ok(alice, rel(roomId, root, "", "recurse=true&limit=50"));
    expect(all.recursion_depth).toBe(3);
    expect(ids(all.chunk)).toEqual([deep, refOfRef, rootRef, refOfEdit, replyEdit, reply]);
    expect(ids(all.chunk)).not.toContain(deeper);
    // rel_type filter on every level: the edit's reference is reached only through the m.replace edit.
    const threadOnly = await ok(alice, rel(roomId, root, "/m.thread", "recurse=true"));
    expect(ids(threadOnly.chunk)).toEqual([reply]);
    const refs = await ok(alice, rel(roomId, root, "/m.reference", "recurse=true"));
    expect(ids(refs.chunk)).toEqual([deep, refOfRef, rootRef]);
    const refsTyped = await ok(alice, rel(roomId, root, "/m.reference/org.example.ref", "recurse=true&limit=2"));
    expect(ids(refsTyped.chunk)).toEqual([deep, refOfRef]);
    const next = await ok(alice, rel(roomId, root, "/m.reference/org.example.ref", `recurse=true&limit=2&from=${refsTyped.next_batch}`));
    expect(ids(next.chunk)).toEqual([rootRef]);
    // The MSC3981 unstable name works too.
    expect((await ok(alice, rel(roomId, root, "", "org.matrix.msc3981.recurse=true&limit=50"))).chunk).toHaveLength(6);
  });

  it("errors: unknown or invisible parent 404, non-members 403, bad parameters 400", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice, { preset: "public_chat", initial_state: [{ type: "m.room.history_visibility", state_key: "", content: { history_visibility: "joined" } }] });
    const root = await text(alice, roomId, "before bob");
    const unknown = await get(alice, rel(roomId, "$nope"));
    expect([unknown.status, unknown.body.errcode]).toEqual([404, "M_NOT_FOUND"]);
    expect((await get(bob, rel(roomId, root))).status).toBe(403);
    await membership(bob, roomId, "join");
    const hidden = await get(bob, rel(roomId, root));
    expect([hidden.status, hidden.body.errcode]).toEqual([404, "M_NOT_FOUND"]);
    for (const [qs, code] of [["from=zzz", "M_INVALID_PARAM"], ["to=s9999999999", "M_INVALID_PARAM"], ["dir=up", "M_INVALID_PARAM"], ["limit=-2", "M_INVALID_PARAM"], ["recurse=yes", "M_INVALID_PARAM"]] as const) {
      const r = await get(alice, rel(roomId, root, "", qs));
      expect([qs, r.status, r.body.errcode]).toEqual([qs, 400, code]);
    }
  });
});

describe("bundled aggregations", () => {
  it("bundles the latest valid edit wherever events are served, never for redacted originals", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice, { preset: "public_chat" });
    await membership(bob, roomId, "join");
    const original = await text(alice, roomId, "original");
    await edit(alice, roomId, original, "first edit");
    const second = await edit(alice, roomId, original, "second edit");
    await edit(bob, roomId, original, "bob may not edit alice"); // invalid: other sender

    const check = (ev: Ev | undefined) => {
      const r = ev!.unsigned["m.relations"]["m.replace"];
      expect(r.event_id).toBe(second);
      expect(r.sender).toBe(alice.userId);
      expect(r.content["m.new_content"].body).toBe("second edit");
      expect(typeof r.origin_server_ts).toBe("number");
      expect(ev!.content.body).toBe("original"); // content is left intact (v1.7)
    };
    const page = await messages(alice, roomId, { dir: "b", limit: 20 });
    check(page.body.chunk.find((e) => e.event_id === original));
    check(await ok(alice, v3(roomId, `event/${encodeURIComponent(original)}`)));
    check((await ok(alice, v3(roomId, `context/${encodeURIComponent(original)}`))).event);
    // An initial sync whose limited timeline holds the original bundles the edit too.
    const filter = encodeURIComponent(JSON.stringify({ room: { timeline: { limit: 4 } } }));
    const sync = await ok(bob, `/_matrix/client/v3/sync?filter=${filter}`);
    expect(sync.rooms.join[roomId].timeline.limited).toBe(true);
    check(sync.rooms.join[roomId].timeline.events.find((e: Ev) => e.event_id === original));
    const refChild = await reference(alice, roomId, original);

    // Redacting the latest edit falls back to the one before.
    await redact(alice, roomId, second);
    const afterRedact = await ok(alice, v3(roomId, `event/${encodeURIComponent(original)}`));
    expect(afterRedact.unsigned["m.relations"]["m.replace"].content["m.new_content"].body).toBe("first edit");
    expect(afterRedact.unsigned["m.relations"]["m.reference"]).toEqual({ chunk: [{ event_id: refChild }] });
    // Redacting the original: no edit bundled any more (the reference is another relation type).
    await redact(alice, roomId, original);
    const redacted = await ok(alice, v3(roomId, `event/${encodeURIComponent(original)}`));
    expect(redacted.unsigned["m.relations"]?.["m.replace"]).toBeUndefined();
    // State events get no aggregations.
    const stateId = await setState(alice, roomId, "org.example.s", "", { a: 1 });
    await reference(alice, roomId, stateId);
    expect((await ok(alice, v3(roomId, `event/${encodeURIComponent(stateId)}`))).unsigned["m.relations"]).toBeUndefined();
  });

  it("thread summaries: latest event (with its edit), count, participation; in /messages, /relations and limited /sync", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const carol = await registerUser();
    const roomId = await createRoom(alice, { preset: "public_chat" });
    await membership(bob, roomId, "join");
    await membership(carol, roomId, "join");
    const root = await text(alice, roomId, "thread root");
    await thread(bob, roomId, root, "one");
    const latest = await thread(bob, roomId, root, "two");
    const latestEdit = await edit(bob, roomId, latest, "two (edited)");
    const other = await text(alice, roomId, "outside");

    const summaryFor = async (u: TestUser) => {
      const page = await messages(u, roomId, { dir: "b", limit: 20 });
      return page.body.chunk.find((e) => e.event_id === root)!.unsigned["m.relations"]["m.thread"];
    };
    const forCarol = await summaryFor(carol);
    expect(forCarol.count).toBe(2);
    expect(forCarol.current_user_participated).toBe(false);
    expect(forCarol.latest_event.event_id).toBe(latest);
    expect(forCarol.latest_event.content.body).toBe("two");
    expect(forCarol.latest_event.unsigned["m.relations"]["m.replace"].event_id).toBe(latestEdit);
    expect((await summaryFor(alice)).current_user_participated).toBe(true); // root sender
    expect((await summaryFor(bob)).current_user_participated).toBe(true); // replied

    // /relations serves the children with their own aggregations.
    const children = await ok(carol, rel(roomId, root, "/m.thread"));
    expect(children.chunk[0].unsigned["m.relations"]["m.replace"].event_id).toBe(latestEdit);

    // Limited /sync timeline: the root carries its thread summary.
    const filter = encodeURIComponent(JSON.stringify({ room: { timeline: { limit: 5 } } }));
    const sync = await ok(carol, `/_matrix/client/v3/sync?filter=${filter}`);
    const tl = sync.rooms.join[roomId].timeline;
    expect(tl.limited).toBe(true);
    expect(tl.events.map((e: Ev) => e.event_id)).toContain(other);
    const syncedRoot = tl.events.find((e: Ev) => e.event_id === root);
    expect(syncedRoot.unsigned["m.relations"]["m.thread"]).toMatchObject({ count: 2, current_user_participated: false });
    expect(syncedRoot.unsigned["m.relations"]["m.thread"].latest_event.event_id).toBe(latest);
    // Edits are bundled in the sync timeline too.
    const syncedLatest = tl.events.find((e: Ev) => e.event_id === latest);
    expect(syncedLatest.unsigned["m.relations"]["m.replace"].event_id).toBe(latestEdit);

    // Carol joins the thread; redacting the latest reply moves latest_event back.
    const mine = await thread(carol, roomId, root, "three");
    const s2 = await summaryFor(carol);
    expect([s2.count, s2.current_user_participated, s2.latest_event.event_id]).toEqual([3, true, mine]);
    await redact(carol, roomId, mine);
    const s3 = await summaryFor(carol);
    expect([s3.count, s3.latest_event.event_id]).toEqual([2, latest]);
  });
});

describe("relations across rooms", () => {
  it("children in another room neither count, bundle nor list", async () => {
    const alice = await registerUser();
    const roomA = await createRoom(alice);
    const roomB = await createRoom(alice);
    const root = await text(alice, roomA, "root in A");
    await thread(alice, roomB, root, "thread reply from B");
    await edit(alice, roomB, root, "edit from B");
    await reference(alice, roomB, root);
    const ev = await ok(alice, v3(roomA, `event/${encodeURIComponent(root)}`));
    expect(ev.unsigned["m.relations"]).toBeUndefined();
    expect((await ok(alice, rel(roomA, root, "", "limit=50&recurse=true"))).chunk).toEqual([]);
    expect((await ok(alice, v1(roomA, "threads"))).chunk).toEqual([]);
    expect((await ok(alice, v1(roomB, "threads"))).chunk).toEqual([]);
  });
});

describe("GET /threads", () => {
  it("lists thread roots by latest activity, all or participated, with pagination", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice, { preset: "public_chat" });
    await membership(bob, roomId, "join");
    const t1 = await text(alice, roomId, "t1");
    const t2 = await text(bob, roomId, "t2");
    const t3 = await text(alice, roomId, "t3");
    await text(alice, roomId, "no thread");
    await thread(alice, roomId, t1, "in t1");
    await thread(alice, roomId, t2, "in t2");
    await thread(bob, roomId, t3, "in t3");
    await thread(alice, roomId, t1, "t1 again"); // t1 is now the most recently active

    const path = (qs: string) => v1(roomId, `threads${qs ? `?${qs}` : ""}`);
    const all = await ok(alice, path(""));
    expect(ids(all.chunk)).toEqual([t1, t3, t2]);
    expect(all.next_batch).toBeUndefined();
    expect(all.chunk[0].unsigned["m.relations"]["m.thread"].count).toBe(2);
    // Bob: sent t2's root and replied in t3.
    expect(ids((await ok(bob, path("include=participated"))).chunk)).toEqual([t3, t2]);
    expect(ids((await ok(alice, path("include=participated"))).chunk)).toEqual([t1, t3, t2]);
    // Pages of one.
    const p1 = await ok(alice, path("limit=1"));
    expect(ids(p1.chunk)).toEqual([t1]);
    const p2 = await ok(alice, path(`limit=1&from=${p1.next_batch}`));
    expect(ids(p2.chunk)).toEqual([t3]);
    const p3 = await ok(alice, path(`limit=1&from=${p2.next_batch}`));
    expect(ids(p3.chunk)).toEqual([t2]);
    expect(p3.next_batch).toBeUndefined();

    for (const [qs, code] of [["include=mine", "M_INVALID_PARAM"], ["limit=0", "M_INVALID_PARAM"], ["limit=x", "M_INVALID_PARAM"], ["from=bad", "M_INVALID_PARAM"]] as const) {
      const r = await get(alice, path(qs));
      expect([qs, r.status, r.body.errcode]).toEqual([qs, 400, code]);
    }
    // Roots the user may not see are not listed.
    const carol = await registerUser();
    const room2 = await createRoom(alice, { preset: "public_chat", initial_state: [{ type: "m.room.history_visibility", state_key: "", content: { history_visibility: "joined" } }] });
    const hiddenRoot = await text(alice, room2, "before carol");
    await thread(alice, room2, hiddenRoot, "reply");
    await membership(carol, room2, "join");
    const visibleRoot = await text(alice, room2, "after carol");
    await thread(alice, room2, visibleRoot, "reply");
    await thread(alice, room2, hiddenRoot, "reply after carol joined");
    expect(ids((await ok(carol, v1(room2, "threads"))).chunk)).toEqual([visibleRoot]);
    expect(bodies((await ok(alice, v1(room2, "threads"))).chunk)).toEqual(["before carol", "after carol"]);
  });
});
