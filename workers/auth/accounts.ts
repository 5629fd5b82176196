import { MatrixError } from "../../src/errors.js";
import { checkNewLocalpart } from "../../src/username.js";
import type { Config } from "../config.js";

export interface NewUser {
  localpart: string;
  passwordHash: string | null;
  isGuest?: boolean;
  isAdmin?: boolean;
  userType?: string | null;
  displayName?: string;
}

/** Validates a requested localpart for registration: M_INVALID_USERNAME, M_EXCLUSIVE. */
export function validateNewUsername(config: Config, username: string, opts: { guest?: boolean; fromAdmin?: boolean } = {}): string {
  const check = checkNewLocalpart(username, config.serverName, opts);
  if (!check.ok) throw new MatrixError("M_INVALID_USERNAME", check.reason, 400);
  const userId = `@${check.localpart}:${config.serverName}`;
  if (!opts.fromAdmin && config.exclusiveUserNamespaces.some((re) => re.test(userId))) {
    throw new MatrixError("M_EXCLUSIVE", "This user ID is reserved by an application service", 400);
  }
  return check.localpart;
}

export async function userExists(db: D1Database, userId: string): Promise<boolean> {
  return (await db.prepare("SELECT 1 AS x FROM users WHERE user_id = ?").bind(userId).first()) !== null;
}

/**
 * Inserts the user; the primary key makes two racing registrations of one name
 * end with exactly one winner and M_USER_IN_USE for the other.
 */
export function createUserStatements(db: D1Database, serverName: string, u: NewUser): { userId: string; statements: D1PreparedStatement[] } {
  const userId = `@${u.localpart}:${serverName}`;
  const now = Date.now();
  const statements = [
    db
      .prepare(
        "INSERT INTO users (user_id, localpart, password_hash, is_guest, is_admin, user_type, created_ts) VALUES (?, ?, ?, ?, ?, ?, ?)",
      )
      .bind(userId, u.localpart, u.passwordHash, u.isGuest ? 1 : 0, u.isAdmin ? 1 : 0, u.userType ?? null, now),
    db
      .prepare("INSERT INTO profile_fields (user_id, field, value) VALUES (?, 'displayname', ?)")
      .bind(userId, JSON.stringify(u.displayName ?? u.localpart)),
  ];
  return { userId, statements };
}

export function isUniqueViolation(e: unknown): boolean {
  return e instanceof Error && /UNIQUE constraint failed|PRIMARY KEY/i.test(e.message);
}

export const userInUse = () => new MatrixError("M_USER_IN_USE", "User ID already taken.", 400);

/** A fresh all-digit localpart (guests, and registrations that name no user). */
export function randomNumericLocalpart(): string {
  const bytes = crypto.getRandomValues(new Uint32Array(2));
  return `${bytes[0]! % 1_000_000}${String(bytes[1]! % 1_000_000).padStart(6, "0")}`.replace(/^0+/, "") || "1";
}
