// Password login cost. In workerd the Worker's CPU time is not readable from
// inside, so this section measures (1) end-to-end login latency over the
// loopback, (2) the workerd process's CPU time per login from /proc (Linux),
// against a whoami baseline (one authenticated request, no KDF), and (3) the
// pure PBKDF2 cost of src/password.ts's verifyPassword in Node (process.cpuUsage).
import { join } from "node:path";
import { fmt, http, importTs, login, registerUser, repeat, stats, withWorkerdCpu } from "../lib.mjs";

const LOGINS = 30;
const WHOAMIS = 200;
const NODE_VERIFIES = 30;

export default {
  name: "password-login",
  title: "Password login (PBKDF2-SHA256)",
  server: "real",
  maxMs: 120_000,
  async run({ server, deadline, figure, note, repoRoot }) {
    const { baseUrl } = server;
    const pw = "bench password for login";
    const user = await registerUser(baseUrl, `bench-login-${Date.now().toString(36)}`, pw);
    await login(baseUrl, user.userId, pw); // warm: first login compiles and caches code paths

    const logins = await withWorkerdCpu(server, () =>
      repeat(
        LOGINS,
        async () => {
          const r = await login(baseUrl, user.userId, pw);
          if (r.status !== 200) throw new Error(`login: ${r.status} ${JSON.stringify(r.body)}`);
          return r.ms;
        },
        { deadline },
      ),
    );
    const l = stats(logins.result);
    figure("login latency, end to end", `p50 ${fmt(l.p50)} ms  p95 ${fmt(l.p95)} ms  (min ${fmt(l.min)}, max ${fmt(l.max)}, n=${l.n})`, { ms: l });
    figure("workerd CPU per login", `${fmt(logins.runtimeMs / l.n)} ms  (+ ${fmt(logins.proxyMs / l.n)} ms in wrangler's proxy workerd)`, {
      runtimeMs: logins.runtimeMs / l.n,
      proxyMs: logins.proxyMs / l.n,
    });

    const whoamis = await withWorkerdCpu(server, () =>
      repeat(WHOAMIS, async () => (await http(baseUrl, "/_matrix/client/v3/account/whoami", { token: user.accessToken })).ms, { deadline }),
    );
    const w = stats(whoamis.result);
    figure("whoami latency (baseline, no KDF)", `p50 ${fmt(w.p50)} ms  p95 ${fmt(w.p95)} ms  (n=${w.n})`, { ms: w });
    figure("workerd CPU per whoami", `${fmt(whoamis.runtimeMs / w.n, 2)} ms`, { runtimeMs: whoamis.runtimeMs / w.n });
    figure("login minus whoami (≈ KDF + login writes)", `${fmt(l.p50 - w.p50)} ms latency (p50), ${fmt(logins.runtimeMs / l.n - whoamis.runtimeMs / w.n)} ms CPU`);

    // The same KDF in Node: src/password.ts as the server runs it.
    const { hashPassword, verifyPassword, PBKDF2_ITERATIONS } = await importTs(join(repoRoot, "src/password.ts"));
    const stored = await hashPassword(pw);
    await verifyPassword(pw, stored);
    const cpu = [];
    const wall = [];
    await repeat(
      NODE_VERIFIES,
      async () => {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        if (!(await verifyPassword(pw, stored))) throw new Error("verifyPassword failed");
        wall.push(performance.now() - t0);
        const c = process.cpuUsage(c0);
        cpu.push((c.user + c.system) / 1000);
      },
      { deadline },
    );
    const nc = stats(cpu);
    const nw = stats(wall);
    figure(
      `Node verifyPassword (${PBKDF2_ITERATIONS} iterations)`,
      `CPU p50 ${fmt(nc.p50)} ms  mean ${fmt(nc.mean)} ms; wall p50 ${fmt(nw.p50)} ms (n=${nc.n}, ${process.version})`,
      { cpuMs: nc, wallMs: nw },
    );
    note("workerd CPU is read from /proc for the runtime process (Worker + Durable Objects + local D1); it includes JSON, routing and SQLite work, not only the KDF.");
  },
};
