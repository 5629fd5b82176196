/**
 * Server-side key backups (spec: client-server-api "Server-side key backups",
 * data/api/client-server/key_backup.yaml): the request shapes, the loose auth_data
 * check per algorithm, and the rule for replacing a stored session key.
 */
import { z } from "zod";
import { MatrixError } from "./errors.js";
import { isJsonObject } from "./json.js";

export const MEGOLM_BACKUP_V1 = "m.megolm_backup.v1.curve25519-aes-sha2";

const nonNegativeInt = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** KeyBackupData: one backed-up megolm session. `session_data` is opaque to the server. */
export const KeyBackupDataSchema = z.object({
  first_message_index: nonNegativeInt,
  forwarded_count: nonNegativeInt,
  is_verified: z.boolean(),
  session_data: z.record(z.string(), z.unknown()),
});
export type KeyBackupData = z.infer<typeof KeyBackupDataSchema>;

/** RoomKeyBackup: `{sessions: {sessionId: KeyBackupData}}`. */
export const RoomKeyBackupSchema = z.object({ sessions: z.record(z.string(), KeyBackupDataSchema) });

/** The body of PUT /room_keys/keys: `{rooms: {roomId: RoomKeyBackup}}`. */
export const RoomKeysBackupSchema = z.object({ rooms: z.record(z.string(), RoomKeyBackupSchema) });

export type BackupKeyMeta = Pick<KeyBackupData, "first_message_index" | "forwarded_count" | "is_verified">;

/**
 * Whether an uploaded key should replace the stored key of the same session
 * (spec "Server-side key backups"): keep the verified one if `is_verified`
 * differs; otherwise the lower `first_message_index`; if that is equal too, the
 * lower `forwarded_count`. A key equal on all three is not replaced.
 *
 * Unlike Synapse (whose `_should_replace_room_key` lets an unverified key with a
 * lower index replace a verified one) this is exactly the spec's order.
 */
export function shouldReplaceRoomKey(current: BackupKeyMeta | undefined, candidate: BackupKeyMeta): boolean {
  if (current === undefined) return true;
  if (current.is_verified !== candidate.is_verified) return candidate.is_verified;
  if (candidate.first_message_index !== current.first_message_index) {
    return candidate.first_message_index < current.first_message_index;
  }
  return candidate.forwarded_count < current.forwarded_count;
}

/**
 * The same rule as an SQL condition for `ON CONFLICT DO UPDATE ... WHERE`, with
 * the stored row's columns unqualified and the candidate as `excluded.*`, so that
 * concurrent uploads of one session cannot undo the rule. Kept next to the
 * function above; test/integration/e2ee-backup.test.ts checks in D1 that both agree.
 */
export const SHOULD_REPLACE_SQL =
  "(excluded.is_verified != is_verified AND excluded.is_verified = 1) OR " +
  "(excluded.is_verified = is_verified AND (excluded.first_message_index < first_message_index OR " +
  "(excluded.first_message_index = first_message_index AND excluded.forwarded_count < forwarded_count)))";

/** The body of POST /room_keys/version and PUT /room_keys/version/{version}. */
export const BackupVersionBodySchema = z.object({
  algorithm: z.string().min(1).max(255),
  auth_data: z.record(z.string(), z.unknown()),
  version: z.string().optional(),
});

/**
 * Checks `auth_data` loosely, as Synapse does: for the spec's algorithm,
 * `public_key` must be a string and `signatures`, if present, an object. Other
 * algorithms (e.g. unstable symmetric backups) are stored as they come.
 */
export function checkBackupAuthData(algorithm: string, authData: Record<string, unknown>): void {
  if (algorithm !== MEGOLM_BACKUP_V1) return;
  if (typeof authData.public_key !== "string" || authData.public_key.length === 0) {
    throw new MatrixError("M_INVALID_PARAM", "auth_data.public_key must be a string", 400);
  }
  if (authData.signatures !== undefined && !isJsonObject(authData.signatures)) {
    throw new MatrixError("M_INVALID_PARAM", "auth_data.signatures must be an object", 400);
  }
}

/** Backup versions are positive integers as decimal strings; anything else names no backup. */
export function parseBackupVersion(v: string | undefined): number | undefined {
  if (v === undefined || !/^[1-9][0-9]{0,15}$/.test(v)) return undefined;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : undefined;
}
