// The roadmap's scale: 500 users, each long-polling /sync, in 200 rooms (10 rooms
// each, about 25 members a room), while messages are offered at 50 a second by
// members of random rooms. Sends are open-loop (offered on a clock, not after the
// previous answer), so a slow server shows as a queue, refusals or 5xx, not as a
// lower offered rate. Figures: sends accepted, refused and their latency; the time
// from each send to each member's /sync response carrying it; the local server's
// memory before and after. Bounded: 20 s of sending, then at most 15 s to drain.
//
// Requests go on fresh connections (no keep-alive reuse), for both servers: under
// this overload, workerd's local HTTP server closes idle keep-alive connections as
// the client reuses them, and about a quarter of the sends then fail with
// ECONNRESET before reaching the app (through wrangler dev's proxy they become
// the 503s with no errcode). Without reuse there is none of that; in production
// clients talk to Cloudflare's edge, not to workerd's socket.
import { setMaxListeners } from "node:events";
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { fmt, registerUser, stats, workerdProcesses } from "../lib.mjs";

const USERS = 500;
const ROOMS = 200;
const ROOMS_PER_USER = 10;
const RATE = 50;
const SEND_SECONDS = 20;
const DRAIN_MS = 15_000;
const SETUP_CONCURRENCY = 10;
/** Beyond this many sends in flight the client stops offering (counted, not hidden). */
const MAX_IN_FLIGHT = 500;

/** `lib.mjs` http() on a connection of its own (node:http without an agent: no keep-alive). */
function http(baseUrl, path, { method, json, token, signal } = {}) {
  const headers = { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(json !== undefined ? { "Content-Type": "application/json" } : {}) };
  return new Promise((resolve, reject) => {
    const req = request(`${baseUrl}${path}`, { method: method ?? (json === undefined ? "GET" : "POST"), headers, agent: false, signal }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("end", () => {
        let body = text;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {}
        resolve({ status: res.statusCode, body });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(json === undefined ? undefined : JSON.stringify(json));
  });
}

async function pool(n, concurrency, fn) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

function rssMiB(port) {
  if (!port) return Number.NaN;
  let kb = 0;
  for (const pid of workerdProcesses(port).runtime) {
    const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    kb += m ? Number(m[1]) : 0;
  }
  return kb / 1024;
}

/** The rooms user `u` is in: 10 distinct rooms, about 25 members each (37 and 17 are invertible mod 200). */
const roomsOf = (u) => Array.from({ length: ROOMS_PER_USER }, (_, k) => (u * 37 + k * 17) % ROOMS);

export default {
  name: "sync-scale",
  title: `${USERS} users long-polling /sync in ${ROOMS} rooms, messages offered at ${RATE}/s`,
  server: "real",
  maxMs: 900_000,
  async run({ server, deadline, figure, note }) {
    const { baseUrl } = server;
    const tag = Date.now().toString(36);
    const t0 = performance.now();
    const users = new Array(USERS);
    await pool(USERS, SETUP_CONCURRENCY, async (i) => {
      users[i] = await registerUser(baseUrl, `scale-${tag}-${i}`);
    });
    const roomIds = new Array(ROOMS);
    await pool(ROOMS, SETUP_CONCURRENCY, async (r) => {
      const res = await http(baseUrl, "/_matrix/client/v3/createRoom", { json: { preset: "public_chat", name: `scale ${r}` }, token: users[r].accessToken });
      if (res.status !== 200) throw new Error(`createRoom ${res.status} ${JSON.stringify(res.body)}`);
      roomIds[r] = res.body.room_id;
    });
    const members = Array.from({ length: ROOMS }, (_, r) => new Set([r]));
    const joins = [];
    for (let u = 0; u < USERS; u++) for (const r of roomsOf(u)) if (!members[r].has(u)) (members[r].add(u), joins.push([u, r]));
    await pool(joins.length, SETUP_CONCURRENCY, async (j) => {
      const [u, r] = joins[j];
      const res = await http(baseUrl, `/_matrix/client/v3/join/${encodeURIComponent(roomIds[r])}`, { json: {}, token: users[u].accessToken });
      if (res.status !== 200) throw new Error(`join ${res.status} ${JSON.stringify(res.body)}`);
    });
    const sizes = members.map((m) => m.size);
    note(`set up ${USERS} users, ${ROOMS} rooms of ${Math.min(...sizes)}–${Math.max(...sizes)} members (${joins.length} joins) in ${fmt((performance.now() - t0) / 1000, 0)} s`);

    // Everyone syncs once, then long-polls.
    await pool(USERS, SETUP_CONCURRENCY, async (u) => {
      const res = await http(baseUrl, "/_matrix/client/v3/sync?timeout=0", { token: users[u].accessToken });
      if (res.status !== 200) throw new Error(`initial sync ${res.status}`);
      users[u].since = res.body.next_batch;
    });
    const memBefore = rssMiB(server.port);
    const sentAt = new Map();
    const ackedAt = new Map();
    const deliveries = [];
    const sinceAck = [];
    const syncErrors = new Map();
    const ctl = new AbortController();
    setMaxListeners(0, ctl.signal); // one listener per poll in flight
    const loops = users.map(async (p) => {
      while (!ctl.signal.aborted) {
        let res;
        try {
          res = await http(baseUrl, `/_matrix/client/v3/sync?timeout=30000&since=${encodeURIComponent(p.since)}`, { token: p.accessToken, signal: ctl.signal });
        } catch (e) {
          if (ctl.signal.aborted) return;
          const why = `network: ${e?.code ?? e?.message}`;
          syncErrors.set(why, (syncErrors.get(why) ?? 0) + 1);
          await new Promise((r) => setTimeout(r, 500));
          continue;
        }
        const now = performance.now();
        const body = res.body;
        if (res.status !== 200 || typeof body !== "object") {
          syncErrors.set(res.status, (syncErrors.get(res.status) ?? 0) + 1);
          await new Promise((r) => setTimeout(r, 500));
          continue;
        }
        p.since = body.next_batch;
        for (const room of Object.values(body.rooms?.join ?? {})) {
          for (const ev of room.timeline?.events ?? []) {
            const t = sentAt.get(ev.content?.body);
            if (t !== undefined) deliveries.push(now - t);
            const a = ackedAt.get(ev.content?.body);
            // A member may have it before the sender's answer arrives: that counts as 0.
            if (t !== undefined) sinceAck.push(a === undefined ? 0 : Math.max(0, now - a));
          }
        }
      }
    });
    await new Promise((r) => setTimeout(r, 2000)); // every poll parked

    // Offer RATE messages a second for SEND_SECONDS, on a clock.
    const sendLatency = [];
    const statuses = new Map();
    let offered = 0;
    let skipped = 0;
    let inFlight = 0;
    let expected = 0;
    const pending = [];
    const sendStart = performance.now();
    for (let i = 0; i < RATE * SEND_SECONDS && Date.now() < deadline; i++) {
      const due = sendStart + (i * 1000) / RATE;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (inFlight >= MAX_IN_FLIGHT) {
        skipped++;
        continue;
      }
      const r = Math.floor(Math.random() * ROOMS);
      const roomMembers = [...members[r]];
      const sender = users[roomMembers[Math.floor(Math.random() * roomMembers.length)]];
      const body = `scale ${tag} ${i}`;
      offered++;
      inFlight++;
      const started = performance.now();
      sentAt.set(body, started);
      pending.push(
        http(baseUrl, `/_matrix/client/v3/rooms/${encodeURIComponent(roomIds[r])}/send/m.room.message/s${i}`, {
          method: "PUT",
          json: { msgtype: "m.text", body },
          token: sender.accessToken,
        })
          .then((res) => {
            statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
            if (res.status === 200) {
              ackedAt.set(body, performance.now());
              sendLatency.push(performance.now() - started);
              expected += roomMembers.length;
            } else sentAt.delete(body);
          })
          .catch((e) => {
            const why = `network: ${e?.code ?? e?.message}`;
            statuses.set(why, (statuses.get(why) ?? 0) + 1);
          })
          .finally(() => inFlight--),
      );
    }
    await Promise.all(pending);
    const sendSeconds = (performance.now() - sendStart) / 1000;
    const drainUntil = performance.now() + DRAIN_MS;
    while (deliveries.length < expected && performance.now() < drainUntil) await new Promise((r) => setTimeout(r, 200));
    const memAfter = rssMiB(server.port);
    ctl.abort();
    await Promise.allSettled(loops);

    const accepted = statuses.get(200) ?? 0;
    const fivexx = [...statuses].filter(([s]) => typeof s === "number" && s >= 500).reduce((a, [, n]) => a + n, 0);
    const s = stats(sendLatency);
    const d = stats(deliveries);
    const p99 = [...deliveries].sort((a, b) => a - b)[Math.max(0, Math.ceil(0.99 * deliveries.length) - 1)];
    figure("sends accepted", `${accepted} of ${offered} offered (${fmt(accepted / sendSeconds, 1)}/s over ${fmt(sendSeconds, 1)} s); ${fivexx} answered 5xx; ${skipped} not offered (${MAX_IN_FLIGHT} in flight)`, {
      offered,
      accepted,
      fivexx,
      skipped,
      statuses: Object.fromEntries(statuses),
      perSecond: accepted / sendSeconds,
    });
    if (accepted < offered) note(`send outcomes: ${JSON.stringify(Object.fromEntries(statuses))}`);
    figure("send latency p50 / p95", `${fmt(s.p50)} / ${fmt(s.p95)} ms`, s);
    figure("delivery p50 / p95 / p99 (send → member's /sync)", `${fmt(d.p50)} / ${fmt(d.p95)} / ${fmt(p99)} ms (${d.n} of ${expected} deliveries)`, { ...d, p99, expected });
    const w = stats(sinceAck);
    figure("wake-up p50 / p95 (send answered → member's /sync)", `${fmt(w.p50)} / ${fmt(w.p95)} ms`, w);
    if (syncErrors.size) figure("sync errors", JSON.stringify(Object.fromEntries(syncErrors)), Object.fromEntries(syncErrors));
    if (Number.isFinite(memBefore)) figure("workerd memory (RSS) before / after", `${fmt(memBefore, 0)} / ${fmt(memAfter, 0)} MiB`, { memBefore, memAfter });
  },
};
