import { describe, expect, it } from "vitest";
import { callJson, registerUser, type TestUser } from "./helpers.js";
import { createRoom, enc, join, roomAccountData, sharedRoom, syncOf, syncSince } from "./ephemeral-helpers.js";

const V3 = "/_matrix/client/v3";
const MSC3391 = "/_matrix/client/unstable/org.matrix.msc3391";

const globalPath = (u: TestUser, type: string, userId = u.userId) => `/user/${enc(userId)}/account_data/${enc(type)}`;
const roomPath = (u: TestUser, roomId: string, type: string, userId = u.userId) => `/user/${enc(userId)}/rooms/${enc(roomId)}/account_data/${enc(type)}`;

const put = (u: TestUser, path: string, json: unknown) => callJson(`${V3}${path}`, { method: "PUT", token: u.accessToken, json });
const get = (u: TestUser, path: string) => callJson(`${V3}${path}`, { token: u.accessToken });
const del = (u: TestUser, path: string) => callJson(`${MSC3391}${path}`, { method: "DELETE", token: u.accessToken });

const tagsPath = (u: TestUser, roomId: string, tag?: string) => `${V3}/user/${enc(u.userId)}/rooms/${enc(roomId)}/tags${tag === undefined ? "" : `/${enc(tag)}`}`;

describe("account data", () => {
  it("stores global and room account data and serves it back", async () => {
    const alice = await registerUser();
    const roomId = await createRoom(alice);
    expect((await put(alice, globalPath(alice, "org.example.config"), { a: 1, nested: { b: [true] } })).status).toBe(200);
    expect((await get(alice, globalPath(alice, "org.example.config"))).body).toEqual({ a: 1, nested: { b: [true] } });
    expect((await put(alice, roomPath(alice, roomId, "org.example.room"), { r: "x" })).status).toBe(200);
    expect((await get(alice, roomPath(alice, roomId, "org.example.room"))).body).toEqual({ r: "x" });
    // No inheritance between scopes (spec).
    expect((await get(alice, globalPath(alice, "org.example.room"))).status).toBe(404);
    const missing = await get(alice, roomPath(alice, roomId, "org.example.config"));
    expect(missing.status).toBe(404);
    expect(missing.body.errcode).toBe("M_NOT_FOUND");
    // Replacing, not merging.
    await put(alice, globalPath(alice, "org.example.config"), { c: 3 });
    expect((await get(alice, globalPath(alice, "org.example.config"))).body).toEqual({ c: 3 });
    // An empty object is plain data.
    await put(alice, globalPath(alice, "org.example.empty"), {});
    expect((await get(alice, globalPath(alice, "org.example.empty"))).body).toEqual({});
  });

  it("appears in /sync: everything on initial sync, changes incrementally", async () => {
    const alice = await registerUser();
    const roomId = await createRoom(alice);
    const other = await createRoom(alice);
    await put(alice, globalPath(alice, "org.example.one"), { n: 1 });
    await put(alice, roomPath(alice, roomId, "org.example.r"), { n: 2 });
    const s0 = await syncOf(alice);
    expect(s0.account_data.events).toContainEqual({ type: "org.example.one", content: { n: 1 } });
    expect(roomAccountData(s0, roomId)).toEqual([{ type: "org.example.r", content: { n: 2 } }]);
    expect(roomAccountData(s0, other)).toEqual([]);

    await put(alice, globalPath(alice, "org.example.two"), { n: 3 });
    await put(alice, roomPath(alice, other, "org.example.r"), { n: 4 });
    const s1 = await syncSince(alice, s0.next_batch);
    expect(s1.account_data.events).toEqual([{ type: "org.example.two", content: { n: 3 } }]);
    expect(roomAccountData(s1, other)).toEqual([{ type: "org.example.r", content: { n: 4 } }]);
    expect(s1.rooms.join[roomId]).toBeUndefined();
    const idle = await syncSince(alice, s1.next_batch);
    expect(idle.account_data.events).toEqual([]);
    expect(idle.next_batch).toBe(s1.next_batch);
  });

  it("wakes a long-poll within a second", async () => {
    const alice = await registerUser();
    const s0 = await syncOf(alice);
    const started = Date.now();
    const poll = syncSince(alice, s0.next_batch, "&timeout=20000");
    await new Promise((r) => setTimeout(r, 200));
    await put(alice, globalPath(alice, "org.example.wake"), { up: true });
    const woke = await poll;
    expect(Date.now() - started).toBeLessThan(1500);
    expect(woke.account_data.events).toEqual([{ type: "org.example.wake", content: { up: true } }]);
  });

  it("delivers a room's account data in full when the user joins it", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice, { preset: "public_chat" });
    // Account data for a room needs no membership; it shows once the user is joined.
    await put(bob, roomPath(bob, roomId, "org.example.pre"), { early: true });
    const b0 = await syncOf(bob);
    expect(b0.rooms.join[roomId]).toBeUndefined();
    await join(bob, roomId);
    const b1 = await syncSince(bob, b0.next_batch);
    expect(roomAccountData(b1, roomId)).toEqual([{ type: "org.example.pre", content: { early: true } }]);
  });

  it("deletes with MSC3391: gone for GET and initial sync, {} in incremental sync", async () => {
    const alice = await registerUser();
    const roomId = await createRoom(alice);
    await put(alice, globalPath(alice, "org.example.gone"), { x: 1 });
    await put(alice, roomPath(alice, roomId, "org.example.gone"), { x: 2 });
    const s0 = await syncOf(alice);
    expect((await del(alice, globalPath(alice, "org.example.gone"))).status).toBe(200);
    expect((await del(alice, roomPath(alice, roomId, "org.example.gone"))).status).toBe(200);
    expect((await get(alice, globalPath(alice, "org.example.gone"))).status).toBe(404);
    expect((await get(alice, roomPath(alice, roomId, "org.example.gone"))).status).toBe(404);
    const s1 = await syncSince(alice, s0.next_batch);
    expect(s1.account_data.events).toEqual([{ type: "org.example.gone", content: {} }]);
    expect(roomAccountData(s1, roomId)).toEqual([{ type: "org.example.gone", content: {} }]);
    const fresh = await syncOf(alice);
    expect(fresh.account_data.events.filter((e) => e.type === "org.example.gone")).toEqual([]);
    expect(roomAccountData(fresh, roomId)).toEqual([]);
    // Deleting again, or something that never existed, changes nothing.
    expect((await del(alice, globalPath(alice, "org.example.gone"))).status).toBe(200);
    expect((await del(alice, globalPath(alice, "org.example.never"))).status).toBe(200);
    expect((await syncSince(alice, s1.next_batch)).account_data.events).toEqual([]);
    // Advertised, so clients (matrix-js-sdk) use DELETE rather than an empty PUT.
    expect((await callJson<{ unstable_features: Record<string, boolean> }>("/_matrix/client/versions")).body.unstable_features["org.matrix.msc3391"]).toBe(true);
    // Setting it again brings it back.
    await put(alice, globalPath(alice, "org.example.gone"), { back: true });
    expect((await get(alice, globalPath(alice, "org.example.gone"))).body).toEqual({ back: true });
  });

  it("honours the account_data filters", async () => {
    const alice = await registerUser();
    const roomId = await createRoom(alice);
    await put(alice, globalPath(alice, "org.example.keep"), {});
    await put(alice, globalPath(alice, "org.example.drop"), {});
    await put(alice, roomPath(alice, roomId, "org.example.keep"), {});
    await put(alice, roomPath(alice, roomId, "org.example.drop"), {});
    const filter = enc(JSON.stringify({ account_data: { types: ["org.example.keep"] }, room: { account_data: { not_types: ["org.example.drop"] } } }));
    const s = await syncOf(alice, `?filter=${filter}`);
    expect(s.account_data.events.map((e) => e.type)).toEqual(["org.example.keep"]);
    expect(roomAccountData(s, roomId).map((e) => e.type)).toEqual(["org.example.keep"]);
  });

  it("refuses other users, server-managed types, bad room ids and bad bodies", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice);
    for (const res of [
      await put(alice, globalPath(alice, "org.example.x", bob.userId), {}),
      await get(alice, globalPath(alice, "org.example.x", bob.userId)),
      await put(alice, roomPath(alice, roomId, "org.example.x", bob.userId), {}),
      await get(alice, roomPath(alice, roomId, "org.example.x", bob.userId)),
      await del(alice, globalPath(alice, "org.example.x", bob.userId)),
    ]) {
      expect(res.status).toBe(403);
      expect(res.body.errcode).toBe("M_FORBIDDEN");
    }
    // account_data.md "Server Behaviour": 405 M_BAD_JSON, global and per room.
    for (const type of ["m.fully_read", "m.push_rules"]) {
      for (const res of [
        await put(alice, globalPath(alice, type), {}),
        await put(alice, roomPath(alice, roomId, type), {}),
        await del(alice, roomPath(alice, roomId, type)),
      ]) {
        expect(res.status).toBe(405);
        expect(res.body.errcode).toBe("M_BAD_JSON");
      }
    }
    for (const res of [await put(alice, roomPath(alice, "@not-a-room:x", "org.example.x"), {}), await get(alice, roomPath(alice, "nope", "org.example.x"))]) {
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe("M_INVALID_PARAM");
    }
    const notObject = await put(alice, globalPath(alice, "org.example.x"), [1, 2]);
    expect(notObject.status).toBe(400);
    expect(notObject.body.errcode).toBe("M_BAD_JSON");
    const notJson = await callJson(`${V3}${globalPath(alice, "org.example.x")}`, { method: "PUT", token: alice.accessToken, body: "{nope" });
    expect(notJson.body.errcode).toBe("M_NOT_JSON");
    const longType = await put(alice, globalPath(alice, "x".repeat(256)), {});
    expect(longType.status).toBe(400);
    expect((await callJson(`${V3}${globalPath(alice, "org.example.x")}`, { method: "PUT", json: {} })).status).toBe(401);
  });
});

describe("room tags", () => {
  it("adds, replaces and removes tags, kept as the room's m.tag account data", async () => {
    const alice = await registerUser();
    const roomId = await createRoom(alice);
    expect((await callJson(tagsPath(alice, roomId), { token: alice.accessToken })).body).toEqual({ tags: {} });
    const s0 = await syncOf(alice);
    expect((await callJson(tagsPath(alice, roomId, "m.favourite"), { method: "PUT", token: alice.accessToken, json: { order: 0.25 } })).status).toBe(200);
    expect((await callJson(tagsPath(alice, roomId, "u.work"), { method: "PUT", token: alice.accessToken, json: {} })).status).toBe(200);
    expect((await callJson(tagsPath(alice, roomId), { token: alice.accessToken })).body).toEqual({ tags: { "m.favourite": { order: 0.25 }, "u.work": {} } });
    const s1 = await syncSince(alice, s0.next_batch);
    expect(roomAccountData(s1, roomId)).toEqual([{ type: "m.tag", content: { tags: { "m.favourite": { order: 0.25 }, "u.work": {} } } }]);
    // The same data through the account data API.
    const viaAccountData = await callJson(`${V3}${roomPath(alice, roomId, "m.tag")}`, { token: alice.accessToken });
    expect(viaAccountData.body).toEqual({ tags: { "m.favourite": { order: 0.25 }, "u.work": {} } });

    // PUT replaces a tag's content.
    await callJson(tagsPath(alice, roomId, "u.work"), { method: "PUT", token: alice.accessToken, json: { order: 1, "org.example": "x" } });
    await callJson(tagsPath(alice, roomId, "u.work"), { method: "PUT", token: alice.accessToken, json: { order: 0 } });
    expect((await callJson<{ tags: Record<string, unknown> }>(tagsPath(alice, roomId), { token: alice.accessToken })).body.tags["u.work"]).toEqual({ order: 0 });

    expect((await callJson(tagsPath(alice, roomId, "m.favourite"), { method: "DELETE", token: alice.accessToken })).status).toBe(200);
    const s2 = await syncSince(alice, s1.next_batch);
    expect(roomAccountData(s2, roomId)).toEqual([{ type: "m.tag", content: { tags: { "u.work": { order: 0 } } } }]);
    // Removing a tag the room does not have writes nothing.
    expect((await callJson(tagsPath(alice, roomId, "m.lowpriority"), { method: "DELETE", token: alice.accessToken })).status).toBe(200);
    const idle = await syncSince(alice, s2.next_batch);
    expect(idle.next_batch).toBe(s2.next_batch);
    // Initial sync carries the tags.
    expect(roomAccountData(await syncOf(alice), roomId)).toEqual([{ type: "m.tag", content: { tags: { "u.work": { order: 0 } } } }]);
  });

  it("never loses a tag to a concurrent tag write", async () => {
    const alice = await registerUser();
    const roomId = await createRoom(alice);
    const names = ["u.a", "u.b", "u.c", "u.d", "u.e", "u.f"];
    await Promise.all(names.map((t, i) => callJson(tagsPath(alice, roomId, t), { method: "PUT", token: alice.accessToken, json: { order: i / 10 } })));
    const tags = (await callJson<{ tags: Record<string, unknown> }>(tagsPath(alice, roomId), { token: alice.accessToken })).body.tags;
    expect(Object.keys(tags).sort()).toEqual(names);
  });

  it("wakes a long-poll within a second", async () => {
    const alice = await registerUser();
    const roomId = await createRoom(alice);
    const s0 = await syncOf(alice);
    const started = Date.now();
    const poll = syncSince(alice, s0.next_batch, "&timeout=20000");
    await new Promise((r) => setTimeout(r, 200));
    await callJson(tagsPath(alice, roomId, "m.lowpriority"), { method: "PUT", token: alice.accessToken, json: {} });
    const woke = await poll;
    expect(Date.now() - started).toBeLessThan(1500);
    expect(roomAccountData(woke, roomId)).toEqual([{ type: "m.tag", content: { tags: { "m.lowpriority": {} } } }]);
  });

  it("refuses other users, bad orders, long names and bad room ids", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await sharedRoom(alice, bob);
    for (const res of [
      await callJson(tagsPath(alice, roomId), { token: bob.accessToken }),
      await callJson(tagsPath(alice, roomId, "u.x"), { method: "PUT", token: bob.accessToken, json: {} }),
      await callJson(tagsPath(alice, roomId, "u.x"), { method: "DELETE", token: bob.accessToken }),
    ]) {
      expect(res.status).toBe(403);
      expect(res.body.errcode).toBe("M_FORBIDDEN");
    }
    for (const json of [{ order: 2 }, { order: -0.1 }, { order: "0.5" }, [0.5]]) {
      const res = await callJson(tagsPath(alice, roomId, "u.x"), { method: "PUT", token: alice.accessToken, json });
      expect(res.status).toBe(400);
      expect(res.body.errcode).toBe("M_BAD_JSON");
    }
    const long = await callJson(tagsPath(alice, roomId, "u.".padEnd(256, "x")), { method: "PUT", token: alice.accessToken, json: {} });
    expect(long.status).toBe(400);
    expect(long.body.errcode).toBe("M_INVALID_PARAM");
    const badRoom = await callJson(tagsPath(alice, "nope"), { token: alice.accessToken });
    expect(badRoom.status).toBe(400);
    expect(badRoom.body.errcode).toBe("M_INVALID_PARAM");
    expect((await callJson(tagsPath(alice, roomId))).status).toBe(401);
  });
});
