// Line and branch coverage per top-level folder from istanbul's coverage-final.json
// files that scripts/coverage/run.mjs leaves in coverage/:
//   coverage/vitest/coverage-final.json  unit + integration (workerd) + the e2e tests' Node side
//   coverage/coverage-final.json         the above merged with the e2e Worker's counters
// `node scripts/coverage/summary.mjs` prints the table again; `--files [folder]` lists
// files by uncovered lines (all runs), the place to start when raising a folder.
import { existsSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import libCoverage from "istanbul-lib-coverage";

export const FOLDERS = ["src", "services", "workers", "durable-objects", "r2"];
/** A folder under this share of lines covered is flagged (the structure issue's bar). */
export const BAR = 80;

/** @param {string} root @param {string} file */
export function readMap(root, file) {
  const path = join(root, file);
  return existsSync(path) ? libCoverage.createCoverageMap(JSON.parse(readFileSync(path, "utf8"))) : undefined;
}

/** Per-folder summaries (istanbul CoverageSummary) of a coverage map. */
export function byFolder(root, map) {
  /** @type {Record<string, { files: number, summary: any }>} */
  const out = {};
  for (const f of FOLDERS) out[f] = { files: 0, summary: libCoverage.createCoverageSummary() };
  for (const file of map.files()) {
    const top = relative(root, file).split("/")[0];
    if (!out[top]) continue;
    out[top].files++;
    out[top].summary.merge(map.fileCoverageFor(file).toSummary());
  }
  return out;
}

const pct = (m) => (m.total === 0 ? "—" : `${((100 * m.covered) / m.total).toFixed(1)} %`);
const pad = (s, n) => String(s).padStart(n);

/** The table as text: one row per folder plus the total. */
export function table(root, vitestMap, allMap) {
  const v = byFolder(root, vitestMap);
  const a = allMap ? byFolder(root, allMap) : v;
  const rows = [["folder", "files", "lines", "branches", "lines, no e2e Worker", "branches, no e2e Worker"]];
  const total = { v: libCoverage.createCoverageSummary(), a: libCoverage.createCoverageSummary(), files: 0 };
  const under = [];
  for (const f of FOLDERS) {
    total.v.merge(v[f].summary);
    total.a.merge(a[f].summary);
    total.files += a[f].files;
    rows.push([f, a[f].files, pct(a[f].summary.lines), pct(a[f].summary.branches), pct(v[f].summary.lines), pct(v[f].summary.branches)]);
    if (a[f].summary.lines.total && (100 * a[f].summary.lines.covered) / a[f].summary.lines.total < BAR) under.push(f);
  }
  rows.push(["all", total.files, pct(total.a.lines), pct(total.a.branches), pct(total.v.lines), pct(total.v.branches)]);
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  const lines = rows.map((r) => r.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : pad(c, widths[i]))).join("  "));
  lines.splice(1, 0, widths.map((w) => "-".repeat(w)).join("  "));
  if (!allMap) lines.push("(no e2e Worker counters: lines and branches are unit + integration only)");
  lines.push(under.length ? `under ${BAR} % of lines: ${under.join(", ")}` : `every folder at or above ${BAR} % of lines`);
  return lines.join("\n");
}

/** Files by uncovered lines, most first. */
export function files(root, map, folder) {
  const rows = [];
  for (const file of map.files()) {
    const rel = relative(root, file);
    if (folder && !rel.startsWith(`${folder}/`)) continue;
    const s = map.fileCoverageFor(file).toSummary();
    rows.push({ rel, missed: s.lines.total - s.lines.covered, lines: s.lines, branches: s.branches });
  }
  rows.sort((x, y) => y.missed - x.missed);
  return rows.map((r) => `${pad(r.missed, 5)} lines uncovered  ${pad(pct(r.lines), 8)} lines  ${pad(pct(r.branches), 8)} branches  ${r.rel}`).join("\n");
}

if (process.argv[1] && relative(process.argv[1], new URL(import.meta.url).pathname) === "") {
  const root = new URL("../../", import.meta.url).pathname;
  const vitestMap = readMap(root, "coverage/vitest/coverage-final.json");
  if (!vitestMap) {
    console.error("no coverage/vitest/coverage-final.json: run `npm run coverage` first");
    process.exit(1);
  }
  const allMap = readMap(root, "coverage/coverage-final.json");
  const i = process.argv.indexOf("--files");
  if (i >= 0) console.log(files(root, allMap ?? vitestMap, process.argv[i + 1]));
  else console.log(table(root, vitestMap, allMap));
}
