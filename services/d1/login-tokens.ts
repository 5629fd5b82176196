/**
 * Login tokens (d1-migrations/0002_accounts.sql: login_tokens): issued by
 * POST /login/get_token, exchanged once at POST /login with m.login.token
 * (client-server-api "Login"). Stored as hashes (workers/auth/tokens.ts).
 */

export async function storeLoginToken(db: D1Database, tokenHash: string, userId: string, expiresTs: number): Promise<void> {
  await db.prepare("INSERT INTO login_tokens (token_hash, user_id, expires_ts) VALUES (?, ?, ?)").bind(tokenHash, userId, expiresTs).run();
}

/**
 * Marks an unused, unexpired token used and returns its user; null otherwise.
 * Single use: the UPDATE that marks it is the check.
 */
export async function consumeLoginToken(db: D1Database, tokenHash: string, now: number): Promise<string | null> {
  const row = await db
    .prepare("UPDATE login_tokens SET used_ts = ? WHERE token_hash = ? AND used_ts IS NULL AND expires_ts > ? RETURNING user_id")
    .bind(now, tokenHash, now)
    .first<{ user_id: string }>();
  return row?.user_id ?? null;
}
