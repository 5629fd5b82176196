// Builds the instrumented copy of the Worker that the e2e tests run under
// `npm run coverage`: every .ts file of src/, services/, workers/,
// durable-objects/ and r2/ is compiled with vite's transformWithOxc (what vitest
// uses, so statement and branch maps line up with vitest's own when remapped)
// and instrumented by istanbul with the same options @vitest/coverage-istanbul
// uses; d1-migrations, the entry (scripts/coverage/worker-entry.ts) and the
// test-only entries that wrap it (test/e2e/*-worker.ts) are compiled but not
// instrumented. Files keep their relative paths with a .js
// extension, so the sources' "./x.js" imports resolve inside the copy, and
// packages resolve from the repo's node_modules. wrangler bundles the copy as it
// bundles workers/index.ts. Counters live in globalThis.__coverage__ of the isolate.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { defaults } from "@istanbuljs/schema";
import { createInstrumenter } from "istanbul-lib-instrument";
import { transformWithOxc } from "vite";

export const INSTRUMENTED_DIRS = ["src", "services", "workers", "durable-objects", "r2"];
const PLAIN = ["d1-migrations/migrations.generated.ts", "scripts/coverage/worker-entry.ts"];
/** Test-only entry points (`test/e2e/*-worker.ts`, wrapping the Worker): compiled, not instrumented, so e2e tests that start them are counted too. */
const TEST_ENTRIES = "test/e2e";

function tsFiles(root, dir) {
  const out = [];
  for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
    const rel = join(dir, e.name);
    if (e.isDirectory()) out.push(...tsFiles(root, rel));
    else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) out.push(rel);
  }
  return out;
}

/**
 * @param {string} root repo root
 * @param {string} outDir where the copy goes (emptied first)
 * @returns {Promise<{ entry: string, files: number, ms: number }>}
 */
export async function buildInstrumentedWorker(root, outDir) {
  const started = performance.now();
  rmSync(outDir, { recursive: true, force: true });
  const instrumenter = createInstrumenter({
    // As in @vitest/coverage-istanbul 4.1.12's provider, so the maps agree.
    produceSourceMap: false,
    autoWrap: false,
    esModules: true,
    compact: false,
    coverageVariable: "__coverage__",
    coverageGlobalScope: "globalThis",
    coverageGlobalScopeFunc: false,
    parserPlugins: [...defaults.instrumenter.parserPlugins, ["importAttributes", { deprecatedAssertSyntax: true }]],
    generatorOpts: { importAttributesKeyword: "with" },
    ignoreLines: true,
  });
  const testEntries = readdirSync(join(root, TEST_ENTRIES)).filter((f) => f.endsWith("-worker.ts")).map((f) => join(TEST_ENTRIES, f));
  const jobs = [
    ...INSTRUMENTED_DIRS.flatMap((d) => tsFiles(root, d)).map((rel) => ({ rel, instrument: true })),
    ...[...PLAIN, ...testEntries].map((rel) => ({ rel, instrument: false })),
  ];
  for (const { rel, instrument } of jobs) {
    const abs = join(root, rel);
    const compiled = await transformWithOxc(readFileSync(abs, "utf8"), abs, { sourcemap: instrument });
    // The input source map travels with the counters; the report maps them back to the .ts.
    const code = instrument ? instrumenter.instrumentSync(compiled.code, abs, compiled.map) : compiled.code;
    const target = join(outDir, rel.replace(/\.ts$/, ".js"));
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, code);
  }
  return { entry: join(outDir, "scripts/coverage/worker-entry.js"), files: jobs.length, ms: performance.now() - started };
}

// `node scripts/coverage/build-worker.mjs [outDir]` builds it alone (for a look at the output).
if (process.argv[1] && relative(process.argv[1], new URL(import.meta.url).pathname) === "") {
  const root = new URL("../../", import.meta.url).pathname;
  const r = await buildInstrumentedWorker(root, process.argv[2] ?? join(root, ".wrangler/coverage-worker"));
  console.log(`${r.files} files in ${Math.round(r.ms)} ms → ${relative(root, r.entry)}`);
}
