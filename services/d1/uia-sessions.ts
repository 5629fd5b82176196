/**
 * User-interactive authentication sessions (d1-migrations/0002_accounts.sql:
 * uia_sessions), kept in D1 so that any Worker isolate can continue a session
 * (workers/auth/uia.ts).
 */

export interface UiaSessionRow {
  /** "<method> <path>" of the request the session was started for. */
  operation: string;
  user_id: string | null;
  /** JSON array of the completed stages. */
  completed: string;
  /** JSON object the stages keep (e.g. the registration token used). */
  data: string;
  created_ts: number;
}

export async function loadUiaSession(db: D1Database, sessionId: string): Promise<UiaSessionRow | null> {
  return db
    .prepare("SELECT operation, user_id, completed, data, created_ts FROM uia_sessions WHERE session_id = ?")
    .bind(sessionId)
    .first<UiaSessionRow>();
}

export async function createUiaSession(db: D1Database, sessionId: string, operation: string, userId: string | null, now: number): Promise<void> {
  await db
    .prepare("INSERT INTO uia_sessions (session_id, operation, user_id, created_ts) VALUES (?, ?, ?, ?)")
    .bind(sessionId, operation, userId, now)
    .run();
}

export async function updateUiaSession(db: D1Database, sessionId: string, completed: string[], data: unknown): Promise<void> {
  await db
    .prepare("UPDATE uia_sessions SET completed = ?, data = ? WHERE session_id = ?")
    .bind(JSON.stringify(completed), JSON.stringify(data), sessionId)
    .run();
}

export async function deleteUiaSession(db: D1Database, sessionId: string): Promise<void> {
  await db.prepare("DELETE FROM uia_sessions WHERE session_id = ?").bind(sessionId).run();
}
