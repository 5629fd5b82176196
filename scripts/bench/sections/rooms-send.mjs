// Sending messages: sequential latency, 10 concurrent senders in one room, and
// Durable Object calls per message.
import { fmt, http, registerUser, repeat, stats } from "../lib.mjs";

const SEQUENTIAL = 100;
const SENDERS = 10;
const PER_SENDER = 30;
/** services/wake.ts DEFAULT_WAKE_SHARDS (the bench sets no WAKE_SHARDS): a write's wake-ups cost at most this many calls. */
const WAKE_SHARDS = 1;

export async function createRoom(baseUrl, token, body = {}) {
  const r = await http(baseUrl, "/_matrix/client/v3/createRoom", { json: body, token });
  if (r.status !== 200) throw new Error(`createRoom ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.room_id;
}

/** Creates up to `n` rooms named "room <i>", `concurrency` at a time, stopping at `deadline`. */
export async function createRooms(baseUrl, token, n, { concurrency = 8, deadline = Infinity } = {}) {
  const rooms = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n && Date.now() < deadline) {
        next++;
        rooms.push(await createRoom(baseUrl, token, { name: `room ${next}` }));
      }
    }),
  );
  return rooms;
}

/** `via`: servers to join through (a room of another server). */
export async function joinRoom(baseUrl, token, roomId, via = []) {
  const qs = via.map((s) => `server_name=${encodeURIComponent(s)}`).join("&");
  const r = await http(baseUrl, `/_matrix/client/v3/join/${encodeURIComponent(roomId)}${qs ? `?${qs}` : ""}`, { json: {}, token });
  if (r.status !== 200) throw new Error(`join ${r.status} ${JSON.stringify(r.body)}`);
}

export async function sendText(baseUrl, token, roomId, body, txn) {
  const r = await http(baseUrl, `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/send/m.room.message/${txn}`, {
    method: "PUT",
    json: { msgtype: "m.text", body },
    token,
  });
  if (r.status !== 200) throw new Error(`send ${r.status} ${JSON.stringify(r.body)}`);
  return r;
}

export default {
  name: "rooms-send",
  title: "Sending messages (PUT /rooms/{id}/send)",
  server: "real",
  maxMs: 120_000,
  async run({ server, deadline, figure, note }) {
    const { baseUrl } = server;
    const tag = Date.now().toString(36);
    const owner = await registerUser(baseUrl, `send-owner-${tag}`);
    const roomId = await createRoom(baseUrl, owner.accessToken, { preset: "public_chat" });

    const seq = await repeat(SEQUENTIAL + 5, async (i) => (await sendText(baseUrl, owner.accessToken, roomId, `seq ${i}`, `seq-${i}`)).ms, { deadline });
    const s = stats(seq.slice(5));
    figure("sequential send latency p50 / p95", `${fmt(s.p50)} ms / ${fmt(s.p95)} ms (n=${s.n})`, s);

    const senders = [];
    for (let i = 0; i < SENDERS; i++) {
      const u = await registerUser(baseUrl, `send-${tag}-${i}`);
      await joinRoom(baseUrl, u.accessToken, roomId);
      senders.push(u);
    }
    const t0 = performance.now();
    const latencies = [];
    await Promise.all(
      senders.map(async (u, i) => {
        for (let j = 0; j < PER_SENDER && Date.now() < deadline; j++) {
          latencies.push((await sendText(baseUrl, u.accessToken, roomId, `c ${i}/${j}`, `c-${i}-${j}`)).ms);
        }
      }),
    );
    const elapsed = (performance.now() - t0) / 1000;
    const c = stats(latencies);
    figure(`throughput, ${SENDERS} concurrent senders, one room`, `${fmt(latencies.length / elapsed, 0)} msg/s (${latencies.length} messages in ${fmt(elapsed, 2)} s)`, {
      messages: latencies.length,
      seconds: elapsed,
    });
    figure("latency under that load p50 / p95", `${fmt(c.p50)} ms / ${fmt(c.p95)} ms`, c);
    // Worker → Room DO: one RPC (send). Room DO → Wake shards: one notify per shard holding any
    // local member (joined, invited or knocking), at most WAKE_SHARDS. Nothing else is called.
    const members = SENDERS + 1;
    const wakeCalls = Math.min(members, WAKE_SHARDS);
    figure("Durable Object calls per message", `1 Room DO RPC + at most ${wakeCalls} Wake shard calls (${members} local members over ${WAKE_SHARDS} shards)`, {
      roomRpc: 1,
      wakeCallsAtMost: wakeCalls,
    });
    note("wake-ups go out after the D1 publish and are not on the sender's critical path (waitUntil)");
  },
};
