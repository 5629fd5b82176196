/**
 * Account data (client-server-api "Client Config") and room tags ("Room
 * Tagging"): which types clients may write, and the shape of tags. Tags are the
 * room's `m.tag` account data, as /sync delivers them.
 */
import { z } from "zod";
import { MatrixError } from "./errors.js";
import { utf8Length } from "./identifiers.js";
import type { JsonObject } from "./json.js";

/**
 * Types the server manages (account_data.md "Server Behaviour": currently
 * m.fully_read and m.push_rules, global or per room): clients may read them but
 * setting them is 405 M_BAD_JSON (account-data.yaml).
 */
export const SERVER_MANAGED_TYPES: readonly string[] = ["m.fully_read", "m.push_rules"];

export function checkClientWritable(type: string): void {
  if (SERVER_MANAGED_TYPES.includes(type)) {
    throw new MatrixError("M_BAD_JSON", `Cannot set ${type} through this API.`, 405);
  }
}

/** Longest account data type we store (event types are at most 255 bytes). */
export const MAX_TYPE_BYTES = 255;

export function checkAccountDataType(type: string): void {
  if (type === "" || utf8Length(type) > MAX_TYPE_BYTES) {
    throw new MatrixError("M_INVALID_PARAM", `Account data type must be 1 to ${MAX_TYPE_BYTES} bytes`, 400);
  }
}

export const TAG_EVENT_TYPE = "m.tag";

/** "The name of a tag MUST NOT exceed 255 bytes." */
export const MAX_TAG_BYTES = 255;

export function checkTagName(tag: string): void {
  if (tag === "" || utf8Length(tag) > MAX_TAG_BYTES) throw new MatrixError("M_INVALID_PARAM", `Tag names must be 1 to ${MAX_TAG_BYTES} bytes`, 400);
}

/** definitions/tag.yaml: `order` is a number in [0, 1]; other keys are kept as given. */
export const TagBody = z.looseObject({
  order: z.number().min(0).max(1).optional(),
});

/** The tags in an `m.tag` content (anything malformed reads as no tags). */
export function tagsOf(content: JsonObject | null | undefined): JsonObject {
  const tags = content?.tags;
  return tags !== null && typeof tags === "object" && !Array.isArray(tags) ? tags : {};
}

/** The user ids of an `m.ignored_user_list` content as stored (spec "Ignoring Users"); unreadable content ignores nobody. */
export function ignoredUserIds(content: string | undefined): Set<string> {
  if (!content) return new Set();
  try {
    const list = (JSON.parse(content) as { ignored_users?: unknown }).ignored_users;
    return new Set(list && typeof list === "object" && !Array.isArray(list) ? Object.keys(list) : []);
  } catch {
    return new Set();
  }
}
