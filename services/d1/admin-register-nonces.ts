/**
 * `admin_register_nonces` (d1-migrations/0002_accounts.sql): the nonces of
 * Synapse-compatible shared-secret registration (`/_synapse/admin/v1/register`).
 */

/** Stores a new nonce, dropping those older than `lifetimeMs` in the same batch. */
export async function saveAdminRegisterNonce(db: D1Database, nonce: string, now: number, lifetimeMs: number): Promise<void> {
  await db.batch([
    db.prepare("DELETE FROM admin_register_nonces WHERE created_ts < ?").bind(now - lifetimeMs),
    db.prepare("INSERT INTO admin_register_nonces (nonce, created_ts) VALUES (?, ?)").bind(nonce, now),
  ]);
}

/** Consumes a nonce issued at or after `notBefore`, in the statement that checks it; false if there was none. */
export async function consumeAdminRegisterNonce(db: D1Database, nonce: string, notBefore: number): Promise<boolean> {
  return (await db.prepare("DELETE FROM admin_register_nonces WHERE nonce = ? AND created_ts >= ? RETURNING nonce").bind(nonce, notBefore).first()) !== null;
}
