/**
 * `registration_tokens` (d1-migrations/0002_accounts.sql) as Synapse's admin API
 * manages them. Registration itself checks and counts uses in
 * workers/auth/registration-tokens.ts.
 */

export interface RegistrationTokenRow {
  token: string;
  /** NULL: unlimited. */
  uses_allowed: number | null;
  pending: number;
  completed: number;
  /** Milliseconds; NULL: never. */
  expiry_time: number | null;
}

const TOKEN_COLUMNS = "token, uses_allowed, pending, completed, expiry_time";

export async function listRegistrationTokens(db: D1Database): Promise<RegistrationTokenRow[]> {
  const { results } = await db.prepare(`SELECT ${TOKEN_COLUMNS} FROM registration_tokens ORDER BY token`).all<RegistrationTokenRow>();
  return results;
}

export function registrationToken(db: D1Database, token: string): Promise<RegistrationTokenRow | null> {
  return db.prepare(`SELECT ${TOKEN_COLUMNS} FROM registration_tokens WHERE token = ?`).bind(token).first<RegistrationTokenRow>();
}

/** Throws D1's unique-constraint error when the token exists. */
export async function insertRegistrationToken(db: D1Database, t: { token: string; usesAllowed: number | null; expiryTime: number | null }): Promise<void> {
  await db.prepare("INSERT INTO registration_tokens (token, uses_allowed, expiry_time) VALUES (?, ?, ?)").bind(t.token, t.usesAllowed, t.expiryTime).run();
}

/** Sets the given fields (an absent one is left as it is; null clears the limit). */
export async function updateRegistrationToken(
  db: D1Database,
  token: string,
  set: { usesAllowed?: number | null | undefined; expiryTime?: number | null | undefined },
): Promise<void> {
  const sets: string[] = [];
  const args: (number | null)[] = [];
  if (set.usesAllowed !== undefined) (sets.push("uses_allowed = ?"), args.push(set.usesAllowed));
  if (set.expiryTime !== undefined) (sets.push("expiry_time = ?"), args.push(set.expiryTime));
  if (!sets.length) return;
  await db.prepare(`UPDATE registration_tokens SET ${sets.join(", ")} WHERE token = ?`).bind(...args, token).run();
}

/** Deletes a token; false when there was none. */
export async function deleteRegistrationToken(db: D1Database, token: string): Promise<boolean> {
  const res = await db.prepare("DELETE FROM registration_tokens WHERE token = ?").bind(token).run();
  return res.meta.changes > 0;
}
