import { env as workerEnv } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { Env } from "../../services/env.js";
import { SERVER, callJson, createRoom, enc, mustJoin, mustPutState, registerAdmin, registerUser, sendMessage } from "./directory-helpers.js";

const env = workerEnv as unknown as Env;

const reportEvent = (token: string, roomId: string, eventId: string, body: unknown = { reason: "bad" }) =>
  callJson(`/_matrix/client/v3/rooms/${enc(roomId)}/report/${enc(eventId)}`, { method: "POST", token, json: body });

interface AdminReport {
  id: number;
  received_ts: number;
  room_id: string;
  event_id: string;
  user_id: string;
  score: number | null;
  reason: string | null;
  sender: string | null;
  canonical_alias: string | null;
  name: string | null;
  event_json?: Record<string, unknown>;
}

describe("POST /rooms/{roomId}/report/{eventId}", () => {
  it("a joined member who can see the event reports it; it is stored with reason, score and the body", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice.accessToken, { preset: "public_chat" });
    // History is shared: Bob sees what was said before he joined.
    const earlier = await sendMessage(alice.accessToken, roomId, "before bob");
    await mustJoin(bob.accessToken, roomId);
    expect((await reportEvent(bob.accessToken, roomId, earlier)).status).toBe(200);
    const msg = await sendMessage(alice.accessToken, roomId, "offensive");
    const r = await reportEvent(bob.accessToken, roomId, msg, { reason: "this makes me sad", score: -100 });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({});
    const row = await env.DB.prepare("SELECT room_id, event_id, user_id, reason, score, content FROM event_reports WHERE event_id = ?").bind(msg).first();
    expect(row).toEqual({ room_id: roomId, event_id: msg, user_id: bob.userId, reason: "this makes me sad", score: -100, content: JSON.stringify({ reason: "this makes me sad", score: -100 }) });
    expect((await reportEvent(bob.accessToken, roomId, msg, {})).status).toBe(200);
    expect((await reportEvent(bob.accessToken, roomId, msg, { score: 5 })).body.errcode).toBe("M_INVALID_PARAM");
    expect((await reportEvent(bob.accessToken, roomId, msg, { score: "x" })).body.errcode).toBe("M_BAD_JSON");
    expect((await reportEvent(bob.accessToken, roomId, msg, { reason: 7 })).body.errcode).toBe("M_BAD_JSON");
    expect((await callJson(`/_matrix/client/v3/rooms/${enc(roomId)}/report/${enc(msg)}`, { method: "POST", json: {} })).status).toBe(401);
  });

  it("404 when the event is unknown, elsewhere, redacted, or the reporter is not joined or cannot see it", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const carol = await registerUser();
    const roomId = await createRoom(alice.accessToken, { preset: "public_chat" });
    const other = await createRoom(alice.accessToken, { preset: "public_chat" });
    await mustJoin(bob.accessToken, roomId);
    const msg = await sendMessage(alice.accessToken, roomId, "hello");
    const elsewhere = await sendMessage(alice.accessToken, other, "elsewhere");
    const notFound = async (token: string, room: string, ev: string) => {
      const r = await reportEvent(token, room, ev);
      expect(r.status, `${room} ${ev}`).toBe(404);
      expect(r.body.errcode).toBe("M_NOT_FOUND");
    };
    await notFound(carol.accessToken, roomId, msg); // not joined
    await notFound(bob.accessToken, roomId, "$unknown");
    await notFound(bob.accessToken, roomId, elsewhere);
    await notFound(bob.accessToken, `!nope:${SERVER}`, msg);
    const redacted = await sendMessage(alice.accessToken, roomId, "oops");
    expect((await callJson(`/_matrix/client/v3/rooms/${enc(roomId)}/redact/${enc(redacted)}/r1`, { method: "PUT", token: alice.accessToken, json: {} })).status).toBe(200);
    await notFound(bob.accessToken, roomId, redacted);
    // After leaving, Bob can no longer report.
    expect((await callJson(`/_matrix/client/v3/rooms/${enc(roomId)}/leave`, { method: "POST", token: bob.accessToken, json: {} })).status).toBe(200);
    await notFound(bob.accessToken, roomId, msg);
    // With history visible only to members from their join on, an earlier event is not Carol's to see.
    await mustPutState(alice.accessToken, roomId, "m.room.history_visibility", { history_visibility: "joined" });
    const before = await sendMessage(alice.accessToken, roomId, "before carol");
    await mustJoin(carol.accessToken, roomId);
    const after = await sendMessage(alice.accessToken, roomId, "after carol");
    await notFound(carol.accessToken, roomId, before);
    expect((await reportEvent(carol.accessToken, roomId, after)).status).toBe(200);
  });
});

describe("POST /rooms/{roomId}/report and /users/{userId}/report", () => {
  it("rooms: anyone may report a known room (joined or not); unknown rooms are 404; reason is required", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice.accessToken, { preset: "private_chat" });
    const r = await callJson(`/_matrix/client/v3/rooms/${enc(roomId)}/report`, { method: "POST", token: bob.accessToken, json: { reason: "" } });
    expect(r.status).toBe(200);
    expect(await env.DB.prepare("SELECT user_id, reason FROM room_reports WHERE room_id = ?").bind(roomId).first()).toEqual({ user_id: bob.userId, reason: "" });
    const unknown = await callJson(`/_matrix/client/v3/rooms/${enc(`!nope:${SERVER}`)}/report`, { method: "POST", token: bob.accessToken, json: { reason: "x" } });
    expect(unknown.status).toBe(404);
    expect(unknown.body.errcode).toBe("M_NOT_FOUND");
    // An absent required key is M_MISSING_PARAM (spec "Standard error response"; Synapse's pydantic bodies answer the same).
    expect((await callJson(`/_matrix/client/v3/rooms/${enc(roomId)}/report`, { method: "POST", token: bob.accessToken, json: {} })).body.errcode).toBe("M_MISSING_PARAM");
    expect((await callJson(`/_matrix/client/v3/rooms/${enc(roomId)}/report`, { method: "POST", token: bob.accessToken, json: { reason: 5 } })).body.errcode).toBe("M_BAD_JSON");
  });

  it("users: local users are reported; unknown and remote users are accepted silently", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const path = (u: string) => `/_matrix/client/v3/users/${enc(u)}/report`;
    expect((await callJson(path(bob.userId), { method: "POST", token: alice.accessToken, json: { reason: "rude" } })).status).toBe(200);
    expect((await callJson(path(`@ghost${Date.now()}:${SERVER}`), { method: "POST", token: alice.accessToken, json: { reason: "x" } })).status).toBe(200);
    expect((await callJson(path("@someone:remote.example"), { method: "POST", token: alice.accessToken, json: { reason: "x" } })).status).toBe(200);
    const { results } = await env.DB.prepare("SELECT target_user_id, reason FROM user_reports WHERE user_id = ?").bind(alice.userId).all();
    expect(results).toEqual([{ target_user_id: bob.userId, reason: "rude" }]);
    expect((await callJson(path("nobody"), { method: "POST", token: alice.accessToken, json: { reason: "x" } })).body.errcode).toBe("M_INVALID_PARAM");
  });
});

describe("GET/DELETE /_synapse/admin/v1/event_reports", () => {
  it("lists, filters, pages, shows and deletes reports for server admins only", async () => {
    const admin = await registerAdmin();
    const alice = await registerUser();
    const bob = await registerUser();
    const carol = await registerUser();
    const roomId = await createRoom(alice.accessToken, { preset: "public_chat", name: "Reported room", room_alias_name: `rep${Date.now().toString(36)}` });
    for (const u of [bob, carol]) await mustJoin(u.accessToken, roomId);
    const m1 = await sendMessage(alice.accessToken, roomId, "one");
    const m2 = await sendMessage(carol.accessToken, roomId, "two");
    expect((await reportEvent(bob.accessToken, roomId, m1, { reason: "first", score: -10 })).status).toBe(200);
    expect((await reportEvent(bob.accessToken, roomId, m2, { reason: "second" })).status).toBe(200);
    expect((await reportEvent(carol.accessToken, roomId, m1, { reason: "third" })).status).toBe(200);

    // Earlier tests in this file filed reports too: look at this room's.
    const list = (q = "", token = admin.accessToken) =>
      callJson<{ event_reports: AdminReport[]; total: number; next_token?: number; errcode?: string }>(`/_synapse/admin/v1/event_reports?room_id=${enc(roomId)}${q}`, { token });
    expect((await list("", bob.accessToken)).status).toBe(403);
    expect((await callJson("/_synapse/admin/v1/event_reports")).status).toBe(401);

    const all = await list();
    expect(all.status).toBe(200);
    expect(all.body.total).toBe(3);
    expect(all.body.event_reports.map((r) => r.reason)).toEqual(["third", "second", "first"]);
    const first = all.body.event_reports[2]!;
    expect(first).toEqual({
      id: expect.any(Number),
      received_ts: expect.any(Number),
      room_id: roomId,
      event_id: m1,
      user_id: bob.userId,
      score: -10,
      reason: "first",
      sender: alice.userId,
      canonical_alias: expect.stringMatching(/^#rep/),
      name: "Reported room",
    });
    expect((await list("&dir=f")).body.event_reports.map((r) => r.reason)).toEqual(["first", "second", "third"]);
    expect((await list(`&user_id=${enc(bob.userId)}`)).body.event_reports.map((r) => r.reason)).toEqual(["second", "first"]);
    expect((await list(`&event_sender_user_id=${enc(alice.userId)}`)).body.total).toBe(2);
    const other = await callJson(`/_synapse/admin/v1/event_reports?room_id=${enc(`!other:${SERVER}`)}`, { token: admin.accessToken });
    expect(other.body).toEqual({ event_reports: [], total: 0 });
    expect((await callJson("/_synapse/admin/v1/event_reports", { token: admin.accessToken })).body.total).toBeGreaterThan(3);
    const page1 = await list("&limit=2");
    expect(page1.body.event_reports).toHaveLength(2);
    expect(page1.body.next_token).toBe(2);
    const page2 = await list(`&limit=2&from=${page1.body.next_token}`);
    expect(page2.body.event_reports.map((r) => r.reason)).toEqual(["first"]);
    expect(page2.body.next_token).toBeUndefined();
    for (const q of ["&from=-1", "&limit=x", "&dir=up"]) expect((await list(q)).body.errcode, q).toBe("M_INVALID_PARAM");

    const detail = await callJson<AdminReport>(`/_synapse/admin/v1/event_reports/${first.id}`, { token: admin.accessToken });
    expect(detail.status).toBe(200);
    expect(detail.body).toMatchObject({ id: first.id, event_id: m1, reason: "first" });
    expect(detail.body.event_json).toMatchObject({ event_id: m1, type: "m.room.message", content: { body: "one" } });
    expect((await callJson(`/_synapse/admin/v1/event_reports/${first.id}`, { token: bob.accessToken })).status).toBe(403);
    expect((await callJson("/_synapse/admin/v1/event_reports/abc", { token: admin.accessToken })).body.errcode).toBe("M_INVALID_PARAM");
    expect((await callJson(`/_synapse/admin/v1/event_reports/${first.id}`, { method: "DELETE", token: admin.accessToken })).status).toBe(200);
    const gone = await callJson(`/_synapse/admin/v1/event_reports/${first.id}`, { token: admin.accessToken });
    expect(gone.status).toBe(404);
    expect(gone.body.errcode).toBe("M_NOT_FOUND");
    expect((await callJson(`/_synapse/admin/v1/event_reports/${first.id}`, { method: "DELETE", token: admin.accessToken })).status).toBe(404);
    expect((await list()).body.total).toBe(2);
  });
});
