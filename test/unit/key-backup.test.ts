import { describe, expect, it } from "vitest";
import { MatrixError } from "../../src/errors.js";
import {
  type BackupKeyMeta,
  checkBackupAuthData,
  KeyBackupDataSchema,
  MEGOLM_BACKUP_V1,
  parseBackupVersion,
  RoomKeysBackupSchema,
  shouldReplaceRoomKey,
} from "../../src/key-backup.js";

const k = (is_verified: boolean, first_message_index: number, forwarded_count: number): BackupKeyMeta => ({
  is_verified,
  first_message_index,
  forwarded_count,
});

describe("backup key replacement (spec: Server-side key backups)", () => {
  it("stores a key for a new session", () => {
    expect(shouldReplaceRoomKey(undefined, k(false, 9, 9))).toBe(true);
  });

  it("prefers is_verified over everything else", () => {
    expect(shouldReplaceRoomKey(k(false, 0, 0), k(true, 5, 5))).toBe(true);
    // The spec keeps the verified key even against a lower index (Synapse would not).
    expect(shouldReplaceRoomKey(k(true, 5, 5), k(false, 0, 0))).toBe(false);
  });

  it("then the lower first_message_index", () => {
    expect(shouldReplaceRoomKey(k(true, 5, 0), k(true, 4, 9))).toBe(true);
    expect(shouldReplaceRoomKey(k(true, 4, 9), k(true, 5, 0))).toBe(false);
  });

  it("then the lower forwarded_count; an equal key is kept", () => {
    expect(shouldReplaceRoomKey(k(false, 3, 2), k(false, 3, 1))).toBe(true);
    expect(shouldReplaceRoomKey(k(false, 3, 1), k(false, 3, 2))).toBe(false);
    expect(shouldReplaceRoomKey(k(false, 3, 1), k(false, 3, 1))).toBe(false);
  });

  it("is a strict order: of two different keys exactly one replaces the other", () => {
    const all: BackupKeyMeta[] = [];
    for (const v of [false, true]) for (const i of [0, 1, 2]) for (const f of [0, 1, 2]) all.push(k(v, i, f));
    for (const a of all) {
      for (const b of all) {
        const ab = shouldReplaceRoomKey(a, b);
        const ba = shouldReplaceRoomKey(b, a);
        if (JSON.stringify(a) === JSON.stringify(b)) expect(ab || ba).toBe(false);
        else expect(ab !== ba).toBe(true);
      }
    }
  });
});

describe("backup request shapes", () => {
  const session = { first_message_index: 1, forwarded_count: 0, is_verified: true, session_data: { ephemeral: "e", ciphertext: "c", mac: "m" } };

  it("parses KeyBackupData and the bulk body", () => {
    expect(KeyBackupDataSchema.parse(session)).toEqual(session);
    expect(RoomKeysBackupSchema.safeParse({ rooms: { "!r:x": { sessions: { s1: session } } } }).success).toBe(true);
    for (const bad of [
      { ...session, is_verified: "true" },
      { ...session, first_message_index: -1 },
      { ...session, forwarded_count: 1.5 },
      { ...session, session_data: "opaque" },
      { first_message_index: 1 },
    ]) {
      expect(KeyBackupDataSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
    expect(RoomKeysBackupSchema.safeParse({ rooms: { "!r:x": { s1: session } } }).success).toBe(false);
  });

  it("checks auth_data loosely for the spec's algorithm only", () => {
    checkBackupAuthData(MEGOLM_BACKUP_V1, { public_key: "abc", signatures: {} });
    checkBackupAuthData("org.example.other", {});
    expect(() => checkBackupAuthData(MEGOLM_BACKUP_V1, {})).toThrow(MatrixError);
    expect(() => checkBackupAuthData(MEGOLM_BACKUP_V1, { public_key: 5 })).toThrow(MatrixError);
    expect(() => checkBackupAuthData(MEGOLM_BACKUP_V1, { public_key: "abc", signatures: "x" })).toThrow(MatrixError);
  });

  it("parses backup versions", () => {
    expect(parseBackupVersion("1")).toBe(1);
    expect(parseBackupVersion("42")).toBe(42);
    for (const bad of [undefined, "", "0", "01", "-1", "1.0", "abc", "99999999999999999"]) expect(parseBackupVersion(bad)).toBeUndefined();
  });
});
