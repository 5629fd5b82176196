// Starts the real homeserver (workers/index.ts with wrangler.toml: local D1, R2,
// SQLite-backed Durable Objects, rate limiters) in workerd through wrangler's
// `unstable_startWorker`, on a free loopback port, with its own empty state
// directory. Plain JS so that both the vitest e2e project (test/e2e/harness.ts)
// and `npm run bench` (scripts/bench.mjs) use the same code; types are in
// server.d.mts.
import { rmSync, mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

// No telemetry, banner or outside calls from wrangler/miniflare (set before wrangler loads).
process.env.WRANGLER_SEND_METRICS = "false";
process.env.WRANGLER_HIDE_BANNER = "true";
process.env.CLOUDFLARE_CF_FETCH_ENABLED = "false";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** The shared secret every started server accepts for /_synapse/admin/v1/register. */
export const E2E_SHARED_SECRET = "e2e-shared-secret";

/** Budgets far above anything a test run does, so only tests that lower them meet 429s. */
const GENEROUS_LIMITS = {
  RL_REQUESTS: { limit: 1_000_000, period: 60 },
  RL_AUTH: { limit: 100_000, period: 60 },
};
const NAMESPACE_IDS = { RL_REQUESTS: "1001", RL_AUTH: "1002" };

// `npm run coverage` (scripts/coverage/run.mjs) builds an istanbul-instrumented copy of the
// Worker and names its entry here; servers then run that copy, and stop() saves the isolate's
// counters into COVERAGE_E2E_DIR. Unset (npm test, npm run bench): the plain workers/index.ts.
const COVERAGE_ENTRY = process.env.COVERAGE_WORKER_ENTRY;
const COVERAGE_DIR = process.env.COVERAGE_E2E_DIR;

/**
 * The entry a server runs under coverage: the instrumented copy's, or the copy of a
 * test-only entry (`test/e2e/*-worker.ts`, which serves the coverage route through
 * scripts/coverage/worker-entry.ts); undefined when not measuring or for another entry.
 * @param {string | undefined} entrypoint
 */
function coverageEntryFor(entrypoint) {
  if (!COVERAGE_ENTRY) return undefined;
  if (entrypoint === undefined) return COVERAGE_ENTRY;
  const rel = relative(REPO_ROOT, entrypoint).split("\\").join("/");
  if (!/^test\/e2e\/[^/]+-worker\.ts$/.test(rel)) return undefined;
  // COVERAGE_ENTRY is <copy>/scripts/coverage/worker-entry.js.
  return join(dirname(dirname(dirname(COVERAGE_ENTRY))), rel.replace(/\.ts$/, ".js"));
}

/**
 * Saves the running Worker's istanbul counters (the coverage build only) as one JSON file.
 * @param {string} baseUrl
 */
async function saveCoverage(baseUrl) {
  if (!COVERAGE_DIR) return;
  const res = await fetch(`${baseUrl}/_coverage/istanbul`);
  if (res.status !== 200) throw new Error(`coverage route answered ${res.status}`);
  mkdirSync(COVERAGE_DIR, { recursive: true });
  writeFileSync(join(COVERAGE_DIR, `${process.pid}-${Date.now()}-${new URL(baseUrl).port}.json`), await res.text());
}

/** A free TCP port on 127.0.0.1 (asked of the OS, then released for workerd to take). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === "object" ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

/**
 * @param {import("./server.d.mts").StartServerOptions} [opts]
 * @returns {Promise<import("./server.d.mts").TestServer>}
 */
export async function startServer(opts = {}) {
  const started = performance.now();
  // Loaded lazily so importing this module costs nothing until a server is wanted.
  const { unstable_startWorker } = await import("wrangler");
  const persistDir = opts.persistDir ?? mkdtempSync(join(tmpdir(), "edge-matrix-e2e-"));
  const ownsDir = opts.persistDir === undefined;
  const limits = { ...GENEROUS_LIMITS, ...opts.rateLimits };
  const coverageEntry = coverageEntryFor(opts.entrypoint);

  let lastError;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = opts.port ?? (await freePort());
    const baseUrl = `http://127.0.0.1:${port}`;
    const serverName = opts.serverName ?? `localhost:${port}`;
    /** @type {Record<string, string>} */
    const vars = {
      SERVER_NAME: serverName,
      PUBLIC_BASEURL: baseUrl,
      REGISTRATION: "open",
      ALLOW_GUESTS: "true",
      // No DNS-over-HTTPS lookups for federation from tests.
      FEDERATION_DOH_URL: "",
      // The suite was written against the spec's recommended version; the shipped default
      // (10, src/room-versions.ts) is what Sytest and tests asking for "10" run.
      DEFAULT_ROOM_VERSION: "12",
      ...opts.vars,
    };
    /** @type {Record<string, any>} */
    const bindings = {};
    for (const [name, value] of Object.entries(vars)) bindings[name] = { type: "plain_text", value };
    bindings.REGISTRATION_SHARED_SECRET = { type: "secret_text", value: opts.sharedSecret ?? E2E_SHARED_SECRET };
    for (const [name, simple] of Object.entries(limits)) {
      bindings[name] = { type: "ratelimit", namespace_id: NAMESPACE_IDS[/** @type {keyof typeof NAMESPACE_IDS} */ (name)] ?? name, simple };
    }

    let worker;
    /** @type {{ userWorkerUrl?: { protocol: string, hostname: string, port: string } } | undefined} */
    let proxyData;
    try {
      worker = await unstable_startWorker({
        config: join(REPO_ROOT, "wrangler.toml"),
        ...(coverageEntry ? { entrypoint: coverageEntry } : opts.entrypoint ? { entrypoint: opts.entrypoint } : {}),
        // Not the developer's .dev.vars / .env (wrangler reads .dev.vars whenever this list
        // is empty): a path that never exists, so the vars below are the whole story.
        envFiles: [join(persistDir, "no-such.env")],
        bindings,
        sendMetrics: false,
        dev: {
          persist: persistDir,
          server: { hostname: "127.0.0.1", port },
          inspector: false,
          watch: false,
          liveReload: false,
          remote: false,
          enableContainers: false,
          logLevel: opts.logLevel ?? /** @type {any} */ (process.env.E2E_LOG_LEVEL) ?? "error",
        },
      });
      // Where the proxy forwards to: the Worker itself (see `directUrl` below).
      const proxy = worker.raw?.proxy;
      if (proxy && typeof proxy.onReloadComplete === "function") {
        const original = proxy.onReloadComplete.bind(proxy);
        proxy.onReloadComplete = (data) => {
          proxyData = data?.proxyData;
          return original(data);
        };
      }
      await worker.ready;
      const url = await worker.url;
      if (url.port !== String(port)) throw new Error(`worker listens on ${url.href}, expected port ${port}`);
      // First request: runs the D1 migrations and creates the signing key, so tests start warm.
      const res = await fetch(`${baseUrl}/_matrix/client/versions`);
      if (res.status !== 200) throw new Error(`/versions answered ${res.status}: ${await res.text()}`);
      await res.arrayBuffer();
    } catch (e) {
      lastError = e;
      await worker?.dispose().catch(() => {});
      if (opts.port !== undefined) break;
      continue; // most likely the port was taken between freePort() and workerd binding it
    }

    let stopped = false;
    const direct = proxyData?.userWorkerUrl;
    return {
      baseUrl,
      // wrangler dev puts a proxy Worker in front of ours (live reload, inspector); production has none.
      // `npm run bench` measures through this URL, straight to the Worker; tests use baseUrl.
      directUrl: direct ? `${direct.protocol}//${direct.hostname}:${direct.port}` : baseUrl,
      serverName,
      port,
      persistDir,
      sharedSecret: opts.sharedSecret ?? E2E_SHARED_SECRET,
      startupMs: performance.now() - started,
      worker,
      async stop() {
        if (stopped) return;
        stopped = true;
        try {
          if (coverageEntry) await saveCoverage(baseUrl);
        } finally {
          await worker.dispose();
          if (ownsDir && !opts.keepState) rmSync(persistDir, { recursive: true, force: true });
        }
      },
    };
  }
  if (ownsDir) rmSync(persistDir, { recursive: true, force: true });
  throw new Error(`could not start the homeserver: ${lastError instanceof Error ? lastError.stack : String(lastError)}`);
}
