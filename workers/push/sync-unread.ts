/**
 * The push module's parts of /sync:
 *
 * - `unread_notifications` (and, when the filter's `room.timeline.
 *   unread_thread_notifications` is true, MSC3773's `unread_thread_notifications`)
 *   for every joined room in the response — Synapse gives every joined room it
 *   sends its counts, and clients such as matrix-js-sdk reset a room's thread
 *   counts when a room arrives without them. It runs as a finisher, after the
 *   other extensions, so it sees every room they added; counts are never computed
 *   for rooms the response does not carry. Counts only change with a new
 *   notification (an event in the room), the user's own receipt or their own
 *   event, all of which put the room in the response.
 * - `m.push_rules` account data: written to the account data table on every
 *   change (services/push/rules-store.ts), so the account data extension delivers
 *   it; a user who never changed a rule gets the defaults written on their first
 *   initial sync (in the response of later initial syncs).
 */
import type { JsonValue } from "../../src/json.js";
import { syncFields } from "../../src/unread-counts.js";
import type { SyncContext, SyncContribution, SyncFinisher } from "../sync/context.js";
import { buildRuleset } from "../../src/push-rules.js";
import { loadStoredRules, pushRulesContent } from "../../services/push/rules-store.js";
import { unreadCounts } from "../../services/push/unread-counts.js";

function wantsThreadCounts(ctx: SyncContext): boolean {
  const tl = ctx.filter.room?.timeline as Record<string, unknown> | undefined;
  return tl?.unread_thread_notifications === true || tl?.["org.matrix.msc3773.unread_thread_notifications"] === true;
}

export const unreadCountsFinisher: SyncFinisher = async (ctx) => {
  const counts = await unreadCounts(ctx.env.DB, ctx.userId, ctx.joinedRooms, ctx.upTo);
  const threaded = wantsThreadCounts(ctx);
  const out: Record<string, Record<string, JsonValue>> = {};
  for (const room of ctx.joinedRooms) out[room] = syncFields(counts.get(room), threaded) as unknown as Record<string, JsonValue>;
  return out;
};

/**
 * Initial sync: make sure m.push_rules exists as account data (the server-default
 * rules until changed), so later initial syncs and GET /account_data carry it. It
 * is written at this sync's position without advancing the stream: not news for
 * anyone's long-poll (clients without it use the server defaults, which it is).
 */
export async function pushRulesSyncExtension(ctx: SyncContext): Promise<SyncContribution> {
  if (ctx.since !== null) return { hasNews: false };
  const db = ctx.env.DB;
  const have = await db.prepare("SELECT 1 AS x FROM account_data WHERE user_id = ? AND room_id = '' AND type = 'm.push_rules'").bind(ctx.userId).first();
  if (!have) {
    const stored = (await loadStoredRules(db, [ctx.userId])).get(ctx.userId) ?? [];
    await db
      .prepare("INSERT INTO account_data (user_id, room_id, type, content, deleted, stream_pos) VALUES (?, '', 'm.push_rules', ?, 0, ?) ON CONFLICT DO NOTHING")
      .bind(ctx.userId, JSON.stringify(pushRulesContent(buildRuleset(ctx.userId, stored))), ctx.upTo)
      .run();
  }
  return { hasNews: false };
}
