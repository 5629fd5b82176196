import { env as workerEnv } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../services/env.js";
import { SERVER, callJson, createRoom, enc, mustJoin, mustPutState, putState, registerAdmin, registerUser } from "./directory-helpers.js";

const env = workerEnv as unknown as Env;
const aliasPath = (alias: string) => `/_matrix/client/v3/directory/room/${enc(alias)}`;
let n = 0;
const fresh = (p = "a") => `#${p}${Date.now().toString(36)}${n++}:${SERVER}`;

async function canonicalContent(roomId: string) {
  const row = await env.DB.prepare(
    "SELECT e.json FROM room_state s JOIN room_events e ON e.event_id = s.event_id WHERE s.room_id = ? AND s.type = 'm.room.canonical_alias' AND s.state_key = ''",
  )
    .bind(roomId)
    .first<{ json: string }>();
  return row ? (JSON.parse(row.json) as { content: Record<string, unknown> }).content : undefined;
}

describe("PUT/GET /directory/room/{roomAlias}", () => {
  it("maps a local alias for a member, resolves it without auth, and refuses a second mapping with 409", async () => {
    const alice = await registerUser();
    const roomId = await createRoom(alice.accessToken);
    const alias = fresh();
    const put = await callJson(aliasPath(alias), { method: "PUT", token: alice.accessToken, json: { room_id: roomId } });
    expect(put.status).toBe(200);
    expect(put.body).toEqual({});
    const get = await callJson(aliasPath(alias));
    expect(get.status).toBe(200);
    expect(get.body).toEqual({ room_id: roomId, servers: [SERVER] });
    const again = await callJson(aliasPath(alias), { method: "PUT", token: alice.accessToken, json: { room_id: roomId } });
    expect(again.status).toBe(409);
    expect(again.body.errcode).toBe("M_UNKNOWN");
    // r0 works too, as for every client-server endpoint here.
    expect((await callJson(`/_matrix/client/r0/directory/room/${enc(alias)}`)).body.room_id).toBe(roomId);
  });

  it("refuses bad aliases, other servers' aliases, bad and unknown rooms, non-members; admins need not be members", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice.accessToken);
    const put = (alias: string, token: string, json: unknown) => callJson(aliasPath(alias), { method: "PUT", token, json });
    for (const bad of ["#nocolon", "notanalias:localhost:8008", "#sp ace:localhost:8008", "#x:other.example", `#${"x".repeat(250)}:${SERVER}`]) {
      const r = await put(bad, alice.accessToken, { room_id: roomId });
      expect(r.status, bad).toBe(400);
      expect(r.body.errcode, bad).toBe("M_INVALID_PARAM");
    }
    // room_id absent: M_MISSING_PARAM (spec "Standard error response"; Synapse's PutBody model answers the same).
    expect((await put(fresh(), alice.accessToken, {})).body.errcode).toBe("M_MISSING_PARAM");
    expect((await put(fresh(), alice.accessToken, { room_id: 5 })).body.errcode).toBe("M_BAD_JSON");
    expect((await put(fresh(), alice.accessToken, { room_id: "nope" })).body.errcode).toBe("M_INVALID_PARAM");
    const unknown = await put(fresh(), alice.accessToken, { room_id: `!unknown:${SERVER}` });
    expect(unknown.status).toBe(400);
    const notMember = await put(fresh(), bob.accessToken, { room_id: roomId });
    expect(notMember.status).toBe(403);
    expect(notMember.body.errcode).toBe("M_FORBIDDEN");
    expect((await callJson(aliasPath(fresh()), { method: "PUT", json: { room_id: roomId } })).status).toBe(401);
    const admin = await registerAdmin();
    expect((await put(fresh(), admin.accessToken, { room_id: roomId })).status).toBe(200);
  });

  it("GET: unknown and remote aliases are 404, malformed ones 400", async () => {
    expect((await callJson(aliasPath(fresh()))).body.errcode).toBe("M_NOT_FOUND");
    expect((await callJson(aliasPath("#room:remote.example"))).status).toBe(404);
    const bad = await callJson(aliasPath("room"));
    expect(bad.status).toBe(400);
    expect(bad.body.errcode).toBe("M_INVALID_PARAM");
  });

  it("createRoom's room_alias_name resolves through the same directory", async () => {
    const alice = await registerUser();
    const name = `cr${Date.now().toString(36)}`;
    const roomId = await createRoom(alice.accessToken, { room_alias_name: name });
    expect((await callJson(aliasPath(`#${name}:${SERVER}`))).body.room_id).toBe(roomId);
  });
});

describe("DELETE /directory/room/{roomAlias}", () => {
  it("the alias's creator, a room moderator or a server admin may delete; others may not", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const carol = await registerUser();
    const roomId = await createRoom(alice.accessToken, { preset: "public_chat", power_level_content_override: { users: { [bob.userId]: 50 } } });
    await mustJoin(bob.accessToken, roomId);
    await mustJoin(carol.accessToken, roomId);
    const byCarol = fresh();
    const byAlice1 = fresh();
    const byAlice2 = fresh();
    for (const [alias, u] of [[byCarol, carol], [byAlice1, alice], [byAlice2, alice]] as const) {
      expect((await callJson(aliasPath(alias), { method: "PUT", token: u.accessToken, json: { room_id: roomId } })).status).toBe(200);
    }
    // Carol (power 0) may not delete Alice's alias…
    const denied = await callJson(aliasPath(byAlice1), { method: "DELETE", token: carol.accessToken });
    expect(denied.status).toBe(403);
    expect(denied.body.errcode).toBe("M_FORBIDDEN");
    // …but may delete her own.
    expect((await callJson(aliasPath(byCarol), { method: "DELETE", token: carol.accessToken })).status).toBe(200);
    // Bob (moderator: 50 ≥ canonical alias level 50) may delete Alice's.
    expect((await callJson(aliasPath(byAlice1), { method: "DELETE", token: bob.accessToken })).status).toBe(200);
    // An admin who is not in the room may too.
    const admin = await registerAdmin();
    expect((await callJson(aliasPath(byAlice2), { method: "DELETE", token: admin.accessToken })).status).toBe(200);
    for (const a of [byCarol, byAlice1, byAlice2]) expect((await callJson(aliasPath(a))).status).toBe(404);
    const gone = await callJson(aliasPath(byAlice2), { method: "DELETE", token: alice.accessToken });
    expect(gone.status).toBe(404);
    expect(gone.body.errcode).toBe("M_NOT_FOUND");
    expect((await callJson(aliasPath("#x:remote.example"), { method: "DELETE", token: alice.accessToken })).body.errcode).toBe("M_INVALID_PARAM");
    expect((await callJson(aliasPath(byAlice2), { method: "DELETE" })).status).toBe(401);
  });

  it("deleting an alias takes it out of the canonical alias event", async () => {
    const alice = await registerUser();
    const name = `canon${Date.now().toString(36)}`;
    const roomId = await createRoom(alice.accessToken, { room_alias_name: name });
    const main = `#${name}:${SERVER}`;
    const alt = fresh("alt");
    expect((await callJson(aliasPath(alt), { method: "PUT", token: alice.accessToken, json: { room_id: roomId } })).status).toBe(200);
    await mustPutState(alice.accessToken, roomId, "m.room.canonical_alias", { alias: main, alt_aliases: [alt] });
    expect((await callJson(aliasPath(alt), { method: "DELETE", token: alice.accessToken })).status).toBe(200);
    expect(await canonicalContent(roomId)).toEqual({ alias: main });
    expect((await callJson(aliasPath(main), { method: "DELETE", token: alice.accessToken })).status).toBe(200);
    expect(await canonicalContent(roomId)).toEqual({});
    const room = await env.DB.prepare("SELECT canonical_alias FROM rooms WHERE room_id = ?").bind(roomId).first();
    expect(room).toEqual({ canonical_alias: null });
  });
});

describe("GET /rooms/{roomId}/aliases", () => {
  it("lists local aliases for members, world-readable rooms and admins; others get 403", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice.accessToken, { preset: "public_chat" });
    const a1 = fresh("x");
    const a2 = fresh("y");
    for (const a of [a1, a2]) expect((await callJson(aliasPath(a), { method: "PUT", token: alice.accessToken, json: { room_id: roomId } })).status).toBe(200);
    const path = `/_matrix/client/v3/rooms/${enc(roomId)}/aliases`;
    const mine = await callJson<{ aliases: string[] }>(path, { token: alice.accessToken });
    expect(mine.status).toBe(200);
    expect(mine.body.aliases.sort()).toEqual([a1, a2].sort());
    const denied = await callJson(path, { token: bob.accessToken });
    expect(denied.status).toBe(403);
    expect(denied.body.errcode).toBe("M_FORBIDDEN");
    const admin = await registerAdmin();
    expect((await callJson(path, { token: admin.accessToken })).status).toBe(200);
    await mustPutState(alice.accessToken, roomId, "m.room.history_visibility", { history_visibility: "world_readable" });
    expect((await callJson<{ aliases: string[] }>(path, { token: bob.accessToken })).body.aliases).toHaveLength(2);
    expect((await callJson(`/_matrix/client/v3/rooms/notaroom/aliases`, { token: bob.accessToken })).body.errcode).toBe("M_INVALID_PARAM");
    expect((await callJson(`/_matrix/client/v3/rooms/${enc(`!nope:${SERVER}`)}/aliases`, { token: bob.accessToken })).status).toBe(403);
  });
});

describe("m.room.canonical_alias validation", () => {
  it("aliases must point to the room: M_BAD_ALIAS; malformed: M_INVALID_PARAM", async () => {
    const alice = await registerUser();
    const roomId = await createRoom(alice.accessToken);
    const other = await createRoom(alice.accessToken);
    const ours = fresh("ours");
    const theirs = fresh("theirs");
    expect((await callJson(aliasPath(ours), { method: "PUT", token: alice.accessToken, json: { room_id: roomId } })).status).toBe(200);
    expect((await callJson(aliasPath(theirs), { method: "PUT", token: alice.accessToken, json: { room_id: other } })).status).toBe(200);
    const cases: Array<[Record<string, unknown>, number, string | undefined]> = [
      [{ alias: theirs }, 400, "M_BAD_ALIAS"],
      [{ alias: fresh("missing") }, 400, "M_BAD_ALIAS"],
      [{ alias: "#x:remote.example" }, 400, "M_BAD_ALIAS"],
      [{ alias: ours, alt_aliases: [theirs] }, 400, "M_BAD_ALIAS"],
      [{ alias: "not an alias" }, 400, "M_INVALID_PARAM"],
      [{ alt_aliases: "#x:y" }, 400, "M_INVALID_PARAM"],
      [{ alt_aliases: [ours, 5] }, 400, "M_INVALID_PARAM"],
      [{ alias: ours, alt_aliases: [ours] }, 200, undefined],
      [{}, 200, undefined],
    ];
    for (const [content, status, errcode] of cases) {
      const r = await putState(alice.accessToken, roomId, "m.room.canonical_alias", content);
      expect(r.status, JSON.stringify(content)).toBe(status);
      expect(r.body.errcode, JSON.stringify(content)).toBe(errcode);
    }
  });

  it("only aliases the event adds are checked, so an alias deleted since does not block other edits", async () => {
    const alice = await registerUser();
    const roomId = await createRoom(alice.accessToken);
    const a = fresh("keep");
    const b = fresh("drop");
    for (const x of [a, b]) expect((await callJson(aliasPath(x), { method: "PUT", token: alice.accessToken, json: { room_id: roomId } })).status).toBe(200);
    await mustPutState(alice.accessToken, roomId, "m.room.canonical_alias", { alias: a, alt_aliases: [b] });
    // Remove the mapping directly, as another server's admin tooling might; the event still names it.
    await env.DB.prepare("DELETE FROM room_aliases WHERE alias = ?").bind(b).run();
    expect((await putState(alice.accessToken, roomId, "m.room.canonical_alias", { alias: a, alt_aliases: [b], extra: 1 })).status).toBe(200);
    expect((await putState(alice.accessToken, roomId, "m.room.canonical_alias", { alias: b })).body.errcode).toBe("M_BAD_ALIAS");
  });
});
