import { describe, expect, it } from "vitest";
import { SERVER, type TestUser, callJson, createRoom, enc, invite, mustJoin, mustPutState, registerUser } from "./directory-helpers.js";

interface HRoom {
  room_id: string;
  room_type?: string;
  name?: string;
  join_rule?: string;
  num_joined_members: number;
  room_version?: string;
  allowed_room_ids?: string[];
  children_state: Array<{ type: string; state_key: string; content: Record<string, unknown>; sender: string; origin_server_ts: number }>;
}
interface HPage {
  rooms: HRoom[];
  next_batch?: string;
  errcode?: string;
}

const hierarchy = (roomId: string, token: string, query = "") =>
  callJson<HPage>(`/_matrix/client/v1/rooms/${enc(roomId)}/hierarchy${query ? `?${query}` : ""}`, { token });

async function addChild(token: string, space: string, child: string, extra: Record<string, unknown> = {}) {
  await mustPutState(token, space, "m.space.child", { via: [SERVER], ...extra }, child);
}

async function space(token: string, name: string, preset = "public_chat") {
  return createRoom(token, { preset, name, creation_content: { type: "m.space" } });
}

/**
 * root (public space)
 *   a: public room                        order "a"
 *   s: public space                       order "b", suggested
 *     b: public room                      order "a", suggested
 *     (root again: a loop)                order "b"
 *   p: invite-only room, not for bob      order "c"
 *   h: invite-only space, not for bob     order "d"
 *     d: public room (only reachable through h)
 *   c: invite-only room bob is invited to order "e", suggested
 *   (unknown room)                        order "f"
 *   (removed child: empty content)
 */
async function tree(alice: TestUser, bob: TestUser) {
  const root = await space(alice.accessToken, "Root");
  const a = await createRoom(alice.accessToken, { preset: "public_chat", name: "A" });
  const s = await space(alice.accessToken, "Sub");
  const b = await createRoom(alice.accessToken, { preset: "public_chat", name: "B" });
  const p = await createRoom(alice.accessToken, { preset: "private_chat", name: "P" });
  const h = await space(alice.accessToken, "Hidden", "private_chat");
  const d = await createRoom(alice.accessToken, { preset: "public_chat", name: "D" });
  const c = await createRoom(alice.accessToken, { preset: "private_chat", name: "C" });
  const gone = await createRoom(alice.accessToken, { preset: "public_chat", name: "Gone" });
  await invite(alice.accessToken, c, bob.userId);
  await addChild(alice.accessToken, root, a, { order: "a" });
  await addChild(alice.accessToken, root, s, { order: "b", suggested: true });
  await addChild(alice.accessToken, root, p, { order: "c" });
  await addChild(alice.accessToken, root, h, { order: "d" });
  await addChild(alice.accessToken, root, c, { order: "e", suggested: true });
  await addChild(alice.accessToken, root, `!unknown${Date.now()}:${SERVER}`, { order: "f" });
  await mustPutState(alice.accessToken, root, "m.space.child", {}, gone);
  await addChild(alice.accessToken, s, b, { order: "a", suggested: true });
  await addChild(alice.accessToken, s, root, { order: "b" });
  await addChild(alice.accessToken, h, d);
  return { root, a, s, b, p, h, d, c, gone };
}

describe("GET /_matrix/client/v1/rooms/{roomId}/hierarchy", () => {
  it("walks the space depth first, showing only rooms the user may see, each once", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const t = await tree(alice, bob);
    const res = await hierarchy(t.root, bob.accessToken);
    expect(res.status).toBe(200);
    expect(res.body.rooms.map((r) => r.room_id)).toEqual([t.root, t.a, t.s, t.b, t.c]);
    expect(res.body.next_batch).toBeUndefined();
    const root = res.body.rooms[0]!;
    expect(root).toMatchObject({ room_id: t.root, room_type: "m.space", name: "Root", join_rule: "public", num_joined_members: 1, room_version: "12" });
    // children_state: every valid child in order (visible or not), as stripped state with origin_server_ts; not the removed one.
    expect(root.children_state.map((e) => e.state_key)).toEqual([t.a, t.s, t.p, t.h, t.c, expect.stringMatching(/^!unknown/)]);
    expect(root.children_state[0]).toEqual({
      type: "m.space.child",
      state_key: t.a,
      content: { via: [SERVER], order: "a" },
      sender: alice.userId,
      origin_server_ts: expect.any(Number),
    });
    expect(res.body.rooms.find((r) => r.room_id === t.a)!.children_state).toEqual([]);
    // Alice sees everything she is in, including the hidden space and its child.
    const forAlice = await hierarchy(t.root, alice.accessToken);
    expect(forAlice.body.rooms.map((r) => r.room_id)).toEqual([t.root, t.a, t.s, t.b, t.p, t.h, t.d, t.c]);
  });

  it("max_depth and suggested_only", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const t = await tree(alice, bob);
    expect((await hierarchy(t.root, bob.accessToken, "max_depth=0")).body.rooms.map((r) => r.room_id)).toEqual([t.root]);
    expect((await hierarchy(t.root, bob.accessToken, "max_depth=1")).body.rooms.map((r) => r.room_id)).toEqual([t.root, t.a, t.s, t.c]);
    const suggested = await hierarchy(t.root, bob.accessToken, "suggested_only=true");
    expect(suggested.body.rooms.map((r) => r.room_id)).toEqual([t.root, t.s, t.b, t.c]);
    expect(suggested.body.rooms[0]!.children_state.map((e) => e.state_key)).toEqual([t.s, t.c]);
    // A sub-space can be the starting point.
    expect((await hierarchy(t.s, bob.accessToken)).body.rooms.map((r) => r.room_id)).toEqual([t.s, t.b, t.root, t.a, t.c]);
  });

  it("paginates with limit and next_batch; the token keeps suggested_only and max_depth", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const t = await tree(alice, bob);
    const seen: string[] = [];
    let from: string | undefined;
    let pages = 0;
    for (;;) {
      const r = await hierarchy(t.root, bob.accessToken, `limit=2${from ? `&from=${enc(from)}` : ""}`);
      expect(r.status).toBe(200);
      expect(r.body.rooms.length).toBeLessThanOrEqual(2);
      seen.push(...r.body.rooms.map((x) => x.room_id));
      pages++;
      if (!r.body.next_batch) break;
      from = r.body.next_batch;
    }
    expect(seen).toEqual([t.root, t.a, t.s, t.b, t.c]);
    expect(pages).toBe(3);
    const first = await hierarchy(t.root, bob.accessToken, "limit=1");
    const token = enc(first.body.next_batch!);
    for (const q of [`from=${token}&max_depth=1`, `from=${token}&suggested_only=true`, "from=nonsense"]) {
      const r = await hierarchy(t.root, bob.accessToken, q);
      expect(r.status, q).toBe(400);
      expect(r.body.errcode, q).toBe("M_INVALID_PARAM");
    }
    // Another user, or another root, cannot use the token.
    expect((await hierarchy(t.root, alice.accessToken, `from=${token}`)).status).toBe(400);
    expect((await hierarchy(t.s, bob.accessToken, `from=${token}`)).status).toBe(400);
    expect((await hierarchy(t.root, bob.accessToken, `from=${token}`)).body.rooms.map((r) => r.room_id)).toEqual([t.a, t.s, t.b, t.c]);
  });

  it("restricted children are shown to members of an allowed room", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const root = await space(alice.accessToken, "Root");
    await mustJoin(bob.accessToken, root);
    const restricted = await createRoom(alice.accessToken, {
      preset: "private_chat",
      initial_state: [{ type: "m.room.join_rules", content: { join_rule: "restricted", allow: [{ type: "m.room_membership", room_id: root }] } }],
    });
    await addChild(alice.accessToken, root, restricted);
    const r = await hierarchy(root, bob.accessToken);
    expect(r.body.rooms.map((x) => x.room_id)).toEqual([root, restricted]);
    expect(r.body.rooms[1]).toMatchObject({ join_rule: "restricted", allowed_room_ids: [root] });
    await callJson(`/_matrix/client/v3/rooms/${enc(root)}/leave`, { method: "POST", token: bob.accessToken, json: {} });
    expect((await hierarchy(root, bob.accessToken)).body.rooms.map((x) => x.room_id)).toEqual([root]);
  });

  it("errors: invisible or unknown root 403, bad parameters 400, no token 401", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const hidden = await space(alice.accessToken, "Hidden", "private_chat");
    const denied = await hierarchy(hidden, bob.accessToken);
    expect(denied.status).toBe(403);
    expect(denied.body.errcode).toBe("M_FORBIDDEN");
    expect((await hierarchy(`!nope:${SERVER}`, bob.accessToken)).status).toBe(403);
    expect((await hierarchy("nope", bob.accessToken)).body.errcode).toBe("M_INVALID_PARAM");
    for (const q of ["limit=0", "limit=abc", "max_depth=-1", "suggested_only=maybe"]) {
      const r = await hierarchy(hidden, alice.accessToken, q);
      expect(r.status, q).toBe(400);
      expect(r.body.errcode, q).toBe("M_INVALID_PARAM");
    }
    expect((await callJson(`/_matrix/client/v1/rooms/${enc(hidden)}/hierarchy`)).status).toBe(401);
    // A room that is not a space is its own hierarchy.
    const plain = await createRoom(alice.accessToken, { preset: "public_chat" });
    expect((await hierarchy(plain, bob.accessToken)).body.rooms).toEqual([expect.objectContaining({ room_id: plain, children_state: [] })]);
  });
});
