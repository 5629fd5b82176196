import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
// @ts-expect-error: plain ESM script without type declarations
import { renderMigrations } from "../../scripts/gen-migrations.mjs";
import { splitSqlStatements } from "../../workers/d1-migrate.js";

describe("D1 migrations", () => {
  it("the bundled copy matches d1-migrations/*.sql (run `npm run gen` after editing them)", () => {
    const onDisk = readFileSync(new URL("../../d1-migrations/migrations.generated.ts", import.meta.url), "utf8");
    expect(onDisk).toBe((renderMigrations as () => string)());
  });

  it("splits statements outside quotes, comments and trigger bodies", () => {
    const sql = `-- a; comment
CREATE TABLE a (x TEXT DEFAULT 'a;b'); /* c; */
CREATE TRIGGER t AFTER INSERT ON a BEGIN UPDATE a SET x = 'y'; DELETE FROM a; END;
INSERT INTO a VALUES ("q;") ;`;
    const parts = splitSqlStatements(sql);
    expect(parts).toHaveLength(3);
    expect(parts[0]).toBe("CREATE TABLE a (x TEXT DEFAULT 'a;b')");
    expect(parts[1]).toMatch(/^CREATE TRIGGER t .* END$/s);
    expect(parts[2]).toBe('INSERT INTO a VALUES ("q;")');
  });
});
