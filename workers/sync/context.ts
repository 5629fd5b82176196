import type { Filter } from "../../src/filter.js";
import type { JsonValue } from "../../src/json.js";
import type { Env } from "../../services/env.js";

/** The inputs every part of a /sync response shares. */
export interface SyncBaseInputs {
  env: Env;
  userId: string;
  deviceId: string;
  /** Stream position of the `since` token; null for an initial sync. */
  since: number | null;
  /** The position this response covers up to (becomes next_batch). */
  upTo: number;
  filter: Filter;
  fullState: boolean;
}

/** What every part of a /sync response is computed from. */
export interface SyncContext extends SyncBaseInputs {
  /** Rooms in the response's `join` section. */
  joinedRooms: string[];
  /** Joined rooms whose membership changed after `since` (new joins): they get their ephemeral data in full. Empty (or absent) for an initial sync. */
  newlyJoinedRooms?: string[];
  /** The `set_presence` parameter (spec: omitted means online). */
  setPresence?: "online" | "offline" | "unavailable" | undefined;
}

/**
 * A part of /sync owned by another module (to-device and device lists, account
 * data, presence, receipts and typing, unread counts): top-level fields, fields
 * per joined room, and whether there is anything new (so a long-poll may return).
 */
export interface SyncContribution {
  top?: Record<string, JsonValue>;
  rooms?: Record<string, Record<string, JsonValue>>;
  hasNews: boolean;
}

export type SyncExtension = (ctx: SyncContext) => Promise<SyncContribution>;

/**
 * Fields for every joined room the response carries (e.g. unread counts, which
 * each of them gets), computed beside the rooms and the extensions, in the same
 * round trip, over `ctx.joinedRooms` (a superset: the rooms with anything new);
 * the engine keeps those of rooms that are in the response.
 */
export type SyncFinisher = (ctx: SyncContext) => Promise<Record<string, Record<string, JsonValue>>>;
