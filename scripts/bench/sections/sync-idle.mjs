// Incremental /sync with nothing new: the request a client repeats most (every
// app resume, every timeout=0 poll). A user in 20 rooms with some history syncs
// once, then asks again and again from the token it got; beside it, the floor of
// one authenticated request (whoami) and of one without authentication (versions).
import { fmt, http, registerUser, stats } from "../lib.mjs";
import { createRoom, sendText } from "./rooms-send.mjs";

const ROOMS = 20;
const SAMPLES = 60;

async function p50Of(baseUrl, path, token, deadline) {
  const ms = [];
  for (let i = 0; i < SAMPLES + 5 && Date.now() < deadline; i++) {
    const r = await http(baseUrl, path, { token });
    if (r.status !== 200) throw new Error(`${path}: ${r.status} ${JSON.stringify(r.body)}`);
    if (i >= 5) ms.push(r.ms); // the first few warm the code paths
  }
  return stats(ms);
}

export default {
  name: "sync-idle",
  title: `Incremental /sync with nothing new (user in ${ROOMS} rooms)`,
  server: "real",
  maxMs: 120_000,
  async run({ server, deadline, figure, note }) {
    const { baseUrl } = server;
    const u = await registerUser(baseUrl, `idle-${Date.now().toString(36)}`);
    for (let i = 0; i < ROOMS; i++) {
      const roomId = await createRoom(baseUrl, u.accessToken, { preset: "private_chat" });
      for (let j = 0; j < 3; j++) await sendText(baseUrl, u.accessToken, roomId, `m ${j}`, `idle-${i}-${j}`);
    }
    const first = await http(baseUrl, "/_matrix/client/v3/sync?timeout=0", { token: u.accessToken });
    let since = first.body.next_batch;
    // A client settles: its second sync may still carry presence or receipts of its own.
    since = (await http(baseUrl, `/_matrix/client/v3/sync?timeout=0&since=${since}`, { token: u.accessToken })).body.next_batch;
    const idle = await p50Of(baseUrl, `/_matrix/client/v3/sync?timeout=0&since=${since}`, u.accessToken, deadline);
    const who = await p50Of(baseUrl, "/_matrix/client/v3/account/whoami", u.accessToken, deadline);
    const versions = await p50Of(baseUrl, "/_matrix/client/versions", undefined, deadline);
    figure("incremental /sync?timeout=0, nothing new, p50 / p95", `${fmt(idle.p50)} / ${fmt(idle.p95)} ms (n=${idle.n})`, idle);
    figure("whoami (one authenticated request) p50", `${fmt(who.p50)} ms`, who);
    figure("versions (no authentication) p50", `${fmt(versions.p50)} ms`, versions);
    note("sequential requests from one client over keep-alive HTTP/1.1");
  },
};
