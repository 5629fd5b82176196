import { env as workerEnv } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../services/env.js";
import { SERVER, type TestUser, callJson, createRoom, enc, mustJoin, mustPutState, registerAdmin, registerUser } from "./directory-helpers.js";

const env = workerEnv as unknown as Env;
const listPath = (roomId: string) => `/_matrix/client/v3/directory/list/room/${enc(roomId)}`;

interface Chunk {
  room_id: string;
  name?: string;
  topic?: string;
  canonical_alias?: string;
  num_joined_members: number;
  world_readable: boolean;
  guest_can_join: boolean;
  join_rule?: string;
  room_type?: string;
  avatar_url?: string;
}
interface Page {
  chunk: Chunk[];
  next_batch?: string;
  prev_batch?: string;
  total_room_count_estimate?: number;
}

async function post(token: string, body: Record<string, unknown>, query = "") {
  return callJson<Page & { errcode?: string }>(`/_matrix/client/v3/publicRooms${query}`, { method: "POST", token, json: body });
}

/** Users who join rooms to give them members. */
async function crowd(k: number): Promise<TestUser[]> {
  return Promise.all(Array.from({ length: k }, () => registerUser()));
}

describe("GET/PUT /directory/list/room/{roomId}", () => {
  it("reads visibility without auth; 404 for unknown rooms", async () => {
    const alice = await registerUser();
    const pub = await createRoom(alice.accessToken, { visibility: "public" });
    const priv = await createRoom(alice.accessToken);
    expect((await callJson(listPath(pub))).body).toEqual({ visibility: "public" });
    expect((await callJson(listPath(priv))).body).toEqual({ visibility: "private" });
    const unknown = await callJson(listPath(`!nope:${SERVER}`));
    expect(unknown.status).toBe(404);
    expect(unknown.body.errcode).toBe("M_NOT_FOUND");
  });

  it("moderators (power to send m.room.canonical_alias) and admins may publish; others may not", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const carol = await registerUser();
    const roomId = await createRoom(alice.accessToken, { preset: "public_chat", power_level_content_override: { users: { [bob.userId]: 50 } } });
    await mustJoin(bob.accessToken, roomId);
    const put = (token: string | undefined, json: unknown) => callJson(listPath(roomId), { method: "PUT", ...(token ? { token } : {}), json });
    expect((await put(carol.accessToken, { visibility: "public" })).status).toBe(403);
    await mustJoin(carol.accessToken, roomId);
    const denied = await put(carol.accessToken, { visibility: "public" });
    expect(denied.status).toBe(403);
    expect(denied.body.errcode).toBe("M_FORBIDDEN");
    expect((await put(bob.accessToken, {})).status).toBe(200); // visibility defaults to public
    expect((await callJson(listPath(roomId))).body.visibility).toBe("public");
    expect((await put(alice.accessToken, { visibility: "private" })).status).toBe(200);
    expect((await callJson(listPath(roomId))).body.visibility).toBe("private");
    const admin = await registerAdmin();
    expect((await put(admin.accessToken, { visibility: "public" })).status).toBe(200);
    expect((await callJson(listPath(roomId))).body.visibility).toBe("public");
    expect((await put(alice.accessToken, { visibility: "hidden" })).body.errcode).toBe("M_BAD_JSON");
    expect((await put(undefined, { visibility: "public" })).status).toBe(401);
    const unknown = await callJson(listPath(`!nope:${SERVER}`), { method: "PUT", token: alice.accessToken, json: { visibility: "public" } });
    expect(unknown.status).toBe(404);
  });
});

describe("/publicRooms", () => {
  it("lists published rooms anyone can join or read, largest first, with the spec's chunk fields", async () => {
    const alice = await registerUser();
    const tag = `lst${Date.now().toString(36)}`;
    const big = await createRoom(alice.accessToken, { visibility: "public", name: `${tag} big`, topic: "Big topic", room_alias_name: `${tag}-big` });
    const small = await createRoom(alice.accessToken, { visibility: "public", name: `${tag} small` });
    const mid = await createRoom(alice.accessToken, { visibility: "public", name: `${tag} mid`, creation_content: { type: "m.space" } });
    const invite = await createRoom(alice.accessToken, { visibility: "public", preset: "private_chat", name: `${tag} invite-only` });
    const readable = await createRoom(alice.accessToken, {
      visibility: "public",
      preset: "private_chat",
      name: `${tag} readable`,
      initial_state: [{ type: "m.room.history_visibility", content: { history_visibility: "world_readable" } }],
    });
    const unpublished = await createRoom(alice.accessToken, { preset: "public_chat", name: `${tag} unpublished` });
    const users = await crowd(3);
    for (const u of users) await mustJoin(u.accessToken, big);
    await mustJoin(users[0]!.accessToken, mid);
    await mustPutState(alice.accessToken, big, "m.room.avatar", { url: "mxc://localhost/avatar" });

    const res = await callJson<Page>("/_matrix/client/v3/publicRooms");
    expect(res.status).toBe(200);
    const ours = res.body.chunk.filter((c) => c.name?.startsWith(tag));
    expect(ours.map((c) => c.room_id)).toEqual([big, mid, ...[small, readable].sort().reverse()]);
    expect(ours.map((c) => c.room_id)).not.toContain(invite);
    expect(ours.map((c) => c.room_id)).not.toContain(unpublished);
    expect(ours[0]).toEqual({
      room_id: big,
      name: `${tag} big`,
      topic: "Big topic",
      canonical_alias: `#${tag}-big:${SERVER}`,
      num_joined_members: 4,
      avatar_url: "mxc://localhost/avatar",
      world_readable: false,
      guest_can_join: false,
      join_rule: "public",
    });
    expect(ours[1]).toMatchObject({ room_id: mid, num_joined_members: 2, room_type: "m.space" });
    expect(ours.find((c) => c.room_id === readable)).toMatchObject({ world_readable: true, guest_can_join: true, join_rule: "invite" });
    expect(res.body.total_room_count_estimate).toBeGreaterThanOrEqual(4);

    // Members coming and going move a room in the order; an empty room drops out.
    const more = await crowd(4);
    for (const u of more) await mustJoin(u.accessToken, small);
    expect((await post(alice.accessToken, { filter: { generic_search_term: tag } })).body.chunk.map((c) => c.room_id).slice(0, 2)).toEqual([small, big]);
    for (const u of [alice, ...more]) {
      expect((await callJson(`/_matrix/client/v3/rooms/${enc(small)}/leave`, { method: "POST", token: u.accessToken, json: {} })).status).toBe(200);
    }
    expect((await post(alice.accessToken, { filter: { generic_search_term: tag } })).body.chunk.map((c) => c.room_id)).not.toContain(small);
  });

  it("paginates forward and back with next_batch / prev_batch, over GET and POST", async () => {
    const alice = await registerUser();
    const tag = `pg${Date.now().toString(36)}`;
    const rooms: string[] = [];
    for (let i = 0; i < 5; i++) rooms.push(await createRoom(alice.accessToken, { visibility: "public", name: `${tag} ${i}` }));
    const helpers = await crowd(3);
    // Member counts 4, 3, 2, 1, 1 for rooms 0..4.
    for (let i = 0; i < 3; i++) for (const u of helpers.slice(0, 3 - i)) await mustJoin(u.accessToken, rooms[i]!);
    const expected = [rooms[0], rooms[1], rooms[2], ...[rooms[3]!, rooms[4]!].sort().reverse()];

    const seen: string[] = [];
    let since: string | undefined;
    const pages: Page[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await post(alice.accessToken, { limit: 2, filter: { generic_search_term: tag.toUpperCase() }, ...(since ? { since } : {}) });
      expect(r.status).toBe(200);
      pages.push(r.body);
      seen.push(...r.body.chunk.map((c) => c.room_id));
      if (!r.body.next_batch) break;
      since = r.body.next_batch;
    }
    expect(seen).toEqual(expected);
    expect(pages.map((p) => p.chunk.length)).toEqual([2, 2, 1]);
    expect(pages[0]!.prev_batch).toBeUndefined();
    const back = await post(alice.accessToken, { limit: 2, filter: { generic_search_term: tag }, since: pages[2]!.prev_batch });
    expect(back.body.chunk.map((c) => c.room_id)).toEqual(expected.slice(2, 4));
    const back2 = await post(alice.accessToken, { limit: 2, filter: { generic_search_term: tag }, since: back.body.prev_batch });
    expect(back2.body.chunk.map((c) => c.room_id)).toEqual(expected.slice(0, 2));
    expect(back2.body.prev_batch).toBeUndefined();

    // GET pages the same list (unfiltered) with the same tokens.
    const all: string[] = [];
    let token: string | undefined;
    for (let i = 0; i < 100; i++) {
      const r = await callJson<Page>(`/_matrix/client/v3/publicRooms?limit=3${token ? `&since=${enc(token)}` : ""}`);
      expect(r.status).toBe(200);
      expect(r.body.chunk.length).toBeLessThanOrEqual(3);
      all.push(...r.body.chunk.map((c) => c.room_id));
      if (!r.body.next_batch) break;
      token = r.body.next_batch;
    }
    expect(all.filter((id) => rooms.includes(id))).toEqual(expected);
    expect(new Set(all).size).toBe(all.length);
  });

  it("filters by search term over name, topic and alias, and by room types", async () => {
    const alice = await registerUser();
    const tag = `flt${Date.now().toString(36)}`;
    const byName = await createRoom(alice.accessToken, { visibility: "public", name: `The ${tag.toUpperCase()} Room` });
    const byTopic = await createRoom(alice.accessToken, { visibility: "public", topic: `about ${tag}` });
    const byAlias = await createRoom(alice.accessToken, { visibility: "public", room_alias_name: `${tag}-alias` });
    const space = await createRoom(alice.accessToken, { visibility: "public", name: `${tag} space`, creation_content: { type: "m.space" } });
    const other = await createRoom(alice.accessToken, { visibility: "public", name: `${tag} other`, creation_content: { type: "org.example.custom" } });
    const ids = async (filter: Record<string, unknown>) => (await post(alice.accessToken, { filter: { generic_search_term: tag, ...filter } })).body.chunk.map((c) => c.room_id).sort();
    expect(await ids({})).toEqual([byName, byTopic, byAlias, space, other].sort());
    expect(await ids({ room_types: [null] })).toEqual([byName, byTopic, byAlias].sort());
    expect(await ids({ room_types: ["m.space"] })).toEqual([space]);
    expect(await ids({ room_types: [null, "m.space"] })).toEqual([byName, byTopic, byAlias, space].sort());
    expect(await ids({ room_types: [] })).toHaveLength(5);
    expect(await ids({ generic_search_term: `${tag}-ALIAS` })).toEqual([byAlias]);
    expect(await ids({ generic_search_term: "%" })).toEqual([]);
    // The estimate counts the room type filter, not the search term (as Synapse).
    const spaces = await post(alice.accessToken, { filter: { generic_search_term: tag, room_types: ["m.space"] } });
    expect(spaces.body.total_room_count_estimate).toBeGreaterThanOrEqual(1);
    expect(spaces.body.total_room_count_estimate).toBeLessThan((await post(alice.accessToken, {})).body.total_room_count_estimate!);
    expect((await post(alice.accessToken, { filter: null, include_all_networks: true })).body.chunk.length).toBeGreaterThanOrEqual(5);
  });

  it("errors: bad tokens and limits, other servers, networks, auth on POST", async () => {
    const alice = await registerUser();
    const bad = await callJson("/_matrix/client/v3/publicRooms?since=garbage");
    expect(bad.status).toBe(400);
    expect(bad.body.errcode).toBe("M_INVALID_PARAM");
    expect((await callJson("/_matrix/client/v3/publicRooms?limit=abc")).body.errcode).toBe("M_INVALID_PARAM");
    expect((await callJson("/_matrix/client/v3/publicRooms?limit=-1")).body.errcode).toBe("M_INVALID_PARAM");
    expect((await post(alice.accessToken, { since: "garbage" })).body.errcode).toBe("M_INVALID_PARAM");
    expect((await post(alice.accessToken, { limit: "ten" })).body.errcode).toBe("M_BAD_JSON");
    expect((await post(alice.accessToken, { filter: { room_types: "m.space" } })).body.errcode).toBe("M_BAD_JSON");
    expect((await callJson(`/_matrix/client/v3/publicRooms?server=${enc(SERVER)}`)).status).toBe(200);
    const remote = await callJson("/_matrix/client/v3/publicRooms?server=remote.example");
    expect(remote.status).toBe(502);
    expect(remote.body.errcode).toBe("M_UNKNOWN");
    expect((await post(alice.accessToken, {}, "?server=remote.example")).status).toBe(502);
    expect((await callJson("/_matrix/client/v3/publicRooms?server=bad%20name")).body.errcode).toBe("M_INVALID_PARAM");
    // Names the appendix grammar lets through but no server can have (empty or hyphen-edged
    // labels, no TCP port): the client's mistake, 400, for GET and POST alike.
    for (const server of ["a..b", "example.org.", "-", "-a.example", "example.org:99999", "example.org:0", "not%20a%20server", "!nope"]) {
      const get = await callJson(`/_matrix/client/v3/publicRooms?server=${server}`);
      expect([server, get.status, get.body.errcode]).toEqual([server, 400, "M_INVALID_PARAM"]);
      const posted = await post(alice.accessToken, {}, `?server=${server}`);
      expect([server, posted.status, posted.body.errcode]).toEqual([server, 400, "M_INVALID_PARAM"]);
    }
    expect(await post(alice.accessToken, { third_party_instance_id: "irc|freenode" }).then((r) => r.body)).toEqual({ chunk: [], total_room_count_estimate: 0 });
    expect((await post(alice.accessToken, { include_all_networks: true, third_party_instance_id: "irc" })).body.errcode).toBe("M_INVALID_PARAM");
    expect((await callJson("/_matrix/client/v3/publicRooms", { method: "POST", json: {} })).status).toBe(401);
    expect((await callJson("/_matrix/client/v3/publicRooms", { token: "not-a-token" })).status).toBe(401);
    expect((await callJson("/_matrix/client/v3/publicRooms", { token: alice.accessToken })).status).toBe(200);
  });

  it("keeps its member counts in step with the rooms table", async () => {
    await callJson("/_matrix/client/versions"); // applies the migrations when this test runs alone
    const { results } = await env.DB.prepare(
      "SELECT d.room_id FROM room_directory d JOIN rooms r ON r.room_id = d.room_id WHERE d.joined_members != r.joined_members",
    ).all();
    expect(results).toEqual([]);
    // The listing reads published rooms in index order (first page, next and previous pages), not every room.
    for (const [bound, order, params] of [
      ["1", "DESC", []],
      ["(d.joined_members, d.room_id) < (?, ?)", "DESC", [5, "!x"]],
      ["(d.joined_members, d.room_id) > (?, ?)", "ASC", [5, "!x"]],
    ] as const) {
      const plan = await env.DB.prepare(
        "EXPLAIN QUERY PLAN SELECT d.room_id FROM room_directory d JOIN rooms r ON r.room_id = d.room_id " +
          `WHERE (r.join_rule IN ('public', 'knock', 'knock_restricted') OR r.history_visibility = 'world_readable') AND d.joined_members > 0 AND ${bound} ` +
          `ORDER BY d.joined_members ${order}, d.room_id ${order} LIMIT 3`,
      )
        .bind(...params)
        .all<{ detail: string }>();
      const details = plan.results.map((r) => r.detail).join("; ");
      expect(details).toMatch(/room_directory_order/);
      expect(details).not.toMatch(/TEMP B-TREE/);
    }
  });
});
