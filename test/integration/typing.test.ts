import { describe, expect, it } from "vitest";
import { callJson, registerUser, type TestUser } from "./helpers.js";
import { createRoom, enc, ephemeralOf, leave, sharedRoom, syncOf, syncSince } from "./ephemeral-helpers.js";

function typing(u: TestUser, roomId: string, body: unknown, userId = u.userId) {
  return callJson(`/_matrix/client/v3/rooms/${enc(roomId)}/typing/${enc(userId)}`, { method: "PUT", token: u.accessToken, json: body });
}

const typers = (s: Awaited<ReturnType<typeof syncOf>>, roomId: string) => ephemeralOf(s, roomId, "m.typing").map((e) => e.content.user_ids);

describe("typing notifications", () => {
  it("delivers the typing set to members, incrementally and on initial sync", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await sharedRoom(alice, bob);
    const s0 = await syncOf(bob);
    expect(typers(s0, roomId)).toEqual([]);

    expect((await typing(alice, roomId, { typing: true, timeout: 30000 })).status).toBe(200);
    const s1 = await syncSince(bob, s0.next_batch);
    expect(typers(s1, roomId)).toEqual([[alice.userId]]);
    // Initial sync shows the current non-empty set.
    expect(typers(await syncOf(bob), roomId)).toEqual([[alice.userId]]);

    // A refresh by someone already typing changes nothing anyone needs to hear about.
    await typing(alice, roomId, { typing: true, timeout: 30000 });
    const idle = await syncSince(bob, s1.next_batch);
    expect(typers(idle, roomId)).toEqual([]);
    expect(idle.next_batch).toBe(s1.next_batch);

    await typing(bob, roomId, { typing: true });
    const s2 = await syncSince(bob, s1.next_batch);
    expect(typers(s2, roomId)).toEqual([[alice.userId, bob.userId].sort()]);

    // Stopping sends the new (complete) set; the empty set too.
    await typing(alice, roomId, { typing: false });
    await typing(bob, roomId, { typing: false });
    const s3 = await syncSince(bob, s2.next_batch);
    expect(typers(s3, roomId)).toEqual([[]]);
    expect(typers(await syncOf(bob), roomId)).toEqual([]);
  });

  it("wakes a long-poll within a second", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await sharedRoom(alice, bob);
    const s0 = await syncOf(bob);
    const started = Date.now();
    const poll = syncSince(bob, s0.next_batch, "&timeout=20000");
    await new Promise((r) => setTimeout(r, 200));
    await typing(alice, roomId, { typing: true, timeout: 10000 });
    const woke = await poll;
    expect(Date.now() - started).toBeLessThan(1500);
    expect(typers(woke, roomId)).toEqual([[alice.userId]]);
  });

  it("expires typing after the timeout without anyone doing anything, waking long-polls", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await sharedRoom(alice, bob);
    await typing(alice, roomId, { typing: true, timeout: 1000 });
    const s1 = await syncOf(bob);
    expect(typers(s1, roomId)).toEqual([[alice.userId]]);
    const started = Date.now();
    const woke = await syncSince(bob, s1.next_batch, "&timeout=10000");
    const elapsed = Date.now() - started;
    expect(typers(woke, roomId)).toEqual([[]]);
    expect(elapsed).toBeLessThan(5000);
    expect(typers(await syncOf(bob), roomId)).toEqual([]);
  });

  it("keeps each user's own timeout: one expiring leaves the others", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await sharedRoom(alice, bob);
    await typing(alice, roomId, { typing: true, timeout: 800 });
    await typing(bob, roomId, { typing: true, timeout: 60000 });
    const s1 = await syncOf(bob);
    const woke = await syncSince(bob, s1.next_batch, "&timeout=10000");
    expect(typers(woke, roomId)).toEqual([[bob.userId]]);
  });

  it("sends typing only to members of the room", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const carol = await registerUser();
    const roomId = await sharedRoom(alice, bob);
    const other = await createRoom(carol);
    const s0 = await syncOf(carol);
    await typing(alice, roomId, { typing: true });
    const s1 = await syncSince(carol, s0.next_batch);
    expect(s1.rooms.join[roomId]).toBeUndefined();
    expect(typers(s1, other)).toEqual([]);
  });

  it("drops a typer who leaves the room at the next change", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const carol = await registerUser();
    const roomId = await sharedRoom(alice, bob, carol);
    await typing(bob, roomId, { typing: true });
    await leave(bob, roomId);
    const s0 = await syncOf(alice);
    await typing(carol, roomId, { typing: true });
    const s1 = await syncSince(alice, s0.next_batch);
    expect(typers(s1, roomId)).toEqual([[carol.userId]]);
  });

  it("respects the ephemeral filter", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await sharedRoom(alice, bob);
    await typing(alice, roomId, { typing: true });
    const filter = enc(JSON.stringify({ room: { ephemeral: { not_types: ["m.typing"] } } }));
    expect(typers(await syncOf(bob, `?filter=${filter}`), roomId)).toEqual([]);
  });

  it("refuses other users, non-members, unknown rooms and bad bodies", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice);
    const other = await typing(alice, roomId, { typing: true }, bob.userId);
    expect(other.status).toBe(403);
    expect(other.body.errcode).toBe("M_FORBIDDEN");
    const outsider = await typing(bob, roomId, { typing: true });
    expect(outsider.status).toBe(403);
    expect(outsider.body.errcode).toBe("M_FORBIDDEN");
    const unknown = await typing(alice, "!nope:localhost:8008", { typing: true });
    expect(unknown.status).toBe(403);
    const badRoom = await typing(alice, "not-a-room", { typing: true });
    expect(badRoom.status).toBe(400);
    // A required key left out is M_MISSING_PARAM; a value of the wrong type or range, M_BAD_JSON.
    const missing = await typing(alice, roomId, {});
    expect([missing.status, missing.body.errcode]).toEqual([400, "M_MISSING_PARAM"]);
    for (const body of [{ typing: "yes" }, { typing: null }, { typing: true, timeout: -1 }, { typing: true, timeout: "10" }]) {
      const r = await typing(alice, roomId, body);
      expect(r.status).toBe(400);
      expect(r.body.errcode).toBe("M_BAD_JSON");
    }
    const notJson = await callJson(`/_matrix/client/v3/rooms/${enc(roomId)}/typing/${enc(alice.userId)}`, { method: "PUT", token: alice.accessToken, body: "{" });
    expect(notJson.body.errcode).toBe("M_NOT_JSON");
    const noAuth = await callJson(`/_matrix/client/v3/rooms/${enc(roomId)}/typing/${enc(alice.userId)}`, { method: "PUT", json: { typing: true } });
    expect(noAuth.status).toBe(401);
  });
});
