// Helpers for `npm run bench` sections (plain JS, loopback only).
import { readdirSync, readFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

/** Order statistics of a list of numbers (nearest-rank percentiles). */
export function stats(samples) {
  const s = [...samples].sort((a, b) => a - b);
  const n = s.length;
  const pct = (p) => (n ? s[Math.min(n - 1, Math.max(0, Math.ceil((p / 100) * n) - 1))] : Number.NaN);
  return {
    n,
    min: n ? s[0] : Number.NaN,
    p50: pct(50),
    p95: pct(95),
    max: n ? s[n - 1] : Number.NaN,
    mean: n ? s.reduce((a, b) => a + b, 0) / n : Number.NaN,
  };
}

/** The bench servers' signing key (bench.mjs), so sections can sign federation requests as the server itself. */
export const BENCH_SIGNING_KEY = "ed25519 bench AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE";

export const fmt = (x, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : "n/a");

/**
 * Runs `fn(i)` up to `n` times, one after another, stopping early at `deadline`
 * (ms since epoch). Returns what each call returned.
 */
export async function repeat(n, fn, { deadline = Infinity } = {}) {
  const out = [];
  for (let i = 0; i < n && Date.now() < deadline; i++) out.push(await fn(i));
  return out;
}

/** One HTTP request to the server, timed: { status, body (parsed JSON when possible), headers, ms }. */
export async function http(baseUrl, path, { method, json, token, headers = {} } = {}) {
  const h = { ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  let body;
  if (json !== undefined) {
    body = JSON.stringify(json);
    h["Content-Type"] = "application/json";
  }
  const t0 = performance.now();
  const res = await fetch(`${baseUrl}${path}`, { method: method ?? (body === undefined ? "GET" : "POST"), headers: h, body });
  const text = await res.text();
  const ms = performance.now() - t0;
  let parsed = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {}
  return { status: res.status, body: parsed, headers: res.headers, ms };
}

function expectOk(r, what) {
  if (r.status !== 200) throw new Error(`${what}: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}

/** Registers through the real UIA flow (m.login.dummy); returns { userId, accessToken, deviceId, password }. */
export async function registerUser(baseUrl, username, password = "bench password") {
  const first = await http(baseUrl, "/_matrix/client/v3/register", { json: { username, password } });
  if (first.status !== 401) throw new Error(`register: expected 401, got ${first.status} ${JSON.stringify(first.body)}`);
  const done = expectOk(
    await http(baseUrl, "/_matrix/client/v3/register", { json: { username, password, auth: { type: "m.login.dummy", session: first.body.session } } }),
    "register",
  );
  return { userId: done.user_id, accessToken: done.access_token, deviceId: done.device_id, password };
}

export const loginBody = (user, password) => ({ type: "m.login.password", identifier: { type: "m.id.user", user }, password });

/** Password login; returns the raw response (status, body, ms). */
export function login(baseUrl, user, password) {
  return http(baseUrl, "/_matrix/client/v3/login", { json: loginBody(user, password) });
}

// ---------------------------------------------------------------------------
// CPU time of the workerd processes (Linux /proc). workerd runs the Worker, the
// Durable Objects and local D1 (SQLite) in one process; wrangler puts a second
// workerd in front of it (the proxy on the public port).

function ppidOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return -1;
  }
}

/** workerd processes started by this Node process: { runtime: pid[], proxy: pid[] } (empty off Linux). */
export function workerdProcesses(port) {
  const out = { runtime: [], proxy: [] };
  let pids;
  try {
    pids = readdirSync("/proc").filter((p) => /^\d+$/.test(p));
  } catch {
    return out;
  }
  for (const pid of pids) {
    if (ppidOf(pid) !== process.pid) continue;
    let cmd;
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    } catch {
      continue;
    }
    if (!cmd[0]?.endsWith("/workerd")) continue;
    (cmd.some((a) => a === `--socket-addr=entry=127.0.0.1:${port}`) ? out.proxy : out.runtime).push(Number(pid));
  }
  return out;
}

/** CPU time (user + system, all threads) of the given processes, in ms; NaN if unreadable. */
export function processCpuMs(pids) {
  let total = 0;
  for (const pid of pids) {
    // Per-thread schedstat is in ns; sum over live threads.
    let ns = 0;
    let ok = true;
    try {
      for (const tid of readdirSync(`/proc/${pid}/task`)) ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      ok = false;
    }
    if (ok && Number.isFinite(ns)) {
      total += ns / 1e6;
      continue;
    }
    try {
      // Fallback: utime + stime in clock ticks (USER_HZ, 100 on Linux).
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      total += ((Number(f[11]) + Number(f[12])) * 1000) / 100;
    } catch {
      return Number.NaN;
    }
  }
  return pids.length ? total : Number.NaN;
}

/** Measures the workerd CPU time `fn` causes: { result, runtimeMs, proxyMs } (NaN where /proc is unavailable). */
export async function withWorkerdCpu(server, fn) {
  const procs = workerdProcesses(server.port);
  const r0 = processCpuMs(procs.runtime);
  const p0 = processCpuMs(procs.proxy);
  const result = await fn();
  return { result, runtimeMs: processCpuMs(procs.runtime) - r0, proxyMs: processCpuMs(procs.proxy) - p0 };
}

// ---------------------------------------------------------------------------

/**
 * Imports a TypeScript module of this repo in plain Node (20 has no type
 * stripping) by bundling it with esbuild, which wrangler already depends on.
 */
export async function importTs(absPath) {
  const { build } = await import("esbuild");
  const out = await build({ entryPoints: [absPath], bundle: true, format: "esm", platform: "node", target: "node20", write: false, logLevel: "error" });
  const dir = mkdtempSync(join(tmpdir(), "edge-matrix-bench-"));
  const file = join(dir, "module.mjs");
  writeFileSync(file, out.outputFiles[0].text);
  try {
    return await import(pathToFileURL(file).href);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
