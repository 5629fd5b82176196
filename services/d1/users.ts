/**
 * User accounts (d1-migrations/0002_accounts.sql: users). Registration creates
 * them (workers/auth/accounts.ts), login and the auth middleware read them; the
 * account routes change the password and deactivate.
 */

/** Sets the password hash; runs alone or in the batch that logs other devices out. */
export function setPasswordHashStatement(db: D1Database, userId: string, passwordHash: string): D1PreparedStatement {
  return db.prepare("UPDATE users SET password_hash = ? WHERE user_id = ?").bind(passwordHash, userId);
}

/** Marks the account deactivated (and erased, if asked) and drops its password; for the deactivation batch. */
export function deactivateUserStatement(db: D1Database, userId: string, erase: boolean): D1PreparedStatement {
  return db.prepare("UPDATE users SET deactivated = 1, password_hash = NULL, erased = ? WHERE user_id = ?").bind(erase ? 1 : 0, userId);
}

/** Whether the account is deactivated; null when there is no such user. */
export async function loadDeactivated(db: D1Database, userId: string): Promise<boolean | null> {
  const row = await db.prepare("SELECT deactivated FROM users WHERE user_id = ?").bind(userId).first<{ deactivated: number }>();
  return row ? row.deactivated !== 0 : null;
}
