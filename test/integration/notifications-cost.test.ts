// D1 cost of unread counts in /sync, as D1 reports it (meta.rows_read), through
// the real app with the bench's counting wrapper: counts are computed for the
// rooms in the response only, and a room with a large backlog is not recounted
// on every sync (push_summary).
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env as poolEnv } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { countingD1, newTally, type D1Tally } from "../../scripts/bench/d1-counter.js";
import { createApp } from "../../workers/app.js";
import type { Env } from "../../services/env.js";
import { BASE, registerUser, type TestUser } from "./helpers.js";
import { type Json, createRoom, join, receipt, sendText, sync } from "./push-helpers.js";

const env = poolEnv as unknown as Env;
let tally: D1Tally | undefined;
const countedEnv: Env = { ...env, DB: countingD1(env.DB, () => tally) };
const app = createApp();

async function measuredSync(u: TestUser, since: string): Promise<{ body: Json; t: D1Tally }> {
  tally = newTally();
  try {
    const ctx = createExecutionContext();
    const res = await app.fetch(new Request(`${BASE}/_matrix/client/v3/sync?since=${since}`, { headers: { Authorization: `Bearer ${u.accessToken}`, "cf-connecting-ip": "10.9.9.7" } }), countedEnv, ctx);
    await waitOnExecutionContext(ctx);
    return { body: (await res.json()) as Json, t: tally };
  } finally {
    tally = undefined;
  }
}

/** The statements of the unread-count path. */
const countQueries = (t: D1Tally) => t.queries.filter((q) => /event_push_actions|push_summary|push_sent_reads|FROM receipts WHERE room_id IN \(SELECT value FROM json_each\(\?2\)\) AND user_id/.test(q.sql));
const describe_ = (qs: D1Tally["queries"]) => qs.map((q) => `${q.rowsRead}r ${q.sql.slice(0, 100)}`).join("\n");

describe("D1 cost of unread counts", () => {
  it("an incremental sync counts only the rooms in the response, however many rooms the user is in", async () => {
    const [alice, bob] = await Promise.all([registerUser(), registerUser()]);
    const rooms: string[] = [];
    for (let i = 0; i < 25; i++) {
      const r = await createRoom(alice, { preset: "public_chat" });
      await join(bob, r);
      await sendText(alice, r, `unread ${i}`);
      rooms.push(r);
    }
    const s = await sync(bob);
    expect(Object.keys(s.rooms.join)).toHaveLength(25);
    await sendText(alice, rooms[7]!, "one more");
    const { body, t } = await measuredSync(bob, s.next_batch);
    expect(Object.keys(body.rooms.join)).toEqual([rooms[7]]);
    expect(body.rooms.join[rooms[7]!].unread_notifications).toEqual({ notification_count: 2, highlight_count: 0 });
    const qs = countQueries(t);
    // receipts, own-event marks, cache, and one counting query: a few rows each for the one
    // room (D1 counts json_each rows and index probes too), nothing for the other 24.
    expect(qs.length, describe_(qs)).toBeLessThanOrEqual(4);
    expect(qs.reduce((n, q) => n + q.rowsRead, 0), describe_(qs)).toBeLessThanOrEqual(20);
  });

  it("a large backlog is counted once, then only what is new", async () => {
    const [alice, bob] = await Promise.all([registerUser(), registerUser()]);
    const roomId = await createRoom(alice, { preset: "public_chat" });
    await join(bob, roomId);
    const ids: string[] = [];
    for (let i = 0; i < 80; i++) ids.push(await sendText(alice, roomId, `m${i}`));
    const s0 = await sync(bob);
    expect(s0.rooms.join[roomId].unread_notifications.notification_count).toBe(80);
    const cached = await env.DB.prepare("SELECT notif, upto_pos FROM push_summary WHERE user_id = ? AND room_id = ?").bind(bob.userId, roomId).first<{ notif: number }>();
    expect(cached?.notif).toBe(80);
    await sendText(alice, roomId, "new");
    const { body, t } = await measuredSync(bob, s0.next_batch);
    expect(body.rooms.join[roomId].unread_notifications.notification_count).toBe(81);
    const pushRows = countQueries(t).filter((q) => q.sql.includes("JOIN event_push_actions"));
    expect(pushRows.reduce((n, q) => n + q.rowsRead, 0), describe_(pushRows)).toBeLessThanOrEqual(6);
    // Reading most of it: the cached part is recounted from the receipt once.
    await receipt(bob, roomId, ids[69]!);
    const s2 = await sync(bob, { since: body.next_batch });
    expect(s2.rooms.join[roomId].unread_notifications.notification_count).toBe(11);
    // Small backlogs keep no cache.
    expect(await env.DB.prepare("SELECT COUNT(*) AS n FROM push_summary WHERE user_id = ? AND room_id = ?").bind(bob.userId, roomId).first<{ n: number }>()).toEqual({ n: 0 });
  });
});
