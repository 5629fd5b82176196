/**
 * GET /_matrix/client/v3/sync (client-server-api "Syncing"): rooms from the D1
 * read model plus every registered extension, and a long-poll that the Worker
 * holds on the user's Wake shard (services/wake.ts) — never by polling D1 — until
 * something for the user is written or the timeout passes.
 */
import { type Filter, FilterSchema } from "../../src/filter.js";
import { MatrixError } from "../../src/errors.js";
import type { JsonObject } from "../../src/json.js";
import { assertJsonLimits } from "../../src/json-limits.js";
import { loadFilterJson } from "../../services/d1/filters.js";
import type { Env } from "../../services/env.js";
import { waitForChange } from "../../services/wake.js";
import type { PresenceRow } from "../../src/presence.js";
import { applySetPresence, ownPresence, refreshPresence } from "../presence/sync-extension.js";
import type { SyncBaseInputs, SyncContext } from "./context.js";
import { SYNC_EXTENSIONS, SYNC_FINISHERS } from "./extensions.js";
import { type SyncBase, extensionRooms, loadSyncBase, syncRooms } from "./rooms.js";

/** Longest long-poll we hold (clients usually ask for 30 s). */
export const MAX_SYNC_TIMEOUT_MS = 120_000;

export interface SyncParams {
  since: number | null;
  timeoutMs: number;
  filter: Filter;
  fullState: boolean;
  useStateAfter: boolean;
  setPresence: "online" | "offline" | "unavailable" | undefined;
}

/** Parses `s<pos>`; anything else, or a position we have not reached, is M_INVALID_PARAM. */
export function parseSinceToken(token: string | undefined, current: number): number | null {
  if (token === undefined || token === "") return null;
  const m = /^s(\d{1,15})$/.exec(token);
  if (!m) throw new MatrixError("M_INVALID_PARAM", "Invalid since token", 400);
  const pos = Number(m[1]);
  if (pos > current) throw new MatrixError("M_INVALID_PARAM", "since token is from the future", 400);
  return pos;
}

/** Stored filters never change (there is no update endpoint), so an isolate may keep them. */
const filterCache = new Map<string, Filter>();
const FILTER_CACHE_MAX = 1000;

/** The `filter` parameter: an inline JSON filter or the id of an uploaded one. */
export async function resolveFilter(db: D1Database, userId: string, param: string | undefined): Promise<Filter> {
  if (param === undefined || param === "") return {};
  let json: unknown;
  if (param.trimStart().startsWith("{")) {
    try {
      json = JSON.parse(param);
    } catch {
      throw new MatrixError("M_NOT_JSON", "filter is not valid JSON", 400);
    }
    assertJsonLimits(json, "filter");
  } else {
    if (!/^\d{1,15}$/.test(param)) throw new MatrixError("M_INVALID_PARAM", "Invalid filter ID", 400);
    const cached = filterCache.get(`${userId}\u0000${param}`);
    if (cached) return cached;
    const stored = await loadFilterJson(db, userId, Number(param));
    if (stored === null) throw new MatrixError("M_NOT_FOUND", "No such filter", 404);
    json = JSON.parse(stored);
  }
  const parsed = FilterSchema.safeParse(json);
  if (!parsed.success) throw new MatrixError("M_BAD_JSON", "Invalid filter", 400);
  if (!param.trimStart().startsWith("{")) {
    if (filterCache.size >= FILTER_CACHE_MAX) filterCache.delete(filterCache.keys().next().value!);
    filterCache.set(`${userId}\u0000${param}`, parsed.data);
  }
  return parsed.data;
}

/** What a sync reads first, in one round trip: the user's presence row (for set_presence) and the base (./rooms.ts). */
export interface FirstReads {
  presence: PresenceRow | null;
  base: SyncBase;
}

/**
 * Issues the first reads now, so that through a coalescing D1 they share one
 * round trip with whatever else is issued in this turn (the route's token check).
 */
export function firstReads(db: D1Database, userId: string, p: Pick<SyncParams, "since" | "fullState" | "setPresence">): Promise<FirstReads> {
  const presence = ownPresence(db, userId, p.setPresence);
  const base = loadSyncBase(db, userId, p.fullState ? null : p.since);
  return Promise.all([presence, base]).then(([presence, base]) => ({ presence, base }));
}

async function buildOnce(env: Env, userId: string, deviceId: string, p: SyncParams, base: SyncBase): Promise<{ body: JsonObject; hasNews: boolean; upTo: number }> {
  const upTo = base.upTo;
  const common: SyncBaseInputs = { env, userId, deviceId, since: p.since, upTo, filter: p.filter, fullState: p.fullState };
  const allJoined = extensionRooms(common, base);
  const joinedSet = new Set(allJoined);
  const newlyJoinedRooms =
    p.since === null ? [] : base.memberships.filter((m) => m.membership === "join" && m.stream_pos > p.since! && joinedSet.has(m.room_id)).map((m) => m.room_id);
  const ctx: SyncContext = {
    ...common,
    joinedRooms: allJoined,
    newlyJoinedRooms,
    setPresence: p.setPresence,
  };
  // Extensions and finishers read independent data: run them side by side, and beside the rooms.
  const [{ rooms, hasNews: roomNews }, parts, finished] = await Promise.all([
    syncRooms({ ...common, useStateAfter: p.useStateAfter, ignored: base.ignored }, base),
    Promise.all(SYNC_EXTENSIONS.map((ext) => ext(ctx))),
    Promise.all(SYNC_FINISHERS.map((finish) => finish(ctx))),
  ]);
  const body: JsonObject = {
    next_batch: `s${upTo}`,
    rooms: rooms as unknown as JsonObject,
    presence: { events: [] },
    account_data: { events: [] },
    to_device: { events: [] },
    device_lists: { changed: [], left: [] },
  };
  let hasNews = roomNews;
  for (const part of parts) {
    hasNews ||= part.hasNews;
    Object.assign(body, part.top ?? {});
    for (const [roomId, extra] of Object.entries(part.rooms ?? {})) {
      if (!joinedSet.has(roomId)) continue;
      rooms.join[roomId] ??= { timeline: { events: [], limited: false, prev_batch: `s${upTo}` } };
      Object.assign(rooms.join[roomId]!, extra);
    }
  }
  for (const fields of finished) {
    for (const [roomId, extra] of Object.entries(fields)) if (rooms.join[roomId]) Object.assign(rooms.join[roomId]!, extra);
  }
  return { body, hasNews, upTo };
}

/**
 * `env.DB` should be a coalescing D1 (services/d1/coalesce.ts) made for this
 * request: the rooms and the extensions read side by side and share its round
 * trips. `first`: the first reads, already issued (the route starts them beside
 * the token check when it can guess the user; workers/routes/sync.ts).
 */
export async function sync(env: Env, userId: string, deviceId: string, p: SyncParams, first?: Promise<FirstReads>): Promise<JsonObject> {
  const deadline = Date.now() + Math.min(Math.max(p.timeoutMs, 0), MAX_SYNC_TIMEOUT_MS);
  const reads = await (first ?? firstReads(env.DB, userId, p));
  let base = reads.base;
  if (p.since !== null && p.since > base.upTo) throw new MatrixError("M_INVALID_PARAM", "since token is from the future", 400);
  // A presence change others see is written, then the position read again: it belongs in this response.
  if (await applySetPresence(env, userId, p.setPresence, reads.presence)) base = await loadSyncBase(env.DB, userId, p.fullState ? null : p.since);
  // A long-poll whose rooms have nothing new (the usual poll, sent just after the last answer) waits at once,
  // from the client's position: the Wake shard knows whether anything else for the user (to-device, device
  // lists, account data, presence) was written since, and wakes it at once if so. The rest is read after.
  let waitFrom = p.since !== null && !p.fullState && p.timeoutMs > 0 && quiet(base) ? p.since : null;
  let built: Awaited<ReturnType<typeof buildOnce>> | null = null;
  for (;;) {
    if (waitFrom === null) {
      built = await buildOnce(env, userId, deviceId, p, base);
      if (p.since === null || p.fullState || built.hasNews || Date.now() >= deadline) return built.body;
      waitFrom = built.upTo;
    }
    // Nothing new: the Worker waits (off the Durable Object clock) until something for this user is published.
    const woken = await waitForChange(env, userId, waitFrom, deadline - Date.now());
    if (woken <= waitFrom && Date.now() >= deadline) {
      // The wait ran out with nothing written for the user: the response built before it (or now) is the answer.
      return (built ?? (await buildOnce(env, userId, deviceId, p, base))).body;
    }
    [, base] = await Promise.all([refreshPresence(env, userId, p.setPresence), loadSyncBase(env.DB, userId, p.fullState ? null : p.since)]);
    waitFrom = null;
  }
}

/** Nothing new in the user's rooms: no membership, event, typing, receipt or room account data since `since`. */
function quiet(base: SyncBase): boolean {
  return base.memberships.length === 0 && base.events.length === 0 && base.candidateRooms.length === 0;
}
