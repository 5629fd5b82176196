import { env as workerEnv } from "cloudflare:workers";
import type { Env } from "../../services/env.js";
import { describe, expect, it } from "vitest";
import { callJson, registerUser } from "./helpers.js";

const env = workerEnv as unknown as Env;

async function createRoom(token: string, body: Record<string, unknown> = {}) {
  const r = await callJson<{ room_id: string }>("/_matrix/client/v3/createRoom", { method: "POST", token, json: body });
  if (r.status !== 200) throw new Error(`createRoom ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.room_id;
}

describe("createRoom and sending", () => {
  it("creates a v12 room whose id is the create event's hash, and publishes its events to D1", async () => {
    const alice = await registerUser();
    const roomId = await createRoom(alice.accessToken, { name: "Test", topic: "Hello", room_alias_name: "test-room", visibility: "public" });
    expect(roomId).toMatch(/^![A-Za-z0-9_-]{43}$/);
    const { results } = await env.DB.prepare("SELECT type, state_key, sender FROM room_events WHERE room_id = ? ORDER BY stream_pos").bind(roomId).all();
    expect(results.map((r) => r.type)).toEqual([
      "m.room.create",
      "m.room.member",
      "m.room.power_levels",
      "m.room.canonical_alias",
      "m.room.join_rules",
      "m.room.history_visibility",
      "m.room.name",
      "m.room.topic",
    ]);
    const room = await env.DB.prepare("SELECT * FROM rooms WHERE room_id = ?").bind(roomId).first();
    expect(room).toMatchObject({ room_version: "12", name: "Test", topic: "Hello", join_rule: "public", joined_members: 1, canonical_alias: "#test-room:localhost:8008" });
    const create = await env.DB.prepare("SELECT json FROM room_events WHERE room_id = ? AND type = 'm.room.create'").bind(roomId).first<{ json: string }>();
    expect(`!${JSON.parse(create!.json).event_id.slice(1)}`).toBe(roomId);
  });

  it("creates rooms of every version", async () => {
    const alice = await registerUser();
    for (const v of ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12"]) {
      const roomId = await createRoom(alice.accessToken, { room_version: v, preset: "private_chat" });
      const send = await callJson<{ event_id: string }>(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t${v}`, {
        method: "PUT",
        token: alice.accessToken,
        json: { msgtype: "m.text", body: `hi ${v}` },
      });
      expect(send.status, `v${v}`).toBe(200);
      if (v === "1" || v === "2") expect(send.body.event_id).toMatch(/^\$[A-Za-z0-9]+:localhost:8008$/);
      else if (v === "3") expect(send.body.event_id).toMatch(/^\$[A-Za-z0-9+/]{43}$/);
      else expect(send.body.event_id).toMatch(/^\$[A-Za-z0-9_-]{43}$/);
    }
    expect((await callJson("/_matrix/client/v3/createRoom", { method: "POST", token: alice.accessToken, json: { room_version: "99" } })).body.errcode).toBe(
      "M_UNSUPPORTED_ROOM_VERSION",
    );
  });

  it("is idempotent per transaction id and refuses non-members", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice.accessToken);
    const path = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/txn1`;
    const a = await callJson(path, { method: "PUT", token: alice.accessToken, json: { msgtype: "m.text", body: "one" } });
    const b = await callJson(path, { method: "PUT", token: alice.accessToken, json: { msgtype: "m.text", body: "one" } });
    expect(a.body.event_id).toBe(b.body.event_id);
    const denied = await callJson(path, { method: "PUT", token: bob.accessToken, json: { msgtype: "m.text", body: "x" } });
    expect(denied.status).toBe(403);
    expect(denied.body.errcode).toBe("M_FORBIDDEN");
    const unknown = await callJson("/_matrix/client/v3/rooms/!nope:localhost:8008/send/m.room.message/1", { method: "PUT", token: bob.accessToken, json: {} });
    expect(unknown.status).toBe(403);
    const bad = await callJson("/_matrix/client/v3/rooms/notaroom/send/m.room.message/1", { method: "PUT", token: bob.accessToken, json: {} });
    expect(bad.status).toBe(400);
  });

  it("10 concurrent sends with one txnId from one device make one event, and all 10 answer with it", async () => {
    // client-server-api "Transaction identifiers": a retransmission gets the original response.
    const alice = await registerUser();
    const roomId = await createRoom(alice.accessToken);
    const path = `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/same-txn`;
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => callJson<{ event_id: string }>(path, { method: "PUT", token: alice.accessToken, json: { msgtype: "m.text", body: "once" } })),
    );
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    const ids = new Set(answers.map((a) => a.body.event_id));
    expect(ids.size).toBe(1);
    const [eventId] = ids;
    expect(eventId).toMatch(/^\$/);
    const messages = await callJson<{ chunk: Array<{ type: string; event_id: string; content: Record<string, unknown> }> }>(
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?dir=b&limit=100`,
      { token: alice.accessToken },
    );
    expect(messages.status).toBe(200);
    expect(messages.body.chunk.filter((e) => e.type === "m.room.message").map((e) => [e.event_id, e.content.body])).toEqual([[eventId, "once"]]);
  });

  it("membership: invite, join, kick, ban, unban, leave, with power checks", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const carol = await registerUser();
    const roomId = await createRoom(alice.accessToken, { preset: "private_chat" });
    const r = (p: string) => `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/${p}`;
    // Not invited: cannot join an invite-only room.
    expect((await callJson(r("join"), { method: "POST", token: bob.accessToken, json: {} })).status).toBe(403);
    expect((await callJson(r("invite"), { method: "POST", token: alice.accessToken, json: { user_id: bob.userId } })).status).toBe(200);
    expect((await callJson(r("join"), { method: "POST", token: bob.accessToken, json: {} })).body.room_id).toBe(roomId);
    // Bob (power 0) cannot kick or ban.
    expect((await callJson(r("ban"), { method: "POST", token: bob.accessToken, json: { user_id: alice.userId } })).status).toBe(403);
    expect((await callJson(r("kick"), { method: "POST", token: alice.accessToken, json: { user_id: bob.userId, reason: "bye" } })).status).toBe(200);
    expect((await callJson(r("ban"), { method: "POST", token: alice.accessToken, json: { user_id: bob.userId } })).status).toBe(200);
    const m = await env.DB.prepare("SELECT membership FROM room_memberships WHERE room_id = ? AND user_id = ?").bind(roomId, bob.userId).first();
    expect(m).toEqual({ membership: "ban" });
    expect((await callJson(r("unban"), { method: "POST", token: alice.accessToken, json: { user_id: carol.userId } })).status).toBe(403);
    expect((await callJson(r("unban"), { method: "POST", token: alice.accessToken, json: { user_id: bob.userId } })).status).toBe(200);
    expect((await callJson(r("leave"), { method: "POST", token: alice.accessToken, json: {} })).status).toBe(200);
    expect((await callJson(r("forget"), { method: "POST", token: alice.accessToken, json: {} })).status).toBe(200);
  });

  it("membership: a target that is not a user id is 400 M_INVALID_PARAM before anything else; the 3PID form of /invite is not offered", async () => {
    const alice = await registerUser();
    const roomId = await createRoom(alice.accessToken, { preset: "private_chat" });
    const r = (p: string) => `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/${p}`;
    // Checked before federation (invite), current membership (kick, unban) and power.
    for (const userId of ["not-a-user-id", "@nobody", "@bad:exa mple.org", "@a:b:c:d", "bob:localhost:8008"]) {
      for (const action of ["invite", "kick", "ban", "unban"]) {
        const res = await callJson(r(action), { method: "POST", token: alice.accessToken, json: { user_id: userId } });
        expect([action, userId, res.status, res.body.errcode]).toEqual([action, userId, 400, "M_INVALID_PARAM"]);
      }
    }
    // A non-string user_id is a malformed body (inviting.yaml: M_BAD_JSON); an absent one a missing
    // parameter (spec "Standard error response": M_MISSING_PARAM, as Synapse's assert_params_in_dict).
    expect((await callJson(r("invite"), { method: "POST", token: alice.accessToken, json: { user_id: 5 } })).body.errcode).toBe("M_BAD_JSON");
    expect((await callJson(r("invite"), { method: "POST", token: alice.accessToken, json: {} })).body.errcode).toBe("M_MISSING_PARAM");
    // third_party_membership.yaml needs an identity server: refused as createRoom refuses invite_3pid.
    const threePid = { id_server: "id.example.org", id_access_token: "abc", medium: "email", address: "cheeky@monkey.com" };
    for (const body of [threePid, { ...threePid, id_access_token: undefined }]) {
      const res = await callJson(r("invite"), { method: "POST", token: alice.accessToken, json: body });
      expect([res.status, res.body.errcode]).toEqual([400, "M_UNRECOGNIZED"]);
    }
  });

  it("state: power levels gate state events; redaction by sender or moderator", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice.accessToken, { preset: "public_chat" });
    const r = (p: string) => `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/${p}`;
    expect((await callJson(r("join"), { method: "POST", token: bob.accessToken, json: {} })).status).toBe(200);
    expect((await callJson(r("state/m.room.name"), { method: "PUT", token: bob.accessToken, json: { name: "Bob's" } })).status).toBe(403);
    expect((await callJson(r("state/m.room.name/"), { method: "PUT", token: alice.accessToken, json: { name: "Alice's" } })).status).toBe(200);
    const msg = await callJson<{ event_id: string }>(r("send/m.room.message/1"), { method: "PUT", token: bob.accessToken, json: { msgtype: "m.text", body: "secret" } });
    const red = await callJson(r(`redact/${encodeURIComponent(msg.body.event_id)}/r1`), { method: "PUT", token: alice.accessToken, json: { reason: "spam" } });
    expect(red.status).toBe(200);
    const row = await env.DB.prepare("SELECT json, redacted_by FROM room_events WHERE event_id = ?").bind(msg.body.event_id).first<{ json: string; redacted_by: string }>();
    expect(row!.redacted_by).toBe(red.body.event_id);
    const ev = JSON.parse(row!.json);
    expect(ev.content).toEqual({});
    expect(ev.unsigned.redacted_because.event_id).toBe(red.body.event_id);
    const aliceMsg = await callJson<{ event_id: string }>(r("send/m.room.message/2"), { method: "PUT", token: alice.accessToken, json: { msgtype: "m.text", body: "mine" } });
    expect((await callJson(r(`redact/${encodeURIComponent(aliceMsg.body.event_id)}/r2`), { method: "PUT", token: bob.accessToken, json: {} })).status).toBe(403);
  });

  it("historical state and prev_content stay right past 50 state changes in a row (a full state snapshot)", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice.accessToken, { preset: "public_chat" });
    const r = (p: string) => `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/${p}`;
    expect((await callJson(r("join"), { method: "POST", token: bob.accessToken, json: {} })).status).toBe(200);
    // 60 state events over 20 keys: each key is overwritten before and after the snapshot.
    for (let i = 0; i < 60; i++) {
      const put = await callJson(r(`state/org.example.counter/k${i % 20}`), { method: "PUT", token: alice.accessToken, json: { n: i } });
      expect(put.status).toBe(200);
    }
    // prev_content is the state before each event: the key's previous value, across the snapshot.
    const filter = encodeURIComponent(JSON.stringify({ types: ["org.example.counter"] }));
    const msgs = await callJson<{ chunk: { content: { n: number }; unsigned?: { prev_content?: { n: number } } }[] }>(r(`messages?dir=b&limit=100&filter=${filter}`), { token: alice.accessToken });
    expect(msgs.status).toBe(200);
    expect(msgs.body.chunk.map((e) => [e.content.n, e.unsigned?.prev_content?.n])).toEqual(
      Array.from({ length: 60 }, (_, k) => 59 - k).map((n) => [n, n >= 20 ? n - 20 : undefined]),
    );
    // Bob leaves; what he sees afterwards is the state at his leave, snapshot and later changes together.
    expect((await callJson(r("leave"), { method: "POST", token: bob.accessToken, json: {} })).status).toBe(200);
    expect((await callJson(r("state/org.example.counter/k0"), { method: "PUT", token: alice.accessToken, json: { n: 99 } })).status).toBe(200);
    const counters = async (token: string) => {
      const state = await callJson<{ type: string; state_key: string; content: { n?: number } }[]>(r("state"), { token });
      expect(state.status).toBe(200);
      return Object.fromEntries(state.body.filter((e) => e.type === "org.example.counter").map((e) => [e.state_key, e.content.n]));
    };
    const atLeave = Object.fromEntries(Array.from({ length: 20 }, (_, k) => [`k${k}`, 40 + k]));
    expect(await counters(bob.accessToken)).toEqual(atLeave);
    expect(await counters(alice.accessToken)).toEqual({ ...atLeave, k0: 99 });
  });
});

describe("createRoom presets and power levels", () => {
  const state = async (token: string, roomId: string, type: string) => {
    const r = await callJson<Record<string, unknown>>(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/state/${type}/`, { token });
    expect(r.status, type).toBe(200);
    return r.body;
  };

  it("trusted_private_chat gives every invitee the creator's power level 100 (v1-v11); private_chat does not", async () => {
    // create_room.yaml preset table: "All invitees are given the same power level as the room creator."
    const [alice, bob, carol] = [await registerUser(), await registerUser(), await registerUser()];
    for (const v of ["1", "6", "10", "11"]) {
      const trusted = await createRoom(alice.accessToken, { room_version: v, preset: "trusted_private_chat", invite: [bob.userId, carol.userId] });
      const pl = await state(alice.accessToken, trusted, "m.room.power_levels");
      expect(pl.users, `v${v}`).toEqual({ [alice.userId]: 100, [bob.userId]: 100, [carol.userId]: 100 });
      expect(pl.invite, `v${v}`).toBe(0);

      const priv = await createRoom(alice.accessToken, { room_version: v, preset: "private_chat", invite: [bob.userId, carol.userId] });
      expect((await state(alice.accessToken, priv, "m.room.power_levels")).users, `v${v}`).toEqual({ [alice.userId]: 100 });
    }
    // power_level_content_override is applied on top of the preset's levels (shallowly, as Synapse does).
    const overridden = await createRoom(alice.accessToken, {
      room_version: "11",
      preset: "trusted_private_chat",
      invite: [bob.userId],
      power_level_content_override: { users: { [alice.userId]: 100, [bob.userId]: 50 } },
    });
    expect((await state(alice.accessToken, overridden, "m.room.power_levels")).users).toEqual({ [alice.userId]: 100, [bob.userId]: 50 });
    // The invitee's power is real: once joined, Bob may change the power levels (needs 100).
    const room = await createRoom(alice.accessToken, { room_version: "11", preset: "trusted_private_chat", invite: [bob.userId] });
    const r = (p: string) => `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/${p}`;
    expect((await callJson(r("join"), { method: "POST", token: bob.accessToken, json: {} })).status).toBe(200);
    const pl = await state(bob.accessToken, room, "m.room.power_levels");
    expect((await callJson(r("state/m.room.power_levels/"), { method: "PUT", token: bob.accessToken, json: { ...pl, ban: 100 } })).status).toBe(200);
  });

  it("v12: trusted_private_chat makes the invitees additional creators (infinite power), not entries in users", async () => {
    // create_room.yaml (v1.16): invitees are merged into additional_creators, deduplicated;
    // rooms/v12 auth rule 10.4 forbids listing creators in `users`.
    const [alice, bob, carol, dave] = [await registerUser(), await registerUser(), await registerUser(), await registerUser()];
    const trusted = await createRoom(alice.accessToken, {
      preset: "trusted_private_chat",
      invite: [bob.userId, carol.userId],
      creation_content: { additional_creators: [carol.userId, dave.userId] },
    });
    const create = await state(alice.accessToken, trusted, "m.room.create");
    expect(create.room_version).toBe("12");
    expect([...(create.additional_creators as string[])].sort()).toEqual([bob.userId, carol.userId, dave.userId].sort());
    expect((await state(alice.accessToken, trusted, "m.room.power_levels")).users).toEqual({});

    const priv = await createRoom(alice.accessToken, { preset: "private_chat", invite: [bob.userId] });
    expect((await state(alice.accessToken, priv, "m.room.create")).additional_creators).toBeUndefined();

    // As creators, the invitees outrank everyone: Bob may change the power levels once joined, but not in the private_chat room.
    for (const [room, expected] of [
      [trusted, 200],
      [priv, 403],
    ] as const) {
      const r = (p: string) => `/_matrix/client/v3/rooms/${encodeURIComponent(room)}/${p}`;
      expect((await callJson(r("join"), { method: "POST", token: bob.accessToken, json: {} })).status).toBe(200);
      const pl = await state(bob.accessToken, room, "m.room.power_levels");
      expect((await callJson(r("state/m.room.power_levels/"), { method: "PUT", token: bob.accessToken, json: { ...pl, ban: 100 } })).status).toBe(expected);
    }
  });
});

describe("guest access", () => {
  it("guests join only rooms with guest_access can_join", async () => {
    const alice = await registerUser();
    const guest = await callJson<{ access_token: string }>("/_matrix/client/v3/register?kind=guest", { method: "POST", json: {} });
    const open = await createRoom(alice.accessToken, { preset: "public_chat" });
    const r1 = await callJson(`/_matrix/client/v3/join/${encodeURIComponent(open)}`, { method: "POST", token: guest.body.access_token, json: {} });
    expect(r1.status).toBe(403);
    const withGuests = await createRoom(alice.accessToken, { preset: "public_chat", initial_state: [{ type: "m.room.guest_access", content: { guest_access: "can_join" } }] });
    const r2 = await callJson(`/_matrix/client/v3/join/${encodeURIComponent(withGuests)}`, { method: "POST", token: guest.body.access_token, json: {} });
    expect(r2.status).toBe(200);
  });
});

describe("restricted and knock joins", () => {
  it("restricted rooms admit members of an allowed room, authorised by a local member", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const carol = await registerUser();
    const space = await createRoom(alice.accessToken, { preset: "public_chat" });
    const restricted = await createRoom(alice.accessToken, {
      preset: "private_chat",
      initial_state: [{ type: "m.room.join_rules", content: { join_rule: "restricted", allow: [{ type: "m.room_membership", room_id: space }] } }],
    });
    expect((await callJson(`/_matrix/client/v3/join/${encodeURIComponent(space)}`, { method: "POST", token: bob.accessToken, json: {} })).status).toBe(200);
    const ok = await callJson(`/_matrix/client/v3/join/${encodeURIComponent(restricted)}`, { method: "POST", token: bob.accessToken, json: {} });
    expect(ok.status).toBe(200);
    const member = await env.DB.prepare("SELECT json FROM room_events WHERE room_id = ? AND type = 'm.room.member' AND state_key = ?").bind(restricted, bob.userId).first<{ json: string }>();
    expect(JSON.parse(member!.json).content.join_authorised_via_users_server).toBe(alice.userId);
    const denied = await callJson(`/_matrix/client/v3/join/${encodeURIComponent(restricted)}`, { method: "POST", token: carol.accessToken, json: {} });
    expect(denied.status).toBe(403);
    expect(denied.body.errcode).toBe("M_FORBIDDEN");
  });

  it("knocking needs a knock join rule; the knocker can then be invited", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const invite = await createRoom(alice.accessToken, { preset: "private_chat" });
    expect((await callJson(`/_matrix/client/v3/knock/${encodeURIComponent(invite)}`, { method: "POST", token: bob.accessToken, json: { reason: "let me in" } })).status).toBe(403);
    const knock = await createRoom(alice.accessToken, { preset: "private_chat", initial_state: [{ type: "m.room.join_rules", content: { join_rule: "knock" } }] });
    const k = await callJson(`/_matrix/client/v3/knock/${encodeURIComponent(knock)}`, { method: "POST", token: bob.accessToken, json: { reason: "let me in" } });
    expect(k.status).toBe(200);
    expect(k.body.room_id).toBe(knock);
    expect((await callJson(`/_matrix/client/v3/rooms/${encodeURIComponent(knock)}/invite`, { method: "POST", token: alice.accessToken, json: { user_id: bob.userId } })).status).toBe(200);
    expect((await callJson(`/_matrix/client/v3/join/${encodeURIComponent(knock)}`, { method: "POST", token: bob.accessToken, json: {} })).status).toBe(200);
  });

  it("joins by alias and answers unknown aliases and rooms with 404", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice.accessToken, { preset: "public_chat", room_alias_name: "by-alias" });
    const r = await callJson(`/_matrix/client/v3/join/${encodeURIComponent("#by-alias:localhost:8008")}`, { method: "POST", token: bob.accessToken, json: {} });
    expect(r.body.room_id).toBe(roomId);
    expect((await callJson(`/_matrix/client/v3/join/${encodeURIComponent("#nope:localhost:8008")}`, { method: "POST", token: bob.accessToken, json: {} })).status).toBe(404);
    expect((await callJson(`/_matrix/client/v3/join/${encodeURIComponent("!nope:localhost:8008")}`, { method: "POST", token: bob.accessToken, json: {} })).status).toBe(404);
    const taken = await callJson("/_matrix/client/v3/createRoom", { method: "POST", token: bob.accessToken, json: { room_alias_name: "by-alias" } });
    expect(taken.body.errcode).toBe("M_ROOM_IN_USE");
  });
});
