// Rooms across two servers: what receiving one event and joining a room with many
// state events cost the receiving server (Durable Object requests and SQLite rows,
// D1 rows, Worker requests: the probe's meter, scripts/bench/cost-meter.ts), and how
// long a message takes from one server's send to the other server's /sync.
// Server A is a plain instance; B is the probe. They federate in plain HTTP on
// loopback (FEDERATION_PLAINTEXT), as the e2e tests do.
import { startServer, freePort } from "../../../test/e2e/server.mjs";
import { fmt, http, registerUser, stats } from "../lib.mjs";
import { createRoom, joinRoom, sendText } from "./rooms-send.mjs";

/** State events in the big room (BENCH_FED_STATE overrides: the figure is 10,000). */
const BIG_STATE = Number(process.env.BENCH_FED_STATE || 2_000);
const MESSAGES = 30;

const meter = async (s) => (await fetch(`${s.directUrl}/__bench/cost`)).json();
const resetMeter = (s) => fetch(`${s.directUrl}/__bench/cost/reset`, { method: "POST" });

function totals(m) {
  const dos = Object.values(m.durableObjects);
  const sum = (f) => dos.reduce((a, d) => a + f(d), 0);
  const byClass = {};
  for (const [k, d] of Object.entries(m.durableObjects)) {
    const cls = k.split(":")[0];
    byClass[cls] = (byClass[cls] ?? 0) + d.requests;
  }
  return {
    workerRequests: m.workerRequests,
    doRequests: sum((d) => d.requests),
    doRowsRead: sum((d) => d.sqlRowsRead),
    doRowsWritten: sum((d) => d.sqlRowsWritten),
    d1RowsRead: m.d1.rowsRead,
    d1RowsWritten: m.d1.rowsWritten,
    byClass,
  };
}

const line = (t, n = 1) =>
  `${fmt(t.doRequests / n)} DO requests, ${fmt(t.doRowsRead / n, 0)}/${fmt(t.doRowsWritten / n, 0)} DO rows read/written, ` +
  `${fmt(t.d1RowsRead / n, 0)}/${fmt(t.d1RowsWritten / n, 0)} D1 rows read/written, ${fmt(t.workerRequests / n)} Worker requests`;

export default {
  name: "federation",
  title: "Rooms across two servers: receiving an event, joining a big room",
  maxMs: 600_000,
  async run({ repoRoot, figure, note, verbose, deadline }) {
    const [portA, portB] = [await freePort(), await freePort()];
    const nameA = `127.0.0.1:${portA}`;
    const nameB = `127.0.0.1:${portB}`;
    const vars = { FEDERATION_ALLOW: "127.0.0.1", FEDERATION_PLAINTEXT: `${nameA},${nameB}`, FEDERATION_DOH_URL: "", FEDERATION_RETRY_BASE_MS: "500" };
    const [a, b] = await Promise.all([
      startServer({ port: portA, serverName: nameA, vars }),
      startServer({ port: portB, serverName: nameB, vars, entrypoint: `${repoRoot}scripts/bench/probe-worker.ts` }),
    ]);
    try {
      const tag = Date.now().toString(36);
      const alice = await registerUser(a.directUrl, `fed-a-${tag}`);
      const bob = await registerUser(b.directUrl, `fed-b-${tag}`);

      // Receiving: one message at a time, each awaited in bob's /sync on B.
      const roomId = await createRoom(a.directUrl, alice.accessToken, { preset: "public_chat" });
      await joinRoom(b.directUrl, bob.accessToken, roomId, [nameA]);
      let since = (await http(b.directUrl, "/_matrix/client/v3/sync?timeout=0", { token: bob.accessToken })).body.next_batch;
      await new Promise((r) => setTimeout(r, 500));
      await resetMeter(b);
      const latency = [];
      for (let i = 0; i < MESSAGES; i++) {
        const t0 = performance.now();
        await sendText(a.directUrl, alice.accessToken, roomId, `fed ${i}`, `fed-${tag}-${i}`);
        for (;;) {
          const r = await http(b.directUrl, `/_matrix/client/v3/sync?timeout=10000&since=${encodeURIComponent(since)}`, { token: bob.accessToken });
          since = r.body.next_batch;
          const events = r.body.rooms?.join?.[roomId]?.timeline?.events ?? [];
          if (events.some((e) => e.content?.body === `fed ${i}`)) break;
        }
        latency.push(performance.now() - t0);
      }
      // The meter counts B's side only; bob's long-polls are part of it, so they are measured alone too.
      const received = totals(await meter(b));
      const s = stats(latency);
      figure("A's send → B's /sync, p50 / p95", `${fmt(s.p50)} ms / ${fmt(s.p95)} ms (n=${s.n}, sequential)`, s);
      await resetMeter(b);
      for (let i = 0; i < MESSAGES; i++) await http(b.directUrl, `/_matrix/client/v3/sync?timeout=0&since=${encodeURIComponent(since)}`, { token: bob.accessToken });
      const syncs = totals(await meter(b));
      const per = {};
      for (const k of ["workerRequests", "doRequests", "doRowsRead", "doRowsWritten", "d1RowsRead", "d1RowsWritten"]) per[k] = received[k] - syncs[k];
      figure("receiving one event (B, without the /sync)", line(per, MESSAGES), { perEvent: Object.fromEntries(Object.entries(per).map(([k, v]) => [k, v / MESSAGES])) });
      if (verbose) note(`DO requests by class while receiving: ${JSON.stringify(received.byClass)}`);

      // Joining a room with many state events.
      const big = await createRoom(a.directUrl, alice.accessToken, { preset: "public_chat", name: "big" });
      let made = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (made < BIG_STATE && Date.now() < deadline - 120_000) {
            const i = made++;
            const r = await http(a.directUrl, `/_matrix/client/v3/rooms/${encodeURIComponent(big)}/state/bench.state/k${i}`, { method: "PUT", json: { i }, token: alice.accessToken });
            if (r.status !== 200) throw new Error(`state ${r.status}`);
          }
        }),
      );
      note(`${made} state events set on A in ${fmt((performance.now() - started) / 1000)} s`);
      const carol = await registerUser(b.directUrl, `fed-c-${tag}`);
      await resetMeter(b);
      const t0 = performance.now();
      await joinRoom(b.directUrl, carol.accessToken, big, [nameA]);
      const joinMs = performance.now() - t0;
      await new Promise((r) => setTimeout(r, 1000));
      const joined = totals(await meter(b));
      figure(`joining a room of ${made + 7} state events (B)`, `${fmt(joinMs / 1000, 2)} s; ${line(joined)}`, { ms: joinMs, ...joined });
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  },
};
