// D1 work per request, as D1 itself reports it (meta.rows_read / rows_written),
// through the real app: the probe entry point (scripts/bench/probe-worker.ts)
// wraps only the D1 binding and reports the sums in response headers.
import { join } from "node:path";
import { REPO_ROOT } from "../../../test/e2e/server.mjs";
import { BENCH_SIGNING_KEY, fmt, http, importTs, registerUser, repeat, stats } from "../lib.mjs";

const SAMPLES = 5;

export default {
  name: "d1-rows",
  title: "D1 rows per request (Worker's D1 statements; Durable Objects not included)",
  server: "probe",
  maxMs: 60_000,
  async run({ server, deadline, figure, note, verbose }) {
    const { baseUrl } = server;
    const pw = "bench password for rows";
    const name = `bench-rows-${Date.now().toString(36)}`;
    const user = await registerUser(baseUrl, name, pw);
    const profilePath = `/_matrix/client/v3/profile/${encodeURIComponent(user.userId)}`;
    // A federation media download signed with X-Matrix as the server itself (bench.mjs gives it BENCH_SIGNING_KEY).
    const { signRequest } = await importTs(join(REPO_ROOT, "src/x-matrix.ts"));
    const { parseSigningKey } = await importTs(join(REPO_ROOT, "src/signing.ts"));
    const benchKey = parseSigningKey(BENCH_SIGNING_KEY);
    const up = await fetch(`${baseUrl}/_matrix/media/v3/upload`, { method: "POST", headers: { Authorization: `Bearer ${user.accessToken}`, "Content-Type": "text/plain" }, body: "bench" });
    const mediaId = (await up.json()).content_uri.split("/").pop();
    const fedPath = `/_matrix/federation/v1/media/download/${mediaId}`;
    const xMatrix = signRequest({ method: "GET", uri: fedPath, origin: server.serverName, destination: server.serverName }, benchKey.keyId, benchKey.seed);
    const cases = [
      { label: "GET /account/whoami (authentication only)", path: "/_matrix/client/v3/account/whoami", token: true, key: "whoami" },
      { label: "GET /capabilities", path: "/_matrix/client/v3/capabilities", token: true },
      { label: "GET /devices", path: "/_matrix/client/v3/devices", token: true },
      { label: "PUT /profile/{me}/displayname", path: `${profilePath}/displayname`, method: "PUT", json: { displayname: "Bench" }, token: true },
      { label: "GET /profile/{me} (no auth)", path: profilePath },
      { label: "GET /versions (no auth, no D1)", path: "/_matrix/client/versions" },
      { label: "GET /federation/v1/media/download (X-Matrix)", path: fedPath, headers: { Authorization: xMatrix } },
      { label: "POST /login (password)", path: "/_matrix/client/v3/login", json: { type: "m.login.password", identifier: { type: "m.id.user", user: name }, password: pw } },
    ];
    for (const c of cases) {
      const read = [];
      const written = [];
      const statements = [];
      let queries = [];
      await repeat(
        SAMPLES + 1,
        async (i) => {
          const r = await http(baseUrl, c.path, { method: c.method, json: c.json, token: c.token ? user.accessToken : undefined, headers: c.headers });
          if (r.status !== 200) throw new Error(`${c.label}: ${r.status} ${JSON.stringify(r.body)}`);
          if (i === 0) return; // warm-up
          read.push(Number(r.headers.get("x-bench-d1-rows-read")));
          written.push(Number(r.headers.get("x-bench-d1-rows-written")));
          statements.push(Number(r.headers.get("x-bench-d1-statements")));
          queries = JSON.parse(r.headers.get("x-bench-d1-queries") ?? "[]");
        },
        { deadline },
      );
      const rr = stats(read);
      const ww = stats(written);
      const ss = stats(statements);
      figure(c.label, `rows read ${fmt(rr.p50, 0)}  written ${fmt(ww.p50, 0)}  statements ${fmt(ss.p50, 0)}  (median of ${rr.n}${rr.min !== rr.max ? `, read ${rr.min}–${rr.max}` : ""})`, {
        rowsRead: rr.p50,
        rowsWritten: ww.p50,
        statements: ss.p50,
      });
      if (c.key === "whoami" || verbose) {
        for (const q of queries) note(`  ${q.rowsRead} read, ${q.rowsWritten} written: ${q.sql.length > 110 ? `${q.sql.slice(0, 110)}…` : q.sql}`);
      }
    }
    note("Authenticated requests pay the whoami row cost once per request (one joined SELECT by token hash); the periodic last_seen update is a waitUntil write every 10 minutes per device.");
  },
};
