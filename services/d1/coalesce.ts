/**
 * One D1 round trip for the queries a request issues together. A response built
 * from independent parts (sliding sync's rooms, unread counts and extensions)
 * asks D1 from several async paths at once; each `batch()`, `all()`, `first()`
 * or `run()` made through the wrapper within the same turn of the event loop is
 * queued and sent as one `db.batch`, and each caller gets its own results back.
 * The parts keep their own queries and readers; only the trips are shared.
 *
 * A D1 batch is one transaction: if any statement in it fails, none of it took
 * effect, so the callers' statements are then run again each on their own and
 * only the caller whose statement failed sees the error. `raw()` is not queued.
 */
type Job = { stmts: D1PreparedStatement[]; resolve: (r: D1Result[]) => void; reject: (e: unknown) => void };

export function coalescedD1(db: D1Database): D1Database {
  let queue: Job[] = [];
  const flush = async () => {
    const jobs = queue;
    queue = [];
    if (jobs.length === 1) return db.batch(jobs[0]!.stmts).then(jobs[0]!.resolve, jobs[0]!.reject);
    let results: D1Result[];
    try {
      results = await db.batch(jobs.flatMap((j) => j.stmts));
    } catch {
      for (const j of jobs) db.batch(j.stmts).then(j.resolve, j.reject);
      return;
    }
    let at = 0;
    for (const j of jobs) {
      j.resolve(results.slice(at, at + j.stmts.length));
      at += j.stmts.length;
    }
  };
  const batch = (stmts: D1PreparedStatement[]): Promise<D1Result[]> => {
    if (stmts.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      if (queue.length === 0) setTimeout(() => void flush(), 0);
      queue.push({ stmts: stmts.map((s) => (s instanceof CoalescedStatement ? s.inner : s)), resolve, reject });
    });
  };
  const wrapper = {
    prepare: (query: string) => new CoalescedStatement(db.prepare(query), batch),
    batch,
    exec: (query: string) => db.exec(query),
    withSession: (c?: D1SessionBookmark | D1SessionConstraint) => db.withSession(c),
    dump: () => db.dump(),
  };
  return wrapper as unknown as D1Database;
}

class CoalescedStatement {
  constructor(
    readonly inner: D1PreparedStatement,
    private readonly batch: (stmts: D1PreparedStatement[]) => Promise<D1Result[]>,
  ) {}

  bind(...values: unknown[]): CoalescedStatement {
    return new CoalescedStatement(this.inner.bind(...values), this.batch);
  }

  async all<T>(): Promise<D1Result<T>> {
    const [r] = await this.batch([this.inner]);
    return r as D1Result<T>;
  }

  run<T>(): Promise<D1Result<T>> {
    return this.all<T>();
  }

  async first<T>(colName?: string): Promise<T | null> {
    const row = (await this.all<Record<string, unknown>>()).results[0];
    if (!row) return null;
    return (colName === undefined ? row : (row[colName] ?? null)) as T | null;
  }

  raw<T>(options?: { columnNames?: boolean }): Promise<T[]> {
    return this.inner.raw(options as { columnNames?: false }) as Promise<T[]>;
  }
}
