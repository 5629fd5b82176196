/**
 * The `ephemeral` section of joined rooms in /sync: `m.typing` and `m.receipt`
 * (client-server-api "Typing Notifications", "Receipts"). One extension for both
 * because they share the room's `ephemeral.events` list.
 *
 * Incremental sync: rooms whose typing set changed since `since` get the complete
 * new set (clients replace what they knew), and receipts written since `since`.
 * Initial sync, full_state, and rooms joined since `since`: the current typing set
 * when not empty, and every current receipt.
 */
import { eventMatches } from "../../src/filter.js";
import type { JsonValue } from "../../src/json.js";
import { receiptEvents } from "../../src/receipts.js";
import { typingEvent } from "../../src/typing.js";
import { receiptsForSync } from "../receipts/receipts.js";
import { typingForSync } from "../typing/typing-sync.js";
import type { SyncContribution, SyncExtension } from "./context.js";

export const ephemeralSyncExtension: SyncExtension = async (ctx): Promise<SyncContribution> => {
  const f = ctx.filter.room?.ephemeral;
  const rooms = ctx.joinedRooms.filter((r) => eventMatches(f, { type: "m.typing", room_id: r }) || eventMatches(f, { type: "m.receipt", room_id: r }));
  const incremental = ctx.since !== null && !ctx.fullState;
  const fresh = new Set(incremental ? (ctx.newlyJoinedRooms ?? []) : rooms);
  const changedIn = rooms.filter((r) => !fresh.has(r));
  const fullIn = rooms.filter((r) => fresh.has(r));
  const since = incremental ? ctx.since : null;
  const db = ctx.env.DB;
  const wants = (type: string) => rooms.length > 0 && eventMatches(f, { type });
  const [typing, receipts] = await Promise.all([
    wants("m.typing") ? typingForSync(db, since, ctx.upTo, changedIn, fullIn) : new Map<string, string[]>(),
    wants("m.receipt") ? receiptsForSync(db, ctx.userId, since, ctx.upTo, changedIn, fullIn) : new Map(),
  ]);
  const out: Record<string, Record<string, JsonValue>> = {};
  for (const roomId of rooms) {
    const events: JsonValue[] = [];
    const typers = typing.get(roomId);
    if (typers && eventMatches(f, { type: "m.typing", room_id: roomId })) events.push(typingEvent(typers));
    if (eventMatches(f, { type: "m.receipt", room_id: roomId })) events.push(...receiptEvents(receipts.get(roomId) ?? []));
    if (events.length) out[roomId] = { ephemeral: { events } };
  }
  return { rooms: out, hasNews: Object.keys(out).length > 0 };
};
