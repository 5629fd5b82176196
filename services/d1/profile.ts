/**
 * Profiles (d1-migrations/0002_accounts.sql: profile_fields, one row per field,
 * the value as JSON; and users.erased). Client-server-api "Profiles": the profile
 * routes read and write them, registration sets the first display name, member
 * events copy displayname and avatar_url.
 */
import type { JsonObject, JsonValue } from "../../src/json.js";
import { firstRowOf, rowsOf, type RowsStatement } from "./rows.js";

/** A user's whole profile in one batch; null when the user does not exist or was erased. */
export async function loadProfile(db: D1Database, userId: string): Promise<JsonObject | null> {
  const user: RowsStatement<{ erased: number }> = db.prepare("SELECT erased FROM users WHERE user_id = ?").bind(userId);
  const fields: RowsStatement<{ field: string; value: string }> = db.prepare("SELECT field, value FROM profile_fields WHERE user_id = ?").bind(userId);
  const [userRes, fieldsRes] = await db.batch([user, fields]);
  const u = firstRowOf(user, userRes);
  if (!u || u.erased) return null;
  return Object.fromEntries(rowsOf(fields, fieldsRes).map((f) => [f.field, JSON.parse(f.value) as JsonValue]));
}

export async function storeProfileField(db: D1Database, userId: string, field: string, value: JsonValue): Promise<void> {
  await db
    .prepare("INSERT INTO profile_fields (user_id, field, value) VALUES (?, ?, ?) ON CONFLICT (user_id, field) DO UPDATE SET value = excluded.value")
    .bind(userId, field, JSON.stringify(value))
    .run();
}

export async function deleteProfileField(db: D1Database, userId: string, field: string): Promise<void> {
  await db.prepare("DELETE FROM profile_fields WHERE user_id = ? AND field = ?").bind(userId, field).run();
}

/**
 * For the deactivation batch: erasure removes the whole profile; plain
 * deactivation keeps the display name, as Synapse does.
 */
export function deactivatedProfileStatement(db: D1Database, userId: string, erase: boolean): D1PreparedStatement {
  return erase
    ? db.prepare("DELETE FROM profile_fields WHERE user_id = ?").bind(userId)
    : db.prepare("DELETE FROM profile_fields WHERE user_id = ? AND field != 'displayname'").bind(userId);
}
