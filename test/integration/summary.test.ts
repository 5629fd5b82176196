import { describe, expect, it } from "vitest";
import { SERVER, callJson, createRoom, enc, invite, mustJoin, mustPutState, registerUser } from "./directory-helpers.js";

const summaryPath = (idOrAlias: string) => `/_matrix/client/v1/room_summary/${enc(idOrAlias)}`;

async function summary(idOrAlias: string, token?: string) {
  return callJson<Record<string, unknown>>(summaryPath(idOrAlias), token ? { token } : {});
}

describe("GET /_matrix/client/v1/room_summary/{roomIdOrAlias}", () => {
  it("summarises a public room for anyone, by id or alias, with membership for signed-in users", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const name = `sum${Date.now().toString(36)}`;
    const roomId = await createRoom(alice.accessToken, {
      preset: "public_chat",
      name: "Summary room",
      topic: "Things",
      room_alias_name: name,
      room_version: "11",
      initial_state: [{ type: "m.room.encryption", content: { algorithm: "m.megolm.v1.aes-sha2" } }],
    });
    await mustPutState(alice.accessToken, roomId, "m.room.avatar", { url: "mxc://localhost/pic" });
    const forBob = await summary(roomId, bob.accessToken);
    expect(forBob.status).toBe(200);
    expect(forBob.body).toEqual({
      room_id: roomId,
      name: "Summary room",
      topic: "Things",
      canonical_alias: `#${name}:${SERVER}`,
      num_joined_members: 1,
      avatar_url: "mxc://localhost/pic",
      world_readable: false,
      guest_can_join: false,
      join_rule: "public",
      room_version: "11",
      encryption: "m.megolm.v1.aes-sha2",
      membership: "leave",
    });
    expect((await summary(roomId, alice.accessToken)).body.membership).toBe("join");
    const anon = await summary(`#${name}:${SERVER}`);
    expect(anon.status).toBe(200);
    expect(anon.body.room_id).toBe(roomId);
    expect(anon.body).not.toHaveProperty("membership");
    // The unstable MSC3266 paths Synapse serves.
    expect((await callJson(`/_matrix/client/unstable/im.nheko.summary/summary/${enc(roomId)}`)).body.room_id).toBe(roomId);
    expect((await callJson(`/_matrix/client/unstable/im.nheko.summary/rooms/${enc(roomId)}/summary`)).body.room_id).toBe(roomId);
    // A banned user still sees a public room, with their membership.
    await mustJoin(bob.accessToken, roomId);
    expect((await callJson(`/_matrix/client/v3/rooms/${enc(roomId)}/ban`, { method: "POST", token: alice.accessToken, json: { user_id: bob.userId } })).status).toBe(200);
    expect((await summary(roomId, bob.accessToken)).body.membership).toBe("ban");
  });

  it("private rooms: members and invitees only; everyone else gets 404, as for a room that does not exist", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const carol = await registerUser();
    const roomId = await createRoom(alice.accessToken, { preset: "private_chat", name: "Secret" });
    await invite(alice.accessToken, roomId, bob.userId);
    const forBob = await summary(roomId, bob.accessToken);
    expect(forBob.status).toBe(200);
    expect(forBob.body).toMatchObject({ name: "Secret", membership: "invite", join_rule: "invite", guest_can_join: true });
    const forCarol = await summary(roomId, carol.accessToken);
    expect(forCarol.status).toBe(404);
    expect(forCarol.body.errcode).toBe("M_NOT_FOUND");
    expect((await summary(roomId)).status).toBe(404);
    const unknown = await summary(`!nope:${SERVER}`, carol.accessToken);
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toBe(forCarol.body.error);
    // Once history is world-readable, anyone may preview it.
    await mustPutState(alice.accessToken, roomId, "m.room.history_visibility", { history_visibility: "world_readable" });
    expect((await summary(roomId)).body).toMatchObject({ world_readable: true, name: "Secret" });
  });

  it("knockable rooms are visible where the room version has knocking", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const knock = await createRoom(alice.accessToken, { preset: "private_chat", room_version: "7", initial_state: [{ type: "m.room.join_rules", content: { join_rule: "knock" } }] });
    expect((await summary(knock, bob.accessToken)).body).toMatchObject({ join_rule: "knock", room_version: "7", membership: "leave" });
    expect((await summary(knock)).status).toBe(200);
    const old = await createRoom(alice.accessToken, { preset: "private_chat", room_version: "6", initial_state: [{ type: "m.room.join_rules", content: { join_rule: "knock" } }] });
    expect((await summary(old, bob.accessToken)).status).toBe(404);
    const kr = await createRoom(alice.accessToken, {
      preset: "private_chat",
      room_version: "10",
      initial_state: [{ type: "m.room.join_rules", content: { join_rule: "knock_restricted", allow: [] } }],
    });
    expect((await summary(kr)).status).toBe(200);
  });

  it("restricted rooms: visible, with allowed_room_ids, to members of an allowed room", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const carol = await registerUser();
    const space = await createRoom(alice.accessToken, { preset: "public_chat", creation_content: { type: "m.space" } });
    await mustJoin(bob.accessToken, space);
    const restricted = await createRoom(alice.accessToken, {
      preset: "private_chat",
      initial_state: [{ type: "m.room.join_rules", content: { join_rule: "restricted", allow: [{ type: "m.room_membership", room_id: space }] } }],
    });
    const forBob = await summary(restricted, bob.accessToken);
    expect(forBob.status).toBe(200);
    expect(forBob.body).toMatchObject({ join_rule: "restricted", allowed_room_ids: [space], membership: "leave" });
    expect((await summary(restricted, carol.accessToken)).status).toBe(404);
    expect((await summary(restricted)).status).toBe(404);
    expect((await summary(space)).body).toMatchObject({ room_type: "m.space" });
  });

  it("errors: unknown aliases are 404, malformed identifiers 400, bad tokens 401", async () => {
    expect((await summary(`#missing${Date.now()}:${SERVER}`)).status).toBe(404);
    expect((await summary("#elsewhere:remote.example")).status).toBe(404);
    const bad = await summary("not-a-room");
    expect(bad.status).toBe(400);
    expect(bad.body.errcode).toBe("M_INVALID_PARAM");
    expect((await callJson(summaryPath(`!nope:${SERVER}`), { token: "bogus" })).status).toBe(401);
  });

  it("guests may ask", async () => {
    const alice = await registerUser();
    const roomId = await createRoom(alice.accessToken, { preset: "public_chat" });
    const guest = await callJson<{ access_token: string }>("/_matrix/client/v3/register?kind=guest", { method: "POST", json: {} });
    expect(guest.status).toBe(200);
    expect((await summary(roomId, guest.body.access_token)).body).toMatchObject({ room_id: roomId, membership: "leave" });
  });
});
