/**
 * Room tags (client-server-api "Room Tagging"), kept as the room's `m.tag`
 * account data `{tags: {name: {order?}}}` — the event /sync delivers in the
 * room's account_data section.
 */
import { TAG_EVENT_TYPE, tagsOf } from "../../src/account-data.js";
import type { JsonObject } from "../../src/json.js";
import type { Env } from "../../services/env.js";
import { getAccountData, patchAccountData } from "./account-data.js";

export async function getTags(db: D1Database, userId: string, roomId: string): Promise<JsonObject> {
  return tagsOf(await getAccountData(db, userId, roomId, TAG_EVENT_TYPE));
}

/** Adds or replaces one tag, atomically with respect to the room's other tags. */
export async function putTag(env: Env, userId: string, roomId: string, tag: string, content: JsonObject): Promise<void> {
  await patchAccountData(env, userId, roomId, TAG_EVENT_TYPE, { tags: { [tag]: null } }, { tags: { [tag]: content } });
}

/** Removes one tag; removing a tag the room does not have writes nothing. */
export async function deleteTag(env: Env, userId: string, roomId: string, tag: string): Promise<void> {
  if (!Object.hasOwn(await getTags(env.DB, userId, roomId), tag)) return;
  await patchAccountData(env, userId, roomId, TAG_EVENT_TYPE, { tags: { [tag]: null } }, { tags: {} });
}
