/**
 * The layering of the code (README "Layout"): imports point one way, from the
 * HTTP layer down to the pure core, and no file reaches itself through its
 * imports. Read from the sources with TypeScript's own import scanner (type-only
 * imports count: a type cycle is still a cycle for a reader).
 */
import fs from "node:fs";
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");

/** Layers, lowest first; a file may import its own layer or any lower one. */
const LAYERS = ["src", "d1-migrations", "services", "r2", "durable-objects", "workers"] as const;

function listTs(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listTs(rel));
    else if (/\.(ts|mts)$/.test(entry.name) && !entry.name.endsWith(".d.ts")) out.push(rel);
  }
  return out;
}

function layerOf(file: string): number {
  return LAYERS.indexOf(file.split(path.sep)[0] as (typeof LAYERS)[number]);
}

/** file -> the repo files it imports (relative specifiers only; packages are outside the layering). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of LAYERS.flatMap((l) => listTs(l))) {
    const info = ts.preProcessFile(fs.readFileSync(path.join(ROOT, file), "utf8"), true, true);
    const targets: string[] = [];
    for (const ref of info.importedFiles) {
      if (!ref.fileName.startsWith(".")) continue;
      const abs = path.resolve(path.dirname(path.join(ROOT, file)), ref.fileName).replace(/\.js$/, ".ts");
      targets.push(path.relative(ROOT, abs));
    }
    graph.set(file, targets);
  }
  return graph;
}

/** Strongly connected components with more than one file (or a self-import): the import circles. */
function circles(graph: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) out.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

describe("import layering", () => {
  const graph = importGraph();

  it("reads the whole tree", () => {
    expect(graph.size).toBeGreaterThan(150);
    expect(graph.get(path.join("workers", "index.ts"))).toContain(path.join("durable-objects", "room", "room.ts"));
  });

  it("imports point down: workers → durable-objects → r2 → services → d1-migrations → src", () => {
    const upward: string[] = [];
    for (const [from, targets] of graph) {
      for (const to of targets) if (layerOf(to) > layerOf(from)) upward.push(`${from} -> ${to}`);
    }
    expect(upward).toEqual([]);
  });

  it("the pure core imports no Workers APIs", () => {
    const impure: string[] = [];
    for (const file of graph.keys()) {
      if (layerOf(file) !== 0) continue;
      const info = ts.preProcessFile(fs.readFileSync(path.join(ROOT, file), "utf8"), true, true);
      for (const ref of info.importedFiles) if (ref.fileName.startsWith("cloudflare:")) impure.push(`${file} -> ${ref.fileName}`);
    }
    expect(impure).toEqual([]);
  });

  it("no import circles", () => {
    expect(circles(graph)).toEqual([]);
  });

  it("the circle finder finds a circle", () => {
    expect(circles(new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["a"]]]))).toEqual([["a", "b", "c"]]);
  });
});
