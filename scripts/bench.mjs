// `npm run bench [-- <section>...] [--json] [--list] [--verbose] [--against <client base URL>]`
//
// Starts the real homeserver the way the e2e tests do (test/e2e/server.mjs:
// wrangler unstable_startWorker, workerd on a free 127.0.0.1 port, fresh temp
// state, generous rate limits) and runs named sections, each printing measured
// figures; requests go to the Worker directly, not through wrangler dev's proxy.
// Nothing leaves the loopback.
//
// `--against http://127.0.0.1:18008` runs the sections that need a "real" server against another
// homeserver already running there (Synapse from ../shared/synapse/, for side-by-side figures) instead
// of starting this one; "probe" figures (D1 rows) are ours only and are skipped.
//
// Adding a section: create scripts/bench/sections/<name>.mjs exporting
//   export default { name, title, server: "real" | "probe" | undefined, maxMs, async run(ctx) {...} }
// and list it in SECTIONS below. `ctx` has
//   server    the started TestServer ({ baseUrl, serverName, port, ... }) for the kind asked for
//             ("real" = workers/index.ts; "probe" = scripts/bench/probe-worker.ts, which adds
//             D1 rows read/written per response in x-bench-d1-* headers)
//   serverFor(kind)  another server ("real" or "probe"), started once and shared; null for
//             "probe" under --against
//   deadline  ms since epoch when the section must stop looping (maxMs from its start)
//   figure(label, text, data?)  print one figure (data goes into --json output)
//   note(text)                  print a remark
//   verbose   --verbose was given (print detail such as per-statement SQL)
//   repoRoot
// Keep loops bounded in count and by `deadline` (see repeat() in scripts/bench/lib.mjs).
import { cpus, arch, platform } from "node:os";
import { createRequire } from "node:module";
import { join } from "node:path";
import { REPO_ROOT, startServer } from "../test/e2e/server.mjs";
import { BENCH_SIGNING_KEY } from "./bench/lib.mjs";
import d1Rows from "./bench/sections/d1-rows.mjs";
import passwordLogin from "./bench/sections/password-login.mjs";
import roomsSend from "./bench/sections/rooms-send.mjs";
import sync500 from "./bench/sections/sync-500-rooms.mjs";
import syncWakeup from "./bench/sections/sync-wakeup.mjs";
import syncIdle from "./bench/sections/sync-idle.mjs";
import slidingSync from "./bench/sections/sliding-sync.mjs";
import cost from "./bench/sections/cost.mjs";
import syncScale from "./bench/sections/sync-scale.mjs";
import federation from "./bench/sections/federation.mjs";

const SECTIONS = [passwordLogin, d1Rows, roomsSend, syncWakeup, syncIdle, sync500, slidingSync, syncScale, cost, federation];

const args = process.argv.slice(2);
const asJson = args.includes("--json");
const verbose = args.includes("--verbose");
if (args.includes("--list")) {
  for (const s of SECTIONS) console.log(`${s.name.padEnd(20)} ${s.title}`);
  process.exit(0);
}
const againstAt = args.indexOf("--against");
const against = againstAt >= 0 ? args[againstAt + 1] : undefined;
if (againstAt >= 0 && !/^https?:\/\/[^/]+$/.test(against ?? "")) {
  console.error("--against needs a base URL such as http://127.0.0.1:18008");
  process.exit(2);
}
const wanted = args.filter((a, i) => !a.startsWith("--") && !(againstAt >= 0 && i === againstAt + 1));
for (const w of wanted) {
  if (!SECTIONS.some((s) => s.name === w)) {
    console.error(`unknown section ${w}; --list shows them`);
    process.exit(2);
  }
}
const selected = wanted.length ? SECTIONS.filter((s) => wanted.includes(s.name)) : SECTIONS;

const ENTRYPOINTS = { real: undefined, probe: join(REPO_ROOT, "scripts/bench/probe-worker.ts") };
const servers = new Map();
async function serverFor(kind) {
  if (against) return kind === "real" ? { baseUrl: against, serverName: new URL(against).host, external: true } : null;
  if (!servers.has(kind)) {
    const started = await startServer({ entrypoint: ENTRYPOINTS[kind], vars: { SIGNING_KEY: BENCH_SIGNING_KEY } });
    // Requests go straight to the Worker, past the proxy wrangler dev puts in front of it (a dev-only hop
    // of about 4 ms per request on this machine; production has none, and Synapse is measured directly too).
    const s = { ...started, baseUrl: started.directUrl, proxyUrl: started.baseUrl };
    servers.set(kind, s);
    log(`  (${kind} server ${s.baseUrl} started in ${(s.startupMs / 1000).toFixed(1)} s${s.baseUrl === s.proxyUrl ? "" : `; wrangler dev's proxy at ${s.proxyUrl} is not used`})`);
  }
  return servers.get(kind);
}

const out = {};
const log = (line) => (asJson ? process.stderr : process.stdout).write(`${line}\n`);
const wranglerVersion = createRequire(import.meta.url)("wrangler/package.json").version;
log(`edge-matrix bench: node ${process.version}, ${platform()} ${arch()}, ${cpus().length} CPUs, wrangler ${wranglerVersion}, ${new Date().toISOString()}`);
if (against) log(`against ${against} (not this server)`);

let failed = false;
try {
  for (const section of selected) {
    log("");
    log(`[${section.name}] ${section.title}`);
    const figures = {};
    out[section.name] = figures;
    const started = Date.now();
    const maxMs = section.maxMs ?? 60_000;
    if (against && section.server !== "real") {
      log(`  (skipped: --against runs only sections on a "real" server)`);
      continue;
    }
    const ctx = {
      server: section.server ? await serverFor(section.server) : undefined,
      serverFor,
      deadline: Date.now() + maxMs,
      repoRoot: REPO_ROOT,
      verbose,
      figure(label, text, data) {
        log(`  ${label.padEnd(46, " ")} ${text}`);
        figures[label] = data ?? text;
      },
      note(text) {
        log(`  · ${text}`);
      },
    };
    let timer;
    try {
      await Promise.race([
        section.run(ctx),
        new Promise((_, reject) => {
          // Hard stop a little after the section's own deadline.
          timer = setTimeout(() => reject(new Error(`section exceeded ${maxMs + 30_000} ms`)), maxMs + 30_000);
        }),
      ]);
    } catch (e) {
      failed = true;
      figures.error = String(e instanceof Error ? e.message : e);
      log(`  ! ${section.name} failed: ${e instanceof Error ? e.stack : e}`);
    } finally {
      clearTimeout(timer);
    }
    log(`  (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  }
} finally {
  for (const s of servers.values()) await s.stop();
}
if (asJson) console.log(JSON.stringify(out, null, 2));
process.exit(failed ? 1 : 0);
