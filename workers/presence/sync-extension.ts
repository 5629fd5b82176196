/**
 * Presence in /sync (client-server-api "Presence").
 *
 * `set_presence` (default online) is applied by `applySetPresence` from the row
 * the sync read beside its first reads; a change others see (say offline →
 * online) is written and the sync reads its stream position again — as Synapse's
 * user_syncing does — so it is part of this response and not news that would end
 * the next long-poll at once. Each later pass of a long-poll (after a
 * wake-up) calls `refreshPresence`, which only refreshes timestamps that went
 * stale (no stream position), keeping a long-polling user from timing out:
 * src/presence.ts has the rules.
 *
 * The top-level `presence` holds m.presence of users sharing a room with the user
 * (and the user's own). Initial sync leaves out users who are offline, as Synapse
 * does.
 */
import { eventMatches } from "../../src/filter.js";
import { type PresenceRow, type PresenceState, effectiveState, presenceAfterSync, presenceEvent } from "../../src/presence.js";
import type { Env } from "../../services/env.js";
import type { SyncContribution, SyncExtension } from "../sync/context.js";
import { presenceForSync, readPresence, writePresence } from "../../services/presence/presence.js";

/**
 * Applies `set_presence` to the user's row (`row`: as the sync read it; undefined:
 * read it now). Returns whether it made a change others see (a stream position):
 * the sync reads its position after that, so the change is in this response.
 */
async function syncPresence(env: Env, userId: string, setPresence: PresenceState | undefined, allowNotify: boolean, row?: PresenceRow | null): Promise<boolean> {
  const set = setPresence ?? "online";
  if (set === "offline") return false;
  try {
    const update = presenceAfterSync(row === undefined ? await readPresence(env.DB, userId) : row, userId, set, Date.now());
    if (!update || (update.notify && !allowNotify)) return false;
    const pending: Promise<unknown>[] = [];
    await writePresence(env, update, (p) => pending.push(p));
    await Promise.all(pending);
    return update.notify;
  } catch (e) {
    // Presence is best effort: a failed update must not fail the sync (the next one retries).
    console.error(`presence update for ${userId} failed`, e);
    return false;
  }
}

/** The user's own row, for `applySetPresence`: null for `set_presence=offline`, which writes nothing (read beside the sync's first reads). */
export function ownPresence(db: D1Database, userId: string, setPresence: PresenceState | undefined): Promise<PresenceRow | null> {
  return setPresence === "offline" ? Promise.resolve(null) : readPresence(db, userId);
}

/**
 * Called by the sync engine before it builds a response, with the row `ownPresence`
 * read (or none: read here). Returns whether a change others see was written; the
 * caller then reads its stream position again (workers/sync/sync.ts).
 */
export function applySetPresence(env: Env, userId: string, setPresence: PresenceState | undefined, row?: PresenceRow | null): Promise<boolean> {
  return syncPresence(env, userId, setPresence, true, row);
}

/** Called by the sync engine before each later pass of a long-poll: timestamps only, no notifications. */
export async function refreshPresence(env: Env, userId: string, setPresence: PresenceState | undefined): Promise<void> {
  await syncPresence(env, userId, setPresence, false);
}

export const presenceSyncExtension: SyncExtension = async (ctx): Promise<SyncContribution> => {
  const db = ctx.env.DB;
  const now = Date.now();
  const filter = ctx.filter.presence;
  if (!eventMatches(filter, { type: "m.presence" })) return { top: { presence: { events: [] } }, hasNews: false };
  const incremental = ctx.since !== null && !ctx.fullState;
  const rows = await presenceForSync(db, ctx.userId, incremental ? ctx.since : null, ctx.upTo, ctx.joinedRooms, incremental ? (ctx.newlyJoinedRooms ?? []) : []);
  let events = rows
    .filter((r) => incremental || effectiveState(r, now) !== "offline")
    .filter((r) => eventMatches(filter, { type: "m.presence", sender: r.user_id }))
    .map((r) => presenceEvent(r, now));
  if (filter?.limit !== undefined) events = events.slice(0, Math.max(0, filter.limit));
  return { top: { presence: { events } }, hasNews: events.length > 0 };
};
