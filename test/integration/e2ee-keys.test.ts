import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { JsonObject } from "../../src/json.js";
import { deviceListsSince } from "../../workers/e2ee/device-lists.js";
import { e2eeSync } from "../../workers/e2ee/sync-extension.js";
import { curveKey, ed25519Pair, makeDevice, sign, signedKeys } from "../fixtures/e2ee.js";
import { createRoom, get, joinRoom, leaveRoom, post, streamPos, uploadDevice } from "./e2ee-helpers.js";
import { callJson, login, registerUser } from "./helpers.js";

type Counts = { one_time_key_counts: Record<string, number> };
type Claimed = { one_time_keys: Record<string, Record<string, Record<string, JsonObject>>>; failures: Record<string, unknown> };

describe("POST /keys/upload", () => {
  it("stores device keys, one-time and fallback keys and answers the counts", async () => {
    const alice = await registerUser();
    const { dev, counts } = await uploadDevice(alice, { otks: ["AAAAAQ", "AAAAAg", "AAAAAw"], fallback: "AAAABA" });
    expect(counts).toEqual({ signed_curve25519: 3 });
    // A top-up adds to the count; an empty upload just reports it.
    const more = await post<Counts>("/keys/upload", alice.accessToken, { one_time_keys: signedKeys(dev, ["AAAABQ"]) });
    expect(more.body.one_time_key_counts).toEqual({ signed_curve25519: 4 });
    expect((await post<Counts>("/keys/upload", alice.accessToken, {})).body).toEqual({ one_time_key_counts: { signed_curve25519: 4 } });
    const sync = await e2eeSync(env, alice.userId, alice.deviceId, null, await streamPos());
    expect(sync.device_one_time_keys_count).toEqual({ signed_curve25519: 4 });
    expect(sync.device_unused_fallback_key_types).toEqual(["signed_curve25519"]);
    expect(sync.device_lists).toEqual({ changed: [], left: [] });
  });

  it("answers signed_curve25519: 0 and [] fallback types for a device without keys", async () => {
    const bob = await registerUser();
    expect((await post<Counts>("/keys/upload", bob.accessToken, {})).body).toEqual({ one_time_key_counts: { signed_curve25519: 0 } });
    const sync = await e2eeSync(env, bob.userId, bob.deviceId, 0, await streamPos());
    expect(sync.device_one_time_keys_count).toEqual({ signed_curve25519: 0 });
    expect(sync.device_unused_fallback_key_types).toEqual([]);
    expect(sync.to_device.events).toEqual([]);
  });

  it("refuses keys that are not the caller's, badly signed or malformed, with 4xx", async () => {
    const alice = await registerUser();
    const other = makeDevice(alice.userId, "SOMEONEELSE");
    const wrongUser = makeDevice("@mallory:localhost:8008", alice.deviceId);
    const mine = makeDevice(alice.userId, alice.deviceId);
    const forged = sign({ ...mine.keys, signatures: undefined }, alice.userId, `ed25519:${alice.deviceId}`, ed25519Pair().seed);
    const cases: [unknown, string][] = [
      [{ device_keys: other.keys }, "M_BAD_JSON"],
      [{ device_keys: wrongUser.keys }, "M_BAD_JSON"],
      [{ device_keys: forged }, "M_INVALID_SIGNATURE"],
      [{ device_keys: null }, "M_BAD_JSON"],
      [{ device_keys: "x" }, "M_BAD_JSON"],
      [{ one_time_keys: [] }, "M_BAD_JSON"],
      [{ device_keys: mine.keys, one_time_keys: { "signed_curve25519:AAAA": curveKey() } }, "M_BAD_JSON"],
      [{ device_keys: mine.keys, one_time_keys: { "signed_curve25519:A:B": signedKeys(mine, ["A"])["signed_curve25519:A"] } }, "M_BAD_JSON"],
      [{ device_keys: mine.keys, one_time_keys: signedKeys(other, ["AAAA"]) }, "M_INVALID_SIGNATURE"],
      [{ device_keys: mine.keys, fallback_keys: { ...signedKeys(mine, ["A"], { fallback: true }), ...signedKeys(mine, ["B"], { fallback: true }) } }, "M_INVALID_PARAM"],
    ];
    for (const [body, errcode] of cases) {
      const r = await post("/keys/upload", alice.accessToken, body);
      expect(r.status, JSON.stringify(body).slice(0, 120)).toBe(400);
      expect(r.body.errcode, JSON.stringify(body).slice(0, 120)).toBe(errcode);
    }
    expect((await callJson("/_matrix/client/v3/keys/upload", { method: "POST", body: "[]", token: alice.accessToken })).body.errcode).toBe("M_BAD_JSON");
    expect((await callJson("/_matrix/client/v3/keys/upload", { method: "POST", json: {} })).status).toBe(401);
    // Nothing of the refused uploads was stored.
    const q = await post<{ device_keys: Record<string, object> }>("/keys/query", alice.accessToken, { device_keys: { [alice.userId]: [] } });
    expect(q.body.device_keys[alice.userId]).toEqual({});
  });

  it("accepts identical device keys again but refuses different ones for the same device", async () => {
    const alice = await registerUser();
    const { dev } = await uploadDevice(alice);
    expect((await post("/keys/upload", alice.accessToken, { device_keys: dev.keys })).status).toBe(200);
    const replacement = makeDevice(alice.userId, alice.deviceId);
    const r = await post("/keys/upload", alice.accessToken, { device_keys: replacement.keys });
    expect(r.status).toBe(400);
    expect(r.body.errcode).toBe("M_INVALID_PARAM");
    const q = await post<{ device_keys: Record<string, Record<string, JsonObject>> }>("/keys/query", alice.accessToken, {
      device_keys: { [alice.userId]: [] },
    });
    expect((q.body.device_keys[alice.userId]![alice.deviceId]!.keys as JsonObject)[`ed25519:${alice.deviceId}`]).toBe(dev.ed.pub);
  });

  it("an identical one-time key may be re-uploaded; a different key under the same id is an error Element can parse", async () => {
    const alice = await registerUser();
    const { dev } = await uploadDevice(alice, { otks: ["AAAAAQ"] });
    const stored = (await env.DB.prepare("SELECT key_json FROM e2e_one_time_keys WHERE user_id = ?").bind(alice.userId).first<{ key_json: string }>())!;
    const same = JSON.parse(stored.key_json) as JsonObject;
    expect((await post<Counts>("/keys/upload", alice.accessToken, { one_time_keys: { "signed_curve25519:AAAAAQ": same } })).body.one_time_key_counts).toEqual({
      signed_curve25519: 1,
    });
    const r = await post("/keys/upload", alice.accessToken, { one_time_keys: signedKeys(dev, ["AAAAAQ"]) });
    expect(r.status).toBe(400);
    expect(String(r.body.error)).toMatch(/^One time key signed_curve25519:AAAAAQ already exists\. Old key: \{.*\}; new key: \{.*\}$/);
  });

  it("stores one-time and fallback keys of a device without device keys, and /keys/claim hands them out", async () => {
    const alice = await registerUser();
    const dev = makeDevice(alice.userId, alice.deviceId);
    const before = await streamPos();
    const otks = signedKeys(dev, ["AAAAAQ", "AAAAAg"]);
    const fallback = signedKeys(dev, ["FB1"], { fallback: true });
    const up = await post<Counts>("/keys/upload", alice.accessToken, { one_time_keys: otks, fallback_keys: fallback });
    expect(up.status).toBe(200);
    expect(up.body.one_time_key_counts).toEqual({ signed_curve25519: 2 });
    // The same key again is fine; another key under a stored id is still refused.
    expect((await post<Counts>("/keys/upload", alice.accessToken, { one_time_keys: { "signed_curve25519:AAAAAQ": otks["signed_curve25519:AAAAAQ"] } })).body).toEqual({
      one_time_key_counts: { signed_curve25519: 2 },
    });
    const reused = await post("/keys/upload", alice.accessToken, { one_time_keys: signedKeys(dev, ["AAAAAg"]) });
    expect(reused.status).toBe(400);
    expect(reused.body.errcode).toBe("M_INVALID_PARAM");
    expect(String(reused.body.error)).toMatch(/^One time key signed_curve25519:AAAAAg already exists\. Old key: \{.*\}; new key: \{.*\}$/);
    const sync = await e2eeSync(env, alice.userId, alice.deviceId, null, await streamPos());
    expect(sync.device_one_time_keys_count).toEqual({ signed_curve25519: 2 });
    expect(sync.device_unused_fallback_key_types).toEqual(["signed_curve25519"]);
    // No device keys, so no device-list change and nothing in /keys/query.
    expect((await deviceListsSince(env.DB, alice.userId, before, await streamPos())).changed).toEqual([]);
    const q = await post<{ device_keys: Record<string, object> }>("/keys/query", alice.accessToken, { device_keys: { [alice.userId]: [] } });
    expect(q.body.device_keys[alice.userId]).toEqual({});

    // Claimed as uploaded (signatures included, for the claimer to check), in order, then the fallback key.
    const bob = await registerUser();
    const claim = async () =>
      (await post<Claimed>("/keys/claim", bob.accessToken, { one_time_keys: { [alice.userId]: { [alice.deviceId]: "signed_curve25519" } } })).body
        .one_time_keys[alice.userId]?.[alice.deviceId];
    expect(await claim()).toEqual({ "signed_curve25519:AAAAAQ": otks["signed_curve25519:AAAAAQ"] });
    expect(await claim()).toEqual({ "signed_curve25519:AAAAAg": otks["signed_curve25519:AAAAAg"] });
    expect(await claim()).toEqual(fallback);
  });

  it("once the device has keys, one-time and fallback keys are checked against them", async () => {
    const alice = await registerUser();
    const dev = makeDevice(alice.userId, alice.deviceId);
    const impostor = makeDevice(alice.userId, alice.deviceId);
    // Before device keys: stored (nothing to check against).
    expect((await post<Counts>("/keys/upload", alice.accessToken, { one_time_keys: signedKeys(dev, ["A1"]) })).body.one_time_key_counts).toEqual({
      signed_curve25519: 1,
    });
    expect((await post("/keys/upload", alice.accessToken, { device_keys: dev.keys })).status).toBe(200);
    for (const body of [{ one_time_keys: signedKeys(impostor, ["A2"]) }, { fallback_keys: signedKeys(impostor, ["F1"], { fallback: true }) }]) {
      const r = await post("/keys/upload", alice.accessToken, body);
      expect(r.status).toBe(400);
      expect(r.body.errcode).toBe("M_INVALID_SIGNATURE");
    }
    expect((await post<Counts>("/keys/upload", alice.accessToken, { one_time_keys: signedKeys(dev, ["A2"]) })).body.one_time_key_counts).toEqual({
      signed_curve25519: 2,
    });
    expect((await e2eeSync(env, alice.userId, alice.deviceId, null, await streamPos())).device_unused_fallback_key_types).toEqual([]);
  });

  it("records a device-list change for new device keys, not for one-time key top-ups", async () => {
    const alice = await registerUser();
    const before = await streamPos();
    const { dev } = await uploadDevice(alice, { otks: ["A1"] });
    const afterKeys = await streamPos();
    expect(afterKeys).toBeGreaterThan(before);
    expect((await deviceListsSince(env.DB, alice.userId, before, afterKeys)).changed).toEqual([alice.userId]);
    await post("/keys/upload", alice.accessToken, { one_time_keys: signedKeys(dev, ["A2"]), fallback_keys: signedKeys(dev, ["F1"], { fallback: true }) });
    await post("/keys/upload", alice.accessToken, { device_keys: dev.keys });
    const rows = await env.DB.prepare("SELECT COUNT(*) AS n FROM device_list_changes WHERE user_id = ? AND stream_pos > ?").bind(alice.userId, before).first<{ n: number }>();
    expect(rows!.n).toBe(1);
    const changes = await get<{ changed: string[]; left: string[] }>(`/keys/changes?from=s${afterKeys}&to=s${await streamPos()}`, alice.accessToken);
    expect(changes.body).toEqual({ changed: [], left: [] });
  });
});

describe("POST /keys/query", () => {
  it("returns device keys with the display name, per device or all, and failures for other servers", async () => {
    const alice = await registerUser(undefined, { password: "pw-alice" });
    const second = await login(alice.userId, "pw-alice", { initial_device_display_name: "Laptop" });
    const alice2 = { ...alice, accessToken: second.body.access_token, deviceId: second.body.device_id };
    const { dev: d1 } = await uploadDevice(alice);
    const { dev: d2 } = await uploadDevice(alice2);
    const bob = await registerUser();
    const all = await post<{ device_keys: Record<string, Record<string, JsonObject>>; failures: Record<string, unknown> }>("/keys/query", bob.accessToken, {
      device_keys: { [alice.userId]: [], "@nobody:localhost:8008": [], "@remote:elsewhere.example": [] },
      timeout: 10000,
    });
    expect(all.status).toBe(200);
    expect(Object.keys(all.body.device_keys[alice.userId]!).sort()).toEqual([alice.deviceId, alice2.deviceId].sort());
    expect(all.body.device_keys[alice.userId]![alice2.deviceId]).toEqual({ ...d2.keys, unsigned: { device_display_name: "Laptop" } });
    const { unsigned: _u, ...first } = all.body.device_keys[alice.userId]![alice.deviceId]!;
    expect(first).toEqual(d1.keys);
    expect(all.body.device_keys["@nobody:localhost:8008"]).toEqual({});
    expect(all.body.failures).toHaveProperty(["elsewhere.example"]);
    expect(all.body).toMatchObject({ master_keys: {}, self_signing_keys: {}, user_signing_keys: {} });
    const one = await post<{ device_keys: Record<string, Record<string, JsonObject>> }>("/keys/query", bob.accessToken, {
      device_keys: { [alice.userId]: [alice2.deviceId, "UNKNOWN"] },
    });
    expect(Object.keys(one.body.device_keys[alice.userId]!)).toEqual([alice2.deviceId]);
    for (const body of [{}, { device_keys: [] }, { device_keys: { [alice.userId]: "all" } }, { device_keys: { "not-a-user": [] } }]) {
      expect((await post("/keys/query", bob.accessToken, body)).status, JSON.stringify(body)).toBe(400);
    }
  });
});

describe("POST /keys/claim", () => {
  it("hands out one-time keys in upload order, once each, then the fallback key (marked used)", async () => {
    const alice = await registerUser();
    const { dev } = await uploadDevice(alice, { otks: ["AAAAAQ"], fallback: "FALLBACK1" });
    await post("/keys/upload", alice.accessToken, { one_time_keys: signedKeys(dev, ["AAAAAg"]) });
    const bob = await registerUser();
    const claim = () => post<Claimed>("/keys/claim", bob.accessToken, { one_time_keys: { [alice.userId]: { [alice.deviceId]: "signed_curve25519" } } });
    const first = await claim();
    expect(Object.keys(first.body.one_time_keys[alice.userId]![alice.deviceId]!)).toEqual(["signed_curve25519:AAAAAQ"]);
    expect(first.body.failures).toEqual({});
    expect(Object.keys((await claim()).body.one_time_keys[alice.userId]![alice.deviceId]!)).toEqual(["signed_curve25519:AAAAAg"]);
    const fb = (await claim()).body.one_time_keys[alice.userId]![alice.deviceId]!;
    expect(Object.keys(fb)).toEqual(["signed_curve25519:FALLBACK1"]);
    expect(fb["signed_curve25519:FALLBACK1"]!.fallback).toBe(true);
    // The fallback key stays available, but is no longer "unused".
    expect(Object.keys((await claim()).body.one_time_keys[alice.userId]![alice.deviceId]!)).toEqual(["signed_curve25519:FALLBACK1"]);
    expect((await e2eeSync(env, alice.userId, alice.deviceId, null, await streamPos())).device_unused_fallback_key_types).toEqual([]);
    // Re-uploading the same fallback key keeps it used; a new one is unused again.
    const sameFallback = JSON.parse(
      (await env.DB.prepare("SELECT key_json FROM e2e_fallback_keys WHERE user_id = ?").bind(alice.userId).first<{ key_json: string }>())!.key_json,
    ) as JsonObject;
    await post("/keys/upload", alice.accessToken, { fallback_keys: { "signed_curve25519:FALLBACK1": sameFallback } });
    expect((await e2eeSync(env, alice.userId, alice.deviceId, null, await streamPos())).device_unused_fallback_key_types).toEqual([]);
    await post("/keys/upload", alice.accessToken, { fallback_keys: signedKeys(dev, ["FALLBACK2"], { fallback: true }) });
    expect((await e2eeSync(env, alice.userId, alice.deviceId, null, await streamPos())).device_unused_fallback_key_types).toEqual(["signed_curve25519"]);
    expect(Object.keys((await claim()).body.one_time_keys[alice.userId]![alice.deviceId]!)).toEqual(["signed_curve25519:FALLBACK2"]);
  });

  it("20 concurrent claims against 10 one-time keys: 10 distinct keys, then the fallback key, never one key twice", async () => {
    const alice = await registerUser();
    const ids = Array.from({ length: 10 }, (_, i) => `KEY${i}`);
    await uploadDevice(alice, { otks: ids, fallback: "FB" });
    const claimers = await Promise.all([registerUser(), registerUser(), registerUser(), registerUser()]);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        post<Claimed>("/keys/claim", claimers[i % claimers.length]!.accessToken, {
          one_time_keys: { [alice.userId]: { [alice.deviceId]: "signed_curve25519" } },
        }),
      ),
    );
    const got = results.map((r) => {
      expect(r.status).toBe(200);
      const keys = Object.keys(r.body.one_time_keys[alice.userId]![alice.deviceId]!);
      expect(keys).toHaveLength(1);
      return keys[0]!;
    });
    const otks = got.filter((k) => k !== "signed_curve25519:FB");
    expect(otks.sort()).toEqual(ids.map((i) => `signed_curve25519:${i}`).sort());
    expect(got.filter((k) => k === "signed_curve25519:FB")).toHaveLength(10);
    expect((await post<Counts>("/keys/upload", alice.accessToken, {})).body.one_time_key_counts).toEqual({ signed_curve25519: 0 });
  });

  it("claims for many devices at once; unknown devices are left out; other servers are failures", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    await uploadDevice(alice, { otks: ["A1"] });
    await uploadDevice(bob, { otks: ["B1"] });
    const carol = await registerUser();
    const r = await post<Claimed>("/keys/claim", carol.accessToken, {
      one_time_keys: {
        [alice.userId]: { [alice.deviceId]: "signed_curve25519", NOSUCHDEVICE: "signed_curve25519" },
        [bob.userId]: { [bob.deviceId]: "signed_curve25519" },
        [carol.userId]: { [carol.deviceId]: "signed_curve25519" },
        "@x:remote.example": { D: "signed_curve25519" },
      },
      timeout: 10000,
    });
    expect(r.status).toBe(200);
    expect(r.body.one_time_keys).toEqual({
      [alice.userId]: { [alice.deviceId]: { "signed_curve25519:A1": expect.any(Object) } },
      [bob.userId]: { [bob.deviceId]: { "signed_curve25519:B1": expect.any(Object) } },
    });
    expect(Object.keys(r.body.failures)).toEqual(["remote.example"]);
    for (const body of [{}, { one_time_keys: { [alice.userId]: { D: 5 } } }, { one_time_keys: { nope: {} } }]) {
      expect((await post("/keys/claim", carol.accessToken, body)).status, JSON.stringify(body)).toBe(400);
    }
  });
});

describe("device lists: /keys/changes and deviceListsSince", () => {
  it("validates the tokens", async () => {
    const alice = await registerUser();
    expect((await get("/keys/changes", alice.accessToken)).body.errcode).toBe("M_MISSING_PARAM");
    expect((await get("/keys/changes?from=banana", alice.accessToken)).body.errcode).toBe("M_INVALID_PARAM");
    expect((await get("/keys/changes?from=s1&to=x", alice.accessToken)).body.errcode).toBe("M_INVALID_PARAM");
    expect((await get("/keys/changes?from=s0", alice.accessToken)).status).toBe(200);
    expect((await get("/keys/changes?from=s999999999", alice.accessToken)).body.errcode).toBe("M_INVALID_PARAM");
    expect((await get("/keys/changes?from=s0&to=s999999999", alice.accessToken)).status).toBe(200);
  });

  it("a device rename is a device-list change for room-mates (the name is in /keys/query); an unchanged name is not", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice.accessToken, { preset: "public_chat" });
    await joinRoom(bob.accessToken, roomId);
    await uploadDevice(alice, { otks: ["R"] });
    const rename = (name: string) =>
      callJson(`/_matrix/client/v3/devices/${alice.deviceId}`, { method: "PUT", token: alice.accessToken, json: { display_name: name } });
    const from = await streamPos();
    expect((await rename("Alice's laptop")).status).toBe(200);
    const to = await streamPos();
    expect((await get(`/keys/changes?from=s${from}&to=s${to}`, bob.accessToken)).body).toEqual({ changed: [alice.userId], left: [] });
    const q = await post<{ device_keys: Record<string, Record<string, { unsigned?: object }>> }>("/keys/query", bob.accessToken, { device_keys: { [alice.userId]: [] } });
    expect(q.body.device_keys[alice.userId]![alice.deviceId]!.unsigned).toEqual({ device_display_name: "Alice's laptop" });
    expect((await rename("Alice's laptop")).status).toBe(200);
    expect(await streamPos()).toBe(to);
    expect((await callJson("/_matrix/client/v3/devices/NOSUCHDEVICE", { method: "PUT", token: alice.accessToken, json: { display_name: "x" } })).status).toBe(404);
  });

  it("tells users sharing a room about key changes and deleted devices, and the others nothing", async () => {
    const alice = await registerUser(undefined, { password: "pw-a" });
    const bob = await registerUser();
    const carol = await registerUser();
    const roomId = await createRoom(alice.accessToken, { preset: "public_chat" });
    await joinRoom(bob.accessToken, roomId);
    const from = await streamPos();
    await uploadDevice(alice, { otks: ["X"] });
    const to = await streamPos();
    const forBob = await get<{ changed: string[]; left: string[] }>(`/keys/changes?from=s${from}&to=s${to}`, bob.accessToken);
    expect(forBob.body).toEqual({ changed: [alice.userId], left: [] });
    expect((await get(`/keys/changes?from=s${from}&to=s${to}`, carol.accessToken)).body).toEqual({ changed: [], left: [] });
    expect((await deviceListsSince(env.DB, alice.userId, from, to)).changed).toEqual([alice.userId]);
    // A second device logs in and out: its deletion is a change, and its keys are gone.
    const second = await login(alice.userId, "pw-a");
    const alice2 = { ...alice, accessToken: second.body.access_token, deviceId: second.body.device_id };
    await uploadDevice(alice2, { otks: ["Y"], fallback: "Z" });
    const beforeLogout = await streamPos();
    expect((await post("/logout", alice2.accessToken, {})).status).toBe(200);
    const afterLogout = await streamPos();
    expect((await get(`/keys/changes?from=s${beforeLogout}&to=s${afterLogout}`, bob.accessToken)).body).toEqual({ changed: [alice.userId], left: [] });
    for (const t of ["e2e_device_keys", "e2e_one_time_keys", "e2e_fallback_keys"]) {
      const row = await env.DB.prepare(`SELECT COUNT(*) AS n FROM ${t} WHERE user_id = ? AND device_id = ?`).bind(alice.userId, alice2.deviceId).first<{ n: number }>();
      expect(row!.n, t).toBe(0);
    }
    const q = await post<{ device_keys: Record<string, object> }>("/keys/query", bob.accessToken, { device_keys: { [alice.userId]: [] } });
    expect(Object.keys(q.body.device_keys[alice.userId]!)).toEqual([alice.deviceId]);
  });

  it("reports users who newly share a room as changed, and who no longer share one as left", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice.accessToken, { preset: "public_chat" });
    const beforeJoin = await streamPos();
    await joinRoom(bob.accessToken, roomId);
    const afterJoin = await streamPos();
    expect((await deviceListsSince(env.DB, alice.userId, beforeJoin, afterJoin)).changed).toEqual([bob.userId]);
    expect((await deviceListsSince(env.DB, bob.userId, beforeJoin, afterJoin)).changed).toEqual([alice.userId]);
    await leaveRoom(bob.accessToken, roomId);
    const afterLeave = await streamPos();
    expect(await deviceListsSince(env.DB, alice.userId, afterJoin, afterLeave)).toEqual({ changed: [], left: [bob.userId] });
    expect(await deviceListsSince(env.DB, bob.userId, afterJoin, afterLeave)).toEqual({ changed: [], left: [alice.userId] });
    // Nothing to tell for an empty range.
    expect(await deviceListsSince(env.DB, alice.userId, afterLeave, afterLeave)).toEqual({ changed: [], left: [] });
  });

  it("leaving one of two shared rooms is not 'left'; joining a room reports everyone in it; invites are not joins", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const carol = await registerUser();
    const dave = await registerUser();
    const r1 = await createRoom(alice.accessToken, { preset: "public_chat" });
    const r2 = await createRoom(alice.accessToken, { preset: "public_chat" });
    await joinRoom(bob.accessToken, r1);
    await joinRoom(bob.accessToken, r2);
    await joinRoom(carol.accessToken, r2);
    const p0 = await streamPos();
    await leaveRoom(bob.accessToken, r1);
    const p1 = await streamPos();
    expect(await deviceListsSince(env.DB, alice.userId, p0, p1)).toEqual({ changed: [], left: [] });
    expect(await deviceListsSince(env.DB, bob.userId, p0, p1)).toEqual({ changed: [], left: [] });
    // Dave joins r2: he learns about everyone there, each of them about him.
    await joinRoom(dave.accessToken, r2);
    const p2 = await streamPos();
    expect((await deviceListsSince(env.DB, dave.userId, p1, p2)).changed).toEqual([alice.userId, bob.userId, carol.userId].sort());
    expect((await deviceListsSince(env.DB, carol.userId, p1, p2)).changed).toEqual([dave.userId]);
    // An invite is not a shared room yet.
    const eve = await registerUser();
    const r3 = await createRoom(alice.accessToken, { preset: "private_chat" });
    const p3 = await streamPos();
    expect((await post(`/rooms/${encodeURIComponent(r3)}/invite`, alice.accessToken, { user_id: eve.userId })).status).toBe(200);
    expect((await deviceListsSince(env.DB, alice.userId, p3, await streamPos())).changed).toEqual([]);
  });
});
