// `npm run coverage`: line and branch coverage of src/, services/, workers/,
// durable-objects/ and r2/ across the unit, integration and e2e tests.
//
// 1. Builds an istanbul-instrumented copy of the Worker (build-worker.mjs) for the
//    e2e servers, which run in their own workerd started by wrangler where vitest's
//    instrumentation never reaches.
// 2. Runs every vitest project with --coverage (istanbul: the unit tests in Node,
//    the integration tests inside workerd) → coverage/vitest/coverage-final.json.
//    The e2e harness runs the instrumented copy and saves each server's counters
//    into coverage/e2e-worker/ as it stops it (test/e2e/server.mjs).
// 3. Maps those counters back to the .ts sources, merges them with vitest's map
//    → coverage/coverage-final.json and an HTML report in coverage/html/, and
//    prints line and branch coverage per folder (summary.mjs).
// Extra arguments go to vitest (e.g. `npm run coverage -- --project unit`).
// Exits with vitest's status, after the report.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import libCoverage from "istanbul-lib-coverage";
import libReport from "istanbul-lib-report";
import libSourceMaps from "istanbul-lib-source-maps";
import reports from "istanbul-reports";
import { buildInstrumentedWorker } from "./build-worker.mjs";
import { byFolder, FOLDERS, readMap, table } from "./summary.mjs";

const root = new URL("../../", import.meta.url).pathname;
const started = performance.now();
const E2E_DIR = join(root, "coverage/e2e-worker");

rmSync(join(root, "coverage"), { recursive: true, force: true });
const build = await buildInstrumentedWorker(root, join(root, ".wrangler/coverage-worker"));
console.log(`coverage: instrumented Worker for the e2e tests, ${build.files} files in ${(build.ms / 1000).toFixed(1)} s`);

const vitestStatus = await new Promise((resolve) => {
  const child = spawn(process.execPath, [join(root, "node_modules/vitest/vitest.mjs"), "run", "--coverage", ...process.argv.slice(2)], {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, COVERAGE: "1", COVERAGE_WORKER_ENTRY: build.entry, COVERAGE_E2E_DIR: E2E_DIR },
  });
  child.on("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
});

const vitestMap = readMap(root, "coverage/vitest/coverage-final.json");
if (!vitestMap) {
  console.error("coverage: vitest wrote no coverage/vitest/coverage-final.json");
  process.exit(vitestStatus || 1);
}

// The e2e Worker's counters, one file per stopped server, mapped back to the .ts sources.
const raw = libCoverage.createCoverageMap({});
const dumps = existsSync(E2E_DIR) ? readdirSync(E2E_DIR).filter((f) => f.endsWith(".json")) : [];
for (const f of dumps) raw.merge(JSON.parse(readFileSync(join(E2E_DIR, f), "utf8")));
const remapped = await libSourceMaps.createSourceMapStore().transformCoverage(raw);
// Through JSON, as vitest's map was: unknown end columns become null on both sides, so locations compare equal.
const e2eMap = libCoverage.createCoverageMap(JSON.parse(JSON.stringify(remapped.toJSON())));
writeFileSync(join(root, "coverage/e2e-worker.json"), JSON.stringify(e2eMap.toJSON()));

const allMap = libCoverage.createCoverageMap(JSON.parse(JSON.stringify(vitestMap.toJSON())));
allMap.merge(e2eMap);
writeFileSync(join(root, "coverage/coverage-final.json"), JSON.stringify(allMap.toJSON()));

// Both runs instrument the same compiled code, so merging must add counts, not statements.
let extra = 0;
for (const file of allMap.files()) {
  const before = vitestMap.files().includes(file) ? Object.keys(vitestMap.fileCoverageFor(file).statementMap).length : 0;
  extra += Object.keys(allMap.fileCoverageFor(file).statementMap).length - before;
}
if (extra) console.warn(`coverage: ${extra} statements of the e2e Worker did not line up with vitest's (counted as extra)`);

const context = libReport.createContext({ dir: join(root, "coverage/html"), coverageMap: allMap });
reports.create("html", { skipEmpty: true }).execute(context);
const folders = byFolder(root, allMap);
writeFileSync(
  join(root, "coverage/summary.json"),
  JSON.stringify(Object.fromEntries(FOLDERS.map((f) => [f, { files: folders[f].files, lines: folders[f].summary.lines, branches: folders[f].summary.branches }])), null, 2),
);

console.log(`\nCoverage (istanbul): unit + integration + e2e (counters of ${dumps.length} e2e server runs)\n`);
console.log(table(root, vitestMap, dumps.length ? allMap : undefined));
console.log(`\ncoverage/html/index.html per file; \`node scripts/coverage/summary.mjs --files <folder>\` lists files by uncovered lines.`);
console.log(`coverage: ${((performance.now() - started) / 60_000).toFixed(1)} min`);
process.exit(vitestStatus);
