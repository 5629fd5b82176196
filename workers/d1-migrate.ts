import { MIGRATIONS, type D1MigrationFile } from "../d1-migrations/migrations.generated.js";

/**
 * Applies pending D1 migrations from inside the Worker, once per isolate, so a
 * fresh `wrangler dev` or `wrangler deploy` needs no separate step. It keeps the
 * same `d1_migrations` table as `wrangler d1 migrations apply`, so both agree.
 * Each migration runs as one D1 batch (one transaction, recorded in the same
 * batch): two isolates racing cannot both apply it — the loser's batch fails on
 * the unique name and rolls back, and it re-reads what is applied.
 */
const done = new WeakMap<D1Database, Promise<void>>();

export function ensureMigrated(db: D1Database): Promise<void> {
  let p = done.get(db);
  if (!p) {
    p = migrate(db, MIGRATIONS).catch((e: unknown) => {
      done.delete(db);
      throw e;
    });
    done.set(db, p);
  }
  return p;
}

async function applied(db: D1Database): Promise<Set<string>> {
  await db
    .prepare(
      "CREATE TABLE IF NOT EXISTS d1_migrations (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)",
    )
    .run();
  const { results } = await db.prepare("SELECT name FROM d1_migrations").all<{ name: string }>();
  return new Set(results.map((r) => r.name));
}

export async function migrate(db: D1Database, migrations: D1MigrationFile[]): Promise<void> {
  let have = await applied(db);
  for (const m of migrations) {
    if (have.has(m.name)) continue;
    const statements = splitSqlStatements(m.sql).map((s) => db.prepare(s));
    statements.push(db.prepare("INSERT INTO d1_migrations (name) VALUES (?)").bind(m.name));
    try {
      await db.batch(statements);
    } catch (e) {
      have = await applied(db);
      if (!have.has(m.name)) throw e;
    }
  }
}

/** Splits a migration file into statements: `;` ends one unless inside quotes, comments or a trigger body. */
export function splitSqlStatements(sql: string): string[] {
  const out: string[] = [];
  let cur = "";
  let i = 0;
  let depth = 0;
  while (i < sql.length) {
    const ch = sql[i]!;
    const two = sql.slice(i, i + 2);
    if (two === "--") {
      const end = sql.indexOf("\n", i);
      i = end === -1 ? sql.length : end + 1;
      cur += "\n";
      continue;
    }
    if (two === "/*") {
      const end = sql.indexOf("*/", i + 2);
      i = end === -1 ? sql.length : end + 2;
      continue;
    }
    if (ch === "'" || ch === '"' || ch === "`") {
      let j = i + 1;
      while (j < sql.length && !(sql[j] === ch && sql[j + 1] !== ch)) j += sql[j] === ch ? 2 : 1;
      cur += sql.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    const word = /^[A-Za-z_]+/.exec(sql.slice(i))?.[0];
    if (word) {
      const up = word.toUpperCase();
      if (up === "BEGIN" && /CREATE\s+(TEMP\s+|TEMPORARY\s+)?TRIGGER/i.test(cur)) depth++;
      else if (up === "END" && depth > 0) depth--;
      cur += word;
      i += word.length;
      continue;
    }
    if (ch === ";" && depth === 0) {
      if (cur.trim()) out.push(cur.trim());
      cur = "";
    } else cur += ch;
    i++;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}
