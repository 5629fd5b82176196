import { env as workerEnv } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../services/env.js";
import { SERVER, callJson, createRoom, enc, mustJoin, mustPutState, putState, registerUser, sendMessage } from "./directory-helpers.js";

const env = workerEnv as unknown as Env;

interface Ev {
  event_id: string;
  type: string;
  state_key?: string;
  sender: string;
  content: Record<string, unknown>;
}

async function state(roomId: string, type: string, stateKey = ""): Promise<Ev | undefined> {
  const row = await env.DB.prepare(
    "SELECT e.json FROM room_state s JOIN room_events e ON e.event_id = s.event_id WHERE s.room_id = ? AND s.type = ? AND s.state_key = ?",
  )
    .bind(roomId, type, stateKey)
    .first<{ json: string }>();
  return row ? (JSON.parse(row.json) as Ev) : undefined;
}

async function eventsOf(roomId: string): Promise<Ev[]> {
  const { results } = await env.DB.prepare("SELECT json FROM room_events WHERE room_id = ? ORDER BY stream_pos").bind(roomId).all<{ json: string }>();
  return results.map((r) => JSON.parse(r.json) as Ev);
}

const upgrade = (token: string, roomId: string, body: unknown) =>
  callJson<{ replacement_room: string; errcode?: string }>(`/_matrix/client/v3/rooms/${enc(roomId)}/upgrade`, { method: "POST", token, json: body });

describe("POST /rooms/{roomId}/upgrade", () => {
  it("v11 → v12: new room from its create event, creators out of the power levels, state, bans, aliases and directory carried over", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const carol = await registerUser();
    const eve = await registerUser();
    const name = `up${Date.now().toString(36)}`;
    const old = await createRoom(alice.accessToken, {
      room_version: "11",
      visibility: "public",
      name: "Old room",
      topic: "Topic",
      room_alias_name: name,
      power_level_content_override: { users: { [alice.userId]: 100, [bob.userId]: 50 } },
      initial_state: [
        { type: "m.room.encryption", content: { algorithm: "m.megolm.v1.aes-sha2" } },
        { type: "m.room.server_acl", content: { allow: ["*"], deny: ["evil.example"], allow_ip_literals: false } },
        { type: "org.example.custom", content: { keep: "no" } },
      ],
    });
    for (const u of [bob, carol, eve]) await mustJoin(u.accessToken, old);
    expect((await callJson(`/_matrix/client/v3/rooms/${enc(old)}/ban`, { method: "POST", token: alice.accessToken, json: { user_id: eve.userId, reason: "spam" } })).status).toBe(200);
    const alias = `#${name}:${SERVER}`;

    const res = await upgrade(alice.accessToken, old, { new_version: "12", additional_creators: [bob.userId] });
    expect(res.status).toBe(200);
    const neu = res.body.replacement_room;
    expect(neu).toMatch(/^![A-Za-z0-9_-]{43}$/);

    const create = (await state(neu, "m.room.create"))!;
    expect(create.sender).toBe(alice.userId);
    // v12: the room id is the create event's hash, so predecessor cannot name the tombstone.
    expect(create.content).toEqual({ room_version: "12", predecessor: { room_id: old }, additional_creators: [bob.userId] });
    expect(`!${create.event_id.slice(1)}`).toBe(neu);
    const pl = (await state(neu, "m.room.power_levels"))!.content;
    expect(pl.users).toEqual({});
    expect(pl).toMatchObject({ events_default: 0, invite: 50, state_default: 50, ban: 50 });
    expect((await state(neu, "m.room.name"))!.content).toEqual({ name: "Old room" });
    expect((await state(neu, "m.room.topic"))!.content).toMatchObject({ topic: "Topic" });
    expect((await state(neu, "m.room.join_rules"))!.content).toEqual({ join_rule: "public" });
    expect((await state(neu, "m.room.encryption"))!.content).toEqual({ algorithm: "m.megolm.v1.aes-sha2" });
    expect((await state(neu, "m.room.server_acl"))!.content).toEqual({ allow: ["*"], deny: ["evil.example"], allow_ip_literals: false });
    expect((await state(neu, "m.room.history_visibility"))!.content).toEqual({ history_visibility: "shared" });
    expect(await state(neu, "org.example.custom")).toBeUndefined();
    expect((await state(neu, "m.room.member", eve.userId))!.content).toEqual({ membership: "ban", reason: "spam" });
    expect((await state(neu, "m.room.member", alice.userId))!.content.membership).toBe("join");
    expect(await state(neu, "m.room.member", bob.userId)).toBeUndefined();

    // The old room: tombstone, restricted power levels, alias gone to the new room.
    const tomb = (await state(old, "m.room.tombstone"))!;
    expect(tomb.sender).toBe(alice.userId);
    expect(tomb.content).toEqual({ body: "This room has been replaced", replacement_room: neu });
    expect((await state(old, "m.room.power_levels"))!.content).toMatchObject({ events_default: 50, invite: 50, users: { [alice.userId]: 100, [bob.userId]: 50 } });
    const carolSends = await callJson(`/_matrix/client/v3/rooms/${enc(old)}/send/m.room.message/c1`, { method: "PUT", token: carol.accessToken, json: { msgtype: "m.text", body: "hi" } });
    expect(carolSends.status).toBe(403);
    expect((await callJson(`/_matrix/client/v3/directory/room/${enc(alias)}`)).body.room_id).toBe(neu);
    expect((await state(neu, "m.room.canonical_alias"))!.content).toEqual({ alias });
    expect((await state(old, "m.room.canonical_alias"))!.content).toEqual({});
    expect((await callJson(`/_matrix/client/v3/directory/list/room/${enc(old)}`)).body.visibility).toBe("private");
    expect((await callJson(`/_matrix/client/v3/directory/list/room/${enc(neu)}`)).body.visibility).toBe("public");

    // Bob, an additional creator, has unlimited power in the new room once he joins.
    await mustJoin(bob.accessToken, neu);
    expect((await putState(bob.accessToken, neu, "m.room.name", { name: "Bob was here" })).status).toBe(200);
    // The new room's order of events: create, join, power levels, preset, copied state, bans, then the alias.
    expect((await eventsOf(neu)).map((e) => e.type).slice(0, 4)).toEqual(["m.room.create", "m.room.member", "m.room.power_levels", "m.room.guest_access"]);
  });

  it("v12 → v11: creators become users at 100, predecessor names the tombstone", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const carol = await registerUser();
    const old = await createRoom(alice.accessToken, {
      preset: "public_chat",
      creation_content: { additional_creators: [bob.userId] },
      power_level_content_override: { users: { [carol.userId]: 50 } },
    });
    expect((await state(old, "m.room.create"))!.content.room_version).toBe("12");
    await mustJoin(carol.accessToken, old);
    await sendMessage(alice.accessToken, old, "before the upgrade");
    const res = await upgrade(alice.accessToken, old, { new_version: "11", additional_creators: ["@ignored:localhost:8008"] });
    expect(res.status).toBe(200);
    const neu = res.body.replacement_room;
    expect(neu).toMatch(/^![A-Za-z0-9]{18}:localhost:8008$/);
    const tomb = (await state(old, "m.room.tombstone"))!;
    expect(tomb.content.replacement_room).toBe(neu);
    const create = (await state(neu, "m.room.create"))!;
    expect(create.content).toEqual({ room_version: "11", predecessor: { room_id: old, event_id: tomb.event_id } });
    const pl = (await state(neu, "m.room.power_levels"))!.content;
    expect(pl.users).toEqual({ [alice.userId]: 100, [bob.userId]: 100, [carol.userId]: 50 });
    // In v11, Alice's power comes from the users map.
    expect((await putState(alice.accessToken, neu, "m.room.topic", { topic: "new" })).status).toBe(200);
    // Old room (v12): creators are still unlimited; ordinary members are held to 50 now.
    expect((await state(old, "m.room.power_levels"))!.content).toMatchObject({ events_default: 50, invite: 50 });
  });

  it("an upgrader below the level the copied state needs is raised for the copy, then restored (v9 → v10, string levels)", async () => {
    const alice = await registerUser();
    const dave = await registerUser();
    const old = await createRoom(alice.accessToken, {
      room_version: "9",
      preset: "public_chat",
      creation_content: { type: "m.space" },
    });
    await mustJoin(dave.accessToken, old);
    const child = await createRoom(alice.accessToken, { preset: "public_chat" });
    await mustPutState(alice.accessToken, old, "m.space.child", { via: [SERVER] }, child);
    await mustPutState(alice.accessToken, old, "m.space.child", {}, `!removed:${SERVER}`);
    // v1–v9 accept power levels written as strings.
    await mustPutState(alice.accessToken, old, "m.room.power_levels", {
      users: { [alice.userId]: 100, [dave.userId]: "60" },
      events: { "m.room.tombstone": "60", "m.room.power_levels": 100 },
      state_default: 50,
    });
    const res = await upgrade(dave.accessToken, old, { new_version: "10" });
    expect(res.status).toBe(200);
    const neu = res.body.replacement_room;
    const create = (await state(neu, "m.room.create"))!;
    expect(create.content).toMatchObject({ room_version: "10", creator: dave.userId, type: "m.space", predecessor: { room_id: old } });
    const pls = (await eventsOf(neu)).filter((e) => e.type === "m.room.power_levels");
    expect(pls).toHaveLength(2);
    expect(pls[0]!.content.users).toEqual({ [alice.userId]: 100, [dave.userId]: 100 });
    expect(pls[1]!.content).toEqual({ users: { [alice.userId]: 100, [dave.userId]: 60 }, events: { "m.room.tombstone": 60, "m.room.power_levels": 100 }, state_default: 50 });
    expect((await state(neu, "m.space.child", child))!.content).toEqual({ via: [SERVER] });
    expect(await state(neu, "m.space.child", `!removed:${SERVER}`)).toBeUndefined();
    // Restricting the old room needs power to send m.room.power_levels (100); Dave has 60, so that
    // best-effort step is skipped and the upgrade still succeeds (as Synapse).
    expect((await state(old, "m.room.power_levels"))!.content.events_default).toBeUndefined();
    expect((await state(old, "m.room.tombstone"))!.content.replacement_room).toBe(neu);
  });

  it("errors: versions, parameters, membership and power", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice.accessToken, { preset: "public_chat", room_version: "10" });
    const bad = await upgrade(alice.accessToken, roomId, { new_version: "99" });
    expect(bad.status).toBe(400);
    expect(bad.body.errcode).toBe("M_UNSUPPORTED_ROOM_VERSION");
    expect((await upgrade(alice.accessToken, roomId, {})).body.errcode).toBe("M_MISSING_PARAM");
    expect((await upgrade(alice.accessToken, roomId, { new_version: 11 })).body.errcode).toBe("M_BAD_JSON");
    expect((await upgrade(alice.accessToken, roomId, { new_version: "12", additional_creators: ["not a user"] })).body.errcode).toBe("M_INVALID_PARAM");
    expect((await upgrade(alice.accessToken, roomId, { new_version: "12", additional_creators: "@a:b" })).body.errcode).toBe("M_INVALID_PARAM");
    const outsider = await upgrade(bob.accessToken, roomId, { new_version: "11" });
    expect(outsider.status).toBe(403);
    expect(outsider.body.errcode).toBe("M_FORBIDDEN");
    await mustJoin(bob.accessToken, roomId);
    expect((await upgrade(bob.accessToken, roomId, { new_version: "11" })).status).toBe(403);
    const unknown = await upgrade(alice.accessToken, `!nope:${SERVER}`, { new_version: "11" });
    expect(unknown.status).toBe(404);
    expect(unknown.body.errcode).toBe("M_NOT_FOUND");
    expect((await upgrade(alice.accessToken, "nope", { new_version: "11" })).body.errcode).toBe("M_INVALID_PARAM");
    expect((await callJson(`/_matrix/client/v3/rooms/${enc(roomId)}/upgrade`, { method: "POST", json: { new_version: "11" } })).status).toBe(401);
    // Nothing was tombstoned by the failed attempts.
    expect(await state(roomId, "m.room.tombstone")).toBeUndefined();
  });
});
