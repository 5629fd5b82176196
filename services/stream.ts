/**
 * The global stream (d1-migrations/0004_stream.sql). Put `advanceStream(db)` first
 * in a D1 batch and use `STREAM_POS` as the value of the rows it writes: they all
 * get the new position, atomically. After the batch, `readStreamPos` or a
 * RETURNING clause tells the position to notify sleepers with.
 */
export const STREAM_POS = "(SELECT pos FROM stream_counter WHERE id = 1)";

export function advanceStream(db: D1Database): D1PreparedStatement {
  return db.prepare("UPDATE stream_counter SET pos = pos + 1 WHERE id = 1 RETURNING pos");
}

export async function readStreamPos(db: D1Database): Promise<number> {
  const row = await db.prepare("SELECT pos FROM stream_counter WHERE id = 1").first<{ pos: number }>();
  return row?.pos ?? 0;
}

/** The position a batch that began with `advanceStream` was given. */
export function streamPosOf(results: D1Result[]): number {
  const row = results[0]?.results[0] as { pos?: number } | undefined;
  if (typeof row?.pos !== "number") throw new Error("batch did not start with advanceStream()");
  return row.pos;
}
