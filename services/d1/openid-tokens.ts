/**
 * OpenID tokens (d1-migrations/0013_openid.sql: openid_tokens): issued by
 * /user/{userId}/openid/request_token, checked by the federation
 * /openid/userinfo (client-server-api and server-server-api "OpenID").
 */

/** Stores a new token and drops expired ones, in one batch. */
export async function storeOpenIdToken(db: D1Database, tokenHash: string, userId: string, now: number, expiresTs: number): Promise<void> {
  await db.batch([
    db.prepare("DELETE FROM openid_tokens WHERE expires_ts < ?").bind(now),
    db.prepare("INSERT INTO openid_tokens (token_hash, user_id, expires_ts) VALUES (?, ?, ?)").bind(tokenHash, userId, expiresTs),
  ]);
}

/** The user a token was issued to, while it is valid. */
export async function openIdTokenUser(db: D1Database, tokenHash: string, now: number): Promise<string | null> {
  const row = await db.prepare("SELECT user_id FROM openid_tokens WHERE token_hash = ? AND expires_ts > ?").bind(tokenHash, now).first<{ user_id: string }>();
  return row?.user_id ?? null;
}
