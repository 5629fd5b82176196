import { beforeAll, describe, expect, it } from "vitest";
import { call, callJson, registerUser, type TestUser } from "./helpers.js";
import { type Json, createRoom, enc, ok, sync } from "./push-helpers.js";

const R = "/_matrix/client/v3/pushrules";

let alice: TestUser;
beforeAll(async () => {
  alice = await registerUser();
}, 60_000);

async function put(u: TestUser, path: string, json: unknown, qs = "") {
  return callJson<Json>(`${R}${path}${qs}`, { method: "PUT", token: u.accessToken, json });
}

describe("GET /pushrules", () => {
  it("serves the server-default ruleset in the spec's order, for the user", async () => {
    const body = await ok(`${R}/`, alice);
    const g = body.global;
    expect(Object.keys(g).sort()).toEqual(["content", "override", "room", "sender", "underride"]);
    expect(g.override.map((r: Json) => r.rule_id)).toEqual([
      ".m.rule.master",
      ".m.rule.suppress_notices",
      ".m.rule.invite_for_me",
      ".m.rule.member_event",
      ".m.rule.is_user_mention",
      ".m.rule.contains_display_name",
      ".m.rule.is_room_mention",
      ".m.rule.roomnotif",
      ".m.rule.tombstone",
      ".m.rule.reaction",
      ".m.rule.room.server_acl",
      ".m.rule.suppress_edits",
    ]);
    expect(g.underride.map((r: Json) => r.rule_id)).toEqual([".m.rule.call", ".m.rule.encrypted_room_one_to_one", ".m.rule.room_one_to_one", ".m.rule.message", ".m.rule.encrypted"]);
    const mention = g.override.find((r: Json) => r.rule_id === ".m.rule.is_user_mention");
    expect(mention.conditions).toEqual([{ kind: "event_property_contains", key: "content.m\\.mentions.user_ids", value: alice.userId }]);
    expect(g.content[0]).toMatchObject({ rule_id: ".m.rule.contains_user_name", pattern: alice.userId.slice(1, alice.userId.indexOf(":")), default: true, enabled: true });
    expect(await ok(`${R}`, alice)).toEqual(body);
    expect(await ok(`${R}/global/`, alice)).toEqual(g);
    expect(await ok(`${R}/global/underride/`, alice)).toEqual(g.underride);
  });

  it("serves one rule, its enabled flag and actions; unknown rules are 404, unknown kinds 400", async () => {
    expect(await ok(`${R}/global/override/.m.rule.master`, alice)).toEqual({ rule_id: ".m.rule.master", default: true, enabled: false, conditions: [], actions: [] });
    expect(await ok(`${R}/global/override/.m.rule.master/enabled`, alice)).toEqual({ enabled: false });
    expect(await ok(`${R}/global/underride/.m.rule.message/actions`, alice)).toEqual({ actions: ["notify"] });
    for (const path of ["/global/override/nope", "/global/override/nope/enabled", "/global/override/nope/actions", "/global/content/.m.rule.master"]) {
      const r = await callJson<Json>(`${R}${path}`, { token: alice.accessToken });
      expect(r.status, path).toBe(404);
      expect(r.body.errcode).toBe("M_NOT_FOUND");
    }
    const bad = await callJson<Json>(`${R}/global/bogus/x`, { token: alice.accessToken });
    expect(bad.status).toBe(400);
    expect(bad.body.errcode).toBe("M_UNRECOGNIZED");
    const scope = await callJson<Json>(`${R}/device/override/x`, { token: alice.accessToken });
    expect(scope.body.errcode).toBe("M_UNRECOGNIZED");
  });

  it("needs an access token", async () => {
    const r = await callJson<Json>(`${R}/`);
    expect(r.status).toBe(401);
    expect(r.body.errcode).toBe("M_MISSING_TOKEN");
  });
});

describe("PUT /pushrules/global/{kind}/{ruleId}", () => {
  it("creates rules (spec examples), enabled by default, most important first", async () => {
    const u = await registerUser();
    const roomId = "!dj234r78wl45Gh4D:matrix.org";
    expect((await put(u, `/global/room/${enc(roomId)}`, { actions: [] })).status).toBe(200);
    expect((await put(u, `/global/sender/${enc("@spambot:matrix.org")}`, { actions: [] })).status).toBe(200);
    expect((await put(u, "/global/content/SSByZWFsbHkgbGlrZSBjYWtl", { pattern: "cake", actions: ["notify", { set_tweak: "sound", value: "cakealarm.wav" }] })).status).toBe(200);
    expect((await put(u, "/global/content/U3BvbmdlIGNha2UgaXMgYmVzdA", { pattern: "cake*lie", actions: ["notify"] }, "?before=SSByZWFsbHkgbGlrZSBjYWtl")).status).toBe(200);
    expect(
      (await put(u, "/global/override/U2VlIHlvdSBpbiBUaGUgRHVrZQ", {
        conditions: [
          { kind: "event_match", key: "content.body", pattern: "beer" },
          { kind: "room_member_count", is: "<=10" },
        ],
        actions: ["notify", { set_tweak: "sound", value: "beeroclock.wav" }],
      })).status,
    ).toBe(200);
    const g = (await ok(`${R}/`, u)).global;
    expect(g.room).toEqual([{ rule_id: roomId, default: false, enabled: true, actions: [] }]);
    expect(g.sender).toEqual([{ rule_id: "@spambot:matrix.org", default: false, enabled: true, actions: [] }]);
    expect(g.content.map((r: Json) => r.rule_id)).toEqual(["U3BvbmdlIGNha2UgaXMgYmVzdA", "SSByZWFsbHkgbGlrZSBjYWtl", ".m.rule.contains_user_name"]);
    expect(g.content[1]).toEqual({ rule_id: "SSByZWFsbHkgbGlrZSBjYWtl", default: false, enabled: true, pattern: "cake", actions: ["notify", { set_tweak: "sound", value: "cakealarm.wav" }] });
    // User overrides sit after the master rule and before the other server-default rules.
    expect(g.override.slice(0, 3).map((r: Json) => r.rule_id)).toEqual([".m.rule.master", "U2VlIHlvdSBpbiBUaGUgRHVrZQ", ".m.rule.suppress_notices"]);
    expect(await ok(`${R}/global/override/U2VlIHlvdSBpbiBUaGUgRHVrZQ`, u)).toMatchObject({ default: false, enabled: true, conditions: [{ kind: "event_match" }, { kind: "room_member_count", is: "<=10" }] });
  });

  it("places rules with before/after and moves an updated rule to the top", async () => {
    const u = await registerUser();
    const order = async () => (await ok<Json[]>(`${R}/global/override/`, u)).filter((r) => !r.default).map((r) => r.rule_id);
    for (const id of ["a", "b", "c"]) expect((await put(u, `/global/override/${id}`, { actions: [] })).status).toBe(200);
    expect(await order()).toEqual(["c", "b", "a"]);
    await put(u, "/global/override/d", { actions: [] }, "?after=c");
    expect(await order()).toEqual(["c", "d", "b", "a"]);
    await put(u, "/global/override/e", { actions: [] }, "?before=a&after=c");
    expect(await order()).toEqual(["c", "d", "b", "e", "a"]);
    await put(u, "/global/override/a", { actions: ["notify"] });
    expect(await order()).toEqual(["a", "c", "d", "b", "e"]);
    await put(u, "/global/override/c", { actions: [] }, "?after=e");
    expect(await order()).toEqual(["a", "d", "b", "e", "c"]);
    const missing = await put(u, "/global/override/f", { actions: [] }, "?before=zzz");
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ errcode: "M_UNKNOWN", error: "before/after rule not found: zzz" });
    const rel = await put(u, "/global/override/f", { actions: [] }, "?after=.m.rule.master");
    expect(rel.status).toBe(400);
    expect(rel.body.errcode).toBe("M_INVALID_PARAM");
    expect(await order()).toEqual(["a", "d", "b", "e", "c"]);
  });

  it("keeps a rule's enabled flag across updates", async () => {
    const u = await registerUser();
    await put(u, "/global/override/x", { actions: [] });
    expect((await put(u, "/global/override/x/enabled", { enabled: false })).status).toBe(200);
    await put(u, "/global/override/x", { actions: ["notify"] });
    expect(await ok(`${R}/global/override/x`, u)).toMatchObject({ enabled: false, actions: ["notify"] });
  });

  it("refuses reserved and malformed rule ids, bad actions, patterns and bodies", async () => {
    const cases: Array<[string, unknown, number, string]> = [
      ["/global/override/.mine", { actions: [] }, 400, "M_INVALID_PARAM"],
      ["/global/override/.m.rule.master", { actions: [] }, 400, "M_INVALID_PARAM"],
      [`/global/override/${enc("a/b")}`, { actions: [] }, 400, "M_INVALID_PARAM"],
      [`/global/override/${enc("a\\b")}`, { actions: [] }, 400, "M_INVALID_PARAM"],
      ["/global/content/nopattern", { actions: ["notify"] }, 400, "M_UNKNOWN"],
      ["/global/content/badpattern", { pattern: 7, actions: ["notify"] }, 400, "M_UNKNOWN"],
      ["/global/override/noactions", {}, 400, "M_MISSING_PARAM"],
      ["/global/override/badaction", { actions: ["explode"] }, 400, "M_UNKNOWN"],
      ["/global/override/badactions", { actions: "notify" }, 400, "M_BAD_JSON"],
      ["/global/override/badconds", { actions: [], conditions: [{ key: "x" }] }, 400, "M_BAD_JSON"],
      ["/global/bogus/x", { actions: [] }, 400, "M_UNRECOGNIZED"],
    ];
    for (const [path, body, status, errcode] of cases) {
      const r = await put(alice, path, body);
      expect([path, r.status, r.body.errcode]).toEqual([path, status, errcode]);
    }
    const notJson = await call(`${R}/global/override/x`, { method: "PUT", token: alice.accessToken, body: "{nope", headers: { "Content-Type": "application/json" } });
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as Json).errcode).toBe("M_NOT_JSON");
  });

  it("drops historical actions and keeps custom tweaks", async () => {
    const u = await registerUser();
    await put(u, "/global/sender/@x:y", { actions: ["dont_notify", "coalesce", { set_tweak: "org.example.flash", value: "red" }] });
    expect(await ok(`${R}/global/sender/@x:y/actions`, u)).toEqual({ actions: [{ set_tweak: "org.example.flash", value: "red" }] });
  });
});

describe("DELETE /pushrules/global/{kind}/{ruleId}", () => {
  it("deletes user rules; server-default rules cannot be deleted", async () => {
    const u = await registerUser();
    await put(u, "/global/content/cake", { pattern: "cake", actions: ["notify"] });
    expect((await callJson(`${R}/global/content/cake`, { method: "DELETE", token: u.accessToken })).status).toBe(200);
    const gone = await callJson<Json>(`${R}/global/content/cake`, { token: u.accessToken });
    expect([gone.status, gone.body.errcode]).toEqual([404, "M_NOT_FOUND"]);
    const again = await callJson<Json>(`${R}/global/content/cake`, { method: "DELETE", token: u.accessToken });
    expect([again.status, again.body.errcode]).toEqual([404, "M_NOT_FOUND"]);
    const def = await callJson<Json>(`${R}/global/underride/.m.rule.message`, { method: "DELETE", token: u.accessToken });
    expect([def.status, def.body.errcode]).toEqual([400, "M_INVALID_PARAM"]);
    const unknownDefault = await callJson<Json>(`${R}/global/underride/.m.rule.nothing`, { method: "DELETE", token: u.accessToken });
    expect([unknownDefault.status, unknownDefault.body.errcode]).toEqual([404, "M_NOT_FOUND"]);
  });
});

describe("enabled and actions", () => {
  it("changes server-default rules' enabled flag and actions", async () => {
    const u = await registerUser();
    expect((await put(u, "/global/override/.m.rule.master/enabled", { enabled: true })).status).toBe(200);
    expect(await ok(`${R}/global/override/.m.rule.master/enabled`, u)).toEqual({ enabled: true });
    expect((await put(u, "/global/underride/.m.rule.message/actions", { actions: ["notify", { set_tweak: "highlight" }] })).status).toBe(200);
    const rule = await ok(`${R}/global/underride/.m.rule.message`, u);
    expect(rule).toEqual({ rule_id: ".m.rule.message", default: true, enabled: true, conditions: [{ kind: "event_match", key: "type", pattern: "m.room.message" }], actions: ["notify", { set_tweak: "highlight" }] });
    // Both changes at once on one rule.
    await put(u, "/global/underride/.m.rule.message/enabled", { enabled: false });
    expect(await ok(`${R}/global/underride/.m.rule.message`, u)).toMatchObject({ enabled: false, actions: ["notify", { set_tweak: "highlight" }] });
    // Other users are unaffected.
    expect(await ok(`${R}/global/override/.m.rule.master/enabled`, alice)).toEqual({ enabled: false });
  });

  it("refuses missing rules and bad bodies", async () => {
    const missing = await put(alice, "/global/override/nope/enabled", { enabled: true });
    expect([missing.status, missing.body.errcode]).toEqual([404, "M_NOT_FOUND"]);
    const missingA = await put(alice, "/global/override/nope/actions", { actions: [] });
    expect([missingA.status, missingA.body.errcode]).toEqual([404, "M_NOT_FOUND"]);
    const bad = await put(alice, "/global/override/.m.rule.master/enabled", { enabled: "yes" });
    expect([bad.status, bad.body.errcode]).toEqual([400, "M_BAD_JSON"]);
    const noActions = await put(alice, "/global/override/.m.rule.master/actions", {});
    expect([noActions.status, noActions.body.errcode]).toEqual([400, "M_MISSING_PARAM"]);
    const badAction = await put(alice, "/global/override/.m.rule.master/actions", { actions: [42] });
    expect([badAction.status, badAction.body.errcode]).toEqual([400, "M_UNKNOWN"]);
  });
});

describe("m.push_rules account data", () => {
  const pushRulesOf = (s: Json) => s.account_data.events.find((e: Json) => e.type === "m.push_rules");

  it("is in initial syncs from the second on, and in incremental syncs after each change", async () => {
    const u = await registerUser();
    await createRoom(u);
    const first = await sync(u);
    // Written by the first initial sync without advancing the stream: no news for long-polls.
    const idle = await sync(u, { since: first.next_batch });
    expect(pushRulesOf(idle)).toBeUndefined();
    expect(pushRulesOf(await sync(u)).content).toEqual(await ok(`${R}/`, u));
    expect(await ok(`/_matrix/client/v3/user/${enc(u.userId)}/account_data/m.push_rules`, u)).toEqual(await ok(`${R}/`, u));
    await put(u, "/global/content/cake", { pattern: "cake", actions: ["notify"] });
    const changed = await sync(u, { since: idle.next_batch });
    expect(pushRulesOf(changed).content.global.content[0]).toEqual({ rule_id: "cake", default: false, enabled: true, pattern: "cake", actions: ["notify"] });
    // The whole ruleset, as GET /pushrules/ serves it.
    expect(pushRulesOf(changed).content).toEqual(await ok(`${R}/`, u));
    expect(pushRulesOf(await sync(u)).content).toEqual(await ok(`${R}/`, u));
    // Clients cannot write it through the account data API.
    const w = await callJson<Json>(`/_matrix/client/v3/user/${enc(u.userId)}/account_data/m.push_rules`, { method: "PUT", token: u.accessToken, json: {} });
    expect(w.status).toBe(405);
  });

  it("wakes a waiting long-poll", async () => {
    const u = await registerUser();
    const s = await sync(u);
    const s2 = await sync(u, { since: s.next_batch });
    const started = Date.now();
    const poll = sync(u, { since: s2.next_batch, timeout: "20000" });
    await new Promise((r) => setTimeout(r, 200));
    await put(u, "/global/override/.m.rule.master/enabled", { enabled: true });
    const woke = await poll;
    expect(Date.now() - started).toBeLessThan(15000);
    expect(pushRulesOf(woke).content.global.override[0].enabled).toBe(true);
  });
});
