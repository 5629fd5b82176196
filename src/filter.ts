/**
 * Sync and room-event filters (client-server-api "Filtering"): the schema of a
 * filter and the matching rules (`*` wildcards in types and senders, not_* lists
 * win over allow lists, rooms/not_rooms, contains_url).
 */
import { z } from "zod";
import type { JsonObject } from "./json.js";

const strings = z.array(z.string());

export const EventFilterSchema = z.looseObject({
  limit: z.number().int().optional(),
  types: strings.optional(),
  not_types: strings.optional(),
  senders: strings.optional(),
  not_senders: strings.optional(),
});

export const RoomEventFilterSchema = EventFilterSchema.extend({
  rooms: strings.optional(),
  not_rooms: strings.optional(),
  contains_url: z.boolean().optional(),
  lazy_load_members: z.boolean().optional(),
  include_redundant_members: z.boolean().optional(),
  unread_thread_notifications: z.boolean().optional(),
});

export const FilterSchema = z.looseObject({
  event_fields: strings.optional(),
  event_format: z.enum(["client", "federation"]).optional(),
  presence: EventFilterSchema.optional(),
  account_data: EventFilterSchema.optional(),
  room: z
    .looseObject({
      rooms: strings.optional(),
      not_rooms: strings.optional(),
      include_leave: z.boolean().optional(),
      ephemeral: RoomEventFilterSchema.optional(),
      state: RoomEventFilterSchema.optional(),
      timeline: RoomEventFilterSchema.optional(),
      account_data: RoomEventFilterSchema.optional(),
    })
    .optional(),
});

export type EventFilter = z.infer<typeof EventFilterSchema>;
export type RoomEventFilter = z.infer<typeof RoomEventFilterSchema>;
export type Filter = z.infer<typeof FilterSchema>;

/** `*` matches any run of characters (spec: "A '*' can be used as a wildcard"). */
export function globMatch(pattern: string, value: string): boolean {
  if (!pattern.includes("*")) return pattern === value;
  const re = new RegExp(`^${pattern.split("*").map((p) => p.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
  return re.test(value);
}

export interface FilterableEvent {
  type: string;
  sender?: string;
  room_id?: string;
  content?: JsonObject;
}

export function eventMatches(filter: RoomEventFilter | EventFilter | undefined, ev: FilterableEvent): boolean {
  if (!filter) return true;
  if (filter.not_types?.some((t) => globMatch(t, ev.type))) return false;
  if (filter.types && !filter.types.some((t) => globMatch(t, ev.type))) return false;
  if (ev.sender !== undefined) {
    if (filter.not_senders?.includes(ev.sender)) return false;
    if (filter.senders && !filter.senders.includes(ev.sender)) return false;
  }
  const rf = filter as RoomEventFilter;
  if (ev.room_id !== undefined) {
    if (rf.not_rooms?.includes(ev.room_id)) return false;
    if (rf.rooms && !rf.rooms.includes(ev.room_id)) return false;
  }
  if (rf.contains_url !== undefined) {
    const hasUrl = typeof ev.content?.url === "string";
    if (rf.contains_url !== hasUrl) return false;
  }
  return true;
}

export function roomAllowed(filter: Filter, roomId: string): boolean {
  const r = filter.room;
  if (!r) return true;
  if (r.not_rooms?.includes(roomId)) return false;
  if (r.rooms && !r.rooms.includes(roomId)) return false;
  return true;
}

/** Keeps only `event_fields` (dot-separated paths, `\.` escapes a dot). */
export function applyEventFields<T extends object>(ev: T, fields: string[] | undefined): T | JsonObject {
  if (!fields) return ev;
  const out: JsonObject = {};
  for (const f of fields) {
    const path = f.split(/(?<!\\)\./).map((p) => p.replace(/\\\./g, "."));
    let src: unknown = ev;
    for (const p of path) src = src && typeof src === "object" ? (src as Record<string, unknown>)[p] : undefined;
    if (src === undefined) continue;
    let dst = out;
    path.forEach((p, i) => {
      if (i === path.length - 1) dst[p] = src as JsonObject;
      else dst = (dst[p] ??= {}) as JsonObject;
    });
  }
  return out;
}
