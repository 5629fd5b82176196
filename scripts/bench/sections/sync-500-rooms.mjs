// A user in 500 rooms: initial sync time, and D1 rows read by an incremental
// sync when one room changed (probe server: D1 figures from meta.rows_read).
import { fmt, http, registerUser, stats } from "../lib.mjs";
import { createRooms, sendText } from "./rooms-send.mjs";

const ROOMS = 500;
const CONCURRENCY = 8;

export default {
  name: "sync-500-rooms",
  title: `Sync for a user in ${ROOMS} rooms`,
  server: "probe",
  maxMs: 300_000,
  async run({ server, deadline, figure, note, verbose }) {
    const { baseUrl } = server;
    const u = await registerUser(baseUrl, `rooms500-${Date.now().toString(36)}`);
    const t0 = performance.now();
    const rooms = await createRooms(baseUrl, u.accessToken, ROOMS, { concurrency: CONCURRENCY, deadline });
    note(`created ${rooms.length} rooms in ${fmt((performance.now() - t0) / 1000, 1)} s`);
    const initial = [];
    let last;
    for (let i = 0; i < 3; i++) {
      last = await http(baseUrl, "/_matrix/client/v3/sync", { token: u.accessToken });
      if (last.status !== 200) throw new Error(`sync ${last.status}`);
      initial.push(last.ms);
    }
    const s = stats(initial);
    figure(`initial sync, ${rooms.length} rooms`, `${fmt(s.p50)} ms median of ${s.n} (${Object.keys(last.body.rooms.join).length} rooms returned)`, s);
    figure("  D1 rows read / statements (initial)", `${last.headers.get("x-bench-d1-rows-read")} / ${last.headers.get("x-bench-d1-statements")}`);
    const since = last.body.next_batch;
    await sendText(baseUrl, u.accessToken, rooms[0], "one change", "one");
    const inc = await http(baseUrl, `/_matrix/client/v3/sync?since=${since}`, { token: u.accessToken });
    const changed = Object.keys(inc.body.rooms.join);
    figure("incremental sync, 1 room changed: D1 rows read", `${inc.headers.get("x-bench-d1-rows-read")} rows in ${inc.headers.get("x-bench-d1-statements")} statements (${changed.length} room in response, ${fmt(inc.ms)} ms)`, {
      rowsRead: Number(inc.headers.get("x-bench-d1-rows-read")),
      statements: Number(inc.headers.get("x-bench-d1-statements")),
    });
    if (verbose) for (const q of JSON.parse(inc.headers.get("x-bench-d1-queries") ?? "[]")) note(`  ${q.rowsRead} read: ${q.sql}`);
    const idle = await http(baseUrl, `/_matrix/client/v3/sync?since=${inc.body.next_batch}`, { token: u.accessToken });
    figure("incremental sync, nothing changed: D1 rows read", `${idle.headers.get("x-bench-d1-rows-read")} rows in ${idle.headers.get("x-bench-d1-statements")} statements (${fmt(idle.ms)} ms)`);
    if (verbose) for (const q of JSON.parse(idle.headers.get("x-bench-d1-queries") ?? "[]")) note(`  ${q.rowsRead} read: ${q.sql}`);
  },
};
