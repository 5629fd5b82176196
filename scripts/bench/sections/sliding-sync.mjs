// Simplified sliding sync (MSC4186) for a user in 1,000 rooms, with Element X's
// room-list request (window 20, timeline_limit 1, the 19 required-state pairs,
// account data, receipts and typing): the first response of a new connection,
// one message delivered to a parked connection, and D1 rows read by the first
// response and by an incremental response with one room changed (probe server:
// D1 figures from meta.rows_read). Times come from the real server (the probe's
// counting adds its own work); `--against` measures another homeserver the same way.
import { fmt, http, registerUser, stats } from "../lib.mjs";
import { createRooms, sendText } from "./rooms-send.mjs";

const ROOMS = 1000;
const CONCURRENCY = 8;
const FIRST_RESPONSES = 15;
const DELIVERIES = 10;
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

async function slidingSync(baseUrl, token, query = "") {
  const r = await http(baseUrl, `${PATH}${query}`, { json: body, token });
  if (r.status !== 200) throw new Error(`sliding sync ${r.status} ${JSON.stringify(r.body)}`);
  return r;
}

/** A user in ROOMS rooms on `baseUrl`. */
async function userInRooms(baseUrl, deadline, note) {
  const u = await registerUser(baseUrl, `ss1000-${Date.now().toString(36)}`);
  const t0 = performance.now();
  const rooms = await createRooms(baseUrl, u.accessToken, ROOMS, { concurrency: CONCURRENCY, deadline });
  note(`created ${rooms.length} rooms on ${baseUrl} in ${fmt((performance.now() - t0) / 1000, 1)} s`);
  return { u, rooms };
}

const d1 = (r) => `${r.headers.get("x-bench-d1-rows-read")} rows in ${r.headers.get("x-bench-d1-statements")} statements`;

export default {
  name: "sliding-sync",
  title: `Sliding sync for a user in ${ROOMS} rooms`,
  server: "real",
  maxMs: 900_000,
  async run({ server, serverFor, deadline, figure, note, verbose }) {
    const probe = await serverFor("probe");
    const [real, counted] = await Promise.all([
      userInRooms(server.baseUrl, deadline, note),
      probe ? userInRooms(probe.baseUrl, deadline, note) : null,
    ]);
    const { u, rooms } = real;

    // A new connection each time (no pos): the first one is cold, the others are what a client reopening sees.
    const first = [];
    let last;
    for (let i = 0; i < FIRST_RESPONSES; i++) {
      last = await slidingSync(server.baseUrl, u.accessToken);
      first.push(last.ms);
    }
    const s = stats(first);
    if (verbose) note(`first responses in order: ${first.map((ms) => fmt(ms)).join(", ")} ms`);
    figure(
      `first response of a new connection, ${rooms.length} rooms`,
      `p50 ${fmt(s.p50)} ms, min ${fmt(s.min)}, max ${fmt(s.max)} (${s.n} connections; ${Object.keys(last.body.rooms).length} rooms sent, count ${last.body.lists.all_rooms.count})`,
      s,
    );

    // One message to a parked connection: from the send to the long-poll's answer.
    const deliveries = [];
    let pos = last.body.pos;
    for (let i = 0; i < DELIVERIES; i++) {
      const parked = slidingSync(server.baseUrl, u.accessToken, `?pos=${encodeURIComponent(pos)}&timeout=30000`);
      await new Promise((r) => setTimeout(r, 200));
      const sent = performance.now();
      await sendText(server.baseUrl, u.accessToken, rooms[i % rooms.length], `live ${i}`, `live-${i}-${Date.now()}`);
      const r = await parked;
      deliveries.push(performance.now() - sent);
      pos = r.body.pos;
    }
    const d = stats(deliveries);
    figure("one message to a parked connection, send → response", `p50 ${fmt(d.p50)} ms, p95 ${fmt(d.p95)} ms (${d.n} messages)`, d);

    // An incremental response with one room changed out of 1,000.
    const incremental = [];
    for (let i = 0; i < DELIVERIES; i++) {
      await sendText(server.baseUrl, u.accessToken, rooms[(500 + i) % rooms.length], "one change", `one-${i}-${Date.now()}`);
      const r = await slidingSync(server.baseUrl, u.accessToken, `?pos=${encodeURIComponent(pos)}&timeout=0`);
      incremental.push(r.ms);
      pos = r.body.pos;
    }
    const inc = stats(incremental);
    figure("incremental response, 1 room changed", `p50 ${fmt(inc.p50)} ms, p95 ${fmt(inc.p95)} ms (${inc.n} responses)`, inc);

    if (!counted) return;
    // D1 rows on the probe server: the first response, and an incremental one with one room changed.
    const c = counted;
    const firstCounted = await slidingSync(probe.baseUrl, c.u.accessToken);
    figure("  D1 rows read, first response", d1(firstCounted), { rowsRead: Number(firstCounted.headers.get("x-bench-d1-rows-read")) });
    if (verbose) for (const q of JSON.parse(firstCounted.headers.get("x-bench-d1-queries") ?? "[]")) note(`  ${q.rowsRead} read: ${q.sql.slice(0, 160)}`);
    const idle = await slidingSync(probe.baseUrl, c.u.accessToken, `?pos=${encodeURIComponent(firstCounted.body.pos)}&timeout=0`);
    await sendText(probe.baseUrl, c.u.accessToken, c.rooms[500], "one change", `one-${Date.now()}`);
    const one = await slidingSync(probe.baseUrl, c.u.accessToken, `?pos=${encodeURIComponent(idle.body.pos)}&timeout=0`);
    figure("  D1 rows read, incremental with 1 room changed", `${d1(one)} (${Object.keys(one.body.rooms).length} room sent)`, {
      rowsRead: Number(one.headers.get("x-bench-d1-rows-read")),
      statements: Number(one.headers.get("x-bench-d1-statements")),
    });
    if (verbose) for (const q of JSON.parse(one.headers.get("x-bench-d1-queries") ?? "[]")) note(`  ${q.rowsRead} read: ${q.sql.slice(0, 160)}`);
  },
};
