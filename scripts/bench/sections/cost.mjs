// The monthly bill of a small community, modeled from measured unit costs.
//
// A scripted slice of a community's day runs through the real server (the probe
// entry point, whose meter counts what Cloudflare bills: scripts/bench/cost-meter.ts):
// people opening Element X (three sliding-sync connections), messages, reactions'
// worth of receipts and typing while other members have the app open and
// long-polling, long-polls that end at their timeout, other API calls, media.
// Each activity's cost (Worker requests and CPU, Durable Object requests and
// active time, D1 and Durable Object SQLite rows, R2 operations) is divided by how
// many times it ran, multiplied by the month's volume from the stated
// assumptions, and priced at Cloudflare's published prices
// (../shared/design/PLATFORM.md §1, §2.7, §3, §4).
import { fmt, http, registerUser, workerdProcesses, processCpuMs } from "../lib.mjs";
import { createRoom, joinRoom, sendText } from "./rooms-send.mjs";

/** The community (PLATFORM.md §7's assumptions, stated here so the model can be argued with). */
export const COMMUNITY = {
  monthlyUsers: 500,
  dailyUsers: 150,
  rooms: 200,
  /** Each user is in 10 rooms: 25 members per room on average. */
  membersPerRoom: 25,
  /** Members of a room with the app open while a message arrives (peak hours; 1.25 on a day's average). */
  openAppsPerRoom: 2,
  /** Element X keeps two long-polling connections (room-list, encryption) while open; the third (notifications) polls at start. */
  longPollConnections: 2,
  longPollTimeoutS: 30,
  appOpenHoursPerDay: 1,
  appStartsPerDay: 3,
  messagesPerDay: 15_000,
  receiptsPerDay: 5_000,
  /** Element sends a typing notice before most messages. */
  typingPerDay: 15_000,
  otherCallsPerUserDay: 50,
  uploadsPerMonth: 10_000,
  downloadsPerMonth: 1_000_000,
  mediaGB: 25,
  days: 30,
};

/** Cloudflare's prices (PLATFORM.md §1, §2.7, §3, §4), per month, Workers Paid. */
const PRICE = {
  base: 5,
  workerRequests: { included: 10e6, perMillion: 0.3 },
  workerCpuMs: { included: 30e6, perMillion: 0.02 },
  doRequests: { included: 1e6, perMillion: 0.15 },
  doGBs: { included: 400_000, perMillion: 12.5 },
  doRowsRead: { included: 25e9, perMillion: 0.001 },
  doRowsWritten: { included: 50e6, perMillion: 1 },
  d1RowsRead: { included: 25e9, perMillion: 0.001 },
  d1RowsWritten: { included: 50e6, perMillion: 1 },
  r2ClassA: { included: 1e6, perMillion: 4.5 },
  r2ClassB: { included: 10e6, perMillion: 0.36 },
  r2StorageGB: { included: 10, perUnit: 0.015 },
};

const SS_PATH = "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync";
const REQUIRED_STATE = [
  ["m.room.name", ""], ["m.room.encryption", ""], ["m.room.member", "$LAZY"], ["m.room.member", "$ME"], ["m.room.topic", ""],
  ["m.room.avatar", ""], ["m.room.canonical_alias", ""], ["m.room.power_levels", ""], ["m.room.join_rules", ""],
  ["m.room.create", ""], ["m.room.history_visibility", ""],
];
/** Element X's connections (../shared/design/CLIENTS.md §2.2). */
const CONNECTIONS = {
  "room-list": {
    lists: { all_rooms: { ranges: [[0, 19]], timeline_limit: 1, required_state: REQUIRED_STATE, filters: {} } },
    extensions: { account_data: { enabled: true }, receipts: { enabled: true, rooms: ["*"] }, typing: { enabled: true } },
  },
  encryption: { extensions: { to_device: { enabled: true }, e2ee: { enabled: true } } },
  notifications: {
    lists: { invites: { ranges: [[0, 16]], timeline_limit: 8, required_state: REQUIRED_STATE, filters: { is_invite: true } } },
    extensions: { account_data: { enabled: true } },
  },
};

async function meter(server) {
  const r = await fetch(`${server.baseUrl}/__bench/cost`);
  return r.json();
}

async function resetMeter(server) {
  await fetch(`${server.baseUrl}/__bench/cost/reset`, { method: "POST" });
}

function slidingSync(baseUrl, token, connId, query = "", signal) {
  return fetch(`${baseUrl}${SS_PATH}${query}`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify({ conn_id: connId, ...CONNECTIONS[connId] }),
    signal,
  }).then(async (r) => {
    const body = await r.json();
    if (r.status !== 200) throw new Error(`sliding sync ${connId} ${r.status} ${JSON.stringify(body)}`);
    return body;
  });
}

/** Apps held open: each long-polls its room-list and encryption connections until stopped. */
function openApps(baseUrl, users) {
  const ctl = new AbortController();
  const loops = [];
  for (const u of users) {
    for (const connId of ["room-list", "encryption"]) {
      loops.push(
        (async () => {
          let pos = (await slidingSync(baseUrl, u.accessToken, connId)).pos;
          while (!ctl.signal.aborted) {
            try {
              pos = (await slidingSync(baseUrl, u.accessToken, connId, `?pos=${encodeURIComponent(pos)}&timeout=30000`, ctl.signal)).pos;
            } catch (e) {
              if (!ctl.signal.aborted) throw e;
            }
          }
        })(),
      );
    }
  }
  return {
    stop: async () => {
      ctl.abort();
      await Promise.allSettled(loops);
    },
  };
}

/** Totals of one meter reading, flattened: what the bill is computed from. */
function flatten(m, cpuMs) {
  const dos = Object.values(m.durableObjects);
  const sum = (f) => dos.reduce((a, d) => a + f(d), 0);
  return {
    workerRequests: m.workerRequests,
    cpuMs,
    doRequests: sum((d) => d.requests + d.webSocketEvents / 20),
    doActiveMs: sum((d) => d.activeMs),
    doRowsRead: sum((d) => d.sqlRowsRead),
    doRowsWritten: sum((d) => d.sqlRowsWritten),
    d1RowsRead: m.d1.rowsRead,
    d1RowsWritten: m.d1.rowsWritten,
    r2ClassA: m.r2.classA,
    r2ClassB: m.r2.classB,
  };
}

export default {
  name: "cost",
  title: `Modeled monthly bill for ${COMMUNITY.monthlyUsers} monthly users (measured unit costs × stated volumes)`,
  server: "probe",
  maxMs: 240_000,
  async run({ server, figure, note, verbose }) {
    const { baseUrl } = server;
    const procs = workerdProcesses(server.port).runtime;
    const tag = Date.now().toString(36);
    const C = COMMUNITY;

    // One room of the community: its members, two of whom have the app open.
    const members = [];
    for (let i = 0; i < C.membersPerRoom; i++) members.push(await registerUser(baseUrl, `cost-${tag}-${i}`));
    const roomId = await createRoom(baseUrl, members[0].accessToken, { preset: "public_chat", name: "community" });
    for (const m of members.slice(1)) await joinRoom(baseUrl, m.accessToken, roomId);
    const open = members.slice(0, C.openAppsPerRoom);
    const writers = members.slice(C.openAppsPerRoom);
    for (let i = 0; i < 20; i++) await sendText(baseUrl, writers[i % writers.length].accessToken, roomId, `history ${i}`, `h-${i}`);

    /** Runs one activity `n` times and returns its cost per time. */
    const units = {};
    const measure = async (name, n, fn) => {
      await new Promise((r) => setTimeout(r, 300)); // let the previous phase's waitUntil work settle
      await resetMeter(server);
      const cpu0 = processCpuMs(procs);
      await fn();
      await new Promise((r) => setTimeout(r, 300));
      const m = await meter(server);
      const total = flatten(m, processCpuMs(procs) - cpu0);
      units[name] = Object.fromEntries(Object.entries(total).map(([k, v]) => [k, v / n]));
      if (verbose) note(`${name}: ${JSON.stringify(m)}`);
    };

    // Opening the app: Element X's three connections start (no pos).
    await measure("app start (3 connections)", 6, async () => {
      for (let i = 0; i < 6; i++) {
        const u = open[i % open.length];
        await Promise.all(Object.keys(CONNECTIONS).map((c) => slidingSync(baseUrl, u.accessToken, c)));
      }
    });

    // Messages, receipts and typing while the open apps long-poll (their wake-ups count with what woke them).
    const MESSAGES = 60;
    let apps = openApps(baseUrl, open);
    await new Promise((r) => setTimeout(r, 500));
    const sent = [];
    await measure("message", MESSAGES, async () => {
      for (let i = 0; i < MESSAGES; i++) {
        sent.push((await sendText(baseUrl, writers[i % writers.length].accessToken, roomId, `message ${i}`, `m-${tag}-${i}`)).body.event_id);
        await new Promise((r) => setTimeout(r, 100));
      }
    });
    const RECEIPTS = 30;
    await measure("read receipt", RECEIPTS, async () => {
      for (let i = 0; i < RECEIPTS; i++) {
        const r = await http(baseUrl, `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/receipt/m.read/${encodeURIComponent(sent[i])}`, {
          json: {},
          token: writers[i % writers.length].accessToken,
        });
        if (r.status !== 200) throw new Error(`receipt ${r.status}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    });
    const TYPING = 30;
    await measure("typing notice (and its expiry)", TYPING, async () => {
      for (let i = 0; i < TYPING; i++) {
        const w = writers[i % writers.length];
        const r = await http(baseUrl, `/_matrix/client/v3/rooms/${encodeURIComponent(roomId)}/typing/${encodeURIComponent(w.userId)}`, {
          method: "PUT",
          json: { typing: true, timeout: 5000 },
          token: w.accessToken,
        });
        if (r.status !== 200) throw new Error(`typing ${r.status}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      await new Promise((r) => setTimeout(r, 6000));
    });
    await apps.stop();

    // Long-polls that end at their timeout (an open app with nothing happening); shortened to 1 s here.
    const IDLE_CYCLES = 8;
    const idlePos = {};
    for (const u of open) for (const c of ["room-list", "encryption"]) idlePos[`${u.userId} ${c}`] = (await slidingSync(baseUrl, u.accessToken, c)).pos;
    await measure("long-poll ending at its timeout", IDLE_CYCLES * open.length * 2, async () => {
      await Promise.all(
        open.flatMap((u) =>
          ["room-list", "encryption"].map(async (c) => {
            const key = `${u.userId} ${c}`;
            for (let i = 0; i < IDLE_CYCLES; i++) idlePos[key] = (await slidingSync(baseUrl, u.accessToken, c, `?pos=${encodeURIComponent(idlePos[key])}&timeout=1000`)).pos;
          }),
        ),
      );
    });

    // Other API calls: what a client asks besides sync (profile, members, history, keys, settings).
    const u = writers[0];
    const room = encodeURIComponent(roomId);
    const calls = [
      `/_matrix/client/v3/profile/${encodeURIComponent(u.userId)}`,
      `/_matrix/client/v3/rooms/${room}/joined_members`,
      `/_matrix/client/v3/rooms/${room}/messages?dir=b&limit=20`,
      `/_matrix/client/v3/rooms/${room}/state`,
      "/_matrix/client/v3/pushrules/",
      "/_matrix/client/v3/capabilities",
      "/_matrix/client/v3/devices",
      "/_matrix/client/v3/account/whoami",
      "/_matrix/client/v1/media/config",
      "/_matrix/client/versions",
    ];
    const keysQuery = { json: { device_keys: { [open[0].userId]: [] } }, token: u.accessToken };
    await measure("other API call", 5 * (calls.length + 1), async () => {
      for (let i = 0; i < 5; i++) {
        for (const p of calls) {
          const r = await http(baseUrl, p, { token: u.accessToken });
          if (r.status !== 200) throw new Error(`${p}: ${r.status}`);
        }
        await http(baseUrl, "/_matrix/client/v3/keys/query", keysQuery);
      }
    });

    // Media: 100 KB uploads, and downloads of them.
    const image = new Uint8Array(100 * 1024).map((_, i) => i % 251);
    const uris = [];
    await measure("media upload", 5, async () => {
      for (let i = 0; i < 5; i++) {
        const r = await fetch(`${baseUrl}/_matrix/media/v3/upload?filename=p${i}.bin`, {
          method: "POST",
          headers: { Authorization: `Bearer ${u.accessToken}`, "Content-Type": "application/octet-stream" },
          body: image,
        });
        if (r.status !== 200) throw new Error(`upload ${r.status}`);
        uris.push((await r.json()).content_uri.slice("mxc://".length));
      }
    });
    await measure("media download", 20, async () => {
      for (let i = 0; i < 20; i++) {
        const r = await fetch(`${baseUrl}/_matrix/client/v1/media/download/${uris[i % uris.length]}`, { headers: { Authorization: `Bearer ${u.accessToken}` } });
        if (r.status !== 200) throw new Error(`download ${r.status}`);
        await r.arrayBuffer();
      }
    });

    // The month's volumes.
    const d = C.days;
    const volume = {
      "app start (3 connections)": C.dailyUsers * C.appStartsPerDay * d,
      message: C.messagesPerDay * d,
      "read receipt": C.receiptsPerDay * d,
      "typing notice (and its expiry)": C.typingPerDay * d,
      "long-poll ending at its timeout": C.dailyUsers * C.appOpenHoursPerDay * (3600 / C.longPollTimeoutS) * C.longPollConnections * d,
      "other API call": C.dailyUsers * C.otherCallsPerUserDay * d,
      "media upload": C.uploadsPerMonth,
      "media download": C.downloadsPerMonth,
    };
    const month = {};
    for (const [name, n] of Object.entries(volume)) for (const [k, v] of Object.entries(units[name])) month[k] = (month[k] ?? 0) + v * n;

    for (const [name, n] of Object.entries(volume)) {
      const x = units[name];
      figure(
        `  ${name} (${n.toLocaleString("en-US")}/month)`,
        `${fmt(x.workerRequests, 2)} req, ${fmt(x.cpuMs, 1)} ms CPU, ${fmt(x.doRequests, 2)} DO req, ${fmt(x.doActiveMs, 1)} ms DO active, ` +
          `D1 ${fmt(x.d1RowsRead, 0)} read / ${fmt(x.d1RowsWritten, 1)} written, DO SQL ${fmt(x.doRowsRead, 0)} / ${fmt(x.doRowsWritten, 1)}` +
          (x.r2ClassA || x.r2ClassB ? `, R2 A ${fmt(x.r2ClassA, 1)} B ${fmt(x.r2ClassB, 1)}` : ""),
        { perUnit: x, perMonth: n },
      );
    }

    const over = (used, p) => (Math.max(0, used - p.included) / 1e6) * p.perMillion;
    const lines = [
      ["Workers requests", month.workerRequests, PRICE.workerRequests],
      ["Workers CPU ms (all workerd CPU, an upper bound)", month.cpuMs, PRICE.workerCpuMs],
      ["Durable Object requests", month.doRequests, PRICE.doRequests],
      ["Durable Object duration, GB-s", (month.doActiveMs / 1000) * 0.128, PRICE.doGBs],
      ["Durable Object SQLite rows read", month.doRowsRead, PRICE.doRowsRead],
      ["Durable Object SQLite rows written", month.doRowsWritten, PRICE.doRowsWritten],
      ["D1 rows read", month.d1RowsRead, PRICE.d1RowsRead],
      ["D1 rows written", month.d1RowsWritten, PRICE.d1RowsWritten],
      ["R2 class A operations", month.r2ClassA, PRICE.r2ClassA],
      ["R2 class B operations", month.r2ClassB, PRICE.r2ClassB],
    ];
    const r2Storage = Math.max(0, C.mediaGB - PRICE.r2StorageGB.included) * PRICE.r2StorageGB.perUnit;
    let total = PRICE.base + r2Storage;
    const rows = lines.map(([label, used, p]) => {
      const cost = over(used, p);
      total += cost;
      return { label, used, included: p.included, cost };
    });
    rows.push({ label: `R2 storage, GB-month`, used: C.mediaGB, included: PRICE.r2StorageGB.included, cost: r2Storage });
    for (const r of rows) {
      figure(
        r.label,
        `${Math.round(r.used).toLocaleString("en-US")} (${fmt((100 * r.used) / r.included, 1)} % of the ${r.included.toLocaleString("en-US")} included) → $${fmt(r.cost, 2)}`,
        r,
      );
    }
    figure("monthly bill", `$${fmt(total, 2)} (Workers Paid base $${PRICE.base} + $${fmt(total - PRICE.base, 2)} beyond what it includes)`, { total, month });
    note(
      `assumptions: ${C.monthlyUsers} monthly / ${C.dailyUsers} daily users, ${C.rooms} rooms of ${C.membersPerRoom}, ${C.messagesPerDay.toLocaleString("en-US")} messages, ` +
        `${C.receiptsPerDay.toLocaleString("en-US")} receipts and ${C.typingPerDay.toLocaleString("en-US")} typing notices a day, ${C.openAppsPerRoom} members of a room with the app open, ` +
        `app open ${C.appOpenHoursPerDay} h a day in ${C.appStartsPerDay} starts with ${C.longPollConnections} long-polling connections (${C.longPollTimeoutS} s), ` +
        `${C.otherCallsPerUserDay} other calls per user a day, ${C.uploadsPerMonth.toLocaleString("en-US")} uploads and ${C.downloadsPerMonth.toLocaleString("en-US")} downloads a month, ${C.mediaGB} GB of media`,
    );
    note("no federation traffic; the CPU line is all of workerd's CPU (Worker, Durable Objects and the local D1 and R2 emulation), so it overstates the Worker's");
  },
};
