/**
 * The room `summary` in /sync (sync.yaml RoomSummary; client-server-api
 * "Calculating the display name for a room"): member counts and heroes, sent on
 * a room's first appearance and whenever its members change.
 */
import { describe, expect, it } from "vitest";
import { callJson, registerUser, type TestUser } from "./helpers.js";
import { createRoom, invite, membership, setState, text, type Ev } from "./room-reads-helpers.js";

interface Room {
  timeline: { events: Ev[]; limited: boolean };
  state: { events: Ev[] };
  summary?: Record<string, unknown>;
}
interface SyncBody {
  next_batch: string;
  rooms?: { join?: Record<string, Room> };
}

async function sync(u: TestUser, params: Record<string, string> = {}): Promise<SyncBody> {
  const r = await callJson<SyncBody>(`/_matrix/client/v3/sync?${new URLSearchParams(params)}`, { token: u.accessToken });
  if (r.status !== 200) throw new Error(`sync ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

const roomOf = (s: SyncBody, roomId: string) => s.rooms?.join?.[roomId];

describe("/sync room summary", () => {
  it("a DM without a name: counts and the other member as hero, for both sides", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice, { preset: "trusted_private_chat", is_direct: true, invite: [bob.userId] });
    expect(roomOf(await sync(alice), roomId)!.summary).toEqual({ "m.joined_member_count": 1, "m.invited_member_count": 1, "m.heroes": [bob.userId] });
    await membership(bob, roomId, "join");
    expect(roomOf(await sync(alice), roomId)!.summary).toEqual({ "m.joined_member_count": 2, "m.invited_member_count": 0, "m.heroes": [bob.userId] });
    expect(roomOf(await sync(bob), roomId)!.summary).toEqual({ "m.joined_member_count": 2, "m.invited_member_count": 0, "m.heroes": [alice.userId] });
  });

  it("a named room gets counts but no heroes; a name set to empty brings them back", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice, { preset: "public_chat", name: "Named" });
    await membership(bob, roomId, "join");
    expect(roomOf(await sync(alice), roomId)!.summary).toEqual({ "m.joined_member_count": 2, "m.invited_member_count": 0 });
    await setState(alice, roomId, "m.room.name", "", { name: "" });
    expect(roomOf(await sync(alice), roomId)!.summary!["m.heroes"]).toEqual([bob.userId]);
  });

  it("incremental syncs carry it when members change, and not for a plain message", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const carol = await registerUser();
    const roomId = await createRoom(alice, { preset: "public_chat" });
    await membership(bob, roomId, "join");
    const s1 = await sync(alice);
    await text(alice, roomId, "hello");
    const s2 = await sync(alice, { since: s1.next_batch });
    expect(roomOf(s2, roomId)!.timeline.events.length).toBe(1);
    expect(roomOf(s2, roomId)!.summary).toBeUndefined();
    await invite(alice, roomId, carol);
    const s3 = await sync(alice, { since: s2.next_batch });
    expect(roomOf(s3, roomId)!.summary).toEqual({ "m.joined_member_count": 2, "m.invited_member_count": 1, "m.heroes": [bob.userId, carol.userId] });
  });

  it("falls back to members who left when nobody else is joined or invited", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice, { preset: "public_chat" });
    await membership(bob, roomId, "join");
    await membership(bob, roomId, "leave");
    expect(roomOf(await sync(alice), roomId)!.summary).toEqual({ "m.joined_member_count": 1, "m.invited_member_count": 0, "m.heroes": [bob.userId] });
  });

  it("with lazy-loaded members, the heroes' member events are in state even if they sent nothing", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const carol = await registerUser();
    const dave = await registerUser();
    const roomId = await createRoom(alice, { preset: "public_chat" });
    for (const u of [bob, carol, dave]) await membership(u, roomId, "join");
    await text(dave, roomId, "only dave speaks");
    const filter = JSON.stringify({ room: { state: { lazy_load_members: true }, timeline: { limit: 1 } } });
    const room = roomOf(await sync(alice, { filter }), roomId)!;
    expect(room.summary!["m.heroes"]).toEqual([bob.userId, carol.userId, dave.userId]);
    const members = room.state.events.filter((e) => e.type === "m.room.member").map((e) => e.state_key).sort();
    expect(members).toEqual([alice.userId, bob.userId, carol.userId, dave.userId].sort());
  });
});
