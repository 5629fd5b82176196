/** GET /events, the pre-/sync event stream (workers/routes/events-stream.ts). */
import { describe, expect, it } from "vitest";
import { callJson, registerUser } from "./helpers.js";
import { createRoom } from "./room-reads-helpers.js";

type Stream = { start: string; end: string; chunk: Array<{ type: string; room_id: string; event_id?: string; content: Record<string, unknown>; state_key?: string }> };

describe("GET /events", () => {
  it("streams timeline events with their room ids from a token, invites as member events, and refuses bad parameters", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice);
    const first = await callJson<Stream>("/_matrix/client/r0/events?timeout=0", { token: alice.accessToken });
    expect(first.status).toBe(200);
    expect(first.body.chunk).toEqual([]);
    const sent = await callJson<{ event_id: string }>(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/t1`, {
      method: "PUT",
      token: alice.accessToken,
      json: { msgtype: "m.text", body: "on the stream" },
    });
    const next = await callJson<Stream>(`/_matrix/client/v3/events?timeout=0&from=${first.body.end}`, { token: alice.accessToken });
    expect(next.body.start).toBe(first.body.end);
    expect(next.body.chunk).toMatchObject([{ type: "m.room.message", room_id: roomId, event_id: sent.body.event_id, content: { body: "on the stream" } }]);
    // Nothing new since `end`.
    const again = await callJson<Stream>(`/_matrix/client/r0/events?timeout=0&from=${next.body.end}`, { token: alice.accessToken });
    expect(again.body.chunk).toEqual([]);

    const bobStart = await callJson<Stream>("/_matrix/client/r0/events?timeout=0", { token: bob.accessToken });
    await callJson(`/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/invite`, { method: "POST", token: alice.accessToken, json: { user_id: bob.userId } });
    const invited = await callJson<Stream>(`/_matrix/client/r0/events?timeout=0&from=${bobStart.body.end}`, { token: bob.accessToken });
    expect(invited.body.chunk).toMatchObject([{ type: "m.room.member", room_id: roomId, state_key: bob.userId, content: { membership: "invite" } }]);

    for (const q of ["limit=hello", "limit=-2", "timeout=hello", "from=nonsense"]) {
      const bad = await callJson<{ errcode: string }>(`/_matrix/client/r0/events?${q}`, { token: alice.accessToken });
      expect([q, bad.status, bad.body.errcode]).toEqual([q, 400, "M_INVALID_PARAM"]);
    }
    expect((await callJson("/_matrix/client/r0/events?timeout=0")).status).toBe(401);
  });
});
