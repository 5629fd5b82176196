/**
 * A D1Database wrapper that adds up what D1 reports in `meta` (rows_read,
 * rows_written) for every statement run through it. Measurement only: used by
 * the bench's probe Worker (scripts/bench/probe-worker.ts) and by
 * test/integration/cost.test.ts; production code never sees it.
 *
 * `first()` is run as `all()` so that its meta can be read (D1's first() runs
 * the whole query too and only drops the other rows). `raw()` hides meta, so it
 * is counted as a statement with unknown rows (`unmetered`).
 */

export interface D1Query {
  sql: string;
  rowsRead: number;
  rowsWritten: number;
}

export interface D1Tally {
  statements: number;
  rowsRead: number;
  rowsWritten: number;
  /** Statements whose rows D1 did not report (raw()). */
  unmetered: number;
  queries: D1Query[];
}

export function newTally(): D1Tally {
  return { statements: 0, rowsRead: 0, rowsWritten: 0, unmetered: 0, queries: [] };
}

type Sink = () => D1Tally | undefined;

function record(sink: Sink, sql: string, meta: Partial<D1Meta> | undefined): void {
  const t = sink();
  if (!t) return;
  const rowsRead = meta?.rows_read ?? 0;
  const rowsWritten = meta?.rows_written ?? 0;
  t.statements++;
  t.rowsRead += rowsRead;
  t.rowsWritten += rowsWritten;
  t.queries.push({ sql, rowsRead, rowsWritten });
}

const INNER = Symbol("inner D1PreparedStatement");

class CountingStatement {
  [INNER]: D1PreparedStatement;
  constructor(
    inner: D1PreparedStatement,
    readonly sql: string,
    private readonly sink: Sink,
  ) {
    this[INNER] = inner;
  }

  bind(...values: unknown[]): CountingStatement {
    return new CountingStatement(this[INNER].bind(...values), this.sql, this.sink);
  }

  async all<T>(): Promise<D1Result<T>> {
    const r = await this[INNER].all<T>();
    record(this.sink, this.sql, r.meta);
    return r;
  }

  async run<T>(): Promise<D1Result<T>> {
    const r = await this[INNER].run<T>();
    record(this.sink, this.sql, r.meta);
    return r;
  }

  async first<T>(colName?: string): Promise<T | null> {
    const r = await this.all<Record<string, unknown>>();
    const row = r.results[0];
    if (row === undefined) return null;
    if (colName === undefined) return row as T;
    if (!(colName in row)) throw new Error(`D1_COLUMN_NOTFOUND: ${colName}`);
    return row[colName] as T;
  }

  async raw<T>(options?: { columnNames?: boolean }): Promise<T[]> {
    const r = (await this[INNER].raw(options as { columnNames?: false })) as T[];
    const t = this.sink();
    if (t) {
      t.statements++;
      t.unmetered++;
      t.queries.push({ sql: this.sql, rowsRead: Number.NaN, rowsWritten: Number.NaN });
    }
    return r;
  }
}

const unwrap = (s: D1PreparedStatement): D1PreparedStatement => (s as unknown as CountingStatement)[INNER] ?? s;

/** Wraps `db`; every statement's meta goes to the tally `sink()` returns at that moment (none: not counted). */
export function countingD1(db: D1Database, sink: Sink): D1Database {
  const wrapped = {
    prepare: (sql: string) => new CountingStatement(db.prepare(sql), sql, sink) as unknown as D1PreparedStatement,
    async batch<T>(statements: D1PreparedStatement[]): Promise<D1Result<T>[]> {
      const results = await db.batch<T>(statements.map(unwrap));
      results.forEach((r, i) => record(sink, (statements[i] as unknown as CountingStatement).sql ?? "?", r.meta));
      return results;
    },
    exec: (query: string) => db.exec(query),
    withSession: (c?: D1SessionBookmark | D1SessionConstraint) => db.withSession(c),
    dump: () => db.dump(),
  };
  return wrapped as unknown as D1Database;
}
