// Sync wake-up latency: 50 users long-poll /sync in one room while messages
// flow; each figure is the time from a message's send to a poller's response.
import { fmt, http, registerUser, stats } from "../lib.mjs";
import { createRoom, joinRoom, sendText } from "./rooms-send.mjs";

const POLLERS = 50;
const MESSAGES = 20;
const GAP_MS = 250;

export default {
  name: "sync-wakeup",
  title: `Sync wake-up latency (${POLLERS} long-polling users, one room)`,
  server: "real",
  maxMs: 180_000,
  async run({ server, deadline, figure, note }) {
    const { baseUrl } = server;
    const tag = Date.now().toString(36);
    const sender = await registerUser(baseUrl, `wake-sender-${tag}`);
    const roomId = await createRoom(baseUrl, sender.accessToken, { preset: "public_chat" });
    const pollers = [];
    for (let i = 0; i < POLLERS; i++) {
      const u = await registerUser(baseUrl, `wake-${tag}-${i}`);
      await joinRoom(baseUrl, u.accessToken, roomId);
      const s = await http(baseUrl, "/_matrix/client/v3/sync?timeout=0", { token: u.accessToken });
      pollers.push({ ...u, since: s.body.next_batch });
    }
    const sentAt = new Map();
    const samples = [];
    let stop = false;
    const loops = pollers.map(async (p) => {
      while (!stop && Date.now() < deadline) {
        const r = await http(baseUrl, `/_matrix/client/v3/sync?timeout=30000&since=${p.since}`, { token: p.accessToken });
        const now = performance.now();
        if (r.status !== 200) throw new Error(`sync ${r.status}`);
        p.since = r.body.next_batch;
        for (const ev of r.body.rooms?.join?.[roomId]?.timeline?.events ?? []) {
          const t = sentAt.get(ev.content?.body);
          if (t !== undefined) samples.push(now - t);
        }
      }
    });
    await new Promise((r) => setTimeout(r, 500));
    for (let i = 0; i < MESSAGES && Date.now() < deadline; i++) {
      const body = `wake ${i}`;
      sentAt.set(body, performance.now());
      await sendText(baseUrl, sender.accessToken, roomId, body, `w-${i}`);
      await new Promise((r) => setTimeout(r, GAP_MS));
    }
    await new Promise((r) => setTimeout(r, 1000));
    stop = true;
    // Release the pollers with one last message.
    await sendText(baseUrl, sender.accessToken, roomId, "done", "w-done");
    await Promise.all(loops);
    const s = stats(samples);
    const p99 = [...samples].sort((a, b) => a - b)[Math.max(0, Math.ceil(0.99 * samples.length) - 1)];
    figure("wake-up latency p50 / p95 / p99", `${fmt(s.p50)} / ${fmt(s.p95)} / ${fmt(p99)} ms (n=${s.n}, send start → sync response)`, { ...s, p99 });
    note(`${MESSAGES} messages ${GAP_MS} ms apart; latency includes the send itself`);
  },
};
