/**
 * Nothing acknowledged is lost: 10 senders × 100 messages into one room while the
 * server's workerd process is killed (SIGKILL) mid-load and started again on the
 * same state. Every acknowledged event appears exactly once, retried txnIds return
 * the original event ids, and every member sees the same order in /messages and /sync.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { workerdChildren } from "./workerd-children.js";
import { afterAll, describe, expect, it } from "vitest";
import { fetchJson, startServer, uniqueName, type TestServer } from "./harness.js";
import { freePort } from "./server.mjs";

const SENDERS = 10;
const PER_SENDER = 100;
const KILL_AFTER_ACKS = 300;

interface Creds {
  userId: string;
  token: string;
}

async function register(base: string, name: string): Promise<Creds> {
  const first = await fetchJson<{ session: string }>(base, "/_matrix/client/v3/register", { method: "POST", json: { username: name, password: "pw" } });
  const done = await fetchJson<{ user_id: string; access_token: string }>(base, "/_matrix/client/v3/register", {
    method: "POST",
    json: { username: name, password: "pw", auth: { type: "m.login.dummy", session: first.body.session } },
  });
  return { userId: done.body.user_id, token: done.body.access_token };
}

async function allMessages(base: string, token: string, roomId: string): Promise<Array<{ id: string; body: string }>> {
  const out: Array<{ id: string; body: string }> = [];
  let from: string | undefined;
  for (let page = 0; page < 200; page++) {
    const q = new URLSearchParams({ dir: "b", limit: "100", ...(from ? { from } : {}) });
    const r = await fetchJson<{ chunk: Array<{ event_id: string; type: string; content: { body?: string } }>; end?: string }>(
      base,
      `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/messages?${q}`,
      { token },
    );
    expect(r.status).toBe(200);
    for (const e of r.body.chunk) if (e.type === "m.room.message") out.push({ id: e.event_id, body: e.content.body ?? "" });
    if (!r.body.end) break;
    from = r.body.end;
  }
  return out.reverse();
}

describe("durability under a crash", () => {
  const persistDir = mkdtempSync(join(tmpdir(), "edge-matrix-durability-"));
  let server: TestServer | undefined;
  afterAll(async () => {
    await server?.stop().catch(() => undefined);
    rmSync(persistDir, { recursive: true, force: true });
  });

  it("loses no acknowledged event and keeps one order for everyone", async () => {
    const port = await freePort();
    server = await startServer({ persistDir, port, keepState: true });
    const base = server.baseUrl;
    const owner = await register(base, uniqueName("owner"));
    const room = await fetchJson<{ room_id: string }>(base, "/_matrix/client/v3/createRoom", { method: "POST", token: owner.token, json: { preset: "public_chat" } });
    const roomId = room.body.room_id;
    const senders: Creds[] = [];
    for (let i = 0; i < SENDERS; i++) {
      const u = await register(base, uniqueName(`s${i}`));
      expect((await fetchJson(base, `/_matrix/client/v3/join/${encodeURIComponent(roomId)}`, { method: "POST", token: u.token, json: {} })).status).toBe(200);
      senders.push(u);
    }

    const acked = new Map<string, string>(); // txnId → event id
    const next = senders.map(() => 0); // first message index not known to be acknowledged
    let killed = false;
    const send = (u: Creds, txn: string, body: string) =>
      fetchJson<{ event_id: string }>(base, `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${txn}`, {
        method: "PUT",
        token: u.token,
        json: { msgtype: "m.text", body },
      });

    await Promise.all(
      senders.map(async (u, i) => {
        for (let j = 0; j < PER_SENDER && !killed; j++) {
          const txn = `t-${i}-${j}`;
          try {
            const r = await send(u, txn, `${i}/${j}`);
            if (r.status !== 200) break;
            acked.set(txn, r.body.event_id);
            next[i] = j + 1;
          } catch {
            break; // connection dropped: outcome unknown, retried below
          }
          if (acked.size >= KILL_AFTER_ACKS && !killed) {
            killed = true;
            for (const pid of workerdChildren()) process.kill(pid, "SIGKILL");
          }
        }
      }),
    );
    expect(killed).toBe(true);
    const ackedBeforeCrash = new Map(acked);
    await Promise.race([server.stop().catch(() => undefined), new Promise((r) => setTimeout(r, 5000))]);

    server = await startServer({ persistDir, port, keepState: true });
    // Retries of acknowledged txnIds return the original ids; the rest are sent (again).
    for (const [txn, id] of [...ackedBeforeCrash].filter((_, k) => k % 10 === 0)) {
      const [, i, j] = txn.split("-").map(Number) as [number, number, number];
      const r = await send(senders[i]!, txn, `${i}/${j}`);
      expect(r.body.event_id).toBe(id);
    }
    await Promise.all(
      senders.map(async (u, i) => {
        for (let j = next[i]!; j < PER_SENDER; j++) {
          const txn = `t-${i}-${j}`;
          const r = await send(u, txn, `${i}/${j}`);
          expect(r.status).toBe(200);
          if (acked.has(txn)) expect(r.body.event_id).toBe(acked.get(txn));
          acked.set(txn, r.body.event_id);
        }
      }),
    );
    expect(acked.size).toBe(SENDERS * PER_SENDER);

    // Every member sees every message exactly once, in the same order.
    const views = await Promise.all([owner, ...senders].map((u) => allMessages(base, u.token, roomId)));
    const reference = views[0]!;
    expect(reference).toHaveLength(SENDERS * PER_SENDER);
    expect(new Set(reference.map((m) => m.id)).size).toBe(SENDERS * PER_SENDER);
    for (const id of acked.values()) expect(reference.some((m) => m.id === id)).toBe(true);
    for (const v of views) expect(v.map((m) => m.id)).toEqual(reference.map((m) => m.id));
    // Each sender's own messages are in the order it sent them.
    for (let i = 0; i < SENDERS; i++) {
      const mine = reference.filter((m) => m.body.startsWith(`${i}/`)).map((m) => Number(m.body.split("/")[1]));
      expect(mine).toEqual([...mine].sort((a, b) => a - b));
    }
    // /sync shows the same tail in the same order.
    const filter = encodeURIComponent(JSON.stringify({ room: { timeline: { limit: 50, types: ["m.room.message"] } } }));
    const s = await fetchJson<{ rooms: { join: Record<string, { timeline: { events: Array<{ event_id: string }> } }> } }>(base, `/_matrix/client/v3/sync?filter=${filter}`, { token: owner.token });
    const tail = s.body.rooms.join[roomId]!.timeline.events.map((e) => e.event_id);
    expect(tail).toEqual(reference.slice(-tail.length).map((m) => m.id));
  });
});
