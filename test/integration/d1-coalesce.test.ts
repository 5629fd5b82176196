// services/d1/coalesce.ts against the real D1 binding: queries issued together
// become one db.batch, each caller gets its own results, and a failing
// statement fails only its own caller.
import { env as poolEnv } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { coalescedD1 } from "../../services/d1/coalesce.js";
import type { Env } from "../../services/env.js";

const env = poolEnv as unknown as Env;

/** env.DB, counting the round trips (batch calls) made on it. */
function countingBatches(): { db: D1Database; trips: number[] } {
  const trips: number[] = [];
  const db = {
    prepare: (q: string) => env.DB.prepare(q),
    batch: (s: D1PreparedStatement[]) => {
      trips.push(s.length);
      return env.DB.batch(s);
    },
  } as unknown as D1Database;
  return { db, trips };
}

describe("coalesced D1 reads", () => {
  it("batch, all, first and run issued together go out as one batch; each caller gets its own rows", async () => {
    const { db, trips } = countingBatches();
    const c = coalescedD1(db);
    const [b, all, first, col, none, run] = await Promise.all([
      c.batch([c.prepare("SELECT 1 AS a"), c.prepare("SELECT ? AS b").bind("two")]),
      c.prepare("SELECT value AS v FROM json_each(?)").bind("[3, 4]").all<{ v: number }>(),
      c.prepare("SELECT 5 AS f, 6 AS g").first<{ f: number; g: number }>(),
      c.prepare("SELECT 7 AS h").first<number>("h"),
      c.prepare("SELECT 1 WHERE 0").first(),
      c.prepare("SELECT 8 AS r").run(),
    ]);
    expect(trips).toEqual([7]);
    expect(b.map((r) => r.results)).toEqual([[{ a: 1 }], [{ b: "two" }]]);
    expect(all.results).toEqual([{ v: 3 }, { v: 4 }]);
    expect(first).toEqual({ f: 5, g: 6 });
    expect(col).toBe(7);
    expect(none).toBeNull();
    expect(run.results).toEqual([{ r: 8 }]);
    // Later queries (after an await) form the next trip.
    await c.prepare("SELECT 1").all();
    expect(trips).toEqual([7, 1]);
    expect(await c.batch([])).toEqual([]);
  });

  it("a failing statement fails its own caller only; the others are answered", async () => {
    const { db, trips } = countingBatches();
    const c = coalescedD1(db);
    const [ok, bad, ok2] = await Promise.allSettled([
      c.prepare("SELECT 1 AS a").first<{ a: number }>(),
      c.prepare("SELECT * FROM no_such_table").all(),
      c.batch([c.prepare("SELECT 2 AS b")]),
    ]);
    expect(ok).toEqual({ status: "fulfilled", value: { a: 1 } });
    expect(bad.status).toBe("rejected");
    expect(ok2.status === "fulfilled" && ok2.value[0]!.results).toEqual([{ b: 2 }]);
    expect(trips).toEqual([3, 1, 1, 1]);
  });
});
