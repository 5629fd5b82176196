/**
 * Presence in /sync (client-server-api "Presence").
 *
 * `set_presence` (default online) is applied by `applySetPresence` before the
 * sync reads its stream position — as Synapse's user_syncing does — so a change
 * it makes (say offline → online) is part of this response and not news that
 * would end the next long-poll at once. Each later pass of a long-poll (after a
 * wake-up) calls `refreshPresence`, which only refreshes timestamps that went
 * stale (no stream position), keeping a long-polling user from timing out:
 * src/presence.ts has the rules.
 *
 * The top-level `presence` holds m.presence of users sharing a room with the user
 * (and the user's own). Initial sync leaves out users who are offline, as Synapse
 * does.
 */
import { eventMatches } from "../../src/filter.js";
import { type PresenceState, effectiveState, presenceAfterSync, presenceEvent } from "../../src/presence.js";
import type { Env } from "../../services/env.js";
import type { SyncContribution, SyncExtension } from "../sync/context.js";
import { presenceForSync, readPresence, writePresence } from "../../services/presence/presence.js";

async function syncPresence(env: Env, userId: string, setPresence: PresenceState | undefined, allowNotify: boolean): Promise<void> {
  const set = setPresence ?? "online";
  if (set === "offline") return;
  try {
    const update = presenceAfterSync(await readPresence(env.DB, userId), userId, set, Date.now());
    if (!update || (update.notify && !allowNotify)) return;
    const pending: Promise<unknown>[] = [];
    await writePresence(env, update, (p) => pending.push(p));
    await Promise.all(pending);
  } catch (e) {
    // Presence is best effort: a failed update must not fail the sync (the next one retries).
    console.error(`presence update for ${userId} failed`, e);
  }
}

/** Called by the sync engine before it reads the stream position (workers/sync/sync.ts). */
export function applySetPresence(env: Env, userId: string, setPresence: PresenceState | undefined): Promise<void> {
  return syncPresence(env, userId, setPresence, true);
}

/** Called by the sync engine before each later pass of a long-poll: timestamps only, no notifications. */
export function refreshPresence(env: Env, userId: string, setPresence: PresenceState | undefined): Promise<void> {
  return syncPresence(env, userId, setPresence, false);
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
