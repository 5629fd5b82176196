// D1 cost of the room read paths, as D1 reports it (meta.rows_read), through the
// real app with the bench's counting wrapper (scripts/bench/d1-counter.ts): a page
// costs a fixed number of statements, and rows read follow the page, not the
// room's history, the invisible part of it or the size of a thread.
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env as poolEnv } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { countingD1, newTally, type D1Tally } from "../../scripts/bench/d1-counter.js";
import { createApp } from "../../workers/app.js";
import type { Env } from "../../services/env.js";
import { BASE, registerUser, type TestUser } from "./helpers.js";
import { createRoom, membership, sendEvent, text, v1, v3 } from "./room-reads-helpers.js";

const env = poolEnv as unknown as Env;
let tally: D1Tally | undefined;
const countedEnv: Env = { ...env, DB: countingD1(env.DB, () => tally) };
const app = createApp();

async function measured(u: TestUser, path: string): Promise<{ status: number; body: any; t: D1Tally }> {
  tally = newTally();
  try {
    const ctx = createExecutionContext();
    const res = await app.fetch(new Request(`${BASE}${path}`, { headers: { Authorization: `Bearer ${u.accessToken}`, "cf-connecting-ip": "10.9.9.8" } }), countedEnv, ctx);
    await waitOnExecutionContext(ctx);
    return { status: res.status, body: await res.json(), t: tally };
  } finally {
    tally = undefined;
  }
}

const describeQueries = (t: D1Tally) => t.queries.map((q) => `${q.rowsRead}r ${q.sql.slice(0, 90)}`).join("\n");

describe("D1 cost of room reads", () => {
  it("/messages: fixed statements; rows read follow the page, not the hidden history before a late join", async () => {
    const alice = await registerUser();
    const bob = await registerUser();
    const roomId = await createRoom(alice, { preset: "public_chat", initial_state: [{ type: "m.room.history_visibility", state_key: "", content: { history_visibility: "joined" } }] });
    for (let i = 0; i < 80; i++) await text(alice, roomId, `hidden ${i}`);
    await membership(bob, roomId, "join");
    for (let i = 0; i < 15; i++) await text(alice, roomId, `seen ${i}`);
    await measured(bob, v3(roomId, "messages?dir=b&limit=1")); // warm: one-time migration check

    const first = await measured(bob, v3(roomId, "messages?dir=b&limit=10"));
    expect(first.status).toBe(200);
    expect(first.body.chunk).toHaveLength(10);
    // auth, the access batch (stream head, visibility changes, own memberships, forgotten), the page, the aggregation batch (2).
    expect(first.t.statements, describeQueries(first.t)).toBe(8);
    // About 100 rows for a page of 10 (D1 counts json_each rows and index probes too), nothing like the room's size.
    expect(first.t.rowsRead, describeQueries(first.t)).toBeLessThanOrEqual(110);
    // Page on to the start: the events before the visibility change (the room's first events, still
    // "shared") are visible, the 80 between it and his join are not — and are never read.
    let from = first.body.end as string | undefined;
    let seen = first.body.chunk.length as number;
    let pageRows = first.t.queries.filter((q) => q.sql.includes("e.stream_pos >= ?")).reduce((n, q) => n + q.rowsRead, 0);
    while (from) {
      const page = await measured(bob, v3(roomId, `messages?dir=b&limit=10&from=${from}`));
      expect(page.t.rowsRead, describeQueries(page.t)).toBeLessThanOrEqual(110);
      pageRows += page.t.queries.filter((q) => q.sql.includes("e.stream_pos >= ?")).reduce((n, q) => n + q.rowsRead, 0);
      seen += page.body.chunk.length;
      from = page.body.end;
    }
    expect(seen).toBe(15 + 1 + 5); // messages, his join, create/member/power_levels/join_rules/history_visibility
    expect(pageRows).toBeLessThan(2 * (seen + 3));
  });

  it("bundled thread summaries and edits cost the same however long the thread", async () => {
    const alice = await registerUser();
    const roomId = await createRoom(alice);
    const thread = async (replies: number) => {
      const root = await text(alice, roomId, "root");
      for (let i = 0; i < replies; i++) await sendEvent(alice, roomId, { msgtype: "m.text", body: `r${i}`, "m.relates_to": { rel_type: "m.thread", event_id: root } });
      return root;
    };
    const short = await thread(1);
    const long = await thread(60);
    await measured(alice, v3(roomId, "messages?dir=b&limit=1"));
    const cost = async (root: string, count: number) => {
      const ctx = await measured(alice, v3(roomId, `context/${encodeURIComponent(root)}?limit=0`));
      expect(ctx.status).toBe(200);
      expect(ctx.body.event.unsigned["m.relations"]["m.thread"].count).toBe(count);
      const aggregation = ctx.t.queries.filter((q) => q.sql.includes("room_threads"));
      expect(aggregation).toHaveLength(2);
      return aggregation.reduce((n, q) => n + q.rowsRead, 0);
    };
    const shortCost = await cost(short, 1);
    expect(await cost(long, 60)).toBeLessThanOrEqual(shortCost + 2);
    const threads = await measured(alice, v1(roomId, "threads"));
    expect(threads.body.chunk).toHaveLength(2);
    expect(threads.t.rowsRead, describeQueries(threads.t)).toBeLessThanOrEqual(60);
  });
});
