// Simplified sliding sync (MSC4186) for a user in 1,000 rooms, with Element X's
// room-list request (window 20, timeline_limit 1, the 19 required-state pairs):
// the first response of a new connection, one message delivered to a parked
// connection, and D1 rows read by an incremental response with one room changed
// (probe server: D1 figures from meta.rows_read).
import { fmt, http, registerUser, stats } from "../lib.mjs";
import { createRooms, sendText } from "./rooms-send.mjs";

const ROOMS = 1000;
const CONCURRENCY = 8;
const PATH = "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync";
const REQUIRED_STATE = [
  ["m.room.name", ""], ["m.room.encryption", ""], ["m.room.member", "$LAZY"], ["m.room.member", "$ME"], ["m.room.topic", ""],
  ["m.room.avatar", ""], ["m.room.canonical_alias", ""], ["m.room.power_levels", ""], ["org.matrix.msc3401.call.member", "*"],
  ["m.room.join_rules", ""], ["m.room.tombstone", ""], ["m.room.create", ""], ["m.room.history_visibility", ""],
  ["io.element.functional_members", ""], ["m.space.parent", "*"], ["m.space.child", "*"], ["org.matrix.msc3672.beacon_info", "*"],
];
const body = {
  conn_id: "room-list",
  lists: { all_rooms: { ranges: [[0, 19]], timeline_limit: 1, required_state: REQUIRED_STATE, filters: {} } },
  extensions: { account_data: { enabled: true }, receipts: { enabled: true, rooms: ["*"] }, typing: { enabled: true } },
};

export default {
  name: "sliding-sync",
  title: `Sliding sync for a user in ${ROOMS} rooms`,
  server: "probe",
  maxMs: 600_000,
  async run({ server, deadline, figure, note, verbose }) {
    const { baseUrl } = server;
    const u = await registerUser(baseUrl, `ss1000-${Date.now().toString(36)}`);
    const t0 = performance.now();
    const rooms = await createRooms(baseUrl, u.accessToken, ROOMS, { concurrency: CONCURRENCY, deadline });
    note(`created ${rooms.length} rooms in ${fmt((performance.now() - t0) / 1000, 1)} s`);
    const first = [];
    let last;
    for (let i = 0; i < 5; i++) {
      last = await http(baseUrl, PATH, { json: body, token: u.accessToken });
      if (last.status !== 200) throw new Error(`sliding sync ${last.status} ${JSON.stringify(last.body)}`);
      first.push(last.ms);
    }
    const s = stats(first);
    figure(`first response of a new connection, ${rooms.length} rooms`, `${fmt(s.p50)} ms median of ${s.n} (${Object.keys(last.body.rooms).length} rooms sent, count ${last.body.lists.all_rooms.count})`, s);
    figure("  D1 rows read / statements (first response)", `${last.headers.get("x-bench-d1-rows-read")} / ${last.headers.get("x-bench-d1-statements")}`);
    if (verbose) for (const q of JSON.parse(last.headers.get("x-bench-d1-queries") ?? "[]")) note(`  ${q.rowsRead} read: ${q.sql.slice(0, 160)}`);

    // One message to a parked connection: from the send to the long-poll's answer.
    const deliveries = [];
    let pos = last.body.pos;
    for (let i = 0; i < 10; i++) {
      const parked = http(baseUrl, `${PATH}?pos=${encodeURIComponent(pos)}&timeout=30000`, { json: body, token: u.accessToken });
      await new Promise((r) => setTimeout(r, 200));
      const sent = performance.now();
      await sendText(baseUrl, u.accessToken, rooms[i % rooms.length], `live ${i}`, `live-${i}-${Date.now()}`);
      const r = await parked;
      if (r.status !== 200) throw new Error(`sliding sync ${r.status}`);
      deliveries.push(performance.now() - sent);
      pos = r.body.pos;
    }
    const d = stats(deliveries);
    figure("one message to a parked connection, send → response", `p50 ${fmt(d.p50)} ms, p95 ${fmt(d.p95)} ms (${d.n} messages)`, d);

    // D1 rows of an incremental response with one room changed out of 1,000.
    const idle = await http(baseUrl, `${PATH}?pos=${encodeURIComponent(pos)}&timeout=0`, { json: body, token: u.accessToken });
    pos = idle.body.pos;
    await sendText(baseUrl, u.accessToken, rooms[500], "one change", `one-${Date.now()}`);
    const inc = await http(baseUrl, `${PATH}?pos=${encodeURIComponent(pos)}&timeout=0`, { json: body, token: u.accessToken });
    figure("incremental response, 1 room changed: D1 rows read", `${inc.headers.get("x-bench-d1-rows-read")} rows in ${inc.headers.get("x-bench-d1-statements")} statements (${Object.keys(inc.body.rooms).length} room sent, ${fmt(inc.ms)} ms)`, {
      rowsRead: Number(inc.headers.get("x-bench-d1-rows-read")),
      statements: Number(inc.headers.get("x-bench-d1-statements")),
    });
    if (verbose) for (const q of JSON.parse(inc.headers.get("x-bench-d1-queries") ?? "[]")) note(`  ${q.rowsRead} read: ${q.sql.slice(0, 160)}`);
  },
};
