import { describe, expect, it } from "vitest";
import { callJson, registerUser } from "./helpers.js";
import { bodies, createRoom, get, ids, invite, membership, messages, ok, paginateAll, redact, setState, text, v3, type Ev } from "./room-reads-helpers.js";

describe("history visibility on every read path", () => {
  it("shared: a joiner sees earlier history; after leaving, nothing later", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice, { preset: "public_chat" }); // history_visibility: shared
    const before = await text(alice, roomId, "before bob");
    await membership(bob, roomId, "join");
    await text(alice, roomId, "while bob");
    await membership(bob, roomId, "leave");
    const after = await text(alice, roomId, "after bob left");

    const seen = await paginateAll(bob, roomId, "b", { limit: 3 });
    expect(bodies(seen)).toEqual(["while bob", "before bob"]);
    expect(seen[0]!.type).toBe("m.room.member"); // his own leave
    expect(seen[0]!.content.membership).toBe("leave");
    expect(ids(seen)).toContain(before);
    expect(ids(seen)).not.toContain(after);
    // Forwards from the start stops at the leave as well.
    const fwd = await paginateAll(bob, roomId, "f", { limit: 4 });
    expect(ids(fwd)).toEqual(ids(seen).reverse());
    expect((await get(bob, v3(roomId, `event/${encodeURIComponent(before)}`))).status).toBe(200);
    const hidden = await get(bob, v3(roomId, `event/${encodeURIComponent(after)}`));
    expect([hidden.status, hidden.body.errcode]).toEqual([404, "M_NOT_FOUND"]);
    const ctx = await get(bob, v3(roomId, `context/${encodeURIComponent(after)}`));
    expect(ctx.status).toBe(403);
    // timestamp_to_event only finds what he may see.
    const ts = await ok(bob, `/_matrix/client/v1/rooms/${encodeURIComponent(roomId)}/timestamp_to_event?dir=b&ts=${Date.now() + 60_000}`);
    expect(ts.event_id).toBe(seen[0]!.event_id);
  });

  it("joined: nothing before the join; a visibility change splits what a late joiner sees", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice, { preset: "public_chat" });
    await text(alice, roomId, "shared era");
    await setState(alice, roomId, "m.room.history_visibility", "", { history_visibility: "joined" });
    const secret = await text(alice, roomId, "joined era, before bob");
    await membership(bob, roomId, "join");
    await text(alice, roomId, "with bob");
    // Shared history stays visible; the joined-only stretch before his join does not.
    const seen = await paginateAll(bob, roomId, "b", { limit: 2 });
    expect(bodies(seen)).toEqual(["with bob", "shared era"]);
    expect(ids(seen)).not.toContain(secret);
    // The visibility event itself counts by the visibility before it (shared): visible.
    expect(seen.some((e) => e.type === "m.room.history_visibility")).toBe(true);
    expect((await get(bob, v3(roomId, `event/${encodeURIComponent(secret)}`))).status).toBe(404);
    // Pages across the gap meet with no duplicates.
    const fwd = await paginateAll(bob, roomId, "f", { limit: 1 });
    expect(ids(fwd)).toEqual(ids(seen).reverse());
    // A joiner of a room that was "joined" from the start sees from their join.
    const carol = await registerUser();
    const room2 = await createRoom(alice, { preset: "public_chat", initial_state: [{ type: "m.room.history_visibility", state_key: "", content: { history_visibility: "joined" } }] });
    await text(alice, room2, "early");
    await membership(carol, room2, "join");
    await text(alice, room2, "late");
    const c = await messages(carol, room2, { dir: "b", limit: 50 });
    // The room's first events came before any history_visibility event (so "shared", as Synapse): visible.
    expect(c.body.chunk.map((e) => (e.type === "m.room.message" ? e.content.body : e.type))).toEqual([
      "late",
      "m.room.member",
      "m.room.history_visibility",
      "m.room.join_rules",
      "m.room.power_levels",
      "m.room.member",
      "m.room.create",
    ]);
    expect(c.body.end).toBeUndefined();
  });

  it("invited: history from the invite on, once joined", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice, { preset: "private_chat", initial_state: [{ type: "m.room.history_visibility", state_key: "", content: { history_visibility: "invited" } }] });
    await text(alice, roomId, "before invite");
    await invite(alice, roomId, bob);
    await text(alice, roomId, "after invite");
    // Invited but not joined: not a member yet (as Synapse).
    expect((await messages(bob, roomId, { dir: "b" })).status).toBe(403);
    await membership(bob, roomId, "join");
    const seen = await paginateAll(bob, roomId, "b");
    expect(bodies(seen)).toEqual(["after invite"]);
  });

  it("world_readable: anyone may read messages, events, context and state, not joined_members", async () => {
    const alice = await registerUser();
    const stranger = await registerUser();
    const roomId = await createRoom(alice, { preset: "public_chat", name: "Open", initial_state: [{ type: "m.room.history_visibility", state_key: "", content: { history_visibility: "world_readable" } }] });
    const m = await text(alice, roomId, "for everyone");
    const page = await messages(stranger, roomId, { dir: "b", limit: 1 });
    expect(bodies(page.body.chunk)).toEqual(["for everyone"]);
    // The room's first events came under the default "shared": a stranger's history starts at the
    // visibility event that opened the room (visible as the visibility after it allows).
    const all = await paginateAll(stranger, roomId, "b");
    expect(all.at(-1)!.type).toBe("m.room.history_visibility");
    expect(all.some((e) => e.type === "m.room.create")).toBe(false);
    expect((await ok(stranger, v3(roomId, `event/${encodeURIComponent(m)}`))).content.body).toBe("for everyone");
    expect((await ok(stranger, v3(roomId, `context/${encodeURIComponent(m)}`))).event.event_id).toBe(m);
    expect((await ok(stranger, v3(roomId, "state/m.room.name"))).name).toBe("Open");
    expect((await ok<Ev[]>(stranger, v3(roomId, "state"))).length).toBeGreaterThan(4);
    expect((await ok(stranger, v3(roomId, "members"))).chunk.map((e: Ev) => e.state_key)).toEqual([alice.userId]);
    const jm = await get(stranger, v3(roomId, "joined_members"));
    expect([jm.status, jm.body.errcode]).toEqual([403, "M_FORBIDDEN"]);
    // Once it stops being world readable, a stranger is shut out again.
    await setState(alice, roomId, "m.room.history_visibility", "", { history_visibility: "shared" });
    expect((await messages(stranger, roomId, { dir: "b" })).status).toBe(403);
  });

  it("guests may use the spec's guest read endpoints on a world_readable room, and no others", async () => {
    const alice = await registerUser();
    const roomId = await createRoom(alice, { preset: "public_chat", initial_state: [{ type: "m.room.history_visibility", state_key: "", content: { history_visibility: "world_readable" } }] });
    const m = await text(alice, roomId, "hello guests");
    const reg = await callJson<{ access_token: string; user_id: string; device_id: string }>("/_matrix/client/v3/register?kind=guest", { method: "POST", json: {} });
    expect(reg.status).toBe(200);
    const guest = { userId: reg.body.user_id, accessToken: reg.body.access_token, deviceId: reg.body.device_id, password: "" };
    const e = encodeURIComponent(m);
    for (const path of [v3(roomId, "messages?dir=b"), v3(roomId, `event/${e}`), v3(roomId, `context/${e}`), v3(roomId, "state"), v3(roomId, "state/m.room.create"), v3(roomId, "members")]) {
      expect([path, (await get(guest, path)).status]).toEqual([path, 200]);
    }
    for (const path of [
      v3(roomId, "joined_members"),
      "/_matrix/client/v3/joined_rooms",
      `/_matrix/client/v1/rooms/${encodeURIComponent(roomId)}/relations/${e}`,
      `/_matrix/client/v1/rooms/${encodeURIComponent(roomId)}/threads`,
      `/_matrix/client/v1/rooms/${encodeURIComponent(roomId)}/timestamp_to_event?dir=f&ts=0`,
    ]) {
      const r = await get(guest, path);
      expect([path, r.status, r.body.errcode]).toEqual([path, 403, "M_GUEST_ACCESS_FORBIDDEN"]);
    }
  });

  it("non-members of a private room get 403 everywhere (404 for /event)", async () => {
    const alice = await registerUser();
    const eve = await registerUser();
    const roomId = await createRoom(alice, { preset: "private_chat" });
    const m = await text(alice, roomId, "private");
    const e = encodeURIComponent(m);
    for (const path of [
      v3(roomId, "messages?dir=b"),
      v3(roomId, `context/${e}`),
      v3(roomId, "state"),
      v3(roomId, "state/m.room.create/"),
      v3(roomId, "members"),
      v3(roomId, "joined_members"),
      `/_matrix/client/v1/rooms/${encodeURIComponent(roomId)}/timestamp_to_event?dir=f&ts=0`,
      `/_matrix/client/v1/rooms/${encodeURIComponent(roomId)}/relations/${e}`,
      `/_matrix/client/v1/rooms/${encodeURIComponent(roomId)}/threads`,
    ]) {
      const r = await get(eve, path);
      expect([path, r.status, r.body.errcode]).toEqual([path, 403, "M_FORBIDDEN"]);
    }
    const ev = await get(eve, v3(roomId, `event/${e}`));
    expect([ev.status, ev.body.errcode]).toEqual([404, "M_NOT_FOUND"]);
    // Unknown rooms look the same as rooms one is not in.
    expect((await get(eve, v3("!nosuchroom:localhost:8008", "state"))).status).toBe(403);
    expect((await get(eve, v3("!nosuchroom:localhost:8008", `event/${e}`))).status).toBe(404);
  });
});

describe("state and members", () => {
  it("serves current state, single state events in every path form, and format=event", async () => {
    const alice = await registerUser();
    const roomId = await createRoom(alice, { preset: "private_chat", name: "Named", topic: "T" });
    await setState(alice, roomId, "org.example.keyed", "some/key", { v: 1 });
    const state = await ok<Ev[]>(alice, v3(roomId, "state"));
    const types = state.map((e) => e.type);
    for (const t of ["m.room.create", "m.room.member", "m.room.power_levels", "m.room.join_rules", "m.room.history_visibility", "m.room.name", "m.room.topic", "org.example.keyed"]) {
      expect(types).toContain(t);
    }
    expect(state.every((e) => typeof e.event_id === "string" && e.room_id === roomId && typeof e.unsigned.age === "number")).toBe(true);
    expect(await ok(alice, v3(roomId, "state/m.room.name"))).toEqual({ name: "Named" });
    expect(await ok(alice, v3(roomId, "state/m.room.name/"))).toEqual({ name: "Named" });
    expect(await ok(alice, v3(roomId, "state/m.room.name/?format=content"))).toEqual({ name: "Named" });
    const full = await ok(alice, v3(roomId, "state/m.room.name/?format=event"));
    expect(full).toMatchObject({ type: "m.room.name", state_key: "", sender: alice.userId, room_id: roomId, content: { name: "Named" } });
    expect(full.event_id).toMatch(/^\$/);
    expect(await ok(alice, v3(roomId, `state/org.example.keyed/${encodeURIComponent("some/key")}`))).toEqual({ v: 1 });
    expect((await ok(alice, v3(roomId, `state/m.room.member/${encodeURIComponent(alice.userId)}`))).membership).toBe("join");
    const missing = await get(alice, v3(roomId, "state/m.room.avatar"));
    expect([missing.status, missing.body.errcode]).toEqual([404, "M_NOT_FOUND"]);
    const missingKey = await get(alice, v3(roomId, "state/m.room.name/nokey"));
    expect(missingKey.status).toBe(404);
    const badFormat = await get(alice, v3(roomId, "state/m.room.name?format=xml"));
    expect([badFormat.status, badFormat.body.errcode]).toEqual([400, "M_INVALID_PARAM"]);
    // Redacted state is served redacted.
    const topic = (await ok(alice, v3(roomId, "state/m.room.topic?format=event"))).event_id;
    await redact(alice, roomId, topic);
    expect(await ok(alice, v3(roomId, "state/m.room.topic"))).toEqual({});
  });

  it("a user who left sees state and members as of leaving; members supports at and membership filters", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const carol = await registerUser();
    const dave = await registerUser();
    const roomId = await createRoom(alice, { preset: "public_chat", name: "Old name" });
    await membership(bob, roomId, "join");
    await invite(alice, roomId, dave);
    const s1 = await ok(bob, "/_matrix/client/v3/sync");
    await membership(bob, roomId, "leave");
    await setState(alice, roomId, "m.room.name", "", { name: "New name" });
    await membership(carol, roomId, "join");

    expect(await ok(bob, v3(roomId, "state/m.room.name"))).toEqual({ name: "Old name" });
    const bobState = await ok<Ev[]>(bob, v3(roomId, "state"));
    expect(bobState.find((e) => e.type === "m.room.name")!.content.name).toBe("Old name");
    expect(bobState.find((e) => e.type === "m.room.member" && e.state_key === bob.userId)!.content.membership).toBe("leave");
    expect(bobState.some((e) => e.state_key === carol.userId)).toBe(false);
    const bobMembers = (await ok(bob, v3(roomId, "members"))).chunk as Ev[];
    expect(bobMembers.map((e) => `${e.state_key}=${e.content.membership}`).sort()).toEqual(
      [`${alice.userId}=join`, `${bob.userId}=leave`, `${dave.userId}=invite`].sort(),
    );
    const jm = await get(bob, v3(roomId, "joined_members"));
    expect(jm.status).toBe(403);

    // Alice sees the current members; filters combine with "or".
    const members = async (qs: string) => ((await ok(alice, v3(roomId, `members${qs}`))).chunk as Ev[]).map((e) => e.state_key as string).sort();
    expect(await members("")).toEqual([alice.userId, bob.userId, carol.userId, dave.userId].sort());
    expect(await members("?membership=join")).toEqual([alice.userId, carol.userId].sort());
    expect(await members("?not_membership=leave")).toEqual([alice.userId, carol.userId, dave.userId].sort());
    expect(await members("?membership=leave&not_membership=join")).toEqual([bob.userId, dave.userId].sort());
    expect(await members("?membership=invite")).toEqual([dave.userId]);
    const bad = await get(alice, v3(roomId, "members?membership=joined"));
    expect([bad.status, bad.body.errcode]).toEqual([400, "M_INVALID_PARAM"]);

    // `at`: the members as of Bob's earlier sync token, before he left and before Carol joined.
    expect(await members(`?at=${s1.next_batch}`)).toEqual([alice.userId, bob.userId, dave.userId].sort());
    const atBob = ((await ok(bob, v3(roomId, `members?at=${s1.next_batch}`))).chunk as Ev[]).find((e) => e.state_key === bob.userId);
    expect(atBob!.content.membership).toBe("join");
    // Bob may not look at the room after he left.
    const head = (await ok(alice, "/_matrix/client/v3/sync")).next_batch;
    expect((await get(bob, v3(roomId, `members?at=${head}`))).status).toBe(403);
    expect((await get(alice, v3(roomId, "members?at=bogus"))).body.errcode).toBe("M_INVALID_PARAM");

    // joined_members and joined_rooms for current members.
    const joined = await ok(alice, v3(roomId, "joined_members"));
    expect(Object.keys(joined.joined).sort()).toEqual([alice.userId, carol.userId].sort());
    expect((await ok(alice, "/_matrix/client/v3/joined_rooms")).joined_rooms).toEqual([roomId]);
    expect((await ok(bob, "/_matrix/client/v3/joined_rooms")).joined_rooms).toEqual([]);
    expect((await ok(dave, "/_matrix/client/v3/joined_rooms")).joined_rooms).toEqual([]);

    // After forgetting, the room is gone for Bob.
    await membership(bob, roomId, "forget");
    expect((await get(bob, v3(roomId, "state"))).status).toBe(403);
  });

  it("joined_members carries display names and avatars", async () => {
    const alice = await registerUser();
    await callJson(`/_matrix/client/v3/profile/${encodeURIComponent(alice.userId)}/displayname`, { method: "PUT", token: alice.accessToken, json: { displayname: "Alice A" } });
    await callJson(`/_matrix/client/v3/profile/${encodeURIComponent(alice.userId)}/avatar_url`, { method: "PUT", token: alice.accessToken, json: { avatar_url: "mxc://localhost:8008/av" } });
    const bob = await registerUser();
    const roomId = await createRoom(alice, { preset: "public_chat" });
    await membership(bob, roomId, "join");
    const joined = (await ok(bob, v3(roomId, "joined_members"))).joined;
    expect(joined[alice.userId]).toEqual({ display_name: "Alice A", avatar_url: "mxc://localhost:8008/av" });
    expect(joined[bob.userId]).toEqual({ display_name: bob.userId.slice(1).split(":")[0] });
  });
});

describe("single events, context and timestamps", () => {
  it("GET /event serves visible events (redacted ones redacted) and 404s unknown ones", async () => {
    const alice = await registerUser();
    // Room v3 event ids are standard base64 and may contain '/' and '+'.
    for (const version of ["3", "12"]) {
      const roomId = await createRoom(alice, { room_version: version });
      const m = await text(alice, roomId, "hello");
      const ev = await ok(alice, v3(roomId, `event/${encodeURIComponent(m)}`));
      expect(ev).toMatchObject({ event_id: m, room_id: roomId, sender: alice.userId, type: "m.room.message", content: { body: "hello" } });
      expect(ev.unsigned.age).toBeGreaterThanOrEqual(0);
      await redact(alice, roomId, m);
      const red = await ok(alice, v3(roomId, `event/${encodeURIComponent(m)}`));
      expect(red.content).toEqual({});
      expect(red.unsigned.redacted_because.type).toBe("m.room.redaction");
    }
    const roomId = await createRoom(alice);
    const unknown = await get(alice, v3(roomId, `event/${encodeURIComponent("$nope")}`));
    expect([unknown.status, unknown.body.errcode]).toEqual([404, "M_NOT_FOUND"]);
    // An event of another room is not found through this one.
    const other = await createRoom(alice);
    const m = await text(alice, other, "elsewhere");
    expect((await get(alice, v3(roomId, `event/${encodeURIComponent(m)}`))).status).toBe(404);
  });

  it("GET /context returns the events around one, tokens that continue with /messages, and state", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice, { preset: "public_chat", name: "Ctx" });
    await membership(bob, roomId, "join");
    const sent: string[] = [];
    for (let i = 0; i < 12; i++) sent.push(await text(i % 2 ? bob : alice, roomId, `c${i}`));
    const target = sent[6]!;
    const ctx = await ok(alice, v3(roomId, `context/${encodeURIComponent(target)}?limit=4`));
    expect(ctx.event.event_id).toBe(target);
    expect(bodies(ctx.events_before)).toEqual(["c5", "c4"]);
    expect(bodies(ctx.events_after)).toEqual(["c7", "c8"]);
    // start continues backwards, end forwards, with no overlap.
    const older = await messages(alice, roomId, { dir: "b", from: ctx.start, limit: 2 });
    expect(bodies(older.body.chunk)).toEqual(["c3", "c2"]);
    const newer = await messages(alice, roomId, { dir: "f", from: ctx.end, limit: 2 });
    expect(bodies(newer.body.chunk)).toEqual(["c9", "c10"]);
    // State at the last returned event.
    const state = ctx.state as Ev[];
    expect(state.find((e) => e.type === "m.room.name")!.content.name).toBe("Ctx");
    expect(state.filter((e) => e.type === "m.room.member").map((e) => e.state_key).sort()).toEqual([alice.userId, bob.userId].sort());

    // limit=0: the event alone; filters apply to the context and the state, not the event.
    const zero = await ok(alice, v3(roomId, `context/${encodeURIComponent(target)}?limit=0`));
    expect([zero.events_before.length, zero.events_after.length, zero.event.event_id]).toEqual([0, 0, target]);
    const f = encodeURIComponent(JSON.stringify({ senders: [bob.userId], lazy_load_members: true }));
    const filtered = await ok(alice, v3(roomId, `context/${encodeURIComponent(target)}?limit=4&filter=${f}`));
    expect(filtered.event.sender).toBe(alice.userId);
    expect(bodies(filtered.events_before)).toEqual(["c5", "c3"]);
    expect(bodies(filtered.events_after)).toEqual(["c7", "c9"]);
    // Lazy-loaded members: the senders only (state filtered by sender too: bob's member event).
    expect((filtered.state as Ev[]).map((e) => `${e.type}|${e.state_key}`)).toEqual([`m.room.member|${bob.userId}`]);

    const unknown = await get(alice, v3(roomId, `context/${encodeURIComponent("$missing")}`));
    expect([unknown.status, unknown.body.errcode]).toEqual([404, "M_NOT_FOUND"]);
    const badLimit = await get(alice, v3(roomId, `context/${encodeURIComponent(target)}?limit=x`));
    expect([badLimit.status, badLimit.body.errcode]).toEqual([400, "M_INVALID_PARAM"]);
  });

  it("timestamp_to_event finds the closest event in each direction", async () => {
    const alice = await registerUser();
    const roomId = await createRoom(alice);
    const path = (qs: string) => `/_matrix/client/v1/rooms/${encodeURIComponent(roomId)}/timestamp_to_event?${qs}`;
    const a = await text(alice, roomId, "a");
    const aTs = (await ok(alice, v3(roomId, `event/${encodeURIComponent(a)}`))).origin_server_ts as number;
    await new Promise((r) => setTimeout(r, 15));
    const b = await text(alice, roomId, "b");
    const bTs = (await ok(alice, v3(roomId, `event/${encodeURIComponent(b)}`))).origin_server_ts as number;
    expect(await ok(alice, path(`dir=f&ts=${aTs + 1}`))).toEqual({ event_id: b, origin_server_ts: bTs });
    expect(await ok(alice, path(`dir=b&ts=${bTs - 1}`))).toEqual({ event_id: a, origin_server_ts: aTs });
    expect((await ok(alice, path(`dir=b&ts=${bTs + 10_000}`))).event_id).toBe(b);
    expect((await ok(alice, path("dir=f&ts=0"))).event_id).toMatch(/^\$/); // the create event
    const none = await get(alice, path(`dir=f&ts=${bTs + 10_000}`));
    expect([none.status, none.body.errcode]).toEqual([404, "M_NOT_FOUND"]);
    for (const [qs, code] of [["dir=f", "M_MISSING_PARAM"], ["ts=5", "M_MISSING_PARAM"], ["dir=x&ts=5", "M_INVALID_PARAM"], ["dir=f&ts=abc", "M_INVALID_PARAM"]] as const) {
      const r = await get(alice, path(qs));
      expect([qs, r.status, r.body.errcode]).toEqual([qs, 400, code]);
    }
  });
});
