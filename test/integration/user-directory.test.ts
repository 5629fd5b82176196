import { beforeAll, describe, expect, it } from "vitest";
import { callJson, registerUser, type TestUser } from "./helpers.js";
import { type Json, createRoom, enc, invite, join, leave, ok, setState } from "./push-helpers.js";

const DIR = "/_matrix/client/v3/user_directory/search";

async function dir(u: TestUser, search_term: string, limit?: number) {
  return ok(DIR, u, { method: "POST", json: { search_term, ...(limit !== undefined ? { limit } : {}) } });
}
const found = (r: Json) => (r.results as Json[]).map((x) => x.user_id);
const setName = (u: TestUser, name: string) => ok(`/_matrix/client/v3/profile/${enc(u.userId)}/displayname`, u, { method: "PUT", json: { displayname: name } });

let searcher: TestUser;
let friend: TestUser;
let stranger: TestUser;
let publicUser: TestUser;
let tag: string;

beforeAll(async () => {
  [searcher, friend, stranger, publicUser] = await Promise.all([registerUser(), registerUser(), registerUser(), registerUser()]);
  tag = Math.random().toString(36).slice(2, 8);
  await setName(friend, `Zanzibar ${tag} Friend`);
  await setName(stranger, `Zanzibar ${tag} Stranger`);
  await setName(publicUser, `Zanzibar ${tag} Public`);
  // searcher and friend share a private room; stranger is alone in a private room; publicUser is in a public room.
  const priv = await createRoom(searcher, { preset: "private_chat" });
  await invite(searcher, priv, friend.userId);
  await join(friend, priv);
  await createRoom(stranger, { preset: "private_chat" });
  await createRoom(publicUser, { preset: "public_chat" });
}, 90_000);

describe("POST /user_directory/search", () => {
  it("finds users sharing a room and users in public rooms, not others", async () => {
    const r = await dir(searcher, `zanzibar ${tag}`);
    expect(found(r).sort()).toEqual([friend.userId, publicUser.userId].sort());
    expect(r.limited).toBe(false);
    // Sharing a room ranks first.
    expect(found(r)[0]).toBe(friend.userId);
    expect(r.results[0]).toEqual({ user_id: friend.userId, display_name: `Zanzibar ${tag} Friend` });
    // The stranger's own view: the public user only (and themself, once in a room).
    expect(found(await dir(stranger, `${tag} public`))).toEqual([publicUser.userId]);
    expect(found(await dir(stranger, `${tag} friend`))).toEqual([]);
  });

  it("matches user ids and display-name word prefixes, case-insensitively", async () => {
    const localpart = friend.userId.slice(1, friend.userId.indexOf(":"));
    expect(found(await dir(searcher, localpart.toUpperCase()))).toContain(friend.userId);
    expect(found(await dir(searcher, friend.userId))).toEqual([friend.userId]);
    expect(found(await dir(searcher, `ZANZ ${tag.slice(0, 3)} fri`))).toEqual([friend.userId]);
    expect(found(await dir(searcher, "nobodyhasthisname"))).toEqual([]);
  });

  it("limits results and says so", async () => {
    const r = await dir(searcher, `zanzibar ${tag}`, 1);
    expect(r.results).toHaveLength(1);
    expect(r.limited).toBe(true);
    expect(await dir(searcher, `zanzibar ${tag}`, 0)).toEqual({ results: [], limited: false });
  });

  it("follows profile changes, membership changes and room visibility", async () => {
    const u = await registerUser();
    const roomId = await createRoom(u, { preset: "private_chat" });
    await setName(u, `Quetzal ${tag}`);
    expect(found(await dir(searcher, `quetzal ${tag}`))).toEqual([]);
    // Making the room public makes its members visible.
    await setState(u, roomId, "m.room.join_rules", { join_rule: "public" });
    expect(found(await dir(searcher, `quetzal ${tag}`))).toEqual([u.userId]);
    // A new display name is found, the old one not.
    await setName(u, `Axolotl ${tag}`);
    expect(found(await dir(searcher, `axolotl ${tag}`))).toEqual([u.userId]);
    expect(found(await dir(searcher, `quetzal ${tag}`))).toEqual([]);
    // World-readable history counts as public too.
    await setState(u, roomId, "m.room.join_rules", { join_rule: "invite" });
    expect(found(await dir(searcher, `axolotl ${tag}`))).toEqual([]);
    await setState(u, roomId, "m.room.history_visibility", { history_visibility: "world_readable" });
    expect(found(await dir(searcher, `axolotl ${tag}`))).toEqual([u.userId]);
    // Leaving every room hides them again.
    await leave(u, roomId);
    expect(found(await dir(searcher, `axolotl ${tag}`))).toEqual([]);
  });

  it("leaves out deactivated users", async () => {
    const u = await registerUser();
    await setName(u, `Pangolin ${tag}`);
    await createRoom(u, { preset: "public_chat" });
    expect(found(await dir(searcher, `pangolin ${tag}`))).toEqual([u.userId]);
    const first = await callJson<Json>("/_matrix/client/v3/account/deactivate", { method: "POST", token: u.accessToken, json: {} });
    const done = await callJson<Json>("/_matrix/client/v3/account/deactivate", {
      method: "POST",
      token: u.accessToken,
      json: { auth: { type: "m.login.password", session: first.body.session, identifier: { type: "m.id.user", user: u.userId }, password: u.password } },
    });
    expect(done.status).toBe(200);
    expect(found(await dir(searcher, `pangolin ${tag}`))).toEqual([]);
  });

  it("refuses bad bodies and anonymous requests", async () => {
    for (const body of [{ search_term: 5 }, { search_term: "x", limit: -1 }, { search_term: "x", limit: 1.5 }]) {
      const r = await callJson<Json>(DIR, { method: "POST", token: searcher.accessToken, json: body });
      expect([r.status, r.body.errcode]).toEqual([400, "M_BAD_JSON"]);
    }
    // search_term absent: M_MISSING_PARAM (spec "Standard error response").
    const missing = await callJson<Json>(DIR, { method: "POST", token: searcher.accessToken, json: {} });
    expect([missing.status, missing.body.errcode]).toEqual([400, "M_MISSING_PARAM"]);
    expect((await callJson(DIR, { method: "POST", json: { search_term: "x" } })).status).toBe(401);
    expect(await dir(searcher, "  ")).toEqual({ results: [], limited: false });
  });
});
