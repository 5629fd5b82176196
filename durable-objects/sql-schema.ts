/**
 * Schema versions for a Durable Object's SQLite (PRAGMA user_version is not
 * supported there, so the version lives in a table). Run from the constructor
 * inside blockConcurrencyWhile; each step is applied in one synchronous transaction.
 */
export function applySchema(storage: DurableObjectStorage, steps: readonly string[]): void {
  const sql = storage.sql;
  sql.exec("CREATE TABLE IF NOT EXISTS _schema (version INTEGER NOT NULL)");
  const row = sql.exec<{ version: number }>("SELECT version FROM _schema").toArray()[0];
  const current = row?.version ?? 0;
  if (!row) sql.exec("INSERT INTO _schema (version) VALUES (0)");
  for (let v = current; v < steps.length; v++) {
    storage.transactionSync(() => {
      sql.exec(steps[v]!);
      sql.exec("UPDATE _schema SET version = ?", v + 1);
    });
  }
}
