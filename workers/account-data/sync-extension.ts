/**
 * Account data in /sync (client-server-api "Client Config"): the top-level
 * `account_data` (global entries) and each joined room's `account_data` (room
 * entries: tags as m.tag, the fully read marker as m.fully_read). Incremental:
 * entries changed since `since`, a deleted one (MSC3391) as empty content.
 * Initial sync, full_state and rooms joined since `since`: everything.
 */
import { eventMatches } from "../../src/filter.js";
import type { JsonObject, JsonValue } from "../../src/json.js";
import type { SyncContribution, SyncExtension } from "../sync/context.js";
import { GLOBAL, accountDataForSync } from "./account-data.js";

export const accountDataSyncExtension: SyncExtension = async (ctx): Promise<SyncContribution> => {
  const incremental = ctx.since !== null && !ctx.fullState;
  const rows = await accountDataForSync(ctx.env.DB, ctx.userId, incremental ? ctx.since : null, ctx.upTo, incremental ? (ctx.newlyJoinedRooms ?? []) : []);
  const globalFilter = ctx.filter.account_data;
  const roomFilter = ctx.filter.room?.account_data;
  const joined = new Set(ctx.joinedRooms);
  let global: JsonValue[] = [];
  const rooms: Record<string, Record<string, JsonValue>> = {};
  for (const row of rows) {
    const event = { type: row.type, content: JSON.parse(row.content) as JsonObject };
    if (row.room_id === GLOBAL) {
      if (eventMatches(globalFilter, { type: row.type })) global.push(event);
    } else if (joined.has(row.room_id) && eventMatches(roomFilter, { type: row.type, room_id: row.room_id })) {
      const section = (rooms[row.room_id] ??= { account_data: { events: [] } });
      ((section.account_data as { events: JsonValue[] }).events).push(event);
    }
  }
  if (globalFilter?.limit !== undefined) global = global.slice(0, Math.max(0, globalFilter.limit));
  return {
    top: { account_data: { events: global } },
    rooms,
    hasNews: global.length > 0 || Object.keys(rooms).length > 0,
  };
};
