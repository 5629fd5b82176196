/**
 * Registration tokens (spec "Token-authenticated registration", Synapse's admin
 * API shape): `uses_allowed` (NULL = unlimited), `expiry_time` (ms, NULL = never).
 */
interface TokenRow {
  uses_allowed: number | null;
  completed: number;
  expiry_time: number | null;
}

export async function registrationTokenStatus(db: D1Database, token: string): Promise<{ valid: boolean }> {
  const row = await db
    .prepare("SELECT uses_allowed, completed, expiry_time FROM registration_tokens WHERE token = ?")
    .bind(token)
    .first<TokenRow>();
  if (!row) return { valid: false };
  if (row.expiry_time !== null && row.expiry_time <= Date.now()) return { valid: false };
  if (row.uses_allowed !== null && row.completed >= row.uses_allowed) return { valid: false };
  return { valid: true };
}

/** Counts one completed registration; changes no row if the token has run out meanwhile. */
export function useRegistrationTokenStatement(db: D1Database, token: string): D1PreparedStatement {
  return db
    .prepare(
      "UPDATE registration_tokens SET completed = completed + 1 WHERE token = ? " +
        "AND (uses_allowed IS NULL OR completed < uses_allowed) AND (expiry_time IS NULL OR expiry_time > ?)",
    )
    .bind(token, Date.now());
}

/** Gives back a use counted for a registration that then failed. */
export function releaseRegistrationTokenStatement(db: D1Database, token: string): D1PreparedStatement {
  return db.prepare("UPDATE registration_tokens SET completed = completed - 1 WHERE token = ? AND completed > 0").bind(token);
}
